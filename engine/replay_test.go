package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplayCorpus replays every history committed in testdata/replay, each
// recorded from a real run of one construct of the workflow (see the
// package doc for how to add one). It fails when a change to FlowWorkflow
// would break executions that are already running: such a change goes
// behind workflow.GetVersion.
func TestReplayCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "replay", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The corpus holds at least the quickstart and one history per
	// construct that cmd/outflow's TestReplayCorpus records; a file lost in
	// a merge should not silently shrink what is replayed.
	if len(files) < 8 {
		t.Fatalf("the replay corpus holds %d histories, want at least 8: %v", len(files), files)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
			err = r.ReplayWorkflowHistoryWithOptions(nil, hist, worker.ReplayWorkflowHistoryOptions{
				OriginalExecution: workflow.Execution{ID: originalID(hist), RunID: "replayed"},
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// originalID is the workflow ID a history must replay under. A history
// exported from Temporal does not name its own execution, and the replayer
// would use a default ID; that matters only to a flow that starts child
// flows, whose IDs are its own ID followed by "/" and the step path
// (ChildWorkflowID), so the parent's ID is read back from the first child.
// Parent IDs in the corpus hold no "/".
func originalID(hist *historypb.History) string {
	for _, e := range hist.GetEvents() {
		if e.GetEventType() == enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED {
			id := e.GetStartChildWorkflowExecutionInitiatedEventAttributes().GetWorkflowId()
			if parent, _, ok := strings.Cut(id, "/"); ok {
				return parent
			}
		}
	}
	return "replayed"
}
