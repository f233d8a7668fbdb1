package engine

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

func waitKind() stepKind {
	return stepKind{
		name: "wait",
		is:   func(s *Step) bool { return s.Wait != nil },
		run:  (*runner).runWait,
	}
}

// WaitStep pauses the flow durably: for a duration, until a time, or
// until an event arrives (events.go).
type WaitStep struct {
	Duration Duration `json:"duration,omitempty"`
	// Until is a template that yields an RFC 3339 time.
	Until string `json:"until,omitempty"`
	// Event names the event the step waits for; Timeout bounds the wait
	// (0: no bound).
	Event   string   `json:"event,omitempty"`
	Timeout Duration `json:"timeout,omitempty"`
}

func (r *runner) runWait(ctx workflow.Context, st *Step, sc *scope, path string) error {
	if st.Wait.Event != "" {
		return r.runWaitEvent(ctx, st, sc, path)
	}
	rec := r.newStepRecord(ctx, st, path)
	d := st.Wait.Duration.D()
	if st.Wait.Until != "" {
		v, err := EvalValue(st.Wait.Until, sc.env())
		if err != nil {
			return r.failStep(ctx, st, sc, path, exprError(path+".wait.until", err))
		}
		until, err := time.Parse(time.RFC3339, Stringify(v))
		if err != nil {
			return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("wait.until must be an RFC 3339 time like 2026-01-02T15:04:05Z, got %q", Stringify(v)), ErrExpression, nil))
		}
		d = until.Sub(workflow.Now(ctx))
	}
	if d > 0 {
		rec.Status = StatusWaiting
		if err := workflow.Sleep(ctx, d); err != nil {
			// Canceled: by the flow's cancellation, or by a failure in
			// another item or branch. The record says so; the step does not
			// continue on error, since nothing after it should run.
			rec.Status = StatusFailed
			rec.Error = errorInfo(err)
			rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
			return err
		}
	}
	rec.Status = StatusSucceeded
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	sc.steps[st.ID] = map[string]any{"status": StatusSucceeded}
	return nil
}
