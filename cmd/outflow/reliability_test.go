package main

// Reliability tests with real processes and a real Temporal server: a worker
// killed with SIGKILL in the middle of a POST, and the partner checking that
// every non-idempotent request took effect once.

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	enumspb "go.temporal.io/api/enums/v1"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	tclient "go.temporal.io/sdk/client"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/examples/partner"
	"github.com/outflow-dev/outflow/flows"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/worker"
	"github.com/outflow-dev/outflow/worker/devserver"
)

// ledger is a partner API that behaves like a real idempotent one: a POST
// must carry an Idempotency-Key; the first request with a key applies its
// effect, later ones with the same key get the stored answer. It keeps every
// request it saw, in order.
type ledger struct {
	mu       sync.Mutex
	applied  map[string]string // idempotency key -> item it applied to
	effects  map[string]int    // item -> times its effect was applied
	seen     []ledgerRequest
	holdItem string        // the first request for this item applies, then hangs
	held     chan struct{} // closed when the held request arrived
	release  chan struct{} // closed by the test at the end, so no handler outlives it
}

type ledgerRequest struct {
	Item, Key string
	Replayed  bool
}

func newLedger(holdItem string) *ledger {
	return &ledger{applied: map[string]string{}, effects: map[string]int{}, holdItem: holdItem,
		held: make(chan struct{}), release: make(chan struct{})}
}

func (l *ledger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	item := strings.TrimPrefix(r.URL.Path, "/v2/items/")
	if r.Method != http.MethodPost || item == r.URL.Path {
		http.Error(w, `{"message":"unknown path"}`, http.StatusNotFound)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"message":"an Idempotency-Key header is required"}`))
		return
	}
	l.mu.Lock()
	prev, replayed := l.applied[key]
	if !replayed {
		l.applied[key] = item
		l.effects[item]++
	}
	l.seen = append(l.seen, ledgerRequest{Item: item, Key: key, Replayed: replayed})
	hold := !replayed && item == l.holdItem
	l.mu.Unlock()
	if replayed && prev != item {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = fmt.Fprintf(w, `{"message":"idempotency key %s was used for item %s"}`, key, prev)
		return
	}
	if hold {
		// The effect is applied and the answer is lost: the worker dies
		// before it arrives. Only a retry with the same key is safe now.
		close(l.held)
		select {
		case <-r.Context().Done():
		case <-l.release:
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	status := http.StatusCreated
	if replayed {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"item":%q,"replayed":%t}`, item, replayed)
}

func (l *ledger) snapshot() ([]ledgerRequest, map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	effects := make(map[string]int, len(l.effects))
	for k, v := range l.effects {
		effects[k] = v
	}
	return append([]ledgerRequest(nil), l.seen...), effects
}

// ledgerServer serves h on loopback over TLS that requires a client
// certificate, and writes into dir the files a project needs to call it: a
// client PEM bundle (client.pem) and the partner's CA (partner-ca.pem).
func ledgerServer(t *testing.T, dir string, h http.Handler) string {
	t.Helper()
	ca, err := devpki.NewCA("Ledger CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.IssueServer("ledger", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ca.IssueClient("svc-outflow", nil)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := cl.BundlePEM()
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(dir, "client.pem"), bundle)
	writeTestFile(t, filepath.Join(dir, "partner-ca.pem"), ca.CertPEM())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{srv.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool(),
	}}
	go func() { _ = hs.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = hs.Close() })
	return ln.Addr().String()
}

const mtlsConnection = `kind: ProtocolProfile
name: ledger-mtls
keystore: {path: client.pem}
truststore: {paths: [partner-ca.pem]}
---
kind: Connection
name: ledger
url: https://%s/v2
mutual_auth: true
protocol_profile: ledger-mtls
`

// TestWorkerKilledMidPostAppliesEachPostOnce runs a flow of 20 POSTs on a
// worker process, kills the worker with SIGKILL while the partner holds the
// 8th POST (after applying it), starts another worker process, and checks
// that the flow finishes and that the partner applied each POST once: every
// step sends an Idempotency-Key that a retry repeats.
func TestWorkerKilledMidPostAppliesEachPostOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the outflow binary")
	}
	const steps, holdAt = 20, 8
	proj := t.TempDir()
	led := newLedger(fmt.Sprint(holdAt))
	defer close(led.release)
	addr := ledgerServer(t, proj, led)

	var flow strings.Builder
	flow.WriteString("---\nkind: Flow\nname: twenty-posts\nsteps:\n")
	for i := 1; i <= steps; i++ {
		// The default step timeout (1m) is well over the heartbeat timeout:
		// a worker that died with the step in flight is noticed when its
		// heartbeats stop (engine.StepHeartbeatTimeout), not at the timeout.
		fmt.Fprintf(&flow, "  - id: post%02d\n    rest: {connection: ledger, method: POST, path: /items/%d, body: {n: %d}, expect: [200, 201]}\n    retry: {initial_interval: 200ms}\n", i, i, i)
	}
	writeTestFile(t, filepath.Join(proj, "flow.yaml"), []byte(fmt.Sprintf(mtlsConnection, addr)+flow.String()))
	rec, c, run := runWorkerKilledMidFlow(t, proj, "twenty-posts", led.held, "POST 8")
	ctx := context.Background()
	if rec.Status != engine.StatusSucceeded || len(rec.Steps) != steps {
		t.Fatalf("flow ended %s with %d steps", rec.Status, len(rec.Steps))
	}

	seen, effects := led.snapshot()
	firstKey := map[string]string{} // item -> key of its first request
	keys := map[string]bool{}
	retries := 0
	for _, r := range seen {
		keys[r.Key] = true
		if k, ok := firstKey[r.Item]; ok {
			retries++
			if k != r.Key {
				t.Errorf("item %s: a retry carried Idempotency-Key %q, the first attempt %q", r.Item, r.Key, k)
			}
			continue
		}
		firstKey[r.Item] = r.Key
	}
	if len(keys) != steps || len(firstKey) != steps {
		t.Errorf("the partner saw %d distinct keys for %d items, want %d each", len(keys), len(firstKey), steps)
	}
	for i := 1; i <= steps; i++ {
		if n := effects[fmt.Sprint(i)]; n != 1 {
			t.Errorf("item %d: effect applied %d times, want once", i, n)
		}
	}
	if retries < 1 {
		t.Errorf("the partner saw no retry of POST %d, which was in flight when the worker died", holdAt)
	}
	// The attempt that died with the first worker ended by its heartbeat
	// timeout: the retry's start event says so.
	heartbeatTimeouts := 0
	iter := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil && a.GetAttempt() > 1 &&
			a.GetLastFailure().GetTimeoutFailureInfo().GetTimeoutType() == enumspb.TIMEOUT_TYPE_HEARTBEAT {
			heartbeatTimeouts++
		}
	}
	if heartbeatTimeouts != 1 {
		t.Errorf("%d retried attempts followed a heartbeat timeout, want 1 (the step in flight when the worker died)", heartbeatTimeouts)
	}
	held := rec.Step(fmt.Sprintf("post%02d", holdAt))
	if held.Attempts < 2 || !strings.HasPrefix(held.Worker, "second") || held.Response == nil || held.Response.StatusCode != http.StatusOK {
		t.Errorf("post%02d: attempts %d on %q, response %+v; want a retry on the second worker answered as a replay (200)", holdAt, held.Attempts, held.Worker, held.Response)
	}
	if last := rec.Step(fmt.Sprintf("post%02d", steps)); !strings.HasPrefix(last.Worker, "second") {
		t.Errorf("the last step ran on %q, want the second worker", last.Worker)
	}
	t.Logf("%d requests for %d POSTs: %d retried with the same Idempotency-Key; post%02d took %d attempts", len(seen), steps, retries, holdAt, held.Attempts)
}

// callCounter is a partner that counts the POSTs it gets per order.
type callCounter struct {
	mu    sync.Mutex
	calls map[string]int
	keys  map[string]string // order -> Idempotency-Key of its first call
}

func (c *callCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	order := strings.TrimPrefix(r.URL.Path, "/v2/orders/")
	c.mu.Lock()
	c.calls[order]++
	if _, ok := c.keys[order]; !ok {
		c.keys[order] = r.Header.Get("Idempotency-Key")
	}
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = fmt.Fprintf(w, `{"order":%q}`, order)
}

// TestFiveHundredConcurrentExecutions starts 500 executions at once on the
// embedded server (SQLite) and a worker in this process, each posting its own
// order to an mTLS partner, and checks that all 500 finish, that each order
// reached the partner exactly once, and that the listing shows all 500.
func TestFiveHundredConcurrentExecutions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 500 executions on the embedded server")
	}
	const n = 500
	proj := t.TempDir()
	counter := &callCounter{calls: map[string]int{}, keys: map[string]string{}}
	addr := ledgerServer(t, proj, counter)
	writeTestFile(t, filepath.Join(proj, "flow.yaml"), []byte(fmt.Sprintf(mtlsConnection, addr)+`---
kind: Flow
name: place-order
inputs: {order: {type: string, required: true}}
steps:
  - id: place
    rest: {connection: ledger, method: POST, path: "/orders/${{ inputs.order }}", body: {order: "${{ inputs.order }}"}, expect: [201]}
outputs: {order: "${{ steps.place.json.order }}"}
`))
	p, err := flows.Load(proj)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan("place-order")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv, err := devserver.Start(ctx, devserver.Options{SearchAttributes: engine.SearchAttributes, LogLevel: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c, err := worker.Dial(ctx, worker.DialOptions{Address: srv.FrontendAddress(), Namespace: "default", Logger: quietLogger(), Plaintext: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, err := worker.Start(worker.Options{Client: c, Flows: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	client := &engine.Client{Temporal: c, Namespace: "default"}

	began := time.Now()
	type result struct {
		order string
		rec   *engine.Record
		err   error
	}
	results := make(chan result, n)
	var wg sync.WaitGroup
	// All 500 are started at once, at most 50 start calls in flight: on a
	// loaded machine the SQLite-backed server answers 500 simultaneous
	// calls slower than the SDK's per-call deadline. A start that timed out
	// may have happened, so it is retried with the same workflow id, as a
	// careful client does, and "already started" means it had.
	starting := make(chan struct{}, 50)
	start := func(ctx context.Context, order string) (tclient.WorkflowRun, error) {
		starting <- struct{}{}
		defer func() { <-starting }()
		id := "place-order-" + order
		var err error
		for attempt := 0; attempt < 5; attempt++ {
			var run tclient.WorkflowRun
			run, err = client.Start(ctx, plan, map[string]any{"order": order}, engine.RunOptions{WorkflowID: id})
			var already *serviceerror.WorkflowExecutionAlreadyStarted
			switch {
			case err == nil:
				return run, nil
			case errors.As(err, &already):
				return c.GetWorkflow(ctx, id, ""), nil
			case ctx.Err() != nil:
				return nil, err
			}
		}
		return nil, err
	}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(order string) {
			defer wg.Done()
			wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			run, err := start(wctx, order)
			if err != nil {
				results <- result{order: order, err: err}
				return
			}
			rec, err := client.Wait(wctx, run, nil)
			results <- result{order: order, rec: rec, err: err}
		}(fmt.Sprintf("o%03d", i))
	}
	wg.Wait()
	close(results)
	elapsed := time.Since(began)
	done := 0
	for r := range results {
		switch {
		case r.err != nil:
			t.Errorf("order %s: %v", r.order, r.err)
		case r.rec.Status != engine.StatusSucceeded || r.rec.Outputs["order"] != r.order:
			t.Errorf("order %s: %s, outputs %v", r.order, r.rec.Status, r.rec.Outputs)
		default:
			done++
		}
	}
	if done != n {
		t.Fatalf("%d of %d executions succeeded", done, n)
	}
	counter.mu.Lock()
	if len(counter.calls) != n {
		t.Errorf("the partner saw %d orders, want %d", len(counter.calls), n)
	}
	for order, calls := range counter.calls {
		if calls != 1 {
			t.Errorf("order %s reached the partner %d times", order, calls)
		}
		if want := "place-order-" + order + "/place"; counter.keys[order] != want {
			t.Errorf("order %s: Idempotency-Key %q, want %q", order, counter.keys[order], want)
		}
	}
	counter.mu.Unlock()

	var listed []engine.Execution
	waitFor(t, "the listing to show 500 finished executions", time.Minute, func() bool {
		listed, err = client.List(ctx, engine.ListOptions{Flow: "place-order", Status: engine.StatusSucceeded, Limit: 2 * n})
		return err == nil && len(listed) == n
	})
	ids := map[string]bool{}
	for _, e := range listed {
		ids[e.WorkflowID] = true
	}
	if len(ids) != n {
		t.Errorf("the listing shows %d distinct executions, want %d", len(ids), n)
	}
	t.Logf("%d executions started at once finished in %v (%.0f/s)", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
}

// syncBuffer is a log destination shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const secretsProject = `kind: ProtocolProfile
name: partner-mtls
keystore: {path: client.p12, password: {secret: env:OUTFLOW_LOGTEST_KEYSTORE_PW}}
truststore: {paths: [partner-ca.pem]}
---
kind: Connection
name: with-basic
url: https://%[1]s/v2
mutual_auth: true
protocol_profile: partner-mtls
credential: {type: basic, username: svc-outflow, password: {secret: env:OUTFLOW_LOGTEST_PASSWORD}}
---
kind: Connection
name: with-key
url: https://%[1]s/v2
mutual_auth: true
protocol_profile: partner-mtls
credential: {type: api_key, key: X-Partner-Key, value: {secret: file:partner.key}}
---
kind: Flow
name: secrets-in-logs
steps:
  - id: ok
    rest: {connection: with-basic, method: GET, path: /customers/7}
  - id: refused
    # The partner wants basic auth: this step fails with 401, through the
    # error paths that log.
    rest: {connection: with-key, method: POST, path: /orders/7/ack}
    retry: {max_attempts: 2, initial_interval: 100ms}
    continue_on_error: true
  - id: flaky
    rest: {connection: with-basic, method: GET, path: /flaky/logs, query: {fail: "1"}}
    retry: {max_attempts: 3, initial_interval: 100ms}
`

// TestSecretsNeverInLogs runs a flow whose credentials and keystore
// password come from env: and file: secrets, with steps that succeed, fail
// and retry, and captures everything the server, the worker and the client
// log at debug level: no secret value appears in the logs, the workflow
// history or the execution record.
func TestSecretsNeverInLogs(t *testing.T) {
	const (
		password   = "pw-7c1e-basic-secret"
		apiKey     = "key-93ab-file-secret"
		keystorePw = "ks-51d0-keystore-secret"
	)
	proj := t.TempDir()
	ca, err := devpki.NewCA("Partner CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, _ := ca.IssueServer("partner", []string{"127.0.0.1"}, nil)
	leaf, _ := ca.IssueClient("svc-outflow", nil)
	p12, err := pkcs12.Modern.Encode(leaf.Key, leaf.Cert, ca.Chain(), keystorePw)
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(proj, "client.p12"), p12)
	writeTestFile(t, filepath.Join(proj, "partner-ca.pem"), ca.CertPEM())
	writeTestFile(t, filepath.Join(proj, "partner.key"), []byte(apiKey+"\n"))
	t.Setenv("OUTFLOW_LOGTEST_PASSWORD", password)
	t.Setenv("OUTFLOW_LOGTEST_KEYSTORE_PW", keystorePw)
	p, err := partner.Serve("127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool(),
	}, partner.New("svc-outflow", password))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	writeTestFile(t, filepath.Join(proj, "flow.yaml"), []byte(fmt.Sprintf(secretsProject, p.Addr)))
	proj2, err := flows.Load(proj)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := proj2.Plan("secrets-in-logs")
	if err != nil {
		t.Fatal(err)
	}

	logs := &syncBuffer{}
	debug := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	srv, err := devserver.Start(ctx, devserver.Options{SearchAttributes: engine.SearchAttributes, LogLevel: "info", Logger: debug})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c, err := worker.Dial(ctx, worker.DialOptions{Address: srv.FrontendAddress(), Namespace: "default", Logger: debug, Plaintext: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, err := worker.Start(worker.Options{Client: c, Flows: true, Logger: debug, BaseDir: proj})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	client := &engine.Client{Temporal: c, Namespace: "default"}
	run, err := client.Start(ctx, plan, nil, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := client.Wait(ctx, run, nil)
	if err != nil {
		t.Fatalf("flow: %v", err)
	}
	if s := rec.Step("refused"); s == nil || s.Status != engine.StatusFailed || !strings.Contains(s.Error.Message, "invalid username or password") {
		t.Fatalf("step refused: %+v %+v", s, s.Error)
	}
	if s := rec.Step("flaky"); s == nil || s.Attempts != 2 {
		t.Fatalf("step flaky: %+v", s)
	}
	w.Stop()

	logText := logs.String()
	// The capture works: the failed and retried attempts were logged.
	if !strings.Contains(logText, "invalid username or password") || !strings.Contains(logText, "temporarily unavailable") {
		t.Fatalf("the captured logs do not show the failed attempts; the search would prove nothing:\n%s", logText)
	}
	hist := historyText(t, fetchHistory(t, &stack{temporal: c}, run.GetID(), run.GetRunID()))
	recJSON, _ := json.Marshal(rec)
	basic := base64.StdEncoding.EncodeToString([]byte("svc-outflow:" + password))
	for name, secret := range map[string]string{"basic password (env:)": password, "API key (file:)": apiKey,
		"keystore password (env:)": keystorePw, "basic Authorization value": basic} {
		for where, text := range map[string]string{"logs": logText, "workflow history": hist, "execution record": string(recJSON)} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s is in the %s", name, where)
			}
		}
	}
	t.Logf("searched %d KiB of logs, %d KiB of history and the record", len(logText)>>10, len(hist)>>10)
}

// runWorkerKilledMidFlow runs the flow of the project proj on an embedded
// server with an `outflow worker` process; when held is closed (the partner
// holds the request the test names by what), it kills that worker with
// SIGKILL, starts a second one, and returns the record of the flow the
// second worker finished, with the Temporal client and the run.
func runWorkerKilledMidFlow(t *testing.T, proj, flow string, held <-chan struct{}, what string) (*engine.Record, tclient.Client, tclient.WorkflowRun) {
	t.Helper()
	p, err := flows.Load(proj)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan(flow)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv, err := devserver.Start(ctx, devserver.Options{SearchAttributes: engine.SearchAttributes, LogLevel: "off"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	c, err := worker.Dial(ctx, worker.DialOptions{Address: srv.FrontendAddress(), Namespace: "default", Logger: quietLogger(), Plaintext: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	client := &engine.Client{Temporal: c, Namespace: "default"}

	workerArgs := []string{"worker", "--address", srv.FrontendAddress(), "--project", proj}
	first := startProc(t, "worker connected", append(workerArgs, "--identity", "first")...)
	run, err := client.Start(ctx, plan, nil, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the partner never got %s", what)
	}
	first.kill9(t)
	startProc(t, "worker connected", append(workerArgs, "--identity", "second")...)

	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	rec, err := client.Wait(wctx, run, nil)
	if err != nil {
		b, _ := json.MarshalIndent(rec, "", "  ")
		t.Fatalf("flow after the worker was killed: %v\n%s", err, b)
	}
	return rec, c, run
}
