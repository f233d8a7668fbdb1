package engine

import (
	"os"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplayCommittedHistory replays a history recorded from a real run of
// the quickstart (regenerate with `go test ./cmd/outflow -run
// TestSecretsNeverInHistory -update-history`). It fails when a change to
// FlowWorkflow would break executions that are already running.
func TestReplayCommittedHistory(t *testing.T) {
	const file = "testdata/replay/quickstart.json"
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("committed history missing: %v", err)
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	if err := r.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
		t.Fatal(err)
	}
}
