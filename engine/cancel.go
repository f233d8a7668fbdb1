package engine

// Canceling a flow (`outflow executions cancel`). The step running is
// canceled and the finally steps around it run (step_try.go); since
// recovery-cancel, the flow's on_failure steps run too, with error.type
// Canceled, and the execution closes as canceled, with its record in the
// cancellation's details. Executions that were canceled before keep
// closing as failed when replayed.

import (
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// cancelVersion gates what a canceled flow does at its end.
const cancelVersion = "recovery-cancel"

// endCanceled ends a flow whose context was canceled; ok is false when
// the flow was not canceled (or ran before recovery-cancel), and the
// caller ends it as failed.
func (r *runner) endCanceled(ctx workflow.Context, in RunInput, sc *scope, err error) (rec *Record, cerr error, ok bool) {
	if ctx.Err() == nil {
		return nil, nil, false
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if workflow.GetVersion(dctx, cancelVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return nil, nil, false
	}
	if len(in.Plan.OnFailure) > 0 {
		_ = r.runSteps(dctx, in.Plan.OnFailure, sc.with("error", r.errorData(err)), "on_failure/")
	}
	r.trimRecord()
	end := workflow.Now(dctx)
	r.rec.End = &end
	r.rec.Status = StatusCanceled
	r.rec.Error = &ErrorInfo{Type: ErrCanceled, Message: "canceled"}
	if in.SearchAttributes {
		_ = workflow.UpsertTypedSearchAttributes(dctx, SearchAttrStatus.ValueSet(StatusCanceled))
	}
	return nil, temporal.NewCanceledError(r.rec), true
}
