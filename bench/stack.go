package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps"
	"github.com/outflow-dev/outflow/steps/rest"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/worker"
	"github.com/outflow-dev/outflow/worker/devserver"
)

// Secret references the plan uses; the runner puts the values in its own
// environment, as a user would for `outflow run`.
const (
	envKeystorePassword = "OUTFLOW_BENCH_KEYSTORE_PASSWORD"
	envPartnerPassword  = "OUTFLOW_BENCH_PARTNER_PASSWORD"
)

// stack is everything a run measures, in this one process: the partner, the
// embedded Temporal server, one client, Outflow's worker (worker.Start, as
// `outflow run` starts it) and the bench's own worker for the bare scenarios.
type stack struct {
	partner  *benchPartner
	server   *devserver.Server
	temporal client.Client
	engine   *engine.Client

	outflow           *worker.Worker
	outflowTransports *steps.Transports

	bench           sdkworker.Worker
	benchTransports *steps.Transports // the rest modes' transport cache
	bareTransport   *http.Transport   // the bare activity's pool
	plainTransport  *http.Transport   // the plain client's pool
	eagerStart      bool

	// n8n, with -peers n8n, runs chains of n8nSteps GETs (n8n.go).
	n8n      *n8nPeer
	n8nSteps int

	// pg, with -topology pg, is the production topology (pgtopo.go).
	pg *pgTopology
}

type stackOptions struct {
	dir           string
	dynamicConfig map[string]any
	// compression is "none" (what worker.Dial gives towards an in-process
	// server) or "gzip" (the SDK default).
	compression string
	// benchWorker tunes the bare scenarios' worker only; Outflow's worker
	// keeps what worker.Start sets.
	benchWorker sdkworker.Options
	// eagerStart starts the bare scenarios' workflows with eager workflow
	// start.
	eagerStart bool
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

func startStack(ctx context.Context, o stackOptions) (*stack, error) {
	s := &stack{eagerStart: o.eagerStart}
	var err error
	if s.partner, err = startPartner(o.dir); err != nil {
		return nil, err
	}
	os.Setenv(envKeystorePassword, s.partner.keystorePassword)
	os.Setenv(envPartnerPassword, s.partner.password)

	s.server, err = devserver.Start(ctx, devserver.Options{
		SearchAttributes: engine.SearchAttributes,
		LogLevel:         "error",
		Logger:           quietLogger(),
		DynamicConfig:    o.dynamicConfig,
	})
	if err != nil {
		s.close()
		return nil, fmt.Errorf("starting the embedded Temporal server: %w", err)
	}
	switch o.compression {
	case "", "none":
		s.temporal, err = worker.Dial(ctx, worker.DialOptions{Address: s.server.FrontendAddress(), Namespace: s.server.Namespace(), Logger: quietLogger(), Plaintext: true})
	case "gzip":
		s.temporal, err = client.DialContext(ctx, client.Options{
			HostPort:          s.server.FrontendAddress(),
			Namespace:         s.server.Namespace(),
			Logger:            sdklog.NewStructuredLogger(quietLogger()),
			ConnectionOptions: client.ConnectionOptions{GrpcCompression: &client.GrpcCompressionGzip{}},
		})
	default:
		err = fmt.Errorf("unknown compression %q (gzip or none)", o.compression)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	// As cmd/outflow's embedded stack: its worker runs flows on this client.
	s.engine = &engine.Client{Temporal: s.temporal, Namespace: s.server.Namespace(), EagerStart: true}

	res := secrets.New(o.dir)
	s.outflowTransports = steps.NewTransports(res)
	s.outflowTransports.Cache.Logger = quietLogger()
	if s.outflow, err = worker.Start(worker.Options{
		Client: s.temporal, Flows: true, Secrets: res, Transports: s.outflowTransports, Logger: quietLogger(),
	}); err != nil {
		s.close()
		return nil, err
	}

	if s.bareTransport, err = s.partner.plainTransport(); err != nil {
		s.close()
		return nil, err
	}
	if s.plainTransport, err = s.partner.plainTransport(); err != nil {
		s.close()
		return nil, err
	}
	s.benchTransports = steps.NewTransports(res)
	s.benchTransports.Cache.Logger = quietLogger()
	caller := &bareCaller{client: &http.Client{Transport: s.bareTransport}, url: s.customerURL(), user: s.partner.username, pass: s.partner.password}
	restAct := &rest.Activity{Secrets: res, Transports: s.benchTransports, Identity: "bench"}
	wo := o.benchWorker
	wo.Identity = "bench"
	s.bench = sdkworker.New(s.temporal, benchQueue, wo)
	s.bench.RegisterWorkflowWithOptions(bareWorkflow, workflow.RegisterOptions{Name: bareWorkflowName})
	s.bench.RegisterActivityWithOptions(caller.call, activity.RegisterOptions{Name: bareActivityName})
	s.bench.RegisterActivityWithOptions(restAct.Execute, activity.RegisterOptions{Name: engine.RestActivity})
	if err := s.bench.Start(); err != nil {
		s.close()
		return nil, fmt.Errorf("starting the bench worker: %w", err)
	}
	return s, nil
}

func (s *stack) close() {
	s.n8n.close()
	s.pg.close()
	if s.bench != nil {
		s.bench.Stop()
	}
	if s.outflow != nil {
		s.outflow.Stop()
	}
	// worker.Start closes only the transports it made itself.
	for _, tr := range []*steps.Transports{s.outflowTransports, s.benchTransports} {
		if tr != nil {
			_ = tr.Close()
		}
	}
	if s.temporal != nil {
		s.temporal.Close()
	}
	if s.server != nil {
		_ = s.server.Stop()
	}
	if s.partner != nil {
		s.partner.close()
	}
}

func (s *stack) customerURL() string { return "https://" + s.partner.addr + "/v2/customers/42" }

// closeIdle empties every client pool, so that each measured run opens
// the connections it needs and pays for their handshakes.
func (s *stack) closeIdle() {
	s.outflowTransports.Cache.CloseIdleConnections()
	s.benchTransports.Cache.CloseIdleConnections()
	s.bareTransport.CloseIdleConnections()
	s.plainTransport.CloseIdleConnections()
}

// connection and profile are what a project with the quickstart's
// partner.yaml compiles to, pointed at the bench partner.
func (s *stack) connection() *engine.Connection {
	return &engine.Connection{
		Name: "partner-api", Scheme: "https", Host: "127.0.0.1", Port: s.partner.port(), BasePath: "/v2",
		MutualAuth: true, ProtocolProfile: "partner-mtls",
		Credential: &engine.Credential{Type: "basic", Username: s.partner.username, Password: &engine.SecretRef{Ref: "env:" + envPartnerPassword}},
	}
}

func (s *stack) profile() *engine.ProtocolProfile {
	return &engine.ProtocolProfile{
		Name:       "partner-mtls",
		Keystore:   &engine.Keystore{Path: "certs/client.p12", Password: &engine.SecretRef{Ref: "env:" + envKeystorePassword}},
		Truststore: &engine.Truststore{Paths: []string{"certs/partner-ca.pem"}},
	}
}

// plan is a flow of n REST steps, each reading a customer whose id comes
// from an input, so every step renders an expression as real flows do.
func (s *stack) plan(n int) *engine.Plan {
	conn, prof := s.connection(), s.profile()
	st := make([]engine.Step, n)
	for i := range st {
		// A chain: each path is built from the previous answer.
		path := "/customers/${{ inputs.customer_id }}"
		if i > 0 {
			path = fmt.Sprintf("/customers/${{ steps.s%d.json.id }}", i)
		}
		st[i] = engine.Step{
			ID:   fmt.Sprintf("s%d", i+1),
			Rest: &engine.RestStep{Connection: conn.Name, Method: "GET", Path: path, Expect: []int{200}},
		}
	}
	return &engine.Plan{
		Name:        fmt.Sprintf("bench-%d", n),
		Kind:        "Flow",
		ProjectRoot: s.partner.dir,
		Inputs:      []engine.InputSpec{{Name: "customer_id", Type: "string", Default: "42"}},
		Steps:       st,
		Connections: map[string]*engine.Connection{conn.Name: conn},
		Profiles:    map[string]*engine.ProtocolProfile{prof.Name: prof},
	}
}

// restRequest is the request FlowWorkflow renders for one step of plan(n).
func (s *stack) restRequest(workflowID string) *engine.RestRequest {
	return &engine.RestRequest{
		CallHeader: engine.CallHeader{WorkflowID: workflowID, Connection: s.connection(), Profile: s.profile(), ProjectRoot: s.partner.dir, BodyLimit: engine.DefaultBodyLimit},
		Method:     "GET",
		Path:       "/customers/42",
		Expect:     []int{200},
	}
}
