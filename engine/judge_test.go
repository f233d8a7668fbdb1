package engine

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

func TestJudgeResponseOnSOAPBody(t *testing.T) {
	res := &StepResult{Response: &ResponseSummary{StatusCode: 200}, Body: map[string]any{"Result": map[string]any{"Code": "LOCKED"}}}
	h := &CallHeader{FailWhen: `${{ response.body.Result.Code == "LOCKED" }}`}
	err := JudgeResponse(h, res)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrResponseRejected || !appErr.NonRetryable() || !strings.Contains(appErr.Message(), "LOCKED") {
		t.Fatalf("err = %v", err)
	}
	if JudgeResponse(&CallHeader{}, res) != nil || JudgeResponse(&CallHeader{FailWhen: `${{ response.status_code != 200 }}`}, res) != nil {
		t.Fatal("a response no condition rejects passes")
	}
}

// The plan's fail_when and retry_when reach the activity in the request.
func TestFailWhenTravelsInTheRequest(t *testing.T) {
	var got *RestRequest
	act := func(ctx context.Context, req *RestRequest) (*StepResult, error) {
		got = req
		return &StepResult{Response: &ResponseSummary{StatusCode: 200}}, nil
	}
	st := restStep("post", "/orders")
	st.FailWhen, st.RetryWhen = `${{ response.json.status == "ERROR" }}`, `${{ response.json.code == "LOCKED" }}`
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivityWithOptions(act, activity.RegisterOptions{Name: RestActivity})
	env.ExecuteWorkflow(WorkflowName, RunInput{Plan: testPlan(st), Inputs: map[string]any{"id": "1"}})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.FailWhen != st.FailWhen || got.RetryWhen != st.RetryWhen {
		t.Fatalf("request = %+v", got)
	}
}
