package engine

import (
	"go.temporal.io/sdk/workflow"
)

func setKind() stepKind {
	return stepKind{
		name: "set",
		is:   func(s *Step) bool { return s.Set != nil },
		run:  (*runner).runSet,
	}
}

// runSet assigns vars.NAME for the steps after it, in order: a later
// binding of the same step reads the earlier ones. It runs in the workflow
// and costs no activity. The vars it writes are the scope's (workflow.go,
// scope): flow-wide, or the foreach item's or parallel branch's own.
// Times and durations are kept as text (storable), so they read the same
// after a continue-as-new.
func (r *runner) runSet(ctx workflow.Context, st *Step, sc *scope, path string) error {
	rec := r.newStepRecord(ctx, st, path)
	names := make([]any, 0, len(st.Set))
	for _, b := range st.Set {
		v, err := EvalValue(b.Value, sc.env())
		if err != nil {
			return r.failStep(ctx, st, sc, path, exprError(path+".set."+b.Name, err))
		}
		sc.vars[b.Name] = storable(v)
		names = append(names, b.Name)
	}
	// The record names what was set, not the values: a value may come from
	// a secret input.
	rec.Outputs = map[string]any{"set": names}
	rec.Status = StatusSucceeded
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	sc.steps[st.ID] = map[string]any{"status": StatusSucceeded}
	return nil
}
