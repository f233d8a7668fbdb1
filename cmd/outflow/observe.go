package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/converter"

	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/worker"
	"github.com/outflow-dev/outflow/worker/codec"
)

// Environment variables that set the observability flags' defaults, so a
// container needs no command-line changes.
const (
	envMetricsAddr = "OUTFLOW_METRICS_ADDR"
	envLogFormat   = "OUTFLOW_LOG_FORMAT"
	envLogLevel    = "OUTFLOW_LOG_LEVEL"
	// envPayloadKey holds a payload key itself; when it is set and no
	// --payload-key is given, env:OUTFLOW_PAYLOAD_KEY is the key.
	envPayloadKey = worker.EnvPayloadKey
)

// observeFlags are the flags of the commands that run workers (worker, dev).
type observeFlags struct {
	metricsAddr string
	logFormat   string
	logLevel    string
}

func (f *observeFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.metricsAddr, "metrics-addr", os.Getenv(envMetricsAddr), "serve Prometheus metrics at http://ADDR/metrics, such as :9464 (default $"+envMetricsAddr+"; empty: off)")
	cmd.Flags().StringVar(&f.logFormat, "log-format", envOr(envLogFormat, "text"), "log format: text or json (default $"+envLogFormat+")")
	cmd.Flags().StringVar(&f.logLevel, "log-level", envOr(envLogLevel, "info"), "log level: debug, info, warn or error (default $"+envLogLevel+")")
}

// observed is what a worker command reports through, and how to stop it.
type observed struct {
	logger  *slog.Logger
	observe *worker.Observability
	metrics *worker.MetricsServer
	closers []func()
}

func (o *observed) Close() {
	for i := len(o.closers) - 1; i >= 0; i-- {
		o.closers[i]()
	}
}

// setup builds the logger (secrets redacted), the metrics endpoint and
// the tracer provider (OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set).
func (f *observeFlags) setup(ctx context.Context, logTo io.Writer, service string) (*observed, error) {
	o := &observed{observe: &worker.Observability{Seen: &secrets.Seen{}}}
	var err error
	if o.logger, err = worker.NewLogger(logTo, worker.LogOptions{Format: f.logFormat, Level: f.logLevel, Seen: o.observe.Seen}); err != nil {
		return nil, err
	}
	if f.metricsAddr != "" {
		reg, m, sdkMetrics, err := worker.NewMetrics()
		if err != nil {
			return nil, err
		}
		o.observe.Metrics, o.observe.SDKMetrics = m, sdkMetrics
		if o.metrics, err = worker.ServeMetrics(f.metricsAddr, reg); err != nil {
			return nil, err
		}
		o.closers = append(o.closers, func() { _ = o.metrics.Close() })
	}
	tp, shutdown, err := worker.TracerProviderFromEnv(ctx, service)
	if err != nil {
		o.Close()
		return nil, err
	}
	if tp != nil {
		o.observe.TracerProvider = tp
		o.closers = append(o.closers, func() { _ = shutdown(context.WithoutCancel(ctx)) })
	}
	return o, nil
}

// payloadKeyRefs are the references of the payload keys: --payload-key, or
// env:OUTFLOW_PAYLOAD_KEY when that variable is set.
func payloadKeyRefs(g *globalFlags) []string {
	if len(g.payloadKeys) > 0 {
		return g.payloadKeys
	}
	if os.Getenv(envPayloadKey) != "" {
		return []string{"env:" + envPayloadKey}
	}
	return nil
}

// payloadCodec returns the payload codec the flags ask for, nil when
// payload encryption is off.
func payloadCodec(ctx context.Context, g *globalFlags) (*codec.AESGCM, error) {
	return codec.FromRefs(ctx, secrets.New("").Resolve, payloadKeyRefs(g))
}

// dataConverter returns the data converter for Temporal clients: payloads
// encrypted when payload keys are given, Temporal's default otherwise (nil).
func dataConverter(ctx context.Context, g *globalFlags) (converter.DataConverter, error) {
	c, err := payloadCodec(ctx, g)
	if err != nil || c == nil {
		return nil, err
	}
	return c.DataConverter(), nil
}

func registerPayloadKeyFlag(cmd *cobra.Command, g *globalFlags) {
	cmd.PersistentFlags().StringArrayVar(&g.payloadKeys, "payload-key", nil,
		fmt.Sprintf("encrypt Temporal payloads (step output, inputs, records) with the AES-256 key this secret reference names, such as env:%s or file:/run/secrets/payload-key; repeat to decrypt with older keys, the first encrypts (default env:%s when that variable is set)", envPayloadKey, envPayloadKey))
}
