package main

// End-to-end runs of try/catch/finally, flow: (child executions) and
// fail_when on the embedded Temporal server, against a partner over real
// mTLS (it requires a client certificate issued by the example CA).

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"google.golang.org/protobuf/proto"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/examples/partner"
)

// syncPartner is a partner API for the flow below: POST /bookings answers
// 422 (the booking must be compensated), GET /status answers 200 with an
// error in its body, POST /items/{id} acknowledges an item, POST
// /outbox/take hands out an outbox of four entries in three passes.
type syncPartner struct {
	mu       sync.Mutex
	calls    map[string]int
	bodies   map[string]string
	password string
}

func (p *syncPartner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		http.Error(w, "client certificate required", http.StatusUnauthorized)
		return
	}
	if u, pw, ok := r.BasicAuth(); !ok || u != "svc-outflow" || pw != p.password {
		http.Error(w, "bad credentials", http.StatusUnauthorized)
		return
	}
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	key := r.Method + " " + strings.TrimPrefix(r.URL.Path, "/v2")
	p.mu.Lock()
	p.calls[key]++
	n := p.calls[key]
	if body != nil {
		b, _ := json.Marshal(body)
		p.bodies[key] = string(b)
	}
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case key == "POST /bookings":
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = fmt.Fprint(w, `{"error":"booking window closed"}`)
	case key == "POST /outbox/take":
		// n counts this call: pass n of three.
		outbox := [][]string{{"o1"}, {"o2", "o3"}, {"o4"}}
		items := []string{}
		if n <= len(outbox) {
			items = outbox[n-1]
		}
		b, _ := json.Marshal(map[string]any{"items": items, "remaining": max(0, len(outbox)-n)})
		_, _ = w.Write(b)
	case key == "GET /status":
		_, _ = fmt.Fprint(w, `{"status":"ERROR","code":"LOCKED","detail":"ledger locked by nightly close"}`)
	case strings.HasPrefix(key, "GET /park/"):
		w.WriteHeader(http.StatusOK)
		_, _ = fmt.Fprint(w, `{}`)
	default:
		_, _ = fmt.Fprintf(w, `{"ok":true,"path":%q}`, r.URL.Path)
	}
}

func (p *syncPartner) count(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[key]
}

// parkedProject adds to examples/resilient-sync flows whose children wait
// for an hour, to cancel their parent.
const parkedProject = `kind: Flow
name: park
inputs: {item: {type: string, required: true}}
steps:
  - id: touch
    rest: {connection: partner-api, path: "/park/${{ inputs.item }}"}
  - id: pause
    wait: {duration: 1h}
---
kind: Flow
name: parked-parent
steps:
  - id: each
    foreach: "${{ ['a','b'] }}"
    concurrency: 2
    steps:
      - id: child
        flow: park
        with: {item: "${{ item }}"}
`

type errorsSetup struct {
	dir     string
	partner *syncPartner
	st      *stack
}

func startErrorsProject(t *testing.T) *errorsSetup {
	t.Helper()
	dir := t.TempDir()
	certs, err := partner.GenerateCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", certs.ServerTLS)
	if err != nil {
		t.Fatal(err)
	}
	p := &syncPartner{calls: map[string]int{}, bodies: map[string]string{}, password: partner.RandomSecret()}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	t.Setenv("PARTNER_KEYSTORE_PASSWORD", certs.KeystorePassword)
	t.Setenv("PARTNER_PASSWORD", p.password)
	port := ln.Addr().(*net.TCPAddr).Port
	// The example project, with the partner on this test's port.
	example := filepath.Join("..", "..", "examples", "resilient-sync")
	for _, name := range []string{"partner.yaml", "flows.yaml"} {
		b, err := os.ReadFile(filepath.Join(example, name))
		if err != nil {
			t.Fatal(err)
		}
		b = []byte(strings.Replace(string(b), "port: 8443", fmt.Sprintf("port: %d", port), 1))
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "parked.yaml"), []byte(parkedProject), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := openStack(context.Background(), &globalFlags{namespace: "default"}, stackOptions{embedWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &errorsSetup{dir: dir, partner: p, st: st}
}

func TestTryCatchChildFlowsAndFailWhenEndToEnd(t *testing.T) {
	s := startErrorsProject(t)
	proj, err := openProject(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := proj.Plan("order-sync")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	items := []any{"i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8"}
	run, err := s.st.client.Start(ctx, plan, map[string]any{"items": items}, engine.RunOptions{WorkflowID: "order-sync-e2e"})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.st.client.Wait(ctx, run, nil)
	if err != nil {
		t.Fatalf("flow failed: %v", err)
	}
	// try/catch compensated the 422, and finally ran.
	if s.partner.count("POST /compensations/422") != 1 || s.partner.count("POST /release") != 1 || s.partner.count("POST /bookings") != 1 {
		t.Fatalf("calls: %v", s.partner.calls)
	}
	if got := s.partner.bodies["POST /compensations/422"]; !strings.Contains(got, `"failed_step":"book/try/post"`) || !strings.Contains(got, `"type":"HTTPStatusClient"`) || !strings.Contains(got, "booking window closed") {
		t.Fatalf("compensation body = %s", got)
	}
	// One child execution per item, each with its own id and record.
	children := rec.Outputs["children"].([]any)
	codes := rec.Outputs["codes"].([]any)
	if len(children) != len(items) || rec.Outputs["compensated"] != "HTTPStatusClient" {
		t.Fatalf("outputs = %v", rec.Outputs)
	}
	for i, item := range items {
		want := engine.ChildWorkflowID("order-sync-e2e", fmt.Sprintf("each[%d]/child", i))
		if children[i] != want || codes[i] != 200.0 || s.partner.count("POST /items/"+item.(string)) != 1 {
			t.Fatalf("child %d: id %v code %v", i, children[i], codes[i])
		}
		if r := rec.Step(fmt.Sprintf("each[%d]/child", i)); r == nil || r.ChildExecution != want {
			t.Fatalf("the parent's record does not link child %d: %+v", i, r)
		}
		desc, err := s.st.temporal.DescribeWorkflowExecution(ctx, want, "")
		if err != nil || desc.WorkflowExecutionInfo.Status != enums.WORKFLOW_EXECUTION_STATUS_COMPLETED || desc.WorkflowExecutionInfo.ParentExecution.GetWorkflowId() != "order-sync-e2e" {
			t.Fatalf("child %s: %v %+v", want, err, desc)
		}
	}
	// fail_when rejected the 200 in the activity, with the partner's words.
	if s.partner.count("GET /status") != 1 || s.partner.count("POST /rejections/ResponseRejected") != 1 {
		t.Fatalf("calls: %v", s.partner.calls)
	}
	if got := s.partner.bodies["POST /rejections/ResponseRejected"]; !strings.Contains(got, "ledger locked by nightly close") {
		t.Fatalf("rejection body = %s", got)
	}
	// The flow's variables, branches and loop: eight items take the bulk
	// lane, the outbox is drained in three passes (four entries), and the
	// audit runs because something was taken.
	if rec.Outputs["lane"] != "bulk" || rec.Outputs["taken"] != 4.0 || rec.Outputs["audit"] != "then" {
		t.Fatalf("outputs = %v", rec.Outputs)
	}
	if s.partner.count("POST /outbox/take") != 3 || s.partner.count("POST /audit") != 1 || s.partner.count("POST /alerts") != 0 {
		t.Fatalf("calls: %v", s.partner.calls)
	}
	if got := s.partner.bodies["POST /audit"]; got != `{"lane":"bulk","passes":3,"taken":4}` {
		t.Fatalf("audit body = %s", got)
	}
	if got := s.partner.bodies["POST /outbox/take"]; !strings.Contains(got, `"pass":3`) || !strings.Contains(got, `"since":"20`) {
		t.Fatalf("last take body = %s", got)
	}
	if r := rec.Step("lane"); r == nil || r.Outputs["case"] != "case1" {
		t.Fatalf("the record does not say which case ran: %+v", r)
	}
	// executions show of the parent links each child.
	stdout, stderr, code := cli(t, "executions", "show", "order-sync-e2e", "--address", s.st.server.FrontendAddress())
	if code != 0 || !strings.Contains(stdout, "child:    execution order-sync-e2e/each[7]/child") {
		t.Fatalf("executions show: exit %d\n%s%s", code, stdout, stderr)
	}
	// The parent's history holds no secret; with -record-history it joins
	// the replay corpus.
	hist := fetchHistory(t, s.st, "order-sync-e2e", run.GetRunID())
	if strings.Contains(historyText(t, hist), s.partner.password) {
		t.Fatal("the partner password is in the history")
	}
	if *recordHistory {
		recordNewHistory(t, filepath.Join(replayCorpusDir, "resilient-sync-v2.json"), hist)
	}

	// An order without items ends with the flow's own error (fail in a
	// switch case), and on_failure reports it to the partner.
	run, err = s.st.client.Start(ctx, plan, map[string]any{"items": []any{}}, engine.RunOptions{WorkflowID: "order-sync-empty"})
	if err != nil {
		t.Fatal(err)
	}
	rec, err = s.st.client.Wait(ctx, run, nil)
	if err == nil || !strings.Contains(err.Error(), "order has no items") {
		t.Fatalf("an empty order: err = %v", err)
	}
	if rec == nil || rec.Step("lane/case0/empty") == nil || rec.Step("on_failure/alert") == nil || rec.Step("on_failure/alert").Status != engine.StatusSucceeded {
		t.Fatalf("record of the empty order: %+v", rec)
	}
	if got := s.partner.bodies["POST /alerts"]; s.partner.count("POST /alerts") != 1 || !strings.Contains(got, "order-sync failed at lane/case0/empty: order has no items") {
		t.Fatalf("alert: %d calls, body %s", s.partner.count("POST /alerts"), got)
	}
}

// A parent canceled cancels the child flows it started.
func TestCanceledParentCancelsChildren(t *testing.T) {
	s := startErrorsProject(t)
	proj, err := openProject(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := proj.Plan("parked-parent")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := s.st.client.Start(ctx, plan, nil, engine.RunOptions{WorkflowID: "parked-e2e"})
	if err != nil {
		t.Fatal(err)
	}
	// Both children have called the partner: they are running and parked.
	for s.partner.count("GET /park/a") == 0 || s.partner.count("GET /park/b") == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("the children never ran")
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := s.st.temporal.CancelWorkflow(ctx, run.GetID(), ""); err != nil {
		t.Fatal(err)
	}
	for _, item := range []string{"0", "1"} {
		id := engine.ChildWorkflowID("parked-e2e", "each["+item+"]/child")
		err := s.st.temporal.GetWorkflow(ctx, id, "").Get(ctx, nil)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "cancel") {
			t.Fatalf("child %s ended with %v, want canceled", id, err)
		}
	}
}

// TestMeasureChildFlowFanOut runs a foreach of OUTFLOW_MEASURE_CHILDREN
// child flows at concurrency 20 and logs wall time and the parent's
// history length. It is a measurement, skipped unless asked for.
func TestMeasureChildFlowFanOut(t *testing.T) {
	n := os.Getenv("OUTFLOW_MEASURE_CHILDREN")
	if n == "" {
		t.Skip("set OUTFLOW_MEASURE_CHILDREN=2000 to measure")
	}
	s := startErrorsProject(t)
	src := `kind: Flow
name: fan-out
steps:
  - id: each
    foreach: "${{ 1..` + n + ` }}"
    concurrency: 20
    steps:
      - id: child
        flow: item-sync
        with: {item: "${{ string(item) }}"}
outputs: {done: "${{ steps.each.count }}"}
`
	if err := os.WriteFile(filepath.Join(s.dir, "fanout.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	proj, err := openProject(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := proj.Plan("fan-out")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	run, err := s.st.client.Start(ctx, plan, nil, engine.RunOptions{WorkflowID: "fan-out-measure"})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.st.client.Wait(ctx, run, nil)
	wall := time.Since(start)
	if err != nil {
		t.Fatalf("fan-out failed after %s: %v", wall, err)
	}
	hist := fetchHistory(t, s.st, "fan-out-measure", "")
	runs := rec.Runs + 1
	t.Logf("MEASURE children=%s concurrency=20 wall=%s parent_history_events(last run)=%d parent_history_bytes=%d runs=%d done=%v partner_calls=%d",
		n, wall.Round(time.Millisecond), len(hist.Events), proto.Size(hist), runs, rec.Outputs["done"], len(s.partner.calls))
}
