package engine

import (
	"os"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplayLogicConstructs replays a history recorded on the embedded
// server (cmd/outflow TestLogicConstructsOnEmbeddedServer, which writes it
// once) of a flow with switch, if/then/else, set, now(), repeat with an
// interval, foreach with continue_when, and fail.
func TestReplayLogicConstructs(t *testing.T) {
	const file = "testdata/replay/logic-constructs.json"
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("committed history missing: %v", err)
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	if err := r.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
		t.Fatal(err)
	}
}
