// Package offline runs the tests of a project — documents of kind Test —
// in this process and without network: FlowWorkflow runs in Temporal's
// test environment, which needs no server and skips over waits, poll
// intervals and retry backoff; the real rest and soap activities build
// requests and read responses; and a mock transport answers each step from
// the test's mocks instead of a partner.
package offline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps"
	"github.com/outflow-dev/outflow/steps/mock"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// StartTime is the clock of every test run, so that runs are the same
// from day to day; the test environment moves it on over waits and polls.
var StartTime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Secret is what every secret reference resolves to in a test run: tests
// need no secrets, and a value that is not secret cannot leak one.
const Secret = "offline-secret"

// testInterceptors are given to the test environment's worker; tests of
// this package use them to watch the workflow goroutine.
var testInterceptors []interceptor.WorkerInterceptor

// ErrNoMock is the error type of a step that ran without a mock.
const ErrNoMock = "NoMock"

// idleTimeout bounds the wall-clock time a run may sit without progress;
// mocks answer at once, so a run that idles this long is stuck.
const idleTimeout = time.Minute

// Result is the outcome of one test.
type Result struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	// At is where the test is written, "file:line".
	At     string `json:"at"`
	Passed bool   `json:"passed"`
	// Failures are the expectations the run did not meet.
	Failures []engine.TestFailure `json:"failures,omitempty"`
	// Error says why the test could not run at all.
	Error string `json:"error,omitempty"`
	// Unused lists the mocks that answered no call.
	Unused   []string      `json:"unused_mocks,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	// Calls counts the calls each step made, by step path.
	Calls  map[string]int `json:"calls,omitempty"`
	Record *engine.Record `json:"record,omitempty"`
}

// Run runs one test, compiled by the caller (package flows compiles the
// documents of kind Test), and checks its expectations.
func Run(ctx context.Context, tc *engine.TestCase) *Result {
	res := &Result{Name: tc.Name, Target: tc.Target, At: fmt.Sprintf("%s:%d", tc.File, tc.Line)}
	// The process's one-time warm-up is not the test's time.
	if err := warmUp(); err != nil {
		res.Error = err.Error()
		return res
	}
	start := time.Now()
	tr := mock.New(rules(tc.Mocks))
	rec, err := execute(ctx, tc, tr)
	res.Duration = time.Since(start)
	res.Record = rec
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Failures = tc.Verify(rec, tr.Calls)
	res.Unused = tr.Unused()
	res.Calls = map[string]int{}
	for _, c := range tr.Log() {
		res.Calls[c.Step]++
	}
	res.Passed = len(res.Failures) == 0
	return res
}

// Compile gives the compiled test of a name; the command builds it from
// the project it loaded.
type Compile func(name string) (*engine.TestCase, error)

// RunProject runs the tests names in order, compiling each with compile
// when its turn comes; a test that does not compile gets a result saying
// why.
func RunProject(ctx context.Context, names []string, compile Compile) []*Result {
	out := make([]*Result, 0, len(names))
	for _, name := range names {
		if ctx.Err() != nil {
			out = append(out, &Result{Name: name, Error: ctx.Err().Error()})
			continue
		}
		tc, err := compile(name)
		if err != nil {
			out = append(out, &Result{Name: name, Error: err.Error()})
			continue
		}
		out = append(out, Run(ctx, tc))
	}
	return out
}

func rules(mocks []engine.MockRule) []mock.Rule {
	out := make([]mock.Rule, 0, len(mocks))
	for _, m := range mocks {
		r := mock.Rule{Step: m.Step}
		for _, mr := range m.Responses {
			rp := mock.Reply{Status: mr.Status, Body: mr.Body, Error: mr.Error, Times: mr.Times}
			if len(mr.Headers) > 0 {
				rp.Headers = map[string]string{}
				for k, v := range mr.Headers {
					rp.Headers[k] = engine.Stringify(v)
				}
			}
			r.Replies = append(r.Replies, rp)
		}
		out = append(out, r)
	}
	return out
}

// offlineSecrets resolves every reference, of any provider, to Secret.
func offlineSecrets() *secrets.Resolver {
	r := secrets.New("")
	p := secrets.ProviderFunc(func(context.Context, string) (string, error) { return Secret, nil })
	for _, scheme := range engine.SecretSchemes {
		r.Register(scheme.Name, p)
	}
	return r
}

// execute runs the test's target in the test environment and returns its
// record, also when the run failed.
func execute(ctx context.Context, tc *engine.TestCase, tr *mock.Transport) (rec *engine.Record, err error) {
	if tc.Plan == nil {
		return nil, fmt.Errorf("test %q has no plan", tc.Name)
	}
	if err := warmUp(); err != nil {
		return nil, err
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := suite.NewTestWorkflowEnvironment()
	env.SetTestTimeout(idleTimeout)
	env.SetStartTime(StartTime)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "test-" + tc.Name})
	if len(testInterceptors) > 0 {
		env.SetWorkerOptions(worker.Options{Interceptors: testInterceptors})
	}
	if deadline, ok := ctx.Deadline(); ok {
		if d := time.Until(deadline); d > 0 && d < idleTimeout {
			env.SetTestTimeout(d)
		}
	}
	env.RegisterWorkflowWithOptions(engine.FlowWorkflowWith(&engine.CallbackSigner{Key: engine.TestCallbackKey, BaseURL: engine.TestCallbackBase}),
		workflow.RegisterOptions{Name: engine.WorkflowName})
	if err := deliverEvents(env, tc); err != nil {
		return nil, err
	}
	// The real activities of every step kind that calls partners, answered
	// by the mocks, each call guarded by one interceptor.
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{&guardMocks{tr: tr}}})
	for _, a := range steps.StepActivities(steps.ActivityDeps{Secrets: offlineSecrets(), Transports: tr, Identity: "offline"}) {
		env.RegisterActivityWithOptions(a.Fn, activity.RegisterOptions{Name: a.Name})
	}

	defer func() {
		// The test environment panics when a run is stuck; that is this
		// test's failure, not the command's.
		if r := recover(); r != nil {
			rec, err = nil, fmt.Errorf("the run did not end: %v", firstLine(fmt.Sprint(r)))
		}
	}()
	env.ExecuteWorkflow(engine.WorkflowName, engine.RunInput{Plan: tc.Plan, Inputs: tc.Inputs})
	if !env.IsWorkflowCompleted() {
		return nil, errors.New("the run did not end")
	}
	werr := env.GetWorkflowError()
	if werr == nil {
		var r engine.Record
		if err := env.GetWorkflowResult(&r); err != nil {
			return nil, fmt.Errorf("reading the execution record: %w", err)
		}
		return &r, nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(werr, &appErr) && appErr.Type() == engine.ErrFlowFailed && appErr.HasDetails() {
		var r engine.Record
		if err := appErr.Details(&r); err != nil {
			return nil, fmt.Errorf("reading the execution record of the failed run: %w", err)
		}
		return &r, nil
	}
	var can *workflow.ContinueAsNewError
	if errors.As(werr, &can) {
		return nil, errors.New("the run continued as new (its history reached the project's history_limit); an offline test follows one run, so poll fewer times in the test")
	}
	return nil, fmt.Errorf("running %s %q: %w", strings.ToLower(tc.Plan.Kind), tc.Plan.Name, werr)
}

// guardMocks guards the activity of every step that calls a partner (its
// input carries engine.CallHeader), whatever its kind.
type guardMocks struct {
	interceptor.WorkerInterceptorBase
	tr *mock.Transport
}

func (g *guardMocks) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	a := &guardedActivity{tr: g.tr}
	a.Next = next
	return a
}

type guardedActivity struct {
	interceptor.ActivityInboundInterceptorBase
	tr *mock.Transport
}

func (a *guardedActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	var req engine.CallRequest
	if len(in.Args) > 0 {
		req, _ = in.Args[0].(engine.CallRequest)
	}
	if req == nil || req.Header() == nil {
		return a.Next.ExecuteActivity(ctx, in)
	}
	h := req.Header()
	if i := strings.IndexByte(h.WorkflowID, '/'); i >= 0 {
		// A child flow (flow: step) runs as its own execution, whose ID is
		// the parent's and the step's path: its mocks are named under that
		// path, as the steps of an action are under the calling step.
		h.StepPath = h.WorkflowID[i+1:] + "/" + h.StepPath
	}
	return guard(a.tr, h.StepPath, func() (any, error) { return a.Next.ExecuteActivity(ctx, in) })
}

// guard runs a step's activity, turning a call the mocks cannot answer
// into a failure that is not retried: the step would fail the same way on
// every attempt. The activity still runs, so that the record shows the
// request the step would have sent.
func guard(tr *mock.Transport, step string, run func() (any, error)) (any, error) {
	missing := tr.Check(step)
	res, err := run()
	if missing == nil || err == nil {
		return res, err
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.NonRetryable() {
		return res, err // the step failed before it reached the network
	}
	opts := temporal.ApplicationErrorOptions{NonRetryable: true}
	if appErr != nil && appErr.HasDetails() {
		// The error has not left the process yet: its details are the step
		// result itself, not an encoded payload, so take it as it is.
		var details any
		if appErr.Details(&details) == nil {
			opts.Details = []any{details}
		}
	}
	return nil, temporal.NewApplicationErrorWithOptions(missing.Error(), ErrNoMock, opts)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// Counts are the numbers of tests that passed and that did not.
func Counts(results []*Result) (passed, failed int) {
	for _, r := range results {
		if r.Passed {
			passed++
		} else {
			failed++
		}
	}
	return passed, failed
}

// WriteText prints results for people: a line per test, and under a test
// that did not pass, what it expected and got and the steps of its run.
func WriteText(w io.Writer, results []*Result) {
	width := 0
	for _, r := range results {
		width = max(width, len(r.Name))
	}
	for _, r := range results {
		mark := "PASS"
		if !r.Passed {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s  %-*s  %s  %s\n", mark, width, r.Name, r.At, r.Duration.Round(time.Millisecond))
		if r.Passed {
			continue
		}
		if r.Error != "" {
			fmt.Fprintf(w, "      could not run: %s\n", r.Error)
		}
		for _, f := range r.Failures {
			fmt.Fprintf(w, "      %s\n", f)
		}
		for _, u := range r.Unused {
			fmt.Fprintf(w, "      note: the mock of %s answered no call\n", u)
		}
		if r.Record != nil {
			var b strings.Builder
			r.Record.WriteText(&b, false)
			for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
				fmt.Fprintf(w, "      │ %s\n", l)
			}
		}
	}
	passed, failed := Counts(results)
	noun := "tests"
	if len(results) == 1 {
		noun = "test"
	}
	fmt.Fprintf(w, "%d %s: %d passed, %d failed\n", len(results), noun, passed, failed)
}
