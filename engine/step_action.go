package engine

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

func actionKind() stepKind {
	return stepKind{
		name: "action",
		is:   func(s *Step) bool { return s.Action != nil },
		run:  (*runner).runAction,
	}
}

// ActionCall runs an action with inputs.
type ActionCall struct {
	Name string    `json:"name"`
	With []Binding `json:"with,omitempty"`
}

func (r *runner) runAction(ctx workflow.Context, st *Step, sc *scope, path string) error {
	def := r.plan.Actions[st.Action.Name]
	if def == nil {
		return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown action %q", st.Action.Name), ErrConfig, nil))
	}
	rec := r.newStepRecord(ctx, st, path)
	given, err := evalBindings(st.Action.With, sc.env())
	if err != nil {
		return r.failStep(ctx, st, sc, path, exprError(path+".with", err))
	}
	inputs, err := bindInputs(def.Inputs, given)
	if err != nil {
		return r.failStep(ctx, st, sc, path, err)
	}
	inner := &scope{inputs: inputs, vars: map[string]any{}, steps: map[string]any{}, extra: r.bounds.scopeExtra(), execution: sc.execution, now: sc.now}
	if err := r.runSteps(ctx, def.Steps, inner, path+"/"); err != nil {
		r.onFailure(ctx, def.OnFailure, inner, path+"/on_failure/", err)
		return r.failStep(ctx, st, sc, path, err)
	}
	outputs, err := evalBindings(def.Outputs, inner.env())
	if err != nil {
		return r.failStep(ctx, st, sc, path, exprError(path+".outputs", err))
	}
	rec.Status = StatusSucceeded
	rec.Outputs = outputs
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	sc.steps[st.ID] = map[string]any{"status": StatusSucceeded, "outputs": outputs, "steps": inner.steps}
	return nil
}
