package engine

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

var errRefused = temporal.NewNonRetryableApplicationError("POST https://partner/items/1 answered 422: item 1 is locked", ErrHTTPClient, nil)

// eachItemWaitsThenCalls is a foreach of six items, three at a time, whose
// items wait an hour before calling the partner, except item 1, which
// calls (and fails) at once.
func eachItemWaitsThenCalls(continueOnError bool) *Plan {
	return testPlan(
		Step{ID: "each", ContinueOnError: continueOnError, Foreach: &Foreach{Items: "${{ [0, 1, 2, 3, 4, 5] }}", Concurrency: 3, Steps: []Step{
			{ID: "slow", If: "${{ item != 1 }}", Wait: &WaitStep{Duration: Duration(time.Hour)}},
			restStep("call", "/items/${{ item }}"),
		}}},
		restStep("after", "/after"),
	)
}

func sortedCalls(p *fakePartner) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	calls := append([]string(nil), p.calls...)
	sort.Strings(calls)
	return strings.Join(calls, ";")
}

// A failing item cancels the items still running (their waits end, their
// calls are never made) and the items not started never start.
func TestForeachFailsFast(t *testing.T) {
	partner := &fakePartner{fail: map[string]error{"/items/1": errRefused}}
	rec, err := runPlan(t, eachItemWaitsThenCalls(false), map[string]any{"id": "1"}, partner)
	if err == nil {
		t.Fatal("flow succeeded although an item failed")
	}
	if got := sortedCalls(partner); got != "GET /items/1" {
		t.Fatalf("partner calls = %q, want only the failing item's", got)
	}
	each := rec.Step("each")
	if each == nil || each.Status != StatusFailed || !strings.Contains(each.Error.Message, "item 1 is locked") {
		t.Fatalf("foreach record: %+v", each)
	}
	for _, id := range []string{"each[0]/slow", "each[2]/slow"} {
		if s := rec.Step(id); s == nil || s.Status != StatusFailed || s.Error.Type != "Canceled" {
			t.Errorf("%s: %+v, want canceled", id, s)
		}
	}
	for _, id := range []string{"each[3]/slow", "each[4]/slow", "each[5]/slow", "after"} {
		if s := rec.Step(id); s != nil {
			t.Errorf("%s ran: %+v", id, s)
		}
	}
}

// With continue_on_error, the other items run to completion, the foreach
// reports the failure, and the flow goes on.
func TestForeachContinueOnErrorRunsEveryItem(t *testing.T) {
	partner := &fakePartner{fail: map[string]error{"/items/1": errRefused}}
	p := eachItemWaitsThenCalls(true)
	p.Outputs = []Binding{{Name: "status", Value: "${{ steps.each.status }}"}, {Name: "error", Value: "${{ steps.each.error.message }}"}}
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedCalls(partner); got != "GET /after;GET /items/0;GET /items/1;GET /items/2;GET /items/3;GET /items/4;GET /items/5" {
		t.Fatalf("partner calls = %q", got)
	}
	if rec.Outputs["status"] != StatusFailed || !strings.Contains(rec.Outputs["error"].(string), "item 1 is locked") {
		t.Fatalf("outputs = %v", rec.Outputs)
	}
}

// Executions that started before fail-fast (no marker of the change in
// their history) keep running every item, as they did.
func TestForeachOldExecutionsRunEveryItem(t *testing.T) {
	partner := &fakePartner{fail: map[string]error{"/items/1": errRefused}}
	env := runEnv(t, RunInput{Plan: eachItemWaitsThenCalls(false), Inputs: map[string]any{"id": "1"}}, "old", time.Now(), partner, func(env *testsuite.TestWorkflowEnvironment) {
		env.OnGetVersion(failFastChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	})
	if env.GetWorkflowError() == nil {
		t.Fatal("flow succeeded although an item failed")
	}
	if got := sortedCalls(partner); got != "GET /items/0;GET /items/1;GET /items/2;GET /items/3;GET /items/4;GET /items/5" {
		t.Fatalf("partner calls = %q", got)
	}
}

// A failing branch cancels the other branches: a wait ends, and a call in
// progress is canceled.
func TestParallelFailsFast(t *testing.T) {
	var (
		mu       sync.Mutex
		calls    []string
		canceled []string
	)
	release, slowStarted := make(chan struct{}), make(chan struct{})
	defer close(release)
	partner := func(ctx context.Context, req *RestRequest) (*StepResult, error) {
		mu.Lock()
		calls = append(calls, req.Path)
		mu.Unlock()
		switch req.Path {
		case "/fail":
			// Fails once the slow call is in progress, so that there is a
			// call to cancel.
			<-slowStarted
			return nil, errRefused
		case "/slow":
			close(slowStarted)
			// Answers only when the test ends: the step ends by being canceled.
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil, ctx.Err()
		}
		return &StepResult{Response: &ResponseSummary{StatusCode: 200}}, nil
	}
	p := testPlan(Step{ID: "both", Parallel: []Branch{
		{ID: "a", Steps: []Step{restStep("fails", "/fail")}},
		{ID: "b", Steps: []Step{{ID: "slow", Timeout: Duration(time.Minute), Rest: &RestStep{Connection: "p", Method: "GET", Path: "/slow"}}, restStep("later", "/later")}},
		{ID: "c", Steps: []Step{{ID: "pause", Wait: &WaitStep{Duration: Duration(time.Hour)}}, restStep("never", "/never")}},
	}})
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivityWithOptions(partner, activity.RegisterOptions{Name: RestActivity})
	env.SetOnActivityCanceledListener(func(info *activity.Info) {
		mu.Lock()
		canceled = append(canceled, info.ActivityType.Name)
		mu.Unlock()
	})
	env.ExecuteWorkflow(WorkflowName, RunInput{Plan: p, Inputs: map[string]any{"id": "1"}})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() == nil {
		t.Fatal("flow did not fail")
	}
	mu.Lock()
	defer mu.Unlock()
	sort.Strings(calls)
	if got := strings.Join(calls, ";"); got != "/fail;/slow" {
		t.Fatalf("partner calls = %q: the branches went on after one failed", got)
	}
	if len(canceled) != 1 || canceled[0] != RestActivity {
		t.Fatalf("canceled activities = %v, want the slow call", canceled)
	}
}

// With continue_on_error, the other branches run to completion.
func TestParallelContinueOnErrorRunsEveryBranch(t *testing.T) {
	partner := &fakePartner{fail: map[string]error{"/fail": errRefused}}
	p := testPlan(
		Step{ID: "both", ContinueOnError: true, Parallel: []Branch{
			{ID: "a", Steps: []Step{restStep("fails", "/fail")}},
			{ID: "c", Steps: []Step{{ID: "pause", Wait: &WaitStep{Duration: Duration(time.Hour)}}, restStep("later", "/later")}},
		}},
		restStep("after", "/after"),
	)
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedCalls(partner); got != "GET /after;GET /fail;GET /later" {
		t.Fatalf("partner calls = %q", got)
	}
	if s := rec.Step("both"); s.Status != StatusFailed || !strings.Contains(s.Error.Message, "item 1 is locked") {
		t.Fatalf("parallel record: %+v", s)
	}
}

// foreach takes any list an expression yields: a range (1..3 is an []int),
// a list of strings from split, a list literal; anything else is refused
// with its type.
func TestForeachTakesAnyList(t *testing.T) {
	for _, tc := range []struct {
		items string
		want  string
	}{
		{"${{ 1..3 }}", "GET /i/1/0;GET /i/2/1;GET /i/3/2"},
		{"${{ split('b,a', ',') }}", "GET /i/b/0;GET /i/a/1"},
		{"${{ [true, 2.5] }}", "GET /i/true/0;GET /i/2.5/1"},
		{"${{ map(1..2, # * 10) }}", "GET /i/10/0;GET /i/20/1"},
		{"${{ nil }}", ""},
	} {
		p := testPlan(Step{ID: "each", Foreach: &Foreach{Items: tc.items, Steps: []Step{restStep("get", "/i/${{ item }}/${{ index }}")}}})
		p.Outputs = []Binding{{Name: "count", Value: "${{ steps.each.count }}"}}
		partner := &fakePartner{}
		rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
		if err != nil {
			t.Fatalf("%s: %v", tc.items, err)
		}
		if got := strings.Join(partner.calls, ";"); got != tc.want {
			t.Errorf("%s: calls %q, want %q", tc.items, got, tc.want)
		}
		if n := len(strings.Split(tc.want, ";")); tc.want != "" && rec.Outputs["count"] != float64(n) {
			t.Errorf("%s: count %v", tc.items, rec.Outputs["count"])
		}
	}
	for _, items := range []string{"${{ {'a': 1} }}", "${{ 'abc' }}", "${{ 3 }}"} {
		p := testPlan(Step{ID: "each", Foreach: &Foreach{Items: items, Steps: []Step{restStep("get", "/i/${{ item }}")}}})
		rec, err := runPlan(t, p, map[string]any{"id": "1"}, &fakePartner{})
		if err == nil || !strings.Contains(rec.Error.Message, "foreach needs a list") {
			t.Errorf("%s: err %v", items, err)
		}
	}
}

// Executions started before foreach took any list keep failing where they
// failed.
func TestForeachOverRangeInOldExecutions(t *testing.T) {
	p := testPlan(Step{ID: "each", Foreach: &Foreach{Items: "${{ 1..3 }}", Steps: []Step{restStep("get", "/i/${{ item }}")}}})
	partner := &fakePartner{}
	env := runEnv(t, RunInput{Plan: p, Inputs: map[string]any{"id": "1"}}, "old", time.Now(), partner, func(env *testsuite.TestWorkflowEnvironment) {
		env.OnGetVersion(anyListChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	})
	if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "foreach needs a list, got []int") {
		t.Fatalf("err = %v", err)
	}
	if len(partner.calls) != 0 {
		t.Fatalf("calls = %q", partner.calls)
	}
}
