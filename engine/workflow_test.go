package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// fakePartner stands in for the rest activity: workflow tests check the
// interpreter, and steps/rest is tested against real servers.
type fakePartner struct {
	mu    sync.Mutex
	calls []string
	fail  map[string]error
}

func (f *fakePartner) rest(ctx context.Context, req *RestRequest) (*StepResult, error) {
	f.mu.Lock()
	f.calls = append(f.calls, req.Method+" "+req.Path)
	err := f.fail[req.Path]
	f.mu.Unlock()
	res := &StepResult{Attempt: int(activity.GetInfo(ctx).Attempt), Request: RequestSummary{Method: req.Method, URL: "https://partner" + req.Path}}
	if err != nil {
		return nil, err
	}
	body := map[string]any{"path": req.Path, "items": []any{"a", "b", "c"}, "n": 2.0}
	if req.Body != nil {
		body["echo"] = req.Body
	}
	res.Response = &ResponseSummary{StatusCode: 200, JSON: body, Headers: map[string]string{"x-req": req.StepPath}}
	return res, nil
}

func runPlan(t *testing.T, plan *Plan, inputs map[string]any, partner *fakePartner) (*Record, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	// These tests are about what a flow does, not how fast: a plan that runs
	// thousands of steps in one workflow task may take over the SDK's 1 s
	// deadlock detection on a loaded machine (the worker allows
	// worker.DeadlockDetectionTimeout).
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Hour})
	env.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivityWithOptions(partner.rest, activity.RegisterOptions{Name: RestActivity})
	env.ExecuteWorkflow(WorkflowName, RunInput{Plan: plan, Inputs: inputs})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var rec Record
	if err := env.GetWorkflowError(); err != nil {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == ErrFlowFailed {
			if derr := appErr.Details(&rec); derr != nil {
				t.Fatalf("reading failure details: %v", derr)
			}
			return &rec, err
		}
		return nil, err
	}
	if err := env.GetWorkflowResult(&rec); err != nil {
		t.Fatal(err)
	}
	return &rec, nil
}

func testPlan(steps ...Step) *Plan {
	return &Plan{
		Name: "t", Kind: "Flow",
		Inputs:      []InputSpec{{Name: "id", Type: "string", Required: true}, {Name: "token", Type: "string", Secret: true}},
		Steps:       steps,
		Connections: map[string]*Connection{"p": {Name: "p", Scheme: "https", Host: "partner"}},
	}
}

func restStep(id, path string) Step {
	return Step{ID: id, Rest: &RestStep{Connection: "p", Method: "GET", Path: path}}
}

func TestSequenceExpressionsAndOutputs(t *testing.T) {
	p := testPlan(
		restStep("first", "/customers/${{ inputs.id }}"),
		Step{ID: "second", Rest: &RestStep{Connection: "p", Method: "POST", Path: "/orders/${{ steps.first.json.n + 1 }}",
			Body: map[string]any{"n": "${{ steps.first.json.n }}", "label": "id-${{ inputs.id }}", "hdr": "${{ steps.first.headers['x-req'] }}"}}},
	)
	p.Outputs = []Binding{{Name: "path", Value: "${{ steps.second.json.path }}"}, {Name: "echo", Value: "${{ steps.second.json.echo }}"}}
	partner := &fakePartner{}
	rec, err := runPlan(t, p, map[string]any{"id": "42", "token": "s3cr3t"}, partner)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(partner.calls, ";"); got != "GET /customers/42;POST /orders/3" {
		t.Fatalf("calls = %q", got)
	}
	echo := rec.Outputs["echo"].(map[string]any)
	if echo["n"] != 2.0 || echo["label"] != "id-42" || echo["hdr"] != "first" {
		t.Fatalf("typed expression values lost: %#v", echo)
	}
	if rec.Status != StatusSucceeded || len(rec.Steps) != 2 || rec.Steps[1].Response.StatusCode != 200 {
		t.Fatalf("record: %+v", rec)
	}
	if rec.Inputs["token"] != "[redacted]" {
		t.Fatalf("secret input not redacted in record: %v", rec.Inputs["token"])
	}
}

func TestIfForeachParallelAction(t *testing.T) {
	p := testPlan(
		restStep("list", "/list"),
		Step{ID: "skipped", If: "${{ inputs.id == 'nope' }}", Rest: &RestStep{Connection: "p", Method: "GET", Path: "/never"}},
		Step{ID: "each", Foreach: &Foreach{Items: "${{ steps.list.json.items }}", Concurrency: 2, Steps: []Step{
			restStep("get", "/items/${{ item }}/${{ index }}"),
		}}},
		Step{ID: "both", Parallel: []Branch{
			{ID: "a", Steps: []Step{restStep("pa", "/pa")}},
			{ID: "b", Steps: []Step{restStep("pb", "/pb")}},
		}},
		Step{ID: "call", Action: &ActionCall{Name: "lookup", With: []Binding{{Name: "cid", Value: "${{ steps.pa.json.path }}"}}}},
	)
	p.Actions = map[string]*ActionDef{"lookup": {
		Name: "lookup", Inputs: []InputSpec{{Name: "cid", Required: true}},
		Steps:   []Step{restStep("get", "/lookup${{ inputs.cid }}")},
		Outputs: []Binding{{Name: "found", Value: "${{ steps.get.json.path }}"}},
	}}
	p.Outputs = []Binding{{Name: "found", Value: "${{ steps.call.outputs.found }}"}, {Name: "count", Value: "${{ steps.each.count }}"}}
	partner := &fakePartner{}
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outputs["found"] != "/lookup/pa" || rec.Outputs["count"] != 3.0 {
		t.Fatalf("outputs = %v", rec.Outputs)
	}
	if s := rec.Step("skipped"); s == nil || s.Status != StatusSkipped {
		t.Fatalf("skipped step: %+v", s)
	}
	for _, id := range []string{"each[0]/get", "each[2]/get", "both/a/pa", "both/b/pb", "call/get", "call"} {
		if s := rec.Step(id); s == nil || s.Status != StatusSucceeded {
			t.Fatalf("step %s: %+v", id, s)
		}
	}
	got := strings.Join(partner.calls, ";")
	for _, want := range []string{"GET /items/a/0", "GET /items/c/2", "GET /lookup/pa"} {
		if !strings.Contains(got, want) {
			t.Fatalf("calls %q lack %q", got, want)
		}
	}
	if strings.Contains(got, "/never") {
		t.Fatal("a step whose if was false ran")
	}
}

func TestFailureRecordAndContinueOnError(t *testing.T) {
	p := testPlan(
		Step{ID: "soft", ContinueOnError: true, Rest: &RestStep{Connection: "p", Method: "GET", Path: "/missing"}},
		Step{ID: "after", If: "${{ steps.soft.status == 'failed' }}", Rest: &RestStep{Connection: "p", Method: "GET", Path: "/after"}},
		Step{ID: "hard", Rest: &RestStep{Connection: "p", Method: "GET", Path: "/bad"}},
		restStep("never", "/never"),
	)
	partner := &fakePartner{fail: map[string]error{
		"/missing": temporal.NewNonRetryableApplicationError("GET https://partner/missing answered 404 Not Found: no such customer", ErrHTTPClient, nil),
		"/bad":     temporal.NewNonRetryableApplicationError("GET https://partner/bad answered 400 Bad Request: id must be numeric", ErrHTTPClient, nil),
	}}
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err == nil {
		t.Fatal("flow succeeded although a step failed")
	}
	if rec.Status != StatusFailed || rec.Error == nil || !strings.Contains(rec.Error.Message, "id must be numeric") {
		t.Fatalf("record error: %+v", rec.Error)
	}
	if s := rec.Step("soft"); s.Status != StatusFailed || s.Error.Type != ErrHTTPClient {
		t.Fatalf("soft: %+v", s)
	}
	if s := rec.Step("after"); s == nil || s.Status != StatusSucceeded {
		t.Fatalf("continue_on_error did not continue: %+v", s)
	}
	if rec.Step("never") != nil {
		t.Fatal("a step after a failure ran")
	}
}

func TestRetriesCountAttempts(t *testing.T) {
	p := testPlan(Step{ID: "flaky", Retry: &RetryPolicy{MaxAttempts: 3, InitialInterval: Duration(1)}, Rest: &RestStep{Connection: "p", Method: "GET", Path: "/flaky"}})
	var n int
	var mu sync.Mutex
	flaky := func(ctx context.Context, req *RestRequest) (*StepResult, error) {
		mu.Lock()
		n++
		cur := n
		mu.Unlock()
		if cur < 3 {
			return nil, temporal.NewApplicationError(fmt.Sprintf("answered 503 (attempt %d)", cur), ErrHTTPStatus)
		}
		return &StepResult{Attempt: int(activity.GetInfo(ctx).Attempt), Response: &ResponseSummary{StatusCode: 200}}, nil
	}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivityWithOptions(flaky, activity.RegisterOptions{Name: RestActivity})
	env.ExecuteWorkflow(WorkflowName, RunInput{Plan: p, Inputs: map[string]any{"id": "1"}})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var rec Record
	_ = env.GetWorkflowResult(&rec)
	if rec.Steps[0].Attempts != 3 {
		t.Fatalf("attempts = %d, want 3", rec.Steps[0].Attempts)
	}
}

func TestMissingRequiredInput(t *testing.T) {
	rec, err := runPlan(t, testPlan(restStep("a", "/a")), nil, &fakePartner{})
	if err == nil || rec == nil || !strings.Contains(rec.Error.Message, `missing required input "id"`) {
		t.Fatalf("err = %v, rec = %+v", err, rec)
	}
}

func TestPollWaitAndContinueAsNew(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	status := func(ctx context.Context, req *RestRequest) (*StepResult, error) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		state := "pending"
		if n >= 4 {
			state = "done"
		}
		return &StepResult{Attempt: 1, Response: &ResponseSummary{StatusCode: 200, JSON: map[string]any{"state": state, "call": float64(n)}}}, nil
	}
	p := testPlan(
		Step{ID: "pause", Wait: &WaitStep{Duration: Duration(time.Hour)}},
		Step{ID: "job", Rest: &RestStep{Connection: "p", Method: "GET", Path: "/job"},
			Poll: &Poll{Until: "${{ steps.job.json.state == 'done' }}", Interval: Duration(time.Minute), Deadline: Duration(24 * time.Hour)}},
	)
	p.Outputs = []Binding{{Name: "calls", Value: "${{ steps.job.json.call }}"}}
	// A tiny history limit makes the poll continue as new between calls.
	p.Settings.HistoryLimit = 12

	rec, runs := runContinuing(t, RunInput{Plan: p, Inputs: map[string]any{"id": "1"}}, status, func(next RunInput) {
		if next.Resume == nil || next.Resume.Poll == nil || next.Resume.NextStep != 1 {
			t.Fatalf("continue-as-new carried no poll state: %+v", next.Resume)
		}
	})
	if runs < 2 || rec.Runs != runs-1 {
		t.Fatalf("runs = %d, record says %d continues", runs, rec.Runs)
	}
	if job := rec.Step("job"); job == nil || job.Polls != 4 || job.Status != StatusSucceeded {
		t.Fatalf("job: %+v", job)
	}
	if len(rec.Steps) != 2 || rec.Outputs["calls"] != 4.0 {
		t.Fatalf("record steps %d, outputs %v", len(rec.Steps), rec.Outputs)
	}
	if w := rec.Step("pause"); w == nil || w.Duration.D() != time.Hour {
		t.Fatalf("wait: %+v", w)
	}
}

func TestPollDeadline(t *testing.T) {
	never := func(ctx context.Context, req *RestRequest) (*StepResult, error) {
		return &StepResult{Attempt: 1, Response: &ResponseSummary{StatusCode: 200, JSON: map[string]any{"state": "pending"}}}, nil
	}
	p := testPlan(Step{ID: "job", Rest: &RestStep{Connection: "p", Method: "GET", Path: "/job"},
		Poll: &Poll{Until: "${{ steps.job.json.state == 'done' }}", Interval: Duration(time.Minute), MaxAttempts: 3}})
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivityWithOptions(never, activity.RegisterOptions{Name: RestActivity})
	env.ExecuteWorkflow(WorkflowName, RunInput{Plan: p, Inputs: map[string]any{"id": "1"}})
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "still not true after 3 calls") {
		t.Fatalf("err = %v", err)
	}
}

func TestForeachSeesEarlierSteps(t *testing.T) {
	p := testPlan(
		restStep("list", "/list"),
		Step{ID: "each", Foreach: &Foreach{Items: "${{ steps.list.json.items }}", Steps: []Step{
			restStep("get", "${{ steps.list.json.path }}/${{ item }}"),
		}}},
	)
	p.Outputs = []Binding{{Name: "last", Value: "${{ steps.each.results[2].get.json.path }}"}}
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, &fakePartner{})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outputs["last"] != "/list/c" {
		t.Fatalf("outputs = %v", rec.Outputs)
	}
}

func TestLocalStep(t *testing.T) {
	s := restStep("fast", "/fast")
	s.Local = true
	p := testPlan(s, restStep("normal", "/normal"))
	partner := &fakePartner{}
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(partner.calls, ";"); got != "GET /fast;GET /normal" {
		t.Fatalf("calls = %q", got)
	}
	if f := rec.Step("fast"); f == nil || f.Status != StatusSucceeded || f.Response.StatusCode != 200 {
		t.Fatalf("local step: %+v", f)
	}
}

// runContinuing runs the flow of in to its end in the test environment,
// starting each next run from the continue-as-new input (at most 20 runs);
// onContinue sees each continue-as-new input before its run. It returns the
// final record and the number of runs; a run that fails fails the test.
func runContinuing(t *testing.T, in RunInput, act any, onContinue func(next RunInput)) (*Record, int) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	for runs := 1; runs <= 20; runs++ {
		env := s.NewTestWorkflowEnvironment()
		env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Hour}) // as runPlan
		env.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
		env.RegisterActivityWithOptions(act, activity.RegisterOptions{Name: RestActivity})
		env.ExecuteWorkflow(WorkflowName, in)
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			var next RunInput
			if derr := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); derr != nil {
				t.Fatal(derr)
			}
			if onContinue != nil {
				onContinue(next)
			}
			in = next
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var rec Record
		if err := env.GetWorkflowResult(&rec); err != nil {
			t.Fatal(err)
		}
		return &rec, runs
	}
	t.Fatal("flow never finished")
	return nil, 0
}
