package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/outflow-dev/outflow/engine"
)

// StepObserver measures and logs each step attempt where its activity
// finishes. Nil fields are skipped; a nil *StepObserver wraps nothing.
type StepObserver struct {
	Metrics *Metrics
	// Logger gets one line per attempt: info when it succeeded, warn when
	// it failed. Values go through the worker's redacting handler.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// StepFunc is a step activity's function.
type StepFunc[R any] func(context.Context, *R) (*engine.StepResult, error)

// Rest wraps the rest activity.
func (o *StepObserver) Rest(fn StepFunc[engine.RestRequest]) StepFunc[engine.RestRequest] {
	return wrap(o, "rest", fn, func(r *engine.RestRequest) stepInfo {
		return stepInfo{flow: r.Flow, step: r.StepPath, workflowID: r.WorkflowID, connection: connName(r.Connection)}
	})
}

// Soap wraps the soap activity.
func (o *StepObserver) Soap(fn StepFunc[engine.SoapRequest]) StepFunc[engine.SoapRequest] {
	return wrap(o, "soap", fn, func(r *engine.SoapRequest) stepInfo {
		return stepInfo{flow: r.Flow, step: r.StepPath, workflowID: r.WorkflowID, connection: connName(r.Connection)}
	})
}

type stepInfo struct{ flow, step, workflowID, connection string }

func connName(c *engine.Connection) string {
	if c == nil {
		return ""
	}
	return c.Name
}

func wrap[R any](o *StepObserver, kind string, fn StepFunc[R], info func(*R) stepInfo) StepFunc[R] {
	if o == nil || (o.Metrics == nil && o.Logger == nil) {
		return fn
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return func(ctx context.Context, req *R) (*engine.StepResult, error) {
		start := now()
		res, err := fn(ctx, req)
		d := now().Sub(start)
		var in stepInfo
		if req != nil {
			in = info(req)
		}
		l := StepLabels{Flow: in.flow, Kind: kind, Connection: in.connection, Outcome: OutcomeOK}
		if res != nil && res.Response != nil {
			l.StatusCode = res.Response.StatusCode
		}
		var errMsg string
		if err != nil {
			l.Outcome, l.ErrorType = OutcomeError, "Unknown"
			var ae *temporal.ApplicationError
			var ce *temporal.CanceledError
			switch {
			case errors.As(err, &ae):
				l.ErrorType = ae.Type()
				if ae.Type() == engine.ErrSOAPFault {
					l.Outcome = OutcomeFault
				}
				if d := stepDetails(ae); d != nil && d.Response != nil {
					l.StatusCode = d.Response.StatusCode
				}
				errMsg = ae.Message()
			case errors.As(err, &ce), errors.Is(err, context.Canceled):
				l.ErrorType = "Canceled"
				errMsg = err.Error()
			case errors.Is(err, context.DeadlineExceeded):
				l.ErrorType = engine.ErrTimeout
				errMsg = err.Error()
			default:
				errMsg = err.Error()
			}
		}
		o.Metrics.ObserveStep(l, d)
		if o.Logger != nil {
			attrs := []slog.Attr{
				slog.String("flow", in.flow), slog.String("step", in.step), slog.String("kind", kind),
				slog.String("connection", in.connection), slog.String("workflow_id", in.workflowID),
				slog.String("outcome", l.Outcome), slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			}
			if l.StatusCode > 0 {
				attrs = append(attrs, slog.Int("status_code", l.StatusCode))
			}
			if res != nil && res.Attempt > 0 {
				attrs = append(attrs, slog.Int("attempt", res.Attempt))
			}
			level, msg := slog.LevelInfo, "step finished"
			if err != nil {
				level, msg = slog.LevelWarn, "step failed"
				attrs = append(attrs, slog.String("error_type", l.ErrorType), slog.String("error", errMsg))
			}
			o.Logger.LogAttrs(ctx, level, msg, attrs...)
		}
		return res, err
	}
}

// stepDetails returns the StepResult a step failure carries, or nil. The
// SDK panics when details are of another type than asked for.
func stepDetails(ae *temporal.ApplicationError) (d *engine.StepResult) {
	if !ae.HasDetails() {
		return nil
	}
	defer func() {
		if recover() != nil {
			d = nil
		}
	}()
	if ae.Details(&d) != nil {
		return nil
	}
	return d
}
