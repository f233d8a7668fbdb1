package engine

import (
	"os"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplayTryCatchChildFlows replays the history of a real run (recorded
// by cmd/outflow's TestTryCatchChildFlowsAndFailWhenEndToEnd when the file
// is absent) of a flow with try/catch/finally, eight child flows from a
// foreach at concurrency 5, and a fail_when caught by a catch. Child
// execution IDs derive from the parent's, so it replays under its own ID.
func TestReplayTryCatchChildFlows(t *testing.T) {
	f, err := os.Open("testdata/replay/try-catch-child-flows-v1.json")
	if err != nil {
		t.Fatalf("committed history missing: %v", err)
	}
	defer f.Close()
	hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	err = r.ReplayWorkflowHistoryWithOptions(nil, hist, worker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: "order-sync-e2e", RunID: "replayed"},
	})
	if err != nil {
		t.Fatal(err)
	}
}
