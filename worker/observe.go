package worker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"

	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/telemetry"
)

// Observability is what a worker process reports about itself. Every field
// is optional: the zero value observes nothing.
type Observability struct {
	// Metrics receives step durations and outcomes, TLS handshakes and
	// certificate expiry (Prometheus).
	Metrics *telemetry.Metrics
	// SDKMetrics receives the Temporal SDK's own metrics (task latencies,
	// poll counts, sticky cache), through the client.
	SDKMetrics client.MetricsHandler
	// TracerProvider, when set, traces workflows and activities with
	// Temporal's OpenTelemetry interceptor (client and workers) and puts a
	// client span around every partner call.
	TracerProvider trace.TracerProvider
	// Seen collects the secret values the worker resolves, for a
	// RedactHandler to remove from logs.
	Seen *secrets.Seen
}

// clientOptions adds what o asks for to a client's options.
func (o *Observability) clientOptions(co *client.Options) error {
	if o == nil {
		return nil
	}
	if o.SDKMetrics != nil {
		co.MetricsHandler = o.SDKMetrics
	}
	if o.TracerProvider != nil {
		ti, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
			Tracer: o.TracerProvider.Tracer("go.temporal.io/sdk"),
			// Explicit, so the global propagator (often a no-op) does not decide.
			TextMapPropagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		})
		if err != nil {
			return fmt.Errorf("setting up tracing: %w", err)
		}
		co.Interceptors = append(co.Interceptors, ti)
	}
	return nil
}

func (o *Observability) tracer() trace.Tracer {
	if o == nil || o.TracerProvider == nil {
		return nil
	}
	return o.TracerProvider.Tracer(telemetry.TracerName)
}

func (o *Observability) metrics() *telemetry.Metrics {
	if o == nil {
		return nil
	}
	return o.Metrics
}

func (o *Observability) seen() *secrets.Seen {
	if o == nil {
		return nil
	}
	return o.Seen
}

// NewMetrics creates a Prometheus registry with Outflow's step, TLS and
// certificate metrics, the Go runtime and process collectors, and a
// Temporal SDK metrics handler exporting into the same registry.
func NewMetrics() (*prometheus.Registry, *telemetry.Metrics, client.MetricsHandler, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := telemetry.NewMetrics(reg)
	if err != nil {
		return nil, nil, nil, err
	}
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("setting up Temporal SDK metrics: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	h := temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{Meter: mp.Meter("go.temporal.io/sdk")})
	return reg, m, h, nil
}

// MetricsServer serves /metrics, and /healthz for liveness probes.
type MetricsServer struct {
	srv    *http.Server
	Addr   string // the address it listens on, port resolved
	health atomic.Pointer[func(context.Context) error]
}

// SetHealth sets what /healthz checks: until it is set, /healthz answers
// 503 "starting"; then 200 "ok" while check passes, 503 with its error
// otherwise.
func (s *MetricsServer) SetHealth(check func(context.Context) error) { s.health.Store(&check) }

// FrontendHealth checks that a worker's Temporal client still reaches the
// frontend (TLS and all), as a worker must to poll.
func FrontendHealth(c client.Client) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	}
}

func (s *MetricsServer) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	check := s.health.Load()
	if check == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "starting\n")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := (*check)(ctx); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "unhealthy: "+err.Error()+"\n")
		return
	}
	_, _ = io.WriteString(w, "ok\n")
}

// ServeMetrics listens on addr (":9464", "127.0.0.1:0") and serves reg at
// /metrics until Close.
func ServeMetrics(addr string, reg *prometheus.Registry) (*MetricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serving metrics on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s := &MetricsServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, Addr: ln.Addr().String()}
	mux.HandleFunc("/healthz", s.healthz)
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops serving.
func (s *MetricsServer) Close() error { return s.srv.Close() }

// TracerProviderFromEnv returns a tracer provider exporting over OTLP/gRPC
// when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is
// set (with the exporter's other standard OTEL_EXPORTER_OTLP_* variables),
// and nil otherwise. service names the process in traces unless
// OTEL_SERVICE_NAME does. Call shutdown to flush spans before exiting.
func TracerProviderFromEnv(ctx context.Context, service string) (tp trace.TracerProvider, shutdown func(context.Context) error, err error) {
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return nil, func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracegrpc.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("setting up the OTLP trace exporter: %w", err)
	}
	res := resource.Default()
	if os.Getenv("OTEL_SERVICE_NAME") == "" {
		if merged, err := resource.Merge(res, resource.NewSchemaless(attribute.String("service.name", service))); err == nil {
			res = merged
		}
	}
	p := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return p, p.Shutdown, nil
}

// LogOptions say how a process logs.
type LogOptions struct {
	// Format is "text" (the default) or "json".
	Format string
	// Level is "debug", "info" (the default), "warn" or "error".
	Level string
	// Seen, when set, has its values redacted from every line.
	Seen *secrets.Seen
}

// NewLogger returns a slog logger writing to w as o says, with secrets
// redacted: attributes named like secrets, and the values in o.Seen.
func NewLogger(w io.Writer, o LogOptions) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(o.Level) {
	case "", "info":
		level = slog.LevelInfo
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", o.Level)
	}
	ho := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(o.Format) {
	case "", "text":
		h = slog.NewTextHandler(w, ho)
	case "json":
		h = slog.NewJSONHandler(w, ho)
	default:
		return nil, fmt.Errorf("log format %q: want text or json", o.Format)
	}
	return slog.New(secrets.RedactHandler(h, o.Seen)), nil
}
