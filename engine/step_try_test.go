package engine

import (
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// rejected422 is what the rest activity returns for a 422: a
// non-retryable failure carrying the response.
func rejected422() error {
	return temporal.NewNonRetryableApplicationError("HTTP 422: order locked", ErrHTTPClient, nil,
		StepResult{Response: &ResponseSummary{StatusCode: 422, Body: `{"code":"LOCKED"}`}})
}

func TestTryCatchCompensatesAndReadsError(t *testing.T) {
	partner := &fakePartner{fail: map[string]error{"/orders": rejected422()}}
	p := testPlan(Step{ID: "sync", Try: &TryStep{
		Steps:   []Step{restStep("post", "/orders"), restStep("never", "/never")},
		Catch:   []Step{restStep("undo", "/undo/${{ error.status_code }}/${{ error.type }}/${{ error.step }}")},
		Finally: []Step{restStep("cleanup", "/cleanup")},
	}}, restStep("after", "/after/${{ steps.sync.caught.message }}"))
	p.Outputs = []Binding{{Name: "undone", Value: "${{ steps.undo.json.path }}"}}
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err != nil {
		t.Fatalf("a catch that ends normally should make the flow succeed: %v", err)
	}
	want := []string{"GET /orders", "GET /undo/422/HTTPStatusClient/sync/try/post", "GET /cleanup", "GET /after/HTTP 422: order locked"}
	if strings.Join(partner.calls, "|") != strings.Join(want, "|") {
		t.Fatalf("calls = %q, want %q", partner.calls, want)
	}
	if got := rec.Step("sync"); got == nil || got.Status != StatusSucceeded || got.Caught == nil || got.Caught.Type != ErrHTTPClient {
		t.Fatalf("try record = %+v", got)
	}
	for _, path := range []string{"sync/try/post", "sync/catch/undo", "sync/finally/cleanup"} {
		if rec.Step(path) == nil {
			t.Errorf("no record for %s", path)
		}
	}
	if rec.Step("sync/try/post").Status != StatusFailed {
		t.Errorf("the failed step keeps its failure in the record")
	}
}

func TestTryWithoutCatchFailsAfterFinally(t *testing.T) {
	partner := &fakePartner{fail: map[string]error{"/orders": rejected422()}}
	p := testPlan(Step{ID: "sync", Try: &TryStep{
		Steps:   []Step{restStep("post", "/orders")},
		Finally: []Step{restStep("cleanup", "/cleanup")},
	}}, restStep("after", "/after"))
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err == nil {
		t.Fatal("a try without catch should fail")
	}
	if strings.Join(partner.calls, "|") != "GET /orders|GET /cleanup" {
		t.Fatalf("calls = %q", partner.calls)
	}
	if rec.Error == nil || rec.Error.Type != ErrHTTPClient {
		t.Fatalf("flow error = %+v, want the step's type", rec.Error)
	}
}

func TestCatchThatFailsFailsTheBlock(t *testing.T) {
	partner := &fakePartner{fail: map[string]error{
		"/orders": rejected422(),
		"/undo":   temporal.NewNonRetryableApplicationError("undo refused", "UndoRefused", nil),
	}}
	p := testPlan(Step{ID: "sync", Try: &TryStep{
		Steps: []Step{restStep("post", "/orders")},
		Catch: []Step{restStep("undo", "/undo")},
	}})
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err == nil || rec.Error == nil || rec.Error.Type != "UndoRefused" {
		t.Fatalf("err = %v, record error = %+v; want the catch's failure", err, rec.Error)
	}
	if got := rec.Step("sync"); got.Status != StatusFailed {
		t.Fatalf("try step status = %s", got.Status)
	}
}

func TestTrySucceedsWithoutCatch(t *testing.T) {
	partner := &fakePartner{}
	p := testPlan(Step{ID: "sync", Try: &TryStep{
		Steps:   []Step{restStep("post", "/orders")},
		Catch:   []Step{restStep("undo", "/undo")},
		Finally: []Step{restStep("cleanup", "/cleanup")},
	}}, restStep("after", "/after/${{ steps.post.status_code }}"))
	if _, err := runPlan(t, p, map[string]any{"id": "1"}, partner); err != nil {
		t.Fatal(err)
	}
	if strings.Join(partner.calls, "|") != "GET /orders|GET /cleanup|GET /after/200" {
		t.Fatalf("calls = %q: catch runs only on failure; steps inside try are visible after it", partner.calls)
	}
}

func TestTryCatchesFailureInsideForeach(t *testing.T) {
	partner := &fakePartner{fail: map[string]error{"/items/b": rejected422()}}
	p := testPlan(Step{ID: "sync", Try: &TryStep{
		Steps: []Step{{ID: "each", Foreach: &Foreach{Items: `${{ ["a","b"] }}`, Steps: []Step{restStep("put", "/items/${{ item }}")}}}},
		Catch: []Step{restStep("undo", "/undo/${{ error.step }}")},
	}})
	if _, err := runPlan(t, p, map[string]any{"id": "1"}, partner); err != nil {
		t.Fatal(err)
	}
	if last := partner.calls[len(partner.calls)-1]; last != "GET /undo/sync/try/each[1]/put" {
		t.Fatalf("error.step should name the innermost failed step, calls = %q", partner.calls)
	}
}

func TestFinallyRunsWhenFlowIsCanceled(t *testing.T) {
	partner := &fakePartner{}
	p := testPlan(Step{ID: "sync", Try: &TryStep{
		Steps:   []Step{{ID: "pause", Wait: &WaitStep{Duration: Duration(3600e9)}}},
		Catch:   []Step{restStep("undo", "/undo")},
		Finally: []Step{restStep("cleanup", "/cleanup")},
	}})
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivityWithOptions(partner.rest, activity.RegisterOptions{Name: RestActivity})
	env.RegisterDelayedCallback(env.CancelWorkflow, 60e9)
	env.ExecuteWorkflow(WorkflowName, RunInput{Plan: p, Inputs: map[string]any{"id": "1"}})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if env.GetWorkflowError() == nil {
		t.Fatal("a canceled flow should end canceled")
	}
	if strings.Join(partner.calls, "|") != "GET /cleanup" {
		t.Fatalf("calls = %q: finally runs on cancel, catch does not", partner.calls)
	}
}

func TestOnFailureRunsBeforeTheFailureIsReturned(t *testing.T) {
	partner := &fakePartner{fail: map[string]error{"/orders": rejected422()}}
	p := testPlan(restStep("post", "/orders"))
	p.OnFailure = []Step{restStep("alert", "/alert/${{ error.type }}/${{ error.status_code }}")}
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err == nil {
		t.Fatal("on_failure does not make the flow succeed")
	}
	if strings.Join(partner.calls, "|") != "GET /orders|GET /alert/HTTPStatusClient/422" {
		t.Fatalf("calls = %q", partner.calls)
	}
	if rec.Step("on_failure/alert") == nil || rec.Error.Type != ErrHTTPClient {
		t.Fatalf("record: alert %+v, error %+v", rec.Step("on_failure/alert"), rec.Error)
	}
}

func TestActionOnFailure(t *testing.T) {
	partner := &fakePartner{fail: map[string]error{"/orders": rejected422()}}
	p := testPlan(Step{ID: "call", Action: &ActionCall{Name: "a"}})
	p.Actions = map[string]*ActionDef{"a": {Name: "a",
		Steps:     []Step{restStep("post", "/orders")},
		OnFailure: []Step{restStep("alert", "/alert/${{ error.step }}")}}}
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err == nil {
		t.Fatal("want failure")
	}
	if strings.Join(partner.calls, "|") != "GET /orders|GET /alert/call/post" || rec.Step("call/on_failure/alert") == nil {
		t.Fatalf("calls = %q", partner.calls)
	}
}

func TestFinallyThatFailsFailsTheBlock(t *testing.T) {
	partner := &fakePartner{fail: map[string]error{
		"/cleanup": temporal.NewNonRetryableApplicationError("cleanup refused", "CleanupRefused", nil),
	}}
	p := testPlan(Step{ID: "sync", Try: &TryStep{
		Steps:   []Step{restStep("post", "/orders")},
		Finally: []Step{restStep("cleanup", "/cleanup")},
	}}, restStep("after", "/after"))
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err == nil || rec.Error == nil || rec.Error.Type != "CleanupRefused" {
		t.Fatalf("err = %v, record error = %+v; want the finally's failure", err, rec.Error)
	}
	if strings.Join(partner.calls, "|") != "GET /orders|GET /cleanup" {
		t.Fatalf("calls = %q", partner.calls)
	}
}

// A step inside try with continue_on_error does not trigger catch.
func TestContinueOnErrorInsideTryIsNotCaught(t *testing.T) {
	partner := &fakePartner{fail: map[string]error{"/orders": rejected422()}}
	post := restStep("post", "/orders")
	post.ContinueOnError = true
	p := testPlan(Step{ID: "sync", Try: &TryStep{
		Steps: []Step{post, restStep("next", "/next/${{ steps.post.status }}")},
		Catch: []Step{restStep("undo", "/undo")},
	}})
	if _, err := runPlan(t, p, map[string]any{"id": "1"}, partner); err != nil {
		t.Fatal(err)
	}
	if strings.Join(partner.calls, "|") != "GET /orders|GET /next/failed" {
		t.Fatalf("calls = %q", partner.calls)
	}
}
