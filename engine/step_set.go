package engine

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// MaxVarsBytes bounds the JSON size of the vars a scope holds after a
// set. The flow's vars travel in the input of every continue-as-new,
// whose payload Temporal limits (2 MB by default): a repeat that keeps
// appending to a var must fail with words, not wedge the flow there.
const MaxVarsBytes = 512 << 10

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
	if n := varsSize(sc.vars); n > MaxVarsBytes {
		return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"set: the vars would hold about %d bytes, over the limit of %d; keep large data in a step's answer and only ids or counts in vars",
			n, MaxVarsBytes), ErrLimit, nil))
	}
	// The record names what was set, not the values: a value may come from
	// a secret input.
	rec.Outputs = map[string]any{"set": names}
	rec.Status = StatusSucceeded
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	sc.steps[st.ID] = map[string]any{"status": StatusSucceeded}
	return nil
}

// varsSize is the JSON size of vars, stopping soon after MaxVarsBytes. The
// sum does not depend on the order the map is read in.
func varsSize(vars map[string]any) int {
	total := 2
	for k, v := range vars {
		n := valueSize(v, MaxVarsBytes+1, false)
		if n < 0 {
			n = 0
		}
		// No early return: the sum, and so the message, must not depend on
		// the order the map is walked in; each value's size is capped.
		total += len(k) + 4 + n
	}
	return total
}
