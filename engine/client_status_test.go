package engine

import (
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
)

func TestExecutionStatus(t *testing.T) {
	for status, want := range map[enumspb.WorkflowExecutionStatus]string{
		enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:          StatusRunning,
		enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:        StatusSucceeded,
		enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:           StatusFailed,
		enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:       StatusTerminated,
		enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:         StatusCanceled,
		enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:        StatusTimedOut,
		enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW: StatusContinuedAsNew,
	} {
		if got := executionStatus(&workflowpb.WorkflowExecutionInfo{Status: status}); got != want {
			t.Errorf("%s: %q, want %q", status, got, want)
		}
	}
	for in, want := range map[string]string{
		"running": `ExecutionStatus = "Running"`, "Succeeded": `ExecutionStatus = "Completed"`, "cancelled": `ExecutionStatus = "Canceled"`,
		"timed_out": `ExecutionStatus = "TimedOut"`, "terminated": `ExecutionStatus = "Terminated"`,
	} {
		if got, err := statusQuery(in); err != nil || got != want {
			t.Errorf("statusQuery(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := statusQuery("error"); err == nil || !strings.Contains(err.Error(), "running, succeeded, failed, terminated, canceled, timed_out") {
		t.Errorf("statusQuery(error) = %v", err)
	}
}
