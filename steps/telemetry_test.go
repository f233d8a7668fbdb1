package steps

import (
	"context"
	"crypto/tls"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/rest"
	"github.com/outflow-dev/outflow/steps/telemetry"
	"github.com/outflow-dev/outflow/steps/telemetry/promtest"
)

func TestStepMetricsAndSpansOverMutualTLS(t *testing.T) {
	ca, _ := devpki.NewCA("Partner CA", nil)
	srvCert, err := ca.IssueServer("partner", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	partner := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.Error(w, `{"error":"no such order"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	partner.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	partner.StartTLS()
	defer partner.Close()
	conn := connTo(t, partner)

	dir := t.TempDir()
	leaf, err := ca.IssueClient("svc-outflow", &devpki.Options{Validity: 45 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	files, err := leaf.WriteFiles(dir, "client")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "ca.pem", ca.CertPEM())
	profile := &engine.ProtocolProfile{Name: "mtls", Keystore: &engine.Keystore{Path: files.Bundle}, Truststore: &engine.Truststore{Paths: []string{"ca.pem"}}}

	reg := prometheus.NewRegistry()
	m, err := telemetry.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	metricsSrv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer metricsSrv.Close()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	tr := NewTransports(nil)
	tr.Tracer = tp.Tracer(telemetry.TracerName)
	m.WatchCache(tr.Cache)
	a := &rest.Activity{Secrets: tr.Secrets, Transports: tr}
	obs := &telemetry.StepObserver{Metrics: m}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{obs.Interceptor()}})
	env.RegisterActivityWithOptions(a.Execute, activity.RegisterOptions{Name: engine.RestActivity})
	step := func(path string, query ...engine.KV) error {
		_, err := env.ExecuteActivity(engine.RestActivity, &engine.RestRequest{CallHeader: engine.CallHeader{Flow: "order-sync", StepPath: "orders[3]/get", Connection: conn, Profile: profile, ProjectRoot: dir}, Method: "GET", Path: path, Query: query})
		return err
	}
	for range 2 {
		if err := step("/orders/7", engine.KV{Name: "api_key", Value: "SECRET-IN-QUERY"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := step("/missing"); err == nil {
		t.Fatal("a 404 must fail the step")
	}
	// A new connection resumes the TLS session of the first.
	tr.Cache.CloseIdleConnections()
	if err := step("/orders/8"); err != nil {
		t.Fatal(err)
	}

	fams := promtest.Scrape(t, metricsSrv.URL)
	ok := promtest.Sample(fams, "outflow_step_duration_seconds", map[string]string{"flow": "order-sync", "kind": "rest", "connection": "partner", "status_code": "200", "outcome": "ok", "error_type": ""})
	if ok == nil || ok.Histogram.GetSampleCount() != 3 || ok.Histogram.GetSampleSum() <= 0 {
		t.Fatalf("ok steps: %v", ok)
	}
	failed := promtest.Sample(fams, "outflow_step_duration_seconds", map[string]string{"status_code": "404", "outcome": "error", "error_type": engine.ErrHTTPClient})
	if failed == nil || failed.Histogram.GetSampleCount() != 1 {
		t.Fatalf("failed steps: %v\n%v", failed, fams["outflow_step_duration_seconds"])
	}
	for _, f := range fams["outflow_step_duration_seconds"].Metric {
		for _, lp := range f.Label {
			if strings.Contains(lp.GetValue(), "orders") || strings.Contains(lp.GetValue(), "/") {
				t.Fatalf("label %s=%q: step paths and URLs must not be labels", lp.GetName(), lp.GetValue())
			}
		}
	}
	if full := promtest.Sample(fams, "outflow_tls_handshakes_total", map[string]string{"profile": "mtls", "kind": "full"}); full == nil || full.Counter.GetValue() != 1 {
		t.Fatalf("full handshakes: %v", full)
	}
	if res := promtest.Sample(fams, "outflow_tls_handshakes_total", map[string]string{"profile": "mtls", "kind": "resumed"}); res == nil || res.Counter.GetValue() != 1 {
		t.Fatalf("resumed handshakes: %v", res)
	}
	days := promtest.Sample(fams, "outflow_certificate_days_left", map[string]string{"profile": "mtls", "role": "client", "subject": leaf.Cert.Subject.String()})
	if days == nil || days.Gauge.GetValue() > 45 || days.Gauge.GetValue() < 44 {
		t.Fatalf("days left: %v", days)
	}

	ended := spans.Ended()
	if len(ended) != 4 {
		t.Fatalf("%d spans, want one per request (4)", len(ended))
	}
	for i, sp := range ended {
		attrs := map[attribute.Key]attribute.Value{}
		for _, kv := range sp.Attributes() {
			attrs[kv.Key] = kv.Value
			if strings.Contains(kv.Value.String(), "SECRET-IN-QUERY") {
				t.Fatalf("span attribute %s carries the query string", kv.Key)
			}
		}
		if sp.Name() != "GET" || attrs["outflow.connection"].AsString() != "partner" || attrs["outflow.protocol_profile"].AsString() != "mtls" ||
			attrs["outflow.step"].AsString() != "orders[3]/get" || attrs["tls.protocol.version"].AsString() != "1.3" || attrs["http.request.method"].AsString() != "GET" {
			t.Fatalf("span %d: %s %v", i, sp.Name(), attrs)
		}
		wantStatus, wantCode := int64(200), codes.Unset
		if i == 2 {
			wantStatus, wantCode = 404, codes.Error
		}
		if attrs["http.response.status_code"].AsInt64() != wantStatus || sp.Status().Code != wantCode {
			t.Fatalf("span %d: status %v, %v", i, attrs["http.response.status_code"], sp.Status())
		}
		if resumed := attrs["tls.resumed"].AsBool(); resumed != (i == 3) {
			t.Fatalf("span %d: tls.resumed = %v", i, resumed)
		}
	}
}

func TestCertCheckFeedsDaysLeft(t *testing.T) {
	ca, _ := devpki.NewCA("Partner CA", nil)
	profile, dir := profileFor(t, ca, ca)
	reg := prometheus.NewRegistry()
	m, _ := telemetry.NewMetrics(reg)
	now := time.Now()
	cc := &CertCheck{Transports: NewTransports(nil), Metrics: m, Now: func() time.Time { return now }}
	_, err := cc.Execute(context.Background(), &engine.CertCheckRequest{ProjectRoot: dir, Profiles: []engine.CertCheckItem{{Profile: profile, Connections: []string{"partner"}, MutualAuth: true}}})
	if err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "outflow_certificate_days_left" {
			continue
		}
		for _, mm := range f.Metric {
			for _, lp := range mm.Label {
				if lp.GetName() == "role" {
					roles[lp.GetValue()] = mm.Gauge.GetValue()
				}
			}
		}
	}
	if roles["client"] <= 0 || roles["trust"] <= 0 || math.IsNaN(roles["client"]) {
		t.Fatalf("days left by role: %v", roles)
	}
}

func connTo(t *testing.T, srv *httptest.Server) *engine.Connection {
	t.Helper()
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return &engine.Connection{Name: "partner", Scheme: "https", Host: host, Port: p, MutualAuth: true, ProtocolProfile: "mtls"}
}

func writeFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}
