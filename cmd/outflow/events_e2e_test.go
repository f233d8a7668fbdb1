package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/worker/console"
)

// eventsProject waits for two events, the second sent before the flow
// reaches its wait, then for a third that never comes inside a try whose
// catch handles the Timeout, then builds a callback URL.
const eventsProject = `kind: Flow
name: events
steps:
  - id: first
    wait: {event: first, timeout: 1h}
  - id: second
    wait: {event: second}
  - id: guarded
    try:
      - id: never
        wait: {event: never, timeout: 1s}
    catch:
      - id: handled
        set: {caught: "${{ error.type }}"}
  - id: url
    set: {callback: "${{ callback_url('never') }}"}
outputs:
  payment: "${{ steps.first.event.json.payment_id }}"
  auth: "${{ steps.first.event.headers.authorization }}"
  kind: "${{ steps.first.event.headers['content-type'] }}"
  at: "${{ steps.first.event.received_at }}"
  second: "${{ steps.second.event.body }}"
  caught: "${{ vars.caught }}"
  callback: "${{ vars.callback }}"
`

// waitForStep polls the execution's record until step path has status.
func waitForStep(t *testing.T, st *stack, id, path, status string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		rec, err := st.client.Query(ctx, id, "")
		if err == nil {
			if s := rec.Step(path); s != nil && s.Status == status {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("step %s of %s never became %s (last error %v)", path, id, status, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestEventsWaitOnEmbeddedServer: events resume waits in the order the
// flow waits, whatever order they arrive in; the event's JSON, redacted
// headers and time are readable; a wait that times out fails with type
// Timeout, which catch handles; callback_url yields a signed URL bound to
// the execution; and a sent event to an ended execution is refused.
func TestEventsWaitOnEmbeddedServer(t *testing.T) {
	ctx := context.Background()
	key := []byte("test-gateway-key-0123456789abcdef")
	st, err := openStack(ctx, &globalFlags{namespace: "default"}, stackOptions{embedWorker: true,
		callbacks: &engine.CallbackSigner{Key: key, BaseURL: "https://hooks.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	run, err := st.client.Start(ctx, logicPlan(t, eventsProject, "events"), nil, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitForStep(t, st, run.GetID(), "first", engine.StatusWaiting)
	// second arrives first: it must wait in its channel for the second wait.
	if err := st.client.SendEvent(ctx, run.GetID(), "", engine.Event{Name: "second", Body: "plain text", Source: "test"}); err != nil {
		t.Fatal(err)
	}
	headers := engine.RedactEventHeaders(map[string][]string{
		"Authorization": {"Bearer s3cr3t-event-token"}, "Content-Type": {"application/json"}, "X-Signature": {"sha256=abc"}})
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	if err := st.client.SendEvent(ctx, run.GetID(), "", engine.Event{Name: "first", Body: `{"payment_id":"pay_42"}`, Headers: headers, ReceivedAt: at, Source: "test"}); err != nil {
		t.Fatal(err)
	}
	rec, err := st.client.Wait(ctx, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := rec.Outputs
	if o["payment"] != "pay_42" || o["auth"] != engine.RedactedHeader || o["kind"] != "application/json" ||
		o["at"] != "2026-12-03T10:00:00Z" || o["second"] != "plain text" || o["caught"] != engine.ErrTimeout {
		t.Fatalf("outputs %v", o)
	}
	want := engine.CallbackURL("https://hooks.example.test", key, run.GetID(), run.GetRunID(), "never")
	if o["callback"] != want {
		t.Fatalf("callback %v, want %s", o["callback"], want)
	}
	if r := rec.Step("guarded/try/never"); r == nil || r.Error == nil || r.Error.Type != engine.ErrTimeout {
		t.Fatalf("never: %+v", r)
	}
	cb, err := engine.ParseCallbackPath(strings.TrimPrefix(want, "https://hooks.example.test"+engine.CallbackPath))
	if err != nil || !cb.Valid(key) || cb.Valid([]byte("another key")) {
		t.Fatalf("callback path %+v: %v", cb, err)
	}
	hist := fetchHistory(t, st, run.GetID(), run.GetRunID())
	raw := historyText(t, hist)
	for _, secret := range []string{"s3cr3t-event-token", string(key)} {
		if strings.Contains(raw, secret) {
			t.Fatalf("history holds %q", secret)
		}
	}
	if *recordHistory {
		recordNewHistory(t, filepath.Join(replayCorpusDir, "wait-event.json"), hist)
	}

	// The execution has ended: an event is refused as such.
	err = st.client.SendEvent(ctx, run.GetID(), run.GetRunID(), engine.Event{Name: "never"})
	if !errors.Is(err, engine.ErrExecutionEnded) {
		t.Fatalf("send after the end: %v", err)
	}
	if err := st.client.SendEvent(ctx, run.GetID(), "", engine.Event{Name: "bad name!"}); err == nil {
		t.Fatal("an invalid event name was sent")
	}
}

const sendProject = `kind: Flow
name: send
steps:
  - id: cli
    wait: {event: from-cli, timeout: 1h}
  - id: console
    wait: {event: from-console, timeout: 1h}
outputs:
  cli: "${{ steps.cli.event.json.n }}"
  console: "${{ steps.console.event.body }}"
`

// TestEventsSendFromCLIAndConsole: `outflow executions send ID EVENT
// --data @file` and the console's "Send event" operation (behind its
// confirmation page and CSRF token) each resume a wait; the console's
// event records the operator.
func TestEventsSendFromCLIAndConsole(t *testing.T) {
	ctx := context.Background()
	st, err := openStack(ctx, &globalFlags{namespace: "default"}, stackOptions{embedWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.client.Start(ctx, logicPlan(t, sendProject, "send"), nil, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	addr := st.server.FrontendAddress()
	data := filepath.Join(t.TempDir(), "event.json")
	writeTestFile(t, data, []byte(`{"n": 42}`))
	if _, stderr, code := cli(t, "executions", "send", run.GetID(), "from-cli", "--data", "@"+data, "--address", addr); code != 0 {
		t.Fatalf("executions send: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := cli(t, "executions", "send", run.GetID(), "bad name", "--address", addr); code == 0 || !strings.Contains(stderr, "invalid name") {
		t.Fatalf("a bad event name: exit %d\n%s", code, stderr)
	}
	waitForStep(t, st, run.GetID(), "console", engine.StatusWaiting)

	con, err := console.New(console.Options{Client: st.client, Auth: console.AuthConfig{Mode: console.AuthNone}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := console.Listen("127.0.0.1:0", nil, console.AuthConfig{Mode: console.AuthNone})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = con.Serve(cctx, ln) }()
	base := strings.TrimRight(console.URL(ln, false), "/")
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	opURL := base + "/executions/" + url.PathEscape(run.GetID()) + "/op/send-event"
	resp, err := hc.Get(opURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf(?:-token)?" (?:value|content)="([0-9a-f]+)"`).FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil || !bytes.Contains(page, []byte("Send event")) {
		t.Fatalf("confirmation page: %d\n%s", resp.StatusCode, page)
	}
	resp, err = hc.PostForm(opURL, url.Values{"csrf": {string(m[1])}, "event": {"from-console"}, "data": {"hello from the console"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		t.Fatalf("send-event: %d", resp.StatusCode)
	}
	rec, err := st.client.Wait(ctx, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outputs["cli"] != 42.0 || rec.Outputs["console"] != "hello from the console" {
		t.Fatalf("outputs %v", rec.Outputs)
	}
	if by, _ := rec.Step("console").Outputs["by"].(string); !strings.Contains(by, "local") {
		t.Fatalf("the console's event does not say who sent it: %v", rec.Step("console").Outputs)
	}
	if src := rec.Step("cli").Outputs["source"]; src != "cli" {
		t.Fatalf("cli event source %v", src)
	}
}

const canProject = `kind: Flow
name: carry
steps:
  - id: a
    wait: {duration: 100ms}
  - id: b
    wait: {duration: 100ms}
  - id: c
    wait: {duration: 100ms}
  - id: paid
    wait: {event: paid, timeout: 1h}
outputs: {payment: "${{ steps.paid.event.json.id }}"}
`

// TestEventsCarriedOverContinueAsNew: an event that arrives before the
// wait, while the flow continues as new (a tiny history limit), is carried
// into the next run and read there.
func TestEventsCarriedOverContinueAsNew(t *testing.T) {
	ctx := context.Background()
	st, err := openStack(ctx, &globalFlags{namespace: "default"}, stackOptions{embedWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	plan := logicPlan(t, canProject, "carry")
	plan.Settings.HistoryLimit = 8 // below what a project may set, to continue as new between the waits
	run, err := st.client.Start(ctx, plan, nil, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.client.SendEvent(ctx, run.GetID(), "", engine.Event{Name: "paid", Body: `{"id":"early"}`}); err != nil {
		t.Fatal(err)
	}
	firstRun := run.GetRunID()
	// Without the carry-over the event is lost and the wait would last its hour.
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rec, err := st.client.Wait(wctx, run, nil)
	if err != nil {
		t.Fatalf("the flow did not end with the early event: %v", err)
	}
	if rec.Outputs["payment"] != "early" {
		t.Fatalf("outputs %v", rec.Outputs)
	}
	if runs := runChain(t, st, run.GetID(), firstRun); len(runs) < 2 {
		t.Fatalf("the flow ran %d time(s); it should have continued as new", len(runs))
	}
}
