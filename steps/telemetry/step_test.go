package telemetry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/activity"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/outflow-dev/outflow/engine"
)

// observed runs fn as the activity name, with the observer's interceptor
// (after the others given), and returns the metrics registry's step
// samples.
func observed(t *testing.T, o *StepObserver, name string, fn any, req any, before ...interceptor.WorkerInterceptor) []*dto.Metric {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	o.Metrics = m
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: append(before, o.Interceptor())})
	env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	_, _ = env.ExecuteActivity(name, req)
	fams, _ := reg.Gather()
	for _, f := range fams {
		if f.GetName() == "outflow_step_duration_seconds" {
			return f.Metric
		}
	}
	return nil
}

func labels(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, lp := range m.Label {
		l[lp.GetName()] = lp.GetValue()
	}
	return l
}

// The step functions here stand in for the rest/soap activities, whose real
// runs against mTLS partners are tested in package steps and cmd/outflow;
// this table covers how each kind of ending is classified.
func TestStepOutcomes(t *testing.T) {
	withStatus := func(code int) *engine.StepResult {
		return &engine.StepResult{Response: &engine.ResponseSummary{StatusCode: code}}
	}
	for _, tc := range []struct {
		name                        string
		res                         *engine.StepResult
		err                         error
		outcome, errType, code, lvl string
	}{
		{"ok", withStatus(200), nil, "ok", "", "200", "INFO"},
		{"soap fault", nil, temporal.NewApplicationErrorWithOptions("fault", engine.ErrSOAPFault, temporal.ApplicationErrorOptions{Details: []any{withStatus(500)}}), "fault", engine.ErrSOAPFault, "500", "WARN"},
		{"http status", nil, temporal.NewApplicationErrorWithOptions("503", engine.ErrHTTPStatus, temporal.ApplicationErrorOptions{Details: []any{withStatus(503)}}), "error", engine.ErrHTTPStatus, "503", "WARN"},
		{"details of another type", nil, temporal.NewApplicationErrorWithOptions("x", engine.ErrConfig, temporal.ApplicationErrorOptions{Details: []any{"text"}}), "error", engine.ErrConfig, "", "WARN"},
		{"tls", nil, temporal.NewApplicationError("handshake", engine.ErrTLSHandshake), "error", engine.ErrTLSHandshake, "", "WARN"},
		{"canceled", nil, context.Canceled, "error", "Canceled", "", "WARN"},
		{"deadline", nil, context.DeadlineExceeded, "error", engine.ErrTimeout, "", "WARN"},
		{"other", nil, errors.New("boom"), "error", "Unknown", "", "WARN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			tick := time.Unix(0, 0)
			o := &StepObserver{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { tick = tick.Add(250 * time.Millisecond); return tick }}
			var gotErr error
			fn := func(context.Context, *engine.SoapRequest) (*engine.StepResult, error) {
				gotErr = tc.err
				return tc.res, tc.err
			}
			samples := observed(t, o, engine.SoapActivity, fn, &engine.SoapRequest{CallHeader: engine.CallHeader{Flow: "f", StepPath: "a[1]/b", Connection: &engine.Connection{Name: "c"}}})
			if gotErr != tc.err {
				t.Fatalf("the activity did not run")
			}
			var found bool
			for _, mm := range samples {
				l := labels(mm)
				if l["outcome"] == tc.outcome && l["error_type"] == tc.errType && l["status_code"] == tc.code && l["kind"] == "soap" && l["flow"] == "f" && l["connection"] == "c" &&
					mm.Histogram.GetSampleCount() == 1 && mm.Histogram.GetSampleSum() == 0.25 {
					found = true
				}
			}
			if !found {
				t.Fatalf("no matching sample: %v", samples)
			}
			line := logs.String()
			if !strings.Contains(line, "level="+tc.lvl) || !strings.Contains(line, "step=a[1]/b") || !strings.Contains(line, "outcome="+tc.outcome) {
				t.Fatalf("log: %s", line)
			}
		})
	}
}

// graphqlRequest is the input of a step kind the observer was not written
// for: embedding engine.CallHeader is all it takes to be observed.
type graphqlRequest struct {
	engine.CallHeader
	Query string `json:"query"`
}

func TestEveryActivityBackedKindIsObserved(t *testing.T) {
	var logs bytes.Buffer
	o := &StepObserver{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	fn := func(context.Context, *graphqlRequest) (*engine.StepResult, error) {
		return &engine.StepResult{Response: &engine.ResponseSummary{StatusCode: 200}}, nil
	}
	samples := observed(t, o, "graphql", fn, &graphqlRequest{CallHeader: engine.CallHeader{Flow: "f", StepPath: "q", Connection: &engine.Connection{Name: "gql"}}})
	if len(samples) != 1 || labels(samples[0])["kind"] != "graphql" || labels(samples[0])["connection"] != "gql" {
		t.Fatalf("samples: %v", samples)
	}
	if !strings.Contains(logs.String(), "kind=graphql") {
		t.Fatalf("log: %s", logs.String())
	}
	// An activity whose input is no step request (the certificate check)
	// is not a step.
	logs.Reset()
	other := func(context.Context, *engine.CertCheckRequest) (*engine.CertCheckResult, error) {
		return &engine.CertCheckResult{}, nil
	}
	if samples := observed(t, o, engine.CertCheckActivity, other, &engine.CertCheckRequest{}); len(samples) != 0 || logs.Len() != 0 {
		t.Fatalf("certcheck observed as a step: %v %s", samples, logs.String())
	}
}

// After Temporal's tracing interceptor, the activity's span names the step.
func TestActivitySpanNamesTheStep(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	ti, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{Tracer: tp.Tracer("test")})
	if err != nil {
		t.Fatal(err)
	}
	o := &StepObserver{Logger: slog.New(slog.DiscardHandler)}
	fn := func(context.Context, *engine.RestRequest) (*engine.StepResult, error) {
		return &engine.StepResult{}, nil
	}
	observed(t, o, engine.RestActivity, fn, &engine.RestRequest{CallHeader: engine.CallHeader{Flow: "f", StepPath: "each[2]/get", Connection: &engine.Connection{Name: "c"}}}, ti)
	var got map[attribute.Key]string
	for _, sp := range spans.Ended() {
		if strings.HasPrefix(sp.Name(), "RunActivity") {
			got = map[attribute.Key]string{}
			for _, kv := range sp.Attributes() {
				got[kv.Key] = kv.Value.String()
			}
		}
	}
	if got["outflow.step"] != "each[2]/get" || got["outflow.kind"] != "rest" || got["outflow.flow"] != "f" || got["outflow.connection"] != "c" {
		t.Fatalf("activity span attributes: %v (spans %d)", got, len(spans.Ended()))
	}
}

func TestNilObserverAddsNothing(t *testing.T) {
	var o *StepObserver
	if o.Interceptor() != nil || (&StepObserver{}).Interceptor() != nil {
		t.Fatal("an observer with nothing to report adds an interceptor")
	}
	var m *Metrics
	m.ObserveStep(StepLabels{}, time.Second)
	m.ObserveCertificate("p", "client", "s", time.Now())
	m.WatchCache(nil)
}
