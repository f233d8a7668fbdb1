package main

// Holding for an operator, cancel, terminate and bulk retry on the embedded
// Temporal server against the mTLS partner of recovery_e2e_test.go.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/outflow-dev/outflow/engine"
)

const holdProject = `kind: Flow
name: holdy
inputs: {order: {type: string, required: true}}
hold_on_failure: true
steps:
  - id: a
    rest: {connection: partner-api, method: POST, path: /step/1}
  - id: b
    rest: {connection: partner-api, method: POST, path: "/orders/${{ inputs.order }}"}
    retry: {max_attempts: 1}
  - id: c
    rest:
      connection: partner-api
      method: POST
      path: /step/3
      body: {ref: "${{ steps.b.status == 'skipped' ? steps.b.outputs.ref : steps.b.json.n }}"}
outputs: {ref: "${{ steps.b.status == 'skipped' ? steps.b.outputs.ref : steps.b.json.n }}"}
---
kind: Flow
name: cancellable
steps:
  - id: guarded
    try:
      - id: nap
        wait: {duration: 1h}
    finally:
      - id: cleanup
        rest: {connection: partner-api, method: POST, path: /cleanup}
on_failure:
  - id: alert
    rest: {connection: partner-api, method: POST, path: /alerts, body: {type: "${{ error.type }}"}}
---
kind: Flow
name: flaky
inputs: {n: {type: integer, required: true}}
steps:
  - id: first
    rest: {connection: partner-api, method: POST, path: "/first/${{ inputs.n }}"}
  - id: push
    rest: {connection: partner-api, method: POST, path: "/flaky/${{ inputs.n }}"}
    retry: {max_attempts: 1}
`

func (s *recoverySetup) start(t *testing.T, ctx context.Context, flow, id string, inputs map[string]any) {
	t.Helper()
	proj, err := openProject(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := proj.Plan(flow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.client.Start(ctx, plan, inputs, engine.RunOptions{WorkflowID: id}); err != nil {
		t.Fatal(err)
	}
}

// waitHeld waits until the listing finds id held.
func (s *recoverySetup) waitHeld(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	waitFor(t, id+" to be held", time.Minute, func() bool {
		exs, err := s.st.client.List(ctx, engine.ListOptions{Status: engine.StatusHeld})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range exs {
			if e.WorkflowID == id && e.Status == engine.StatusHeld {
				return true
			}
		}
		return false
	})
}

func (s *recoverySetup) result(t *testing.T, ctx context.Context, id string) (*engine.Record, error) {
	t.Helper()
	return s.st.client.Wait(ctx, s.st.temporal.GetWorkflow(ctx, id, ""), nil)
}

func TestRecoveryHoldAndResume(t *testing.T) {
	s := startRecoveryProject(t)
	writeProjectFile(t, s.dir, "hold.yaml", holdProject)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s.partner.set("/orders/BAD", true)

	// --skip with the outputs later steps read.
	s.start(t, ctx, "holdy", "holdy-skip", map[string]any{"order": "BAD"})
	s.waitHeld(t, ctx, "holdy-skip")
	out, _, _ := s.cli(t, "executions", "list", "--status", "held")
	if !strings.Contains(out, "holdy-skip") || !strings.Contains(out, "held") {
		t.Fatalf("list --status held:\n%s", out)
	}
	out, _, code := s.cli(t, "executions", "show", "holdy-skip")
	if code != 0 || !strings.Contains(out, "HELD") || !strings.Contains(out, "partner maintenance window") {
		t.Fatalf("show of a held execution: exit %d\n%s", code, out)
	}
	// Held without a timer: the wait adds nothing to the history.
	h := fetchHistory(t, s.st, "holdy-skip", "")
	if n := countEvents(h, enumspb.EVENT_TYPE_TIMER_STARTED); n != 0 {
		t.Fatalf("a held execution started %d timers", n)
	}
	heldLen := len(h.Events)
	if _, _, code := s.cli(t, "executions", "show", "holdy-skip"); code != 0 || len(fetchHistory(t, s.st, "holdy-skip", "").Events) != heldLen {
		t.Fatalf("reading a held execution grew its history")
	}

	// Wrong decisions are refused in words, and change nothing.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--skip", "--retry"}, "give one of --retry, --skip and --fail"},
		{[]string{"--skip", "--input", "order=X"}, "--input goes with --retry"},
		{[]string{"--retry", "--output", "ref=X"}, "--output goes with --skip"},
		{[]string{"--skip", "--step", "a"}, `step "a" is not held (held: b)`},
	} {
		_, errOut, code := s.cli(t, append([]string{"executions", "resume", "holdy-skip"}, c.args...)...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Fatalf("resume %v: exit %d %s; want %q", c.args, code, errOut, c.want)
		}
	}
	out, errOut, code := s.cli(t, "executions", "resume", "holdy-skip", "--skip", "--output", "ref=MANUAL-1", "--reason", "booked by phone")
	if code != 0 || !strings.Contains(out, "skip of held step b") {
		t.Fatalf("resume --skip: exit %d\n%s%s", code, out, errOut)
	}
	rec, err := s.result(t, ctx, "holdy-skip")
	if err != nil || rec.Outputs["ref"] != "MANUAL-1" || s.partner.body("/step/3") != `{"ref":"MANUAL-1"}` {
		t.Fatalf("after --skip: %v %+v; /step/3 got %s", err, rec, s.partner.body("/step/3"))
	}
	if b := rec.Step("b"); b == nil || b.Status != engine.StatusSkipped || b.Outputs["ref"] != "MANUAL-1" {
		t.Fatalf("step b: %+v", b)
	}
	if len(rec.Operations) != 1 || rec.Operations[0].Action != "resume --skip" || rec.Operations[0].Identity != "ops-alice@test" ||
		rec.Operations[0].Reason != "booked by phone" || !strings.Contains(rec.Operations[0].Detail, "step b with outputs ref") {
		t.Fatalf("operations: %+v", rec.Operations)
	}
	s.replayAndRecord(t, "holdy-skip", "recovery-hold-resume-skip.json")
	out, _, _ = s.cli(t, "executions", "show", "holdy-skip")
	if !strings.Contains(out, "resume --skip by ops-alice@test: step b with outputs ref (reason: booked by phone)") {
		t.Fatalf("show does not say what the operator did:\n%s", out)
	}
	_, errOut, code = s.cli(t, "executions", "resume", "holdy-skip", "--retry")
	if code == 0 || !strings.Contains(errOut, `execution "holdy-skip" has ended`) {
		t.Fatalf("resume of an ended execution: exit %d %s", code, errOut)
	}

	// --retry with an input overridden for that attempt.
	s.start(t, ctx, "holdy", "holdy-retry", map[string]any{"order": "BAD"})
	s.waitHeld(t, ctx, "holdy-retry")
	before := s.partner.snapshot()
	if out, errOut, code := s.cli(t, "executions", "resume", "holdy-retry", "--retry", "--input", "order=GOOD"); code != 0 {
		t.Fatalf("resume --retry: exit %d\n%s%s", code, out, errOut)
	}
	rec, err = s.result(t, ctx, "holdy-retry")
	if err != nil || rec.Outputs["ref"] != "/orders/GOOD" {
		t.Fatalf("after --retry: %v %+v", err, rec)
	}
	wantCalls(t, "resume --retry", s.partner.since(before), map[string]int{"/orders/GOOD": 1, "/step/3": 1})
	s.replayAndRecord(t, "holdy-retry", "recovery-hold-resume-retry.json")
	if b := rec.Step("b#held1"); b == nil || b.Status != engine.StatusFailed || b.Error == nil {
		t.Fatalf("the held attempt's record: %+v", b)
	}
	if b := rec.Step("b"); b == nil || b.Status != engine.StatusSucceeded || !strings.HasSuffix(b.Request.URL, "/orders/GOOD") {
		t.Fatalf("the retried attempt's record: %+v", b)
	}

	// --fail with a reason fails the flow with the operator's words.
	s.start(t, ctx, "holdy", "holdy-fail", map[string]any{"order": "BAD"})
	s.waitHeld(t, ctx, "holdy-fail")
	if out, errOut, code := s.cli(t, "executions", "resume", "holdy-fail", "--fail", "--reason", "order cancelled by the customer"); code != 0 {
		t.Fatalf("resume --fail: exit %d\n%s%s", code, out, errOut)
	}
	rec, err = s.result(t, ctx, "holdy-fail")
	if err == nil || rec == nil || rec.Error == nil || rec.Error.Type != engine.ErrOperatorFailed ||
		!strings.Contains(rec.Error.Message, "failed by operator ops-alice@test: order cancelled by the customer") ||
		!strings.Contains(rec.Error.Message, "partner maintenance window") {
		t.Fatalf("after --fail: %v %+v", err, rec)
	}

	// A held execution can be canceled: it closes canceled, with its record.
	s.start(t, ctx, "holdy", "holdy-cancel", map[string]any{"order": "BAD"})
	s.waitHeld(t, ctx, "holdy-cancel")
	if out, errOut, code := s.cli(t, "executions", "cancel", "holdy-cancel", "--reason", "nobody needs it"); code != 0 {
		t.Fatalf("cancel of a held execution: exit %d\n%s%s", code, out, errOut)
	}
	rec, _ = s.result(t, ctx, "holdy-cancel")
	if rec == nil || rec.Status != engine.StatusCanceled || rec.Step("b") == nil || rec.Step("b").Status != engine.StatusFailed {
		t.Fatalf("a held execution canceled: %+v", rec)
	}

	// Not held: refused.
	s.start(t, ctx, "cancellable", "not-held", nil)
	_, errOut, code = s.cli(t, "executions", "resume", "not-held", "--retry")
	if code == 0 || !strings.Contains(errOut, "not held") {
		t.Fatalf("resume of a running, not held execution: exit %d %s", code, errOut)
	}
	if err := s.st.temporal.TerminateWorkflow(ctx, "not-held", "", "test over"); err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryCancelAndTerminate(t *testing.T) {
	s := startRecoveryProject(t)
	writeProjectFile(t, s.dir, "hold.yaml", holdProject)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	running := func(id string) {
		waitFor(t, id+" to wait", time.Minute, func() bool {
			rec, err := s.st.client.Show(ctx, id)
			return err == nil && rec.Step("guarded/try/nap") != nil
		})
	}

	// cancel: the finally steps run.
	s.start(t, ctx, "cancellable", "cancel-me", nil)
	running("cancel-me")
	if out, errOut, code := s.cli(t, "executions", "cancel", "cancel-me", "--reason", "superseded"); code != 0 {
		t.Fatalf("cancel: exit %d\n%s%s", code, out, errOut)
	}
	_, _ = s.result(t, ctx, "cancel-me")
	if n := s.partner.snapshot()["/cleanup"]; n != 1 {
		t.Fatalf("cancel ran the finally step %d times", n)
	}
	if n := s.partner.snapshot()["/alerts"]; n != 1 || s.partner.body("/alerts") != `{"type":"Canceled"}` {
		t.Fatalf("cancel ran on_failure %d times, with %s", n, s.partner.body("/alerts"))
	}
	desc, err := s.st.temporal.DescribeWorkflowExecution(ctx, "cancel-me", "")
	if err != nil || desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED {
		t.Fatalf("a canceled flow closes as %v (%v)", desc.GetWorkflowExecutionInfo().GetStatus(), err)
	}
	s.replayAndRecord(t, "cancel-me", "recovery-cancel.json")
	out, _, _ := s.cli(t, "executions", "show", "cancel-me")
	for _, want := range []string{"CANCELED", "cancel by ops-alice@test", "(reason: superseded)", "on_failure/alert", "guarded/finally/cleanup"} {
		if !strings.Contains(out, want) {
			t.Fatalf("show cancel-me lacks %q:\n%s", want, out)
		}
	}

	// terminate: nothing more runs; a reason is required.
	s.start(t, ctx, "cancellable", "terminate-me", nil)
	running("terminate-me")
	_, errOut, code := s.cli(t, "executions", "terminate", "terminate-me")
	if code == 0 || !strings.Contains(errOut, "give --reason") {
		t.Fatalf("terminate without reason: exit %d %s", code, errOut)
	}
	if out, errOut, code := s.cli(t, "executions", "terminate", "terminate-me", "--reason", "runaway"); code != 0 {
		t.Fatalf("terminate: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := s.result(t, ctx, "terminate-me"); err == nil {
		t.Fatal("a terminated run has a result")
	}
	if n := s.partner.snapshot()["/cleanup"] + s.partner.snapshot()["/alerts"]; n != 2 {
		t.Fatalf("terminate ran finally or on_failure (cleanup and alerts called %d times in all)", n)
	}
	out, _, code = s.cli(t, "executions", "show", "terminate-me")
	if code != 0 || !strings.Contains(out, "TERMINATED") || !strings.Contains(out, "terminate by ops-alice@test") || !strings.Contains(out, "runaway") || !strings.Contains(out, "guarded/try/nap") {
		t.Fatalf("show terminate-me: exit %d\n%s", code, out)
	}
	_, errOut, code = s.cli(t, "executions", "cancel", "terminate-me")
	if code == 0 || !strings.Contains(errOut, `execution "terminate-me" has ended (terminated)`) {
		t.Fatalf("cancel of an ended execution: exit %d %s", code, errOut)
	}

	// In bulk, by query: --dry-run touches nothing; a batch operation does it.
	for i := 0; i < 3; i++ {
		s.start(t, ctx, "cancellable", fmt.Sprintf("bulk-term-%d", i), nil)
		running(fmt.Sprintf("bulk-term-%d", i))
	}
	out, _, code = s.cli(t, "executions", "terminate", "--flow", "cancellable", "--reason", "bulk", "--dry-run")
	if code != 0 || !strings.Contains(out, "terminate will touch 3 execution(s)") || !strings.Contains(out, "dry run: nothing done") {
		t.Fatalf("terminate --dry-run: exit %d\n%s", code, out)
	}
	out, errOut, code = s.cli(t, "executions", "terminate", "--flow", "cancellable", "--reason", "bulk", "--yes")
	if code != 0 {
		t.Fatalf("bulk terminate: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "terminate: batch operation outflow-terminate-") || !strings.Contains(out, "done for 3 execution(s)") {
		t.Fatalf("bulk terminate was not one batch operation:\n%s%s", out, errOut)
	}
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("bulk-term-%d", i)
		waitFor(t, id+" to end", time.Minute, func() bool {
			d, err := s.st.temporal.DescribeWorkflowExecution(ctx, id, "")
			return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED
		})
	}
	out, _, _ = s.cli(t, "executions", "show", "bulk-term-1")
	if !strings.Contains(out, "(reason: bulk (by ops-alice@test))") {
		t.Fatalf("show of a batch-terminated execution:\n%s", out)
	}
}

func TestRecoveryBulkRetry(t *testing.T) {
	s := startRecoveryProject(t)
	writeProjectFile(t, s.dir, "hold.yaml", holdProject)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const n = 50
	for i := 0; i < n; i++ {
		s.partner.set(fmt.Sprintf("/flaky/%d", i), true)
	}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		s.start(t, ctx, "flaky", fmt.Sprintf("flaky-%02d", i), map[string]any{"n": i})
	}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			_, _ = s.result(t, ctx, id)
		}(fmt.Sprintf("flaky-%02d", i))
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		s.partner.set(fmt.Sprintf("/flaky/%d", i), false)
	}
	waitFor(t, "the listing to show 50 failed", time.Minute, func() bool {
		exs, err := s.st.client.List(ctx, engine.ListOptions{Flow: "flaky", Status: "failed", Limit: 1000})
		return err == nil && len(exs) == n
	})
	before := s.partner.snapshot()
	out, _, code := s.cli(t, "executions", "retry", "--flow", "flaky", "--status", "failed", "--since", "1h", "--dry-run")
	if code != 0 || !strings.Contains(out, "retry will touch 50 execution(s)") || !strings.Contains(out, "flaky-07") {
		t.Fatalf("retry --dry-run: exit %d\n%s", code, out)
	}
	// Without --yes, it asks; "n" or no answer does nothing.
	for _, answer := range []string{"n\n", ""} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.WriteString(answer)
		w.Close()
		stdin := os.Stdin
		os.Stdin = r
		out, errOut, code := s.cli(t, "executions", "retry", "--flow", "flaky")
		os.Stdin = stdin
		r.Close()
		if answer != "" && (code != 0 || !strings.Contains(out, "retry 50 execution(s)? [y/N] nothing done")) {
			t.Fatalf("retry answered n: exit %d\n%s%s", code, out, errOut)
		}
		if answer == "" && (code == 0 || !strings.Contains(errOut, "give --yes")) {
			t.Fatalf("retry without an answer: exit %d %s", code, errOut)
		}
	}
	wantCalls(t, "before the bulk retry", s.partner.since(before), map[string]int{})
	started := time.Now()
	out, errOut, code := s.cli(t, "executions", "retry", "--flow", "flaky", "--status", "failed", "--yes")
	if code != 0 {
		t.Fatalf("bulk retry: exit %d\n%s%s", code, out, errOut)
	}
	cliIn := time.Since(started)
	waitFor(t, "50 retries to succeed", 2*time.Minute, func() bool {
		exs, err := s.st.client.List(ctx, engine.ListOptions{Flow: "flaky", Status: "succeeded", Limit: 1000})
		return err == nil && len(exs) == n
	})
	t.Logf("measured: bulk retry of %d failed executions: the CLI read and started them in %s; all succeeded %s after it began", n, cliIn.Round(time.Millisecond), time.Since(started).Round(time.Millisecond))
	calls := s.partner.since(before)
	for i := 0; i < n; i++ {
		if calls[fmt.Sprintf("/first/%d", i)] != 0 || calls[fmt.Sprintf("/flaky/%d", i)] != 1 {
			t.Fatalf("execution %d: first called %d times, push %d times", i, calls[fmt.Sprintf("/first/%d", i)], calls[fmt.Sprintf("/flaky/%d", i)])
		}
	}
	// A second bulk retry leaves the retried ones alone.
	waitFor(t, "the retries to be linked", time.Minute, func() bool {
		out, _, code = s.cli(t, "executions", "retry", "--flow", "flaky", "--status", "failed", "--dry-run")
		return code == 0 && strings.Count(out, "already retried by") == n && strings.Contains(out, "no executions match")
	})
}
