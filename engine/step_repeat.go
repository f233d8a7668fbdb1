package engine

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

func repeatKind() stepKind {
	return stepKind{
		name:   "repeat",
		is:     func(s *Step) bool { return s.Repeat != nil },
		run:    (*runner).runRepeat,
		blocks: func(s *Step) []Block { return []Block{{Steps: s.Repeat.Steps}} },
	}
}

// Repeat runs Steps again and again: until Until holds (checked after each
// pass), for at most MaxIterations passes, Interval apart. Inside,
// `iteration` is the pass, from 1.
type Repeat struct {
	Steps []Step `json:"steps"`
	// Until is a template; the repeat ends after a pass where it is truthy.
	Until string `json:"until,omitempty"`
	// MaxIterations bounds the passes (0: no bound). With Until, reaching it
	// fails the step (RepeatExhausted); without, it is how many passes run.
	MaxIterations int `json:"max_iterations,omitempty"`
	// Interval is the durable pause between passes.
	Interval Duration `json:"interval,omitempty"`
	// BreakWhen, checked before each pass, ends the repeat (successfully).
	BreakWhen string `json:"break_when,omitempty"`
	// ContinueWhen, checked before each pass, skips the pass's steps.
	ContinueWhen string `json:"continue_when,omitempty"`
}

// RepeatState is a top-level repeat in progress at a continue-as-new:
// passes done so far.
type RepeatState struct {
	Step       string `json:"step"`
	Iterations int    `json:"iterations"`
}

// ErrRepeatExhausted is the error of a repeat whose until never held
// within max_iterations.
const ErrRepeatExhausted = "RepeatExhausted"

// runRepeat runs the passes in the step's scope with `iteration` bound:
// ids and vars set inside are seen by later passes and by the steps after
// the repeat. The steps of pass N are recorded as ID[N]/STEP. A top-level
// repeat continues as new between passes when the history passes the
// flow's history_limit (or the run's step budget is half spent), like a
// top-level poll; the next run resumes at the next pass.
func (r *runner) runRepeat(ctx workflow.Context, st *Step, sc *scope, path string) error {
	rp := st.Repeat
	rec := r.newStepRecord(ctx, st, path)
	n := 0
	if rs := r.resumeRepeat; rs != nil && rs.Step == path {
		n = rs.Iterations
		r.resumeRepeat = nil
	}
	if rp.Until == "" && rp.MaxIterations <= 0 {
		// validate refuses it; a plan made by hand must not loop forever.
		return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(
			"repeat needs until or max_iterations, or it never ends", ErrConfig, nil))
	}
	topLevel := !strings.ContainsAny(path, "/[") && r.top != nil && sc == r.top
	done := func() error {
		rec.Status = StatusSucceeded
		rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
		rec.Outputs = map[string]any{"iterations": n}
		sc.steps[st.ID] = map[string]any{"status": StatusSucceeded, "iterations": n}
		return nil
	}
	for {
		if rp.MaxIterations > 0 && n >= rp.MaxIterations {
			if rp.Until == "" {
				return done()
			}
			rec.Outputs = map[string]any{"iterations": n}
			sc.steps[st.ID] = map[string]any{"iterations": n}
			return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("repeat: %q still not true after %d iterations", rp.Until, n), ErrRepeatExhausted, nil))
		}
		if n > 0 {
			if topLevel && (r.historyFull(ctx) || (r.bounds != nil && r.bounds.steps > MaxStepsPerRun/2)) {
				return r.continueRepeat(ctx, path, n)
			}
			if d := rp.Interval.D(); d > 0 {
				r.events += 3
				rec.Status = StatusWaiting
				if err := workflow.Sleep(ctx, d); err != nil {
					rec.Status = StatusFailed
					rec.Error = errorInfo(err)
					rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
					return err
				}
				rec.Status = StatusRunning
			}
		}
		// A pass counts as a step of the run, so that a repeat whose steps
		// are empty or all skipped still meets the run's step limit.
		if err := r.beginStep(ctx); err != nil {
			return r.stopStep(ctx, st, sc, path, err)
		}
		isc := sc.with("iteration", n+1)
		if rp.BreakWhen != "" {
			v, err := EvalValue(rp.BreakWhen, isc.env())
			if err != nil {
				return r.failStep(ctx, st, sc, path, exprError(path+".repeat.break_when", err))
			}
			if Truthy(v) {
				return done()
			}
		}
		n++
		skip := false
		if rp.ContinueWhen != "" {
			v, err := EvalValue(rp.ContinueWhen, isc.env())
			if err != nil {
				return r.failStep(ctx, st, sc, path, exprError(path+".repeat.continue_when", err))
			}
			skip = Truthy(v)
		}
		if !skip {
			if err := r.runSteps(ctx, rp.Steps, isc, fmt.Sprintf("%s[%d]/", path, n)); err != nil {
				sc.steps[st.ID] = map[string]any{"iterations": n}
				return r.failStep(ctx, st, sc, path, err)
			}
		}
		if rp.Until != "" {
			v, err := EvalValue(rp.Until, isc.env())
			if err != nil {
				return r.failStep(ctx, st, sc, path, exprError(path+".repeat.until", err))
			}
			if Truthy(v) {
				return done()
			}
		}
	}
}

// continueRepeat ends this run and starts the next at the same top-level
// repeat, after iterations passes.
func (r *runner) continueRepeat(ctx workflow.Context, path string, iterations int) error {
	next := r.in
	next.Inputs = nil
	next.Resume = &Resume{NextStep: r.current, Inputs: r.top.inputs, Vars: r.top.vars, Steps: r.top.steps, Record: r.rec,
		Repeat: &RepeatState{Step: path, Iterations: iterations}}
	next.Resume.Events = r.drainEvents(ctx)
	r.boundResume(&next, r.current)
	return workflow.NewContinueAsNewError(ctx, WorkflowName, next)
}
