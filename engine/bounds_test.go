package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// runBounded runs a plan in the SDK's test environment, with setup applied
// first, and returns the record (from the result or from the failure's
// details) and the workflow's error.
func runBounded(t *testing.T, in RunInput, partner *fakePartner, setup func(*testsuite.TestWorkflowEnvironment)) (*Record, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivityWithOptions(partner.rest, activity.RegisterOptions{Name: RestActivity})
	if setup != nil {
		setup(env)
	}
	env.ExecuteWorkflow(WorkflowName, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var rec Record
	err := env.GetWorkflowError()
	if err == nil {
		if err := env.GetWorkflowResult(&rec); err != nil {
			t.Fatal(err)
		}
		return &rec, nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == ErrFlowFailed {
		if derr := appErr.Details(&rec); derr != nil {
			t.Fatalf("reading failure details: %v", derr)
		}
		return &rec, err
	}
	return nil, err
}

// mustFailWith checks that a flow failed as a whole with an error of type
// typ whose message says each of want.
func mustFailWith(t *testing.T, rec *Record, err error, typ string, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("the flow succeeded (%d steps recorded, %d removed)", len(rec.Steps), rec.StepsDropped)
	}
	if rec == nil {
		t.Fatalf("the flow failed without a record: %v", err)
	}
	if rec.Status != StatusFailed || rec.Error == nil || rec.Error.Type != typ {
		t.Fatalf("status %s, error %+v, want a %s error", rec.Status, rec.Error, typ)
	}
	for _, w := range want {
		if !strings.Contains(rec.Error.Message, w) {
			t.Errorf("error %q does not say %q", rec.Error.Message, w)
		}
	}
}

// TestHostileExpressionFailsTheFlow runs the flow of defect 1 of issue 13:
// its vars once made the worker die with `fatal error: out of memory`, again
// after every restart. The flow fails with an Expression error naming the
// var and the limit, and no step runs.
func TestHostileExpressionFailsTheFlow(t *testing.T) {
	p := testPlan(restStep("after", "/after"))
	p.Inputs = nil
	p.Vars = []Binding{{Name: "big", Value: `${{ len(repeat(repeat("a", 999999), 1000000)) }}`}}
	partner := &fakePartner{}
	rec, err := runBounded(t, RunInput{Plan: p}, partner, nil)
	mustFailWith(t, rec, err, ErrExpression, "vars.big", "repeat: the value would be 999999000000 bytes, over the limit of 2 MiB")
	if len(partner.calls) != 0 {
		t.Fatalf("steps ran after the vars failed: %v", partner.calls)
	}
}

// TestQuadraticExpressionFailsTheStep: a step whose body grows a string in a
// loop (4.5 GB of garbage, once a workflow task failing and retried forever)
// fails with an Expression error before its call.
func TestQuadraticExpressionFailsTheStep(t *testing.T) {
	p := testPlan(Step{ID: "post", Rest: &RestStep{Connection: "p", Method: "POST", Path: "/x",
		Body: map[string]any{"n": `${{ len(reduce(1..30000, #acc + "aaaaaaaaaa", "")) }}`}}})
	p.Inputs = nil
	partner := &fakePartner{}
	rec, err := runBounded(t, RunInput{Plan: p}, partner, nil)
	mustFailWith(t, rec, err, ErrExpression, "post.body", "more than 16 MiB in all")
	if s := rec.Step("post"); s == nil || s.Status != StatusFailed || s.Error.Type != ErrExpression {
		t.Fatalf("step record: %+v", s)
	}
	if len(partner.calls) != 0 {
		t.Fatalf("the step was called: %v", partner.calls)
	}
}

// TestForeachItemLimit: a foreach over more than MaxForeachItems items fails
// before the first item starts.
func TestForeachItemLimit(t *testing.T) {
	p := testPlan(Step{ID: "each", Foreach: &Foreach{Items: "${{ map(1..6000, #) }}", Steps: []Step{restStep("get", "/items/${{ item }}")}}})
	p.Inputs = nil
	partner := &fakePartner{}
	rec, err := runBounded(t, RunInput{Plan: p}, partner, nil)
	mustFailWith(t, rec, err, ErrLimit, "the list has 6000 items, over the limit of 5000")
	if len(partner.calls) != 0 {
		t.Fatalf("%d items ran", len(partner.calls))
	}
}

// TestStepsPerRunLimit: a foreach inside a foreach (200 × 200 steps, each
// skipped by its if) stops at MaxStepsPerRun; continue_on_error on the
// inner step does not keep the loops going.
func TestStepsPerRunLimit(t *testing.T) {
	inner := Step{ID: "maybe", If: "${{ item < 0 }}", ContinueOnError: true, Rest: &RestStep{Connection: "p", Method: "GET", Path: "/never"}}
	p := testPlan(Step{ID: "outer", Foreach: &Foreach{Items: "${{ map(1..200, #) }}", Steps: []Step{
		{ID: "inner", Foreach: &Foreach{Items: "${{ map(1..200, #) }}", Steps: []Step{inner}}},
	}}})
	p.Inputs = nil
	partner := &fakePartner{}
	rec, err := runBounded(t, RunInput{Plan: p}, partner, nil)
	mustFailWith(t, rec, err, ErrLimit, fmt.Sprintf("this run started more than %d steps", MaxStepsPerRun))
	skipped := 0
	for _, s := range rec.Steps {
		if s.Status == StatusSkipped {
			skipped++
		}
	}
	if total := skipped + rec.StepsDropped; total > MaxStepsPerRun {
		t.Errorf("%d steps recorded or dropped, more than the limit", total)
	}
	if len(partner.calls) != 0 {
		t.Fatalf("calls: %v", partner.calls)
	}
}

// TestLimitsReplayOldHistories: where a limit is reached the run asks
// GetVersion; a history recorded before the limits (DefaultVersion) goes on
// as it did then, so replaying it issues the same commands.
func TestLimitsReplayOldHistories(t *testing.T) {
	p := testPlan(
		Step{ID: "each", Foreach: &Foreach{Items: "${{ map(1..6000, #) }}", Steps: []Step{
			{ID: "maybe", If: "${{ item < 0 }}", Rest: &RestStep{Connection: "p", Method: "GET", Path: "/never"}},
		}}},
		Step{ID: "post", Rest: &RestStep{Connection: "p", Method: "POST", Path: "/x",
			Body: map[string]any{"n": `${{ len(reduce(1..30, #acc + inputs.id, "")) }}`}}},
	)
	big := strings.Repeat("i", 100<<10)
	partner := &fakePartner{}
	asked := 0
	rec, err := runBounded(t, RunInput{Plan: p, Inputs: map[string]any{"id": big}}, partner, func(env *testsuite.TestWorkflowEnvironment) {
		// The pre-limits path is unbounded by design (it is what old
		// executions did); on a loaded machine its 6,000 items can take over
		// a second of one workflow task, which is not what this test is about.
		env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Hour})
		env.OnGetVersion(boundsChange, workflow.DefaultVersion, 1).Return(func(string, workflow.Version, workflow.Version) workflow.Version {
			asked++
			return workflow.DefaultVersion
		})
	})
	if err != nil {
		if rec == nil {
			t.Fatal(err)
		}
		t.Fatalf("%v: %+v", err, rec.Error)
	}
	if s := rec.Step("each"); s == nil || s.Status != StatusSucceeded {
		t.Fatalf("foreach: %+v", s)
	}
	if s := rec.Step("post"); s == nil || s.Status != StatusSucceeded {
		t.Fatalf("post step: %+v", s)
	}
	if len(partner.calls) != 1 || partner.calls[0] != "POST /x" {
		t.Fatalf("calls: %v", partner.calls)
	}
	if asked != 1 {
		t.Errorf("GetVersion asked %d times, want once (the answer holds for the run)", asked)
	}

	// The same flow in a new execution records version 1 and fails.
	rec, err = runBounded(t, RunInput{Plan: p, Inputs: map[string]any{"id": big}}, &fakePartner{}, nil)
	mustFailWith(t, rec, err, ErrLimit, "over the limit of 5000")
}

// TestInterpreterPanicFailsTheFlow: a runtime panic in the interpreter (here
// a continue-as-new input with a null step record, which a client can send)
// fails the flow with an Internal error instead of failing the workflow
// task, which the worker would retry forever.
func TestInterpreterPanicFailsTheFlow(t *testing.T) {
	p := testPlan(restStep("get", "/get"))
	p.Inputs = nil
	in := RunInput{Plan: p, Resume: &Resume{Record: &Record{Flow: "t", Steps: []*StepRecord{nil}}}}
	_, err := runBounded(t, in, &fakePartner{}, nil)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("want an application error, got %v", err)
	}
	var panicErr *temporal.PanicError
	if errors.As(err, &panicErr) {
		t.Fatalf("the panic reached the SDK: %v", err)
	}
	if !strings.Contains(err.Error(), "internal error while running the flow") || !strings.Contains(err.Error(), "nil pointer dereference") {
		t.Fatalf("error: %v", err)
	}
}

// panicWorkflow panics in a foreach-like coroutine with what it is given.
func panicWorkflow(ctx workflow.Context, what string) (string, error) {
	r := &runner{}
	var err error
	done := false
	workflow.Go(ctx, func(gctx workflow.Context) {
		defer func() { done = true }()
		defer r.recoverBranch(gctx, &err)
		switch what {
		case "runtime":
			var m map[string]int
			//lint:ignore SA5000 the runtime panic is what this test recovers from
			m["x"] = 1
		default:
			panic(what)
		}
	})
	_ = workflow.Await(ctx, func() bool { return done })
	if err != nil {
		return "", err
	}
	return "no error", nil
}

// TestRecoverBranch: a runtime panic in an item's or branch's coroutine
// becomes that item's Internal error; any other panic (the SDK's own are
// strings, errors and its own types) reaches the SDK untouched.
func TestRecoverBranch(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(panicWorkflow)
	env.ExecuteWorkflow(panicWorkflow, "runtime")
	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != ErrInternal || !strings.Contains(appErr.Error(), "assignment to entry in nil map") {
		t.Fatalf("runtime panic: %v", err)
	}

	env = s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(panicWorkflow)
	env.ExecuteWorkflow(panicWorkflow, "an SDK panic")
	var panicErr *temporal.PanicError
	if err := env.GetWorkflowError(); !errors.As(err, &panicErr) || !strings.Contains(panicErr.Error(), "an SDK panic") {
		t.Fatalf("other panic: %v", err)
	}
}
