package engine

import (
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplayBeforeGatedChanges replays histories recorded before three
// changes that behind workflow.GetVersion alter the commands a flow issues:
// binding execution and branch (bindExecutionChange), failing foreach and
// parallel steps fast (failFastChange), and foreach over any list
// (anyListChange). They were recorded on the embedded server from
// FlowWorkflow at commit 0c4b00c, with a rest activity that answers /fail
// and /items/1 with a non-retryable 422:
//
//   - unbound-and-parallel-v0: a step reading execution.id fails (continue
//     on error), so /fallback is called; a foreach over 1..2 fails (continue
//     on error); in a parallel step branch a fails while branch b goes on
//     to call /b/unnamed (its if reads branch, then unbound) and /b/2.
//   - foreach-item-fails-v0: a foreach of four items, two at a time; item 1
//     fails and items 2 and 3 are still called.
//
// Without the gates the replay issues other commands and fails as
// nondeterministic.
func TestReplayBeforeGatedChanges(t *testing.T) {
	for _, file := range []string{"testdata/replay/unbound-and-parallel-v0.json", "testdata/replay/foreach-item-fails-v0.json"} {
		r := worker.NewWorkflowReplayer()
		r.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
		if err := r.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
}
