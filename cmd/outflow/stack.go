package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/worker"
)

// stack is what a command talks to: a Temporal client, and when no address
// was given, an embedded server and worker living in this process.
type stack struct {
	client   *engine.Client
	temporal client.Client
	server   embeddedServer
	worker   *worker.Worker
	// flushTraces sends the spans still buffered (OTLP tracing on).
	flushTraces func(context.Context) error
}

// embeddedServer is a Temporal server running inside this process (see
// embedded.go); binaries built with the noserver tag have none.
type embeddedServer interface {
	FrontendAddress() string
	Stop() error
}

func (s *stack) Close() {
	if s.worker != nil {
		s.worker.Stop()
	}
	if s.temporal != nil {
		s.temporal.Close()
	}
	if s.server != nil {
		_ = s.server.Stop()
	}
	if s.flushTraces != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.flushTraces(ctx)
	}
}

type stackOptions struct {
	// embedWorker starts a worker in this process when the server is embedded.
	embedWorker bool
	// agents the embedded worker also serves (so that a quick local run of a
	// project with agent connections does not wait for agents).
	agents  []string
	baseDir string
	// callbacks signs callback URLs in the embedded worker (events.go).
	callbacks *engine.CallbackSigner
	log       io.Writer
	// logger takes the Temporal client's and the embedded worker's logs
	// (the SDK's included); nil means quietLogger.
	logger *slog.Logger
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

// sdkActivityError is the SDK worker's log line for each failed attempt of
// an activity.
const sdkActivityError = "Activity error."

// commandLogger is the logger of the Temporal client and embedded worker of
// a command that prints its own progress (run, test): with --log-level, the
// logs at that level and above, the SDK's included; without, only errors
// the command does not report itself. A failed step attempt is one it
// reports, in its progress lines and record, in Outflow's words: the SDK's
// raw "Activity error." line for every attempt, an expected 422 included,
// is left to --log-level and to the worker's log.
func commandLogger(w io.Writer, level string) (*slog.Logger, error) {
	if level != "" {
		return worker.NewLogger(w, worker.LogOptions{Level: level})
	}
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelError})
	return slog.New(&dropMessages{Handler: h, drop: []string{sdkActivityError}}), nil
}

// dropMessages leaves out the records with the given messages.
type dropMessages struct {
	slog.Handler
	drop []string
}

func (d *dropMessages) Handle(ctx context.Context, r slog.Record) error {
	if slices.Contains(d.drop, r.Message) {
		return nil
	}
	return d.Handler.Handle(ctx, r)
}

func (d *dropMessages) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &dropMessages{Handler: d.Handler.WithAttrs(attrs), drop: d.drop}
}

func (d *dropMessages) WithGroup(name string) slog.Handler {
	return &dropMessages{Handler: d.Handler.WithGroup(name), drop: d.drop}
}

func openStack(ctx context.Context, g *globalFlags, o stackOptions) (*stack, error) {
	s := &stack{}
	dc, err := dataConverter(ctx, g)
	if err != nil {
		return nil, err
	}
	// With OTEL_EXPORTER_OTLP_ENDPOINT set, the CLI's StartWorkflow span
	// heads the run's trace (and traces the embedded worker).
	var obs *worker.Observability
	tp, flush, err := worker.TracerProviderFromEnv(ctx, "outflow-cli")
	if err != nil {
		return nil, err
	}
	if tp != nil {
		obs, s.flushTraces = &worker.Observability{TracerProvider: tp}, flush
	}
	addr := g.address
	if addr == "" {
		srv, err := startEmbeddedServer(ctx, g.namespace)
		if err != nil {
			return nil, fmt.Errorf("starting the embedded Temporal server: %w", err)
		}
		s.server = srv
		addr = srv.FrontendAddress()
	}
	logger := o.logger
	if logger == nil {
		logger = quietLogger()
	}
	c, err := worker.Dial(ctx, worker.DialOptions{Address: addr, Namespace: g.namespace, Logger: logger, Plaintext: s.server != nil, DataConverter: dc, Observe: obs})
	if err != nil {
		s.Close()
		return nil, err
	}
	s.temporal = c
	s.client = &engine.Client{Temporal: c, Namespace: g.namespace, EagerStart: s.server != nil && o.embedWorker, DataConverter: dc}
	if s.server != nil && o.embedWorker {
		w, err := worker.Start(worker.Options{
			Client: c, Flows: true, Agents: o.agents, BaseDir: o.baseDir,
			Logger: logger, Observe: obs, OwnSecrets: worker.PayloadKeySecrets(payloadKeyRefs(g)),
			Callbacks: o.callbacks,
		})
		if err != nil {
			s.Close()
			return nil, err
		}
		s.worker = w
	}
	return s, nil
}
