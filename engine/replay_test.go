package engine

import (
	"path/filepath"
	"strings"
	"testing"

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
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
				t.Fatal(err)
			}
		})
	}
}
