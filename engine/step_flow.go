package engine

import (
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

func flowKind() stepKind {
	return stepKind{
		name: "flow",
		is:   func(s *Step) bool { return s.Flow != nil },
		run:  (*runner).runFlow,
	}
}

// FlowCall starts another flow of the project as a child workflow, with
// With as its inputs, and waits for it. The called flow's plan is
// Plan.Flows[Name]. Later steps read steps.ID.outputs and
// steps.ID.execution_id.
type FlowCall struct {
	Name string    `json:"name"`
	With []Binding `json:"with,omitempty"`
}

// reachableFlows returns the plans of all the flows p's steps can start,
// directly or through the actions they call and the flows they start, or
// nil when they start none.
func reachableFlows(p *Plan, all map[string]*Plan) map[string]*Plan {
	var out map[string]*Plan
	seenActions := map[*ActionDef]bool{}
	var walk func(in *Plan, steps []Step)
	walk = func(in *Plan, steps []Step) {
		for i := range steps {
			st := &steps[i]
			if st.Flow != nil {
				if def := all[st.Flow.Name]; def != nil && out[st.Flow.Name] == nil {
					if out == nil {
						out = map[string]*Plan{}
					}
					out[st.Flow.Name] = def
					walk(def, def.Steps)
					walk(def, def.OnFailure)
				}
			}
			if st.Action != nil {
				if a := in.Actions[st.Action.Name]; a != nil && !seenActions[a] {
					seenActions[a] = true
					walk(in, a.Steps)
					walk(in, a.OnFailure)
				}
			}
			for _, b := range st.Blocks() {
				walk(in, b.Steps)
			}
		}
	}
	walk(p, p.Steps)
	walk(p, p.OnFailure)
	return out
}

// ChildWorkflowID is the execution ID of the flow a flow: step at path
// starts, derived from its parent's so that a replayed or retried parent
// finds the same child.
func ChildWorkflowID(parent, path string) string { return parent + "/" + path }

func (r *runner) runFlow(ctx workflow.Context, st *Step, sc *scope, path string) error {
	def := r.plan.Flows[st.Flow.Name]
	if def == nil {
		return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown flow %q: the plan does not carry it", st.Flow.Name), ErrConfig, nil))
	}
	rec := r.newStepRecord(ctx, st, path)
	given, err := evalBindings(st.Flow.With, sc.env())
	if err != nil {
		return r.failStep(ctx, st, sc, path, exprError(path+".with", err))
	}
	// The child carries the flows its own steps may call, and no others:
	// its input is in the parent's history once per child.
	child := *def
	child.Flows = reachableFlows(def, r.plan.Flows)
	id := ChildWorkflowID(r.rec.WorkflowID, path)
	rec.ChildExecution = id
	opts := workflow.ChildWorkflowOptions{
		WorkflowID: id,
		// A parent canceled or terminated cancels the flows it started.
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
	}
	if r.in.SearchAttributes {
		opts.TypedSearchAttributes = temporal.NewSearchAttributes(
			SearchAttrFlow.ValueSet(child.Name), SearchAttrStatus.ValueSet(StatusRunning))
	}
	cctx := workflow.WithChildOptions(ctx, opts)
	r.events += 8
	var res Record
	err = workflow.ExecuteChildWorkflow(cctx, WorkflowName, RunInput{
		Plan: &child, Inputs: given, SearchAttributes: r.in.SearchAttributes,
	}).Get(ctx, &res)
	data := map[string]any{"execution_id": id}
	if err != nil {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.HasDetails() {
			var failed Record
			if appErr.Details(&failed) == nil && failed.Error != nil {
				// The child's own failure, in its words, rather than the
				// "flow failed" wrapping around it.
				err = temporal.NewNonRetryableApplicationError(
					fmt.Sprintf("flow %q (execution %s) failed: %s", def.Name, id, failed.Error.Message), failed.Error.Type, err)
			}
		}
		sc.steps[st.ID] = data
		return r.failStep(ctx, st, sc, path, err)
	}
	data["status"] = StatusSucceeded
	data["outputs"] = res.Outputs
	rec.Status = StatusSucceeded
	rec.Outputs = res.Outputs
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	sc.steps[st.ID] = data
	return nil
}
