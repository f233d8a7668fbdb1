package engine

import (
	"go.temporal.io/sdk/workflow"
)

func parallelKind() stepKind {
	return stepKind{
		name: "parallel",
		is:   func(s *Step) bool { return s.Parallel != nil },
		run:  (*runner).runParallel,
		blocks: func(s *Step) []Block {
			out := make([]Block, len(s.Parallel))
			for i, b := range s.Parallel {
				out[i] = Block{Steps: b.Steps}
			}
			return out
		},
	}
}

// Branch is one sequence of a parallel step.
type Branch struct {
	ID    string `json:"id"`
	Steps []Step `json:"steps"`
}

func (r *runner) runParallel(ctx workflow.Context, st *Step, sc *scope, path string) error {
	rec := r.newStepRecord(ctx, st, path)
	errs := make([]error, len(st.Parallel))
	ff := r.failFast(ctx, st)
	defer ff.end()
	done := 0
	for i := range st.Parallel {
		b := &st.Parallel[i]
		i := i
		workflow.Go(ff.ctx, func(gctx workflow.Context) {
			defer func() { done++ }()
			defer r.recoverBranch(gctx, &errs[i])
			// Branches share the enclosing scope: step ids are unique across
			// them, so later steps can read any branch's results.
			bsc := sc
			if r.execution != nil {
				bsc = sc.with("branch", b.ID)
			}
			// A set in a branch stays in the branch (workflow.go, scope).
			bsc = bsc.ownVars()
			errs[i] = r.runSteps(gctx, b.Steps, bsc, path+"/"+b.ID+"/")
			ff.failed(i, errs[i])
		})
	}
	_ = workflow.Await(ctx, func() bool { return done == len(st.Parallel) })
	if err := ff.firstError(errs); err != nil {
		return r.failStep(ctx, st, sc, path, err)
	}
	rec.Status = StatusSucceeded
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	sc.steps[st.ID] = map[string]any{"status": StatusSucceeded}
	return nil
}
