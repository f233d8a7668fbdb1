// Package worker runs Outflow's Temporal workers: the default workers that
// interpret flows and run steps, and agent workers that run the steps of
// connections routed to their group where the keystore lives.
package worker

import (
	"context"
	"crypto/tls"
	"fmt"
	"github.com/outflow-dev/outflow/steps/httpcall"
	"log/slog"
	"os"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/telemetry"
	"github.com/outflow-dev/outflow/worker/codec"
)

// Options configure a worker process.
type Options struct {
	Client client.Client
	// TaskQueue is the default queue: flows and steps without an agent.
	// Empty means engine.DefaultTaskQueue.
	TaskQueue string
	// Flows says whether this worker interprets flows (default workers do;
	// agents only run steps).
	Flows bool
	// Agents lists the agent groups whose steps this worker runs.
	Agents []string
	// NoDefaultSteps stops the worker from running steps of the default queue
	// (an agent that only serves its groups).
	NoDefaultSteps bool
	Identity       string
	// BaseDir is where this worker finds project files; empty means the
	// folder recorded in each plan.
	BaseDir string
	// Secrets resolves the references of steps. Nil means env: and file:
	// references, except this process's own secrets: OwnSecrets, the
	// payload key variable and the TEMPORAL_TLS_* files, and the files of
	// /proc, /dev and /sys (secrets.Policy).
	Secrets *secrets.Resolver
	// OwnSecrets are references this process uses itself (its payload
	// keys: PayloadKeySecrets), which steps may not resolve.
	OwnSecrets []secrets.Denied
	Transports httpcall.Transports
	// Agent says who this worker is to protocol profiles (applies_to) and
	// holds its own key material (store: agent) when Transports is nil.
	Agent  *steps.Agent
	Logger *slog.Logger
	// MaxConcurrentActivities per task queue; 0 means the SDK default.
	MaxConcurrentActivities int
	// Observe says what the worker reports (metrics, traces, redaction);
	// nil reports nothing beyond Logger.
	Observe *Observability
	// Callbacks signs the URLs callback_url yields; nil: callback_url fails.
	Callbacks *engine.CallbackSigner
}

// Worker is a running set of Temporal workers.
type Worker struct {
	workers []sdkworker.Worker
	closers []func() error
}

// DeadlockDetectionTimeout is how long one workflow task of a flow may run
// its interpreter without yielding before the SDK fails the task. The
// interpreter runs bounded work in one task (engine.MaxStepsPerRun steps,
// bounded expressions), which fits the SDK's 1 s default on an idle
// machine but not always on a loaded one, where a task failed by the
// detector would fail the same way on every retry. 5 s stays under the
// server's 10 s workflow task timeout.
const DeadlockDetectionTimeout = 5 * time.Second

// Start starts the workers and returns once they poll.
func Start(opts Options) (*Worker, error) {
	if opts.Client == nil {
		return nil, fmt.Errorf("starting worker: no Temporal client")
	}
	if opts.Secrets == nil {
		res, err := defaultSecrets(opts.BaseDir, opts.OwnSecrets)
		if err != nil {
			return nil, fmt.Errorf("starting worker: %w", err)
		}
		opts.Secrets = res
	}
	if seen := opts.Observe.seen(); seen != nil {
		opts.Secrets.Watch(seen)
	}
	if opts.Callbacks == nil {
		cb, err := CallbackSignerFromEnv()
		if err != nil {
			return nil, fmt.Errorf("starting worker: %w", err)
		}
		opts.Callbacks = cb
	}
	if opts.Identity == "" {
		host, _ := os.Hostname()
		opts.Identity = fmt.Sprintf("%d@%s", os.Getpid(), host)
	}
	w := &Worker{}
	if opts.Transports == nil {
		tr := steps.NewTransports(opts.Secrets)
		tr.Agent = opts.Agent
		if tr.Agent == nil && len(opts.Agents) > 0 {
			// A worker told to serve agent groups without an agent config
			// (outflow dev --agent, the in-process worker of outflow run)
			// stands in for those groups' agents, applies_to included.
			tr.Agent = &steps.Agent{Name: opts.Identity, Groups: opts.Agents, Dir: opts.BaseDir}
		}
		tr.Tracer = opts.Observe.tracer()
		opts.Observe.metrics().WatchCache(tr.Cache)
		opts.Transports = tr
		// Keystores fetched from secret stores live as long as the worker.
		w.closers = append(w.closers, tr.Close)
	}
	queue := opts.TaskQueue
	if queue == "" {
		queue = engine.DefaultTaskQueue
	}
	stepActs := steps.StepActivities(steps.ActivityDeps{Secrets: opts.Secrets, Transports: opts.Transports, BaseDir: opts.BaseDir, Identity: opts.Identity})
	certAct := &steps.CertCheck{Secrets: opts.Secrets, Transports: opts.Transports, BaseDir: opts.BaseDir, Identity: opts.Identity, Metrics: opts.Observe.metrics()}
	wo := sdkworker.Options{
		Identity:                           opts.Identity,
		MaxConcurrentActivityExecutionSize: opts.MaxConcurrentActivities,
		DeadlockDetectionTimeout:           DeadlockDetectionTimeout,
	}
	// Every step activity is measured and logged by one interceptor, after
	// the client's tracing interceptor, whatever its kind.
	observer := &telemetry.StepObserver{Metrics: opts.Observe.metrics(), Logger: opts.Logger}
	if i := observer.Interceptor(); i != nil {
		wo.Interceptors = append(wo.Interceptors, i)
	}
	newWorker := func(q string, flows, runSteps bool) {
		sw := sdkworker.New(opts.Client, q, wo)
		if flows {
			sw.RegisterWorkflowWithOptions(engine.FlowWorkflowWith(opts.Callbacks), workflow.RegisterOptions{Name: engine.WorkflowName})
		}
		if runSteps {
			for _, a := range stepActs {
				sw.RegisterActivityWithOptions(a.Fn, activity.RegisterOptions{Name: a.Name})
			}
			sw.RegisterActivityWithOptions(certAct.Execute, activity.RegisterOptions{Name: engine.CertCheckActivity})
		}
		w.workers = append(w.workers, sw)
	}
	if opts.Flows || !opts.NoDefaultSteps {
		newWorker(queue, opts.Flows, !opts.NoDefaultSteps)
	}
	for _, a := range opts.Agents {
		newWorker(engine.AgentTaskQueue(a), false, true)
	}
	if len(w.workers) == 0 {
		return nil, fmt.Errorf("starting worker: nothing to do (no flows, no default steps, no agent groups)")
	}
	for i, sw := range w.workers {
		if err := sw.Start(); err != nil {
			for _, started := range w.workers[:i] {
				started.Stop()
			}
			return nil, fmt.Errorf("starting worker: %w", err)
		}
	}
	return w, nil
}

// Stop stops every worker, waiting for running activities to finish.
func (w *Worker) Stop() {
	for _, sw := range w.workers {
		sw.Stop()
	}
	for _, c := range w.closers {
		_ = c()
	}
}

// DialOptions say how to reach Temporal.
type DialOptions struct {
	Address   string
	Namespace string
	Logger    *slog.Logger
	// TLS secures the connection. Nil means what the TEMPORAL_TLS_*
	// variables say (see TLSFromEnv), and plaintext when none is set.
	TLS *tls.Config
	// Plaintext says the server is known to speak plaintext (an in-process
	// dev server): the TEMPORAL_TLS_* variables, meant for remote servers,
	// do not apply, and gRPC payloads are not compressed.
	Plaintext bool
	// Identity names this client to the server; default pid@host.
	Identity string
	// DataConverter encodes payloads (the payload codec); nil means
	// Temporal's default. When it is set, failures are encoded with it too,
	// messages and stack traces included (codec.FailureConverter), so that
	// a failed execution is stored as encrypted as a successful one.
	DataConverter converter.DataConverter
	// Observe adds the SDK metrics handler and the tracing interceptor.
	Observe *Observability
}

// Dial connects a Temporal client. With TLS, a client certificate is read
// again from its files when they change, at the next handshake.
func Dial(ctx context.Context, o DialOptions) (client.Client, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	tlsConf := o.TLS
	if tlsConf == nil && !o.Plaintext {
		var err error
		if tlsConf, err = TLSFromEnv(logger); err != nil {
			return nil, fmt.Errorf("connecting to Temporal at %s: %w", o.Address, err)
		}
	}
	co := client.Options{
		HostPort:          o.Address,
		Namespace:         o.Namespace,
		Identity:          o.Identity,
		Logger:            sdklog.NewStructuredLogger(logger),
		ConnectionOptions: connectionOptions(tlsConf, o.Plaintext),
		DataConverter:     o.DataConverter,
	}
	if o.DataConverter != nil {
		co.FailureConverter = codec.FailureConverter(o.DataConverter)
	}
	if err := o.Observe.clientOptions(&co); err != nil {
		return nil, err
	}
	c, err := client.DialContext(ctx, co)
	if err != nil {
		if hint := explainDial(err, tlsConf != nil, tlsConf != nil && tlsConf.GetClientCertificate != nil); hint != "" {
			return nil, fmt.Errorf("connecting to Temporal at %s: %s: %w", o.Address, hint, err)
		}
		return nil, fmt.Errorf("connecting to Temporal at %s: %w", o.Address, err)
	}
	return c, nil
}

// connectionOptions secures the connection with tlsConf. Towards an
// in-process server (plaintext) gRPC compression only costs CPU: gzip of
// every payload took measurable time per step, and loopback needs no
// bandwidth saved.
func connectionOptions(tlsConf *tls.Config, inProcess bool) client.ConnectionOptions {
	o := client.ConnectionOptions{TLS: tlsConf}
	if inProcess {
		o.GrpcCompression = &client.GrpcCompressionNone{}
	}
	return o
}
