package engine

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// ExecutionField is one field of `execution` in expressions.
type ExecutionField struct {
	Name string
	// Doc says what the field holds, for messages and documentation.
	Doc string
}

// ExecutionFields are the fields expressions read as execution.NAME,
// everywhere in a flow or action: vars, steps, actions, outputs. They come
// from the workflow's own information, so they are the same when a run is
// replayed.
var ExecutionFields = []ExecutionField{
	{"id", "the execution's workflow ID, the same in every run of the execution"},
	{"run_id", "the Temporal run ID of the current run; a new run begins at each continue-as-new"},
	{"flow", "the name of the flow or action the execution runs"},
	{"started_at", "when the execution started, as an RFC 3339 time in UTC (workflow time)"},
	{"attempt", "Temporal's attempt number of the current run: 1, more only when the workflow itself is retried"},
	{"run", "the number of the current run of the execution: 1, then one more at each continue-as-new"},
}

// IsExecutionField reports whether execution.name is readable.
func IsExecutionField(name string) bool {
	for _, f := range ExecutionFields {
		if f.Name == name {
			return true
		}
	}
	return false
}

// bindExecutionChange gates binding `execution` and, inside parallel
// branches, `branch`: before, reading execution failed the step and branch
// was empty, and executions started then must replay as they ran.
const bindExecutionChange = "bind-execution-and-branch"

// executionData is what expressions read as `execution` in this run, or
// nil in executions that started before it was bound.
func (r *runner) executionData(ctx workflow.Context) map[string]any {
	if workflow.GetVersion(ctx, bindExecutionChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return nil
	}
	info := workflow.GetInfo(ctx)
	return map[string]any{
		"id":         r.rec.WorkflowID,
		"run_id":     info.WorkflowExecution.RunID,
		"flow":       r.plan.Name,
		"started_at": r.rec.Start.UTC().Format(time.RFC3339),
		"attempt":    int(info.Attempt),
		"run":        r.rec.Runs + 1,
	}
}
