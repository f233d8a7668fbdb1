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
	"go.temporal.io/sdk/temporal"

	"github.com/outflow-dev/outflow/engine"
)

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
			reg := prometheus.NewRegistry()
			m, err := NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			tick := time.Unix(0, 0)
			o := &StepObserver{Metrics: m, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { tick = tick.Add(250 * time.Millisecond); return tick }}
			fn := o.Soap(func(context.Context, *engine.SoapRequest) (*engine.StepResult, error) { return tc.res, tc.err })
			_, gotErr := fn(context.Background(), &engine.SoapRequest{CallHeader: engine.CallHeader{Flow: "f", StepPath: "a[1]/b", Connection: &engine.Connection{Name: "c"}}})
			if gotErr != tc.err {
				t.Fatalf("error changed: %v", gotErr)
			}
			fams, _ := reg.Gather()
			var found bool
			for _, f := range fams {
				if f.GetName() != "outflow_step_duration_seconds" {
					continue
				}
				for _, mm := range f.Metric {
					l := map[string]string{}
					for _, lp := range mm.Label {
						l[lp.GetName()] = lp.GetValue()
					}
					if l["outcome"] == tc.outcome && l["error_type"] == tc.errType && l["status_code"] == tc.code && l["kind"] == "soap" && l["flow"] == "f" && l["connection"] == "c" &&
						mm.Histogram.GetSampleCount() == 1 && mm.Histogram.GetSampleSum() == 0.25 {
						found = true
					}
				}
			}
			if !found {
				t.Fatalf("no matching sample: %v", fams)
			}
			line := logs.String()
			if !strings.Contains(line, "level="+tc.lvl) || !strings.Contains(line, "step=a[1]/b") || !strings.Contains(line, "outcome="+tc.outcome) {
				t.Fatalf("log: %s", line)
			}
		})
	}
}

func TestNilObserverWrapsNothing(t *testing.T) {
	var o *StepObserver
	called := false
	fn := o.Rest(func(context.Context, *engine.RestRequest) (*engine.StepResult, error) { called = true; return nil, nil })
	_, _ = fn(context.Background(), nil)
	if !called {
		t.Fatal("not called")
	}
	var m *Metrics
	m.ObserveStep(StepLabels{}, time.Second)
	m.ObserveCertificate("p", "client", "s", time.Now())
	m.WatchCache(nil)
}
