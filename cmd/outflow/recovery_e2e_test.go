package main

// Recovering executions on the embedded Temporal server against a partner
// over real mTLS (it requires a client certificate issued by the example
// CA): retry from the failed step, with the original or the current plan.

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

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/examples/partner"
)

// recoveryPartner answers POST /step/N with {"n": N} and GET /ref with a
// reference; a path marked down answers 503 until marked up again. It
// counts requests and keeps the Idempotency-Key of each.
type recoveryPartner struct {
	mu       sync.Mutex
	down     map[string]bool
	calls    map[string]int
	keys     map[string][]string
	bodies   map[string]string
	password string
	latency  time.Duration
}

func (p *recoveryPartner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		http.Error(w, "client certificate required", http.StatusUnauthorized)
		return
	}
	if u, pw, ok := r.BasicAuth(); !ok || u != "svc-outflow" || pw != p.password {
		http.Error(w, "bad credentials", http.StatusUnauthorized)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v2")
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	p.mu.Lock()
	p.calls[path]++
	p.keys[path] = append(p.keys[path], r.Header.Get("Idempotency-Key"))
	if body != nil {
		b, _ := json.Marshal(body)
		p.bodies[path] = string(b)
	}
	down := p.down[path]
	p.mu.Unlock()
	if p.latency > 0 {
		// A partner's own latency, for measuring (OUTFLOW_MEASURE_PARTNER_LATENCY).
		time.Sleep(p.latency)
	}
	w.Header().Set("Content-Type", "application/json")
	if down {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":"partner maintenance window"}`)
		return
	}
	if path == "/ref" {
		fmt.Fprint(w, `{"ref":"R-42"}`)
		return
	}
	fmt.Fprintf(w, `{"n":%q}`, strings.TrimPrefix(path, "/step/"))
}

func (p *recoveryPartner) set(path string, down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down[path] = down
}

// snapshot returns the request counts so far.
func (p *recoveryPartner) snapshot() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for k, v := range p.calls {
		out[k] = v
	}
	return out
}

func (p *recoveryPartner) lastKey(path string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.keys[path]
	if len(k) == 0 {
		return ""
	}
	return k[len(k)-1]
}

func (p *recoveryPartner) body(path string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bodies[path]
}

// since returns the calls made after before was taken, by path.
func (p *recoveryPartner) since(before map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range p.snapshot() {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func tenStepFlow(refOutput, flowOutput string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `kind: Action
name: lookup
steps:
  - id: get
    rest: {connection: partner-api, method: GET, path: /ref}
outputs: {%s: "${{ steps.get.json.ref }}"}
---
kind: Flow
name: ten
inputs: {order: {type: string, required: true}}
steps:
`, refOutput)
	for i := 1; i <= 10; i++ {
		switch i {
		case 3:
			b.WriteString("  - id: s3\n    action: lookup\n")
		case 7:
			b.WriteString("  - id: s7\n    rest: {connection: partner-api, method: POST, path: /step/7, body: {order: \"${{ inputs.order }}\"}}\n" +
				"    retry: {max_attempts: 2, initial_interval: 10ms}\n")
		case 8:
			fmt.Fprintf(&b, "  - id: s8\n    rest: {connection: partner-api, method: POST, path: /step/8, body: {ref: \"${{ steps.s3.outputs.%s }}\"}}\n", refOutput)
		default:
			fmt.Fprintf(&b, "  - id: s%d\n    rest: {connection: partner-api, method: POST, path: /step/%d, body: {order: \"${{ inputs.order }}\"}}\n", i, i)
		}
	}
	fmt.Fprintf(&b, "outputs: {%s: \"${{ steps.s10.json.n }}\", ref: \"${{ steps.s3.outputs.%s }}\"}\n", flowOutput, refOutput)
	return b.String()
}

type recoverySetup struct {
	dir     string
	partner *recoveryPartner
	st      *stack
	addr    string
}

func startRecoveryProject(t *testing.T) *recoverySetup {
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
	p := &recoveryPartner{down: map[string]bool{}, calls: map[string]int{}, keys: map[string][]string{}, bodies: map[string]string{}, password: partner.RandomSecret()}
	if v := os.Getenv("OUTFLOW_MEASURE_PARTNER_LATENCY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("OUTFLOW_MEASURE_PARTNER_LATENCY: %v", err)
		}
		p.latency = d
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	t.Setenv("PARTNER_KEYSTORE_PASSWORD", certs.KeystorePassword)
	t.Setenv("PARTNER_PASSWORD", p.password)
	t.Setenv("OUTFLOW_IDENTITY", "ops-alice@test")
	port := ln.Addr().(*net.TCPAddr).Port
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "resilient-sync", "partner.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeProjectFile(t, dir, "partner.yaml", strings.Replace(string(b), "port: 8443", fmt.Sprintf("port: %d", port), 1))
	writeProjectFile(t, dir, "flows.yaml", tenStepFlow("ref", "total"))
	st, err := openStack(context.Background(), &globalFlags{namespace: "default"}, stackOptions{embedWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return &recoverySetup{dir: dir, partner: p, st: st, addr: st.server.FrontendAddress()}
}

// runFailing starts flow ten as id with step 7's partner down and waits for
// it to fail.
func (s *recoverySetup) runFailing(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	s.partner.set("/step/7", true)
	proj, err := openProject(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := proj.Plan("ten")
	if err != nil {
		t.Fatal(err)
	}
	run, err := s.st.client.Start(ctx, plan, map[string]any{"order": "A-1"}, engine.RunOptions{WorkflowID: id})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.st.client.Wait(ctx, run, nil)
	if err == nil || rec == nil || rec.Status != engine.StatusFailed || rec.Step("s7") == nil || rec.Step("s7").Status != engine.StatusFailed {
		t.Fatalf("%s: want a failure at s7, got %v %+v", id, err, rec)
	}
	s.partner.set("/step/7", false)
}

func wantCalls(t *testing.T, what string, got map[string]int, want map[string]int) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: partner calls %v, want %v", what, got, want)
	}
}

func (s *recoverySetup) cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return cli(t, append(args, "--address", s.addr, "--project", s.dir)...)
}

func TestRecoveryRetryFromFailedStep(t *testing.T) {
	s := startRecoveryProject(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	before := s.partner.snapshot()
	startFull := time.Now()
	s.runFailing(t, ctx, "ten-1")
	failedIn := time.Since(startFull)
	wantCalls(t, "the failing run", s.partner.since(before), map[string]int{
		"/step/1": 1, "/step/2": 1, "/ref": 1, "/step/4": 1, "/step/5": 1, "/step/6": 1, "/step/7": 2})
	failedKey := s.partner.lastKey("/step/7")

	// Asking for the impossible is refused in words, and starts nothing.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "s9"}, `stopped at step "s7", before "s9" ran`},
		{[]string{"--from", "nope"}, `has no top-level step "nope"`},
		{[]string{"--plan", "newest"}, `--plan "newest": want original or current`},
	} {
		_, errOut, code := s.cli(t, append([]string{"executions", "retry", "ten-1"}, c.args...)...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Fatalf("retry %v: exit %d, stderr %s; want %q", c.args, code, errOut, c.want)
		}
	}

	// The partner is back: the retry calls steps 7-10 only.
	before = s.partner.snapshot()
	startRetry := time.Now()
	out, errOut, code := s.cli(t, "executions", "retry", "ten-1", "--id", "ten-1-retry", "--reason", "partner back", "--wait")
	retryIn := time.Since(startRetry)
	if code != 0 {
		t.Fatalf("retry: exit %d\n%s%s", code, out, errOut)
	}
	wantCalls(t, "the retry", s.partner.since(before), map[string]int{"/step/7": 1, "/step/8": 1, "/step/9": 1, "/step/10": 1})
	if !strings.Contains(out, "retrying ten-1 from step s7 (original plan) as ten-1-retry: carried s1, s2, s3, s4, s5, s6; running s7, s8, s9, s10") {
		t.Fatalf("retry said:\n%s", out)
	}
	// The carried result of s3 reached s8.
	if got := s.partner.body("/step/8"); got != `{"ref":"R-42"}` {
		t.Fatalf("s8 was sent %s", got)
	}
	// A step that runs again sends the new execution's Idempotency-Key, not
	// the one the partner answered 503 to.
	if failedKey != "ten-1/s7" || s.partner.lastKey("/step/7") != "ten-1-retry/s7" {
		t.Fatalf("idempotency keys: failed run %q, retry %q", failedKey, s.partner.lastKey("/step/7"))
	}

	rec, err := s.st.client.Show(ctx, "ten-1-retry")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != engine.StatusSucceeded || rec.RetriedFrom != "ten-1" || rec.Outputs["total"] != "10" || rec.Outputs["ref"] != "R-42" {
		t.Fatalf("retry record: %+v", rec)
	}
	for _, id := range []string{"s1", "s2", "s3", "s3/get", "s6"} {
		if st := rec.Step(id); st == nil || st.CarriedFrom != "ten-1" || st.Status != engine.StatusSucceeded {
			t.Fatalf("step %s of the retry: %+v", id, st)
		}
	}
	for _, id := range []string{"s7", "s10"} {
		if st := rec.Step(id); st == nil || st.CarriedFrom != "" || st.Status != engine.StatusSucceeded {
			t.Fatalf("step %s of the retry: %+v", id, st)
		}
	}
	if len(rec.Operations) != 1 || rec.Operations[0].Action != "retry" || rec.Operations[0].Identity != "ops-alice@test" || rec.Operations[0].Reason != "partner back" {
		t.Fatalf("operations: %+v", rec.Operations)
	}

	s.replayAndRecord(t, "ten-1-retry", "recovery-retry-continuation.json")

	// Linked both ways, in show and in list.
	waitFor(t, "show to link the retry", time.Minute, func() bool {
		out, _, _ = s.cli(t, "executions", "show", "ten-1")
		return strings.Contains(out, "retried by ten-1-retry")
	})
	out, _, _ = s.cli(t, "executions", "show", "ten-1-retry")
	for _, want := range []string{"retried from ten-1", "retry by ops-alice@test: retry of ten-1 from step s7 with the original plan (reason: partner back)", "succeeded (carried from ten-1)"} {
		if !strings.Contains(out, want) {
			t.Fatalf("show ten-1-retry lacks %q:\n%s", want, out)
		}
	}
	waitFor(t, "the listing to link the retry", time.Minute, func() bool {
		out, _, _ = s.cli(t, "executions", "list", "--json", "--flow", "ten")
		var exs []engine.Execution
		if err := json.Unmarshal([]byte(out), &exs); err != nil {
			t.Fatal(err)
		}
		links := map[string]string{}
		for _, e := range exs {
			links[e.WorkflowID] = e.RetriedFrom + "|" + strings.Join(e.RetriedBy, ",")
		}
		return links["ten-1"] == "|ten-1-retry" && links["ten-1-retry"] == "ten-1|"
	})
	out, _, _ = s.cli(t, "executions", "list", "--flow", "ten")
	if !strings.Contains(out, "retried by ten-1-retry") || !strings.Contains(out, "retry of ten-1") {
		t.Fatalf("executions list does not link the retry:\n%s", out)
	}

	// A succeeded execution has nothing to retry.
	_, errOut, code = s.cli(t, "executions", "retry", "ten-1-retry")
	if code == 0 || !strings.Contains(errOut, `execution "ten-1-retry" succeeded; there is nothing to retry`) {
		t.Fatalf("retry of a success: exit %d %s", code, errOut)
	}

	// Measured: the whole flow started again, for comparison.
	before = s.partner.snapshot()
	proj, _ := openProject(s.dir)
	plan, _ := proj.Plan("ten")
	startAgain := time.Now()
	run, err := s.st.client.Start(ctx, plan, map[string]any{"order": "A-1"}, engine.RunOptions{WorkflowID: "ten-1-again"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.client.Wait(ctx, run, nil); err != nil {
		t.Fatal(err)
	}
	againIn := time.Since(startAgain)
	again := 0
	for _, n := range s.partner.since(before) {
		again += n
	}
	t.Logf("measured: failing run %s; retry from s7 (CLI, connect+query+run) %s, 4 partner calls; starting again %s, %d partner calls",
		failedIn.Round(time.Millisecond), retryIn.Round(time.Millisecond), againIn.Round(time.Millisecond), again)
}

func TestRecoveryRetryWithCurrentPlan(t *testing.T) {
	s := startRecoveryProject(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s.runFailing(t, ctx, "ten-2")

	// A fix that renames the flow's output fits what ten-2 completed.
	writeProjectFile(t, s.dir, "flows.yaml", tenStepFlow("ref", "order_total"))
	before := s.partner.snapshot()
	out, errOut, code := s.cli(t, "executions", "retry", "ten-2", "--plan", "current", "--id", "ten-2-r1", "--wait")
	if code != 0 || !strings.Contains(out, "(current plan)") {
		t.Fatalf("retry --plan current: exit %d\n%s%s", code, out, errOut)
	}
	wantCalls(t, "the retry with the current plan", s.partner.since(before), map[string]int{"/step/7": 1, "/step/8": 1, "/step/9": 1, "/step/10": 1})
	rec, err := s.st.client.Show(ctx, "ten-2-r1")
	if err != nil || rec.Outputs["order_total"] != "10" || rec.Outputs["total"] != nil {
		t.Fatalf("ten-2-r1: %v %+v", err, rec)
	}

	// A fix that renames the output of s3, which s8 reads, does not fit:
	// ten-2's s3 gave "ref". Refused, naming what is missing and what to do.
	writeProjectFile(t, s.dir, "flows.yaml", tenStepFlow("reference", "order_total"))
	before = s.partner.snapshot()
	_, errOut, code = s.cli(t, "executions", "retry", "ten-2", "--plan", "current")
	if code == 0 || !strings.Contains(errOut, "reads steps.s3.outputs.reference, which step \"s3\" did not give in ten-2 (it gave: ref); retry from \"s3\" to run it again") {
		t.Fatalf("incompatible retry: exit %d\n%s", code, errOut)
	}
	wantCalls(t, "the refused retry", s.partner.since(before), map[string]int{})
	// From s3 it fits: s3 runs again with the new definition.
	out, errOut, code = s.cli(t, "executions", "retry", "ten-2", "--plan", "current", "--from", "s3", "--id", "ten-2-r2", "--wait")
	if code != 0 {
		t.Fatalf("retry --from s3: exit %d\n%s%s", code, out, errOut)
	}
	wantCalls(t, "the retry from s3", s.partner.since(before), map[string]int{
		"/ref": 1, "/step/4": 1, "/step/5": 1, "/step/6": 1, "/step/7": 1, "/step/8": 1, "/step/9": 1, "/step/10": 1})
	rec, err = s.st.client.Show(ctx, "ten-2-r2")
	if err != nil || rec.Outputs["ref"] != "R-42" || rec.Step("s3").CarriedFrom != "" || rec.Step("s2").CarriedFrom != "ten-2" {
		t.Fatalf("ten-2-r2: %v %+v", err, rec)
	}
	// Both retries link back to ten-2.
	waitFor(t, "ten-2 to link both retries", time.Minute, func() bool {
		rec, _ = s.st.client.Show(ctx, "ten-2")
		return rec != nil && strings.Join(rec.RetriedBy, ",") == "ten-2-r1,ten-2-r2"
	})
}

// replayAndRecord checks that the history of execution id holds no secret
// and replays with this code, and with -record-history commits it to the
// replay corpus as file; without, the corpus must hold it already.
func (s *recoverySetup) replayAndRecord(t *testing.T, id, file string) {
	t.Helper()
	h := fetchHistory(t, s.st, id, "")
	if strings.Contains(historyText(t, h), s.partner.password) {
		t.Fatalf("the partner's password is in the history of %s", id)
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(engine.FlowWorkflow, workflow.RegisterOptions{Name: engine.WorkflowName})
	if err := r.ReplayWorkflowHistory(nil, h); err != nil {
		t.Fatalf("the history of %s does not replay: %v", id, err)
	}
	committed := filepath.Join(replayCorpusDir, file)
	if *recordHistory {
		recordNewHistory(t, committed, h)
		return
	}
	if _, err := os.Stat(committed); err != nil {
		t.Fatalf("the replay corpus has no history of %s: record it with `go test ./cmd/outflow -run TestRecovery -record-history` and commit it (%v)", file, err)
	}
}
