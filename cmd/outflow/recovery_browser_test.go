package main

// The console's operations in chromium: retry a failed execution from its
// failed step, skip a held step and send an event to a waiting execution,
// from the execution page,
// against the embedded server and the mTLS partner of recovery_e2e_test.go.
// The console runs in this process (console.New) on a loopback port.

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/outflow-dev/outflow/worker/console"
)

func TestRecoveryConsoleInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	s := startRecoveryProject(t)
	writeProjectFile(t, s.dir, "hold.yaml", holdProject)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	con, err := console.New(console.Options{Client: s.st.client, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	go func() { _ = con.Serve(sctx, ln) }()
	u := "http://" + ln.Addr().String()
	b := newBrowser(t, exe)

	// Retry from the failed step.
	s.runFailing(t, ctx, "ten-console")
	before := s.partner.snapshot()
	b.run(t, "the failed execution",
		chromedp.Navigate(u+"/executions/ten-console"), chromedp.WaitVisible(chromedp.CSS("#op-retry")))
	b.run(t, "retry",
		chromedp.Click(chromedp.CSS("#op-retry")), chromedp.WaitVisible(chromedp.CSS("#confirm-form")),
		chromedp.SetValue(chromedp.CSS(`input[name="reason"]`), "partner is back"))
	b.shot(t, "confirm-retry")
	b.run(t, "confirming the retry",
		chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#retried-from")))
	retryID := b.text(t, "#execution-id")
	if from := b.text(t, "#retried-from"); from != "ten-console" || retryID == "ten-console" {
		t.Fatalf("the retry page: %s retried from %q", retryID, from)
	}
	rec, err := s.result(t, ctx, retryID)
	if err != nil || rec.RetriedFrom != "ten-console" || len(rec.Operations) != 1 ||
		rec.Operations[0].Identity != "outflow-console:none:local" || rec.Operations[0].Reason != "partner is back" {
		t.Fatalf("the retry started from the console: %v %+v", err, rec)
	}
	wantCalls(t, "the console's retry", s.partner.since(before), map[string]int{"/step/7": 1, "/step/8": 1, "/step/9": 1, "/step/10": 1})
	b.run(t, "the retry's page, ended", chromedp.Navigate(u+"/executions/"+retryID), chromedp.WaitVisible(chromedp.CSS(".carried")),
		chromedp.WaitVisible(chromedp.CSS(".operation")))
	if op := b.text(t, ".operation"); !strings.Contains(op, "retry by outflow-console:none:local") || !strings.Contains(op, "partner is back") {
		t.Fatalf("the operator line: %q", op)
	}
	b.shot(t, "retried")
	b.run(t, "the old execution links its retry",
		chromedp.Navigate(u+"/executions/ten-console"), chromedp.WaitVisible(chromedp.CSS(".retried-by")))
	if by := b.text(t, ".retried-by"); by != retryID {
		t.Fatalf("retried by %q, want %q", by, retryID)
	}

	// Skip a held step, with the output later steps read.
	s.partner.set("/orders/BAD", true)
	s.start(t, ctx, "holdy", "holdy-console", map[string]any{"order": "BAD"})
	s.waitHeld(t, ctx, "holdy-console")
	b.run(t, "the held execution",
		chromedp.Navigate(u+"/executions/holdy-console"), chromedp.WaitVisible(chromedp.CSS("#op-resume-skip")))
	if _, err := chromedp.Run(b.ctx, chromedp.WaitNotPresent(chromedp.CSS("#op-retry"))); err != nil {
		t.Fatal(err)
	}
	b.run(t, "skip",
		chromedp.Click(chromedp.CSS("#op-resume-skip")), chromedp.WaitVisible(chromedp.CSS("#confirm-form")),
		chromedp.SetValue(chromedp.CSS(`textarea[name="outputs"]`), "ref=FROM-CONSOLE"),
		chromedp.SetValue(chromedp.CSS(`input[name="reason"]`), "booked by phone"))
	b.shot(t, "confirm-skip")
	b.run(t, "confirming the skip", chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#msg")))
	rec, err = s.result(t, ctx, "holdy-console")
	if err != nil || rec.Outputs["ref"] != "FROM-CONSOLE" || len(rec.Operations) != 1 || rec.Operations[0].Identity != "outflow-console:none:local" {
		t.Fatalf("after the console's skip: %v %+v", err, rec)
	}
	// Send the event a waiting execution waits for.
	writeProjectFile(t, s.dir, "waity.yaml", waityProject)
	s.start(t, ctx, "waity", "waity-console", nil)
	b.run(t, "the waiting execution",
		chromedp.Navigate(u+"/executions/waity-console"), chromedp.WaitVisible(chromedp.CSS("#op-send-event")))
	b.run(t, "send event",
		chromedp.Click(chromedp.CSS("#op-send-event")), chromedp.WaitVisible(chromedp.CSS("#confirm-form")),
		chromedp.SetValue(chromedp.CSS(`input[name="event"]`), "approved"),
		chromedp.SetValue(chromedp.CSS(`textarea[name="data"]`), `{"by":"ops-anna","ok":true}`))
	b.shot(t, "confirm-send-event")
	b.run(t, "confirming the event", chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#msg")))
	if msg := b.text(t, "#msg"); !strings.Contains(msg, "event approved sent") {
		t.Fatalf("the console's message: %q", msg)
	}
	rec, err = s.result(t, ctx, "waity-console")
	if err != nil || rec.Outputs["by"] != "ops-anna" || rec.Outputs["ok"] != true {
		t.Fatalf("after the console's event: %v %+v", err, rec)
	}
	if r := rec.Step("approval"); r == nil || r.Outputs["by"] != "outflow-console:none:local" {
		t.Fatalf("the wait step does not record who sent the event: %+v", r)
	}
	if errs := b.jsErrors(); len(errs) > 0 {
		t.Fatalf("JavaScript errors: %v", errs)
	}
}

// waityProject waits for an approval that the console sends.
const waityProject = `kind: Flow
name: waity
steps:
  - id: approval
    wait: {event: approved, timeout: 1h}
outputs:
  by: "${{ steps.approval.event.json.by }}"
  ok: "${{ steps.approval.event.json.ok }}"
`
