package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps"
	"github.com/outflow-dev/outflow/steps/rest"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// The Go benchmarks take apart what the runner measures end to end, without
// a Temporal server:
//
//	go test ./bench -run '^$' -bench . -benchmem

// benchEnv is a partner and what calls it, shared by the benchmarks of one
// process.
type benchEnv struct {
	partner    *benchPartner
	stack      *stack // holds no server: only connection, profile and plan
	transports *steps.Transports
	plain      *http.Transport
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	p, err := startPartner(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.close)
	b.Setenv(envKeystorePassword, p.keystorePassword)
	b.Setenv(envPartnerPassword, p.password)
	tr := steps.NewTransports(secrets.New(p.dir))
	tr.Cache.Logger = quietLogger()
	b.Cleanup(func() { _ = tr.Close() })
	plain, err := p.plainTransport()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(plain.CloseIdleConnections)
	return &benchEnv{partner: p, stack: &stack{partner: p}, transports: tr, plain: plain}
}

// activityEnv runs one registered activity the way a worker does (decoding
// its input, encoding its result), without a server.
func activityEnv(fn any, name string) *testsuite.TestActivityEnvironment {
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(nopLogger{})
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	return env
}

// BenchmarkStepCall compares one call over a pooled mTLS connection made by
// a plain client with the same call made by Outflow's REST step activity
// (secret and transport lookup, tracing, TLS facts, JSON parsing, result
// encoding). Both run in the SDK's activity test environment, so its own
// cost is on both sides.
func BenchmarkStepCall(b *testing.B) {
	e := newBenchEnv(b)
	b.Run("plain", func(b *testing.B) {
		caller := &bareCaller{client: &http.Client{Transport: e.plain}, url: e.stack.customerURL(), user: e.partner.username, pass: e.partner.password}
		env := activityEnv(caller.call, bareActivityName)
		// The first call opens the connection and lets the SDK checksum
		// its binary once per process; neither is the step's cost.
		if _, err := env.ExecuteActivity(bareActivityName); err != nil {
			b.Fatal(err)
		}
		before := e.partner.counts()
		for b.Loop() {
			if _, err := env.ExecuteActivity(bareActivityName); err != nil {
				b.Fatal(err)
			}
		}
		reportHandshakes(b, e.partner.counts().sub(before))
	})
	b.Run("rest", func(b *testing.B) {
		act := &rest.Activity{Secrets: e.transports.Secrets, Transports: e.transports, Identity: "bench"}
		env := activityEnv(act.Execute, engine.RestActivity)
		req := e.stack.restRequest("bench")
		req.StepPath, req.IdempotencyKey = "s1", "bench/s1"
		if _, err := env.ExecuteActivity(engine.RestActivity, req); err != nil {
			b.Fatal(err)
		}
		before := e.partner.counts()
		for b.Loop() {
			if _, err := env.ExecuteActivity(engine.RestActivity, req); err != nil {
				b.Fatal(err)
			}
		}
		reportHandshakes(b, e.partner.counts().sub(before))
	})
}

// reportHandshakes says how many connections and handshakes the partner
// saw per call: pooling works when both are near zero.
func reportHandshakes(b *testing.B, c partnerCounts) {
	b.ReportMetric(float64(c.Conns)/float64(b.N), "conns/op")
	b.ReportMetric(float64(c.Full+c.Resumed)/float64(b.N), "handshakes/op")
}

// BenchmarkTransportLookup is what every REST step pays to find its
// connection's transport: resolving the profile's secrets, checking its
// trust files and hashing the result into the cache key.
func BenchmarkTransportLookup(b *testing.B) {
	e := newBenchEnv(b)
	conn, prof := e.stack.connection(), e.stack.profile()
	ctx := context.Background()
	for b.Loop() {
		if _, err := e.transports.RoundTripper(ctx, conn, prof, e.partner.dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordPayload encodes the execution record of a flow of n REST
// steps as Temporal does for the flow's result and for every "record"
// query: the payload, and its cost, grow with the number of steps.
func BenchmarkRecordPayload(b *testing.B) {
	e := newBenchEnv(b)
	act := &rest.Activity{Secrets: e.transports.Secrets, Transports: e.transports, Identity: "bench"}
	env := activityEnv(act.Execute, engine.RestActivity)
	req := e.stack.restRequest("bench")
	req.StepPath = "s1"
	val, err := env.ExecuteActivity(engine.RestActivity, req)
	if err != nil {
		b.Fatal(err)
	}
	var res engine.StepResult
	if err := val.Get(&res); err != nil {
		b.Fatal(err)
	}
	dc := converter.GetDefaultDataConverter()
	for _, n := range []int{10, 50, 200} {
		rec := recordOf(&res, n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var size int
			for b.Loop() {
				p, err := dc.ToPayload(rec)
				if err != nil {
					b.Fatal(err)
				}
				size = len(p.GetData())
			}
			b.ReportMetric(float64(size), "payload-bytes")
			b.ReportMetric(float64(size)/float64(n), "payload-bytes/step")
		})
	}
}

// recordOf is the record FlowWorkflow keeps for n steps that each got res.
func recordOf(res *engine.StepResult, n int) *engine.Record {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rec := &engine.Record{WorkflowID: "bench", Flow: "bench", Kind: "Flow", Status: engine.StatusSucceeded, Start: start}
	for i := 0; i < n; i++ {
		req, t := res.Request, res.Timings
		rec.Steps = append(rec.Steps, &engine.StepRecord{
			ID: fmt.Sprintf("s%d", i+1), Kind: "rest", Connection: "partner-api", TaskQueue: engine.DefaultTaskQueue,
			Status: engine.StatusSucceeded, Attempts: 1, Start: start, Duration: engine.Duration(time.Millisecond),
			Worker: res.Worker, Request: &req, Response: res.Response, TLS: res.TLS, Timings: &t,
		})
	}
	return rec
}

// nopLogger keeps the SDK's test environment quiet.
type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}

// BenchmarkWorkflowStep runs flows of 50 steps in the SDK's workflow test
// environment with the REST activity replaced by a canned result: what the
// workflow code itself costs per step, FlowWorkflow (expressions, the
// record, step data) against the minimal workflow passing the same request
// and result.
func BenchmarkWorkflowStep(b *testing.B) {
	e := newBenchEnv(b)
	act := &rest.Activity{Secrets: e.transports.Secrets, Transports: e.transports, Identity: "bench"}
	aenv := activityEnv(act.Execute, engine.RestActivity)
	req := e.stack.restRequest("bench")
	req.StepPath = "s1"
	val, err := aenv.ExecuteActivity(engine.RestActivity, req)
	if err != nil {
		b.Fatal(err)
	}
	var res engine.StepResult
	if err := val.Get(&res); err != nil {
		b.Fatal(err)
	}
	canned := func(context.Context, *engine.RestRequest) (*engine.StepResult, error) { return &res, nil }
	const steps = 50
	run := func(b *testing.B, start func(*testsuite.TestWorkflowEnvironment)) {
		for b.Loop() {
			var ts testsuite.WorkflowTestSuite
			ts.SetLogger(nopLogger{})
			env := ts.NewTestWorkflowEnvironment()
			env.RegisterActivityWithOptions(canned, activity.RegisterOptions{Name: engine.RestActivity})
			start(env)
			if err := env.GetWorkflowError(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*steps), "µs/step")
	}
	b.Run("outflow", func(b *testing.B) {
		plan := e.stack.plan(steps)
		run(b, func(env *testsuite.TestWorkflowEnvironment) {
			env.RegisterWorkflowWithOptions(engine.FlowWorkflow, workflow.RegisterOptions{Name: engine.WorkflowName})
			env.ExecuteWorkflow(engine.WorkflowName, engine.RunInput{Plan: plan})
		})
	})
	b.Run("minimal", func(b *testing.B) {
		run(b, func(env *testsuite.TestWorkflowEnvironment) {
			env.RegisterWorkflowWithOptions(bareWorkflow, workflow.RegisterOptions{Name: bareWorkflowName})
			env.ExecuteWorkflow(bareWorkflowName, bareInput{Steps: steps, Mode: "rest", Request: req})
		})
	})
}
