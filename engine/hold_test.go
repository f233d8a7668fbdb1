package engine

import (
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// Two foreach items hold at once: a decision must name its step, each is
// decided on its own, a decided step is no longer held, and the flow goes
// on when both are decided.
func TestHoldSeveralStepsAtOnce(t *testing.T) {
	yes := true
	partner := &fakePartner{fail: map[string]error{
		"/x/1": temporal.NewApplicationError("answered 503", ErrHTTPStatus),
		"/x/2": temporal.NewApplicationError("answered 503", ErrHTTPStatus),
	}}
	p := testPlan(
		Step{ID: "each", Foreach: &Foreach{Items: "${{ [1, 2] }}", Concurrency: 2, Steps: []Step{{
			ID: "post", Rest: &RestStep{Connection: "p", Method: "POST", Path: "/x/${{ item }}"},
			Retry: &RetryPolicy{MaxAttempts: 1}, HoldOnFailure: &yes,
		}}}},
		restStep("after", "/after/${{ steps.each.results[0].post.outputs.v }}/${{ steps.each.results[1].post.json.path }}"),
	)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivityWithOptions(partner.rest, activity.RegisterOptions{Name: RestActivity})
	var mu sync.Mutex
	answers := map[string]string{}
	send := func(name string, d ResumeDecision) {
		env.UpdateWorkflow(ResumeUpdate, name, &testsuite.TestUpdateCallback{
			OnReject: func(err error) { mu.Lock(); answers[name] = "rejected: " + err.Error(); mu.Unlock() },
			OnAccept: func() {},
			OnComplete: func(v any, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					answers[name] = "failed: " + err.Error()
				} else {
					answers[name] = "done"
				}
			},
		}, d)
	}
	env.RegisterDelayedCallback(func() {
		send("unnamed", ResumeDecision{Action: ResumeSkip})
		send("bad-action", ResumeDecision{Step: "each[0]/post", Action: "later"})
		send("skip-0", ResumeDecision{Step: "each[0]/post", Action: ResumeSkip, Outputs: map[string]any{"v": "s0"}, Identity: "ops"})
		send("again-0", ResumeDecision{Step: "each[0]/post", Action: ResumeRetry})
		partner.mu.Lock()
		delete(partner.fail, "/x/2")
		partner.mu.Unlock()
		send("retry-1", ResumeDecision{Step: "each[1]/post", Action: ResumeRetry, Identity: "ops"})
	}, 3600e9)
	env.ExecuteWorkflow(WorkflowName, RunInput{Plan: p, Inputs: map[string]any{"id": "1"}})
	if !env.IsWorkflowCompleted() {
		t.Fatal("the workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("the flow failed: %v (answers %v)", err, answers)
	}
	for name, want := range map[string]string{
		"unnamed":    "rejected: resume: 2 steps are held (each[0]/post, each[1]/post); name one with --step",
		"bad-action": `rejected: resume: unknown decision "later"`,
		"skip-0":     "done",
		"again-0":    `rejected: resume: step "each[0]/post" is not held (held: each[1]/post)`,
		"retry-1":    "done",
	} {
		if !strings.HasPrefix(answers[name], want) {
			t.Errorf("%s: %q, want %q", name, answers[name], want)
		}
	}
	var rec Record
	if err := env.GetWorkflowResult(&rec); err != nil {
		t.Fatal(err)
	}
	if st := rec.Step("each[0]/post"); st == nil || st.Status != StatusSkipped || st.Outputs["v"] != "s0" {
		t.Fatalf("each[0]/post: %+v", st)
	}
	if st := rec.Step("each[1]/post#held1"); st == nil || st.Status != StatusFailed {
		t.Fatalf("each[1]/post#held1: %+v", st)
	}
	if st := rec.Step("each[1]/post"); st == nil || st.Status != StatusSucceeded {
		t.Fatalf("each[1]/post: %+v", st)
	}
	if st := rec.Step("after"); st == nil || st.Request == nil || st.Request.URL != "https://partner/after/s0//x/2" {
		t.Fatalf("after: %+v", st)
	}
	if len(rec.Operations) != 2 || rec.Status != StatusSucceeded {
		t.Fatalf("operations %+v, status %s", rec.Operations, rec.Status)
	}
}
