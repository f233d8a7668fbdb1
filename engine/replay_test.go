package engine

import (
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplayCommittedHistory replays every history committed under
// testdata/replay: quickstart.json, a real run of the quickstart
// (regenerate with `go test ./cmd/outflow -run TestSecretsNeverInHistory
// -update-history`), and summaries.json, a failing run with activity
// summaries (`go test ./cmd/outflow -run TestConsoleInBrowser
// -update-summary-history`). It fails when a change to FlowWorkflow would
// break executions that are already running.
func TestReplayCommittedHistory(t *testing.T) {
	const file = "testdata/replay/quickstart.json"
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("committed history missing: %v", err)
	}
	files, err := filepath.Glob("testdata/replay/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, f); err != nil {
				t.Fatal(err)
			}
		})
	}
}
