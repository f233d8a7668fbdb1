package worker

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/steps/secrets"
)

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	seen := &secrets.Seen{}
	seen.Add("s3cr3t-value")
	log, err := NewLogger(&buf, LogOptions{Format: "json", Level: "warn", Seen: seen})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden by level")
	log.Warn("shown", "v", "has s3cr3t-value inside")
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, `"v":"has [REDACTED] inside"`) || !strings.HasPrefix(out, "{") {
		t.Fatalf("log: %s", out)
	}
	for _, o := range []LogOptions{{Format: "xml"}, {Level: "loud"}} {
		if _, err := NewLogger(io.Discard, o); err == nil || !strings.Contains(err.Error(), "want") {
			t.Fatalf("%+v: err = %v", o, err)
		}
	}
}

func TestServeMetrics(t *testing.T) {
	reg, m, _, err := NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveCertificate("p", "client", "CN=x", time.Now().Add(48*time.Hour))
	s, err := ServeMetrics("127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := http.Get("http://" + s.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `outflow_certificate_days_left{profile="p",role="client",subject="CN=x"} 1.99`) || !strings.Contains(string(b), "go_goroutines") {
		t.Fatalf("metrics:\n%s", b)
	}
	if _, err := ServeMetrics(s.Addr, reg); err == nil || !strings.Contains(err.Error(), "serving metrics on") {
		t.Fatalf("a taken port: %v", err)
	}
}

func TestTracerProviderFromEnv(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tp, shutdown, err := TracerProviderFromEnv(context.Background(), "outflow-worker")
	if err != nil || tp != nil || shutdown(context.Background()) != nil {
		t.Fatalf("without an endpoint: %v %v", tp, err)
	}
	// The exporter connects lazily: a provider is made without a collector.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	tp, shutdown, err = TracerProviderFromEnv(context.Background(), "outflow-worker")
	if err != nil || tp == nil {
		t.Fatalf("with an endpoint: %v %v", tp, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = shutdown(ctx)
}

func TestHealthz(t *testing.T) {
	reg, _, _, err := NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	s, err := ServeMetrics("127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	get := func() (int, string) {
		resp, err := http.Get("http://" + s.Addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != http.StatusServiceUnavailable || body != "starting\n" {
		t.Fatalf("before the worker connects: %d %q", code, body)
	}
	var down error
	s.SetHealth(func(context.Context) error { return down })
	if code, body := get(); code != http.StatusOK || body != "ok\n" {
		t.Fatalf("healthy: %d %q", code, body)
	}
	down = errors.New("connection refused")
	if code, body := get(); code != http.StatusServiceUnavailable || body != "unhealthy: connection refused\n" {
		t.Fatalf("frontend unreachable: %d %q", code, body)
	}
}
