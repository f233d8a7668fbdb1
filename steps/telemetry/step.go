package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"

	"github.com/outflow-dev/outflow/engine"
)

// StepObserver measures and logs each step attempt where its activity
// finishes, as a worker interceptor (Interceptor). Nil fields are skipped;
// a nil *StepObserver observes nothing.
type StepObserver struct {
	Metrics *Metrics
	// Logger gets one line per attempt: info when it succeeded, warn when
	// it failed. Values go through the worker's redacting handler.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Interceptor returns a worker interceptor that measures and logs every
// attempt of every activity whose input is an activity-backed step's
// request (engine.CallRequest), whatever the step kind: the kind is the
// activity's name, the flow, step and connection come from the request's
// header. It also names the step on the activity's span, when a tracing
// interceptor runs before it. A nil observer, or one with neither metrics
// nor logger, returns nil: there is nothing to add.
func (o *StepObserver) Interceptor() interceptor.WorkerInterceptor {
	if o == nil || (o.Metrics == nil && o.Logger == nil) {
		return nil
	}
	return &stepInterceptor{o: o}
}

type stepInterceptor struct {
	interceptor.WorkerInterceptorBase
	o *StepObserver
}

func (i *stepInterceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	a := &stepActivity{o: i.o}
	a.Next = next
	return a
}

type stepActivity struct {
	interceptor.ActivityInboundInterceptorBase
	o *StepObserver
}

func (a *stepActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	var req engine.CallRequest
	if len(in.Args) > 0 {
		req, _ = in.Args[0].(engine.CallRequest)
	}
	if req == nil || req.Header() == nil {
		return a.Next.ExecuteActivity(ctx, in)
	}
	h := req.Header()
	kind := activity.GetInfo(ctx).ActivityType.Name
	trace.SpanFromContext(ctx).SetAttributes(
		attribute.String("outflow.flow", h.Flow), attribute.String("outflow.step", h.StepPath),
		attribute.String("outflow.kind", kind), attribute.String("outflow.connection", connName(h.Connection)))
	now := a.o.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	out, err := a.Next.ExecuteActivity(ctx, in)
	res, _ := out.(*engine.StepResult)
	a.o.observe(ctx, kind, h, res, err, now().Sub(start))
	return out, err
}

func connName(c *engine.Connection) string {
	if c == nil {
		return ""
	}
	return c.Name
}

// observe records one attempt of a step: its duration and outcome in the
// metrics, a line in the log.
func (o *StepObserver) observe(ctx context.Context, kind string, h *engine.CallHeader, res *engine.StepResult, err error, d time.Duration) {
	conn := connName(h.Connection)
	l := StepLabels{Flow: h.Flow, Kind: kind, Connection: conn, Outcome: OutcomeOK}
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
	if o.Logger == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("flow", h.Flow), slog.String("step", h.StepPath), slog.String("kind", kind),
		slog.String("connection", conn), slog.String("workflow_id", h.WorkflowID),
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
