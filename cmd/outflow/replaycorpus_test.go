package main

// The replay corpus (engine/testdata/replay): one committed history per
// construct of the workflow, each recorded from a real run of a small flow
// on the embedded Temporal server, against a partner that demands a client
// certificate. engine's TestReplayCorpus replays every file; this test runs
// each flow again, checks that its fresh history replays too and that the
// corpus holds a history of it, and with -record-history writes the history
// of every construct that has none yet. A committed history is never
// rewritten: a change behind workflow.GetVersion gets a new row here and a
// new file, and the old one keeps replaying.

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/examples/partner"
	"github.com/outflow-dev/outflow/flows"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

var recordHistory = flag.Bool("record-history", false,
	"write the history of each replay-corpus construct (and of the quickstart) that has no file in engine/testdata/replay yet; existing files are never rewritten")

// replayCorpusDir is the corpus, as seen from this package's folder.
var replayCorpusDir = filepath.Join("..", "..", "engine", "testdata", "replay")

const corpusProject = `kind: ProtocolProfile
name: partner-mtls
keystore: {path: client-bundle.pem}
truststore: {paths: [ca.pem]}
---
kind: Connection
name: partner
url: https://127.0.0.1:%d/v2
mutual_auth: true
protocol_profile: partner-mtls
credential: {type: basic, username: svc-outflow, password: {secret: env:OUTFLOW_CORPUS_PASSWORD}}
---
kind: Flow
name: corpus-wait
steps:
  - id: before
    rest: {connection: partner, path: /customers/1}
  - id: pause
    wait: {duration: 1s}
  - id: after
    rest: {connection: partner, path: "/customers/${{ steps.before.json.id }}/orders"}
outputs: {orders: "${{ len(steps.after.json.orders) }}"}
---
kind: Flow
name: corpus-poll
steps:
  - id: job
    rest: {connection: partner, path: /flaky/corpus-poll}
    poll: {until: "${{ steps.job.json.attempts >= 6 }}", interval: 1s}
outputs: {attempts: "${{ steps.job.json.attempts }}"}
---
kind: Flow
name: corpus-paginate
steps:
  - id: orders
    rest:
      connection: partner
      path: /pages/number
      paginate: {items: $.results, page: {size_param: per_page, size: 2}}
outputs: {count: "${{ steps.orders.count }}"}
---
kind: Flow
name: corpus-parallel
steps:
  - id: both
    parallel:
      - id: left
        steps:
          - id: customer
            rest: {connection: partner, path: /customers/7}
      - id: right
        steps:
          - id: orders
            rest: {connection: partner, path: /customers/7/orders}
outputs:
  name: "${{ steps.customer.json.name }}"
  orders: "${{ len(steps.orders.json.orders) }}"
---
kind: Flow
name: corpus-foreach
steps:
  - id: orders
    rest: {connection: partner, path: /customers/9/orders}
  - id: ack
    foreach: "${{ steps.orders.json.orders }}"
    concurrency: 2
    steps:
      - id: post
        rest: {connection: partner, method: POST, path: "/orders/${{ item.id }}/ack", body: {by: outflow}, expect: [200, 201]}
outputs: {acknowledged: "${{ steps.ack.count }}"}
---
kind: Flow
name: corpus-local
steps:
  - id: customer
    local: true
    rest: {connection: partner, path: /customers/3}
  - id: orders
    local: true
    rest: {connection: partner, path: "/customers/${{ steps.customer.json.id }}/orders"}
outputs: {orders: "${{ len(steps.orders.json.orders) }}"}
---
kind: Flow
name: corpus-fast
steps:
  - id: customer
    rest: {connection: partner, path: /customers/4}
  - id: flaky
    rest: {connection: partner, path: /flaky/corpus-fast, query: {fail: "1"}}
  - id: orders
    local: false
    rest: {connection: partner, path: "/customers/${{ steps.customer.json.id }}/orders"}
  - id: ack
    rest: {connection: partner, method: POST, path: "/orders/${{ steps.orders.json.orders[0].id }}/ack", body: {by: outflow}, expect: [200, 201]}
  - id: ack_again
    idempotent: true
    rest: {connection: partner, method: POST, path: "/orders/${{ steps.orders.json.orders[0].id }}/ack", body: {by: outflow}, expect: [200, 201]}
outputs: {orders: "${{ len(steps.orders.json.orders) }}", flaky: "${{ steps.flaky.json.attempts }}"}
---
kind: Flow
name: corpus-certcheck
steps:
  - id: whoami
    rest: {connection: partner, path: /whoami}
outputs: {subject: "${{ steps.whoami.json.client_certificate }}"}
`

// corpusConstructs are the rows of the corpus: file (without .json), the
// flow that shows the construct, and what the run must do. A construct that
// continues as new is recorded by its second run, which both resumes from
// the state carried across and continues as new again.
var corpusConstructs = []struct {
	file, flow string
	// historyLimit, when set, forces continue-as-new this often (events).
	historyLimit int
	// checkCertificates starts the run as a schedule does: certificates
	// are checked on the workers before the first step.
	checkCertificates bool
	outputs           map[string]any
}{
	{file: "wait", flow: "corpus-wait", outputs: map[string]any{"orders": 3.0}},
	{file: "poll-continue-as-new", flow: "corpus-poll", historyLimit: 20, outputs: map[string]any{"attempts": 6.0}},
	{file: "paginate-continue-as-new", flow: "corpus-paginate", historyLimit: 20, outputs: map[string]any{"count": 25.0}},
	{file: "parallel", flow: "corpus-parallel", outputs: map[string]any{"name": "Customer 7", "orders": 3.0}},
	{file: "foreach-concurrency", flow: "corpus-foreach", outputs: map[string]any{"acknowledged": 3.0}},
	{file: "local-steps", flow: "corpus-local", outputs: map[string]any{"orders": 3.0}},
	// The automatic fast path (engine/fastpath.go): a GET, a GET whose fast
	// attempt fails and continues as a regular activity, local: false, a
	// POST, and a POST marked idempotent.
	{file: "fast-path", flow: "corpus-fast", outputs: map[string]any{"orders": 3.0, "flaky": 2.0}},
	{file: "certificate-check", flow: "corpus-certcheck", checkCertificates: true, outputs: map[string]any{"subject": "CN=svc-outflow,O=Outflow Dev"}},
}

func TestReplayCorpus(t *testing.T) {
	const password = "corpus-pa55-value"
	t.Setenv("OUTFLOW_CORPUS_PASSWORD", password)
	ca, err := devpki.NewCA("Corpus Partner CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, err := ca.IssueServer("partner", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := ca.IssueClient("svc-outflow", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The example partner, with its paged lists beside it.
	api, pages := partner.New("svc-outflow", password), &partner.Pages{Total: 25}
	mux := http.NewServeMux()
	mux.Handle("/v2/pages/", pages.Handler())
	mux.Handle("/", api.Handler())
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	srv.StartTLS()
	defer srv.Close()

	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "ca.pem"), ca.CertPEM())
	if _, err := clientCert.WriteFiles(dir, "client"); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(dir, "flows.yaml"), []byte(fmt.Sprintf(corpusProject, srv.Listener.Addr().(*net.TCPAddr).Port)))
	proj, err := flows.Load(dir)
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	st, err := openStack(ctx, &globalFlags{namespace: "default"}, stackOptions{embedWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	for _, c := range corpusConstructs {
		t.Run(c.file, func(t *testing.T) {
			plan, err := proj.Plan(c.flow)
			if err != nil {
				t.Fatal(err)
			}
			if c.historyLimit > 0 {
				// Below what a project may set (flows refuses < 100), so that a
				// short run continues as new several times.
				plan.Settings.HistoryLimit = c.historyLimit
			}
			in := engine.RunInput{Plan: plan, CheckCertificates: c.checkCertificates, SearchAttributes: st.client.EnsureSearchAttributes(ctx)}
			run, err := st.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "corpus-" + c.file, TaskQueue: engine.DefaultTaskQueue},
				engine.WorkflowName, in)
			if err != nil {
				t.Fatal(err)
			}
			// The run's ID now: once waited for, it names the last run of a
			// chain of continue-as-new.
			firstRun := run.GetRunID()
			rec, err := st.client.Wait(ctx, run, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range c.outputs {
				if rec.Outputs[k] != want {
					t.Fatalf("outputs %v, want %s = %v", rec.Outputs, k, want)
				}
			}
			runs := runChain(t, st, run.GetID(), firstRun)
			hist := runs[0]
			if c.historyLimit > 0 {
				if len(runs) < 3 {
					t.Fatalf("the flow ran %d time(s); a history of a run that resumed and continued as new needs at least 3", len(runs))
				}
				hist = runs[1]
			}
			if c.checkCertificates && !hasActivity(hist, engine.CertCheckActivity) {
				t.Fatalf("the history has no %s activity", engine.CertCheckActivity)
			}
			if strings.Contains(historyText(t, hist), password) {
				t.Fatal("the partner's password is in the history")
			}
			// The fresh history replays with this code, as the committed one
			// must (engine's TestReplayCorpus).
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(engine.FlowWorkflow, workflow.RegisterOptions{Name: engine.WorkflowName})
			if err := r.ReplayWorkflowHistory(nil, hist); err != nil {
				t.Fatalf("a fresh history does not replay: %v", err)
			}
			committed := filepath.Join(replayCorpusDir, c.file+".json")
			if *recordHistory {
				recordNewHistory(t, committed, hist)
				return
			}
			if _, err := os.Stat(committed); err != nil {
				t.Fatalf("the replay corpus has no history of %s: record it with `go test ./cmd/outflow -run TestReplayCorpus -record-history` and commit it (%v)", c.file, err)
			}
		})
	}
}

// runChain returns the histories of a run and of the runs it continued as,
// in order.
func runChain(t *testing.T, st *stack, id, runID string) []*historypb.History {
	t.Helper()
	var out []*historypb.History
	for runID != "" && len(out) < 50 {
		h := fetchHistory(t, st, id, runID)
		out = append(out, h)
		runID = ""
		if evs := h.GetEvents(); len(evs) > 0 {
			last := evs[len(evs)-1]
			if last.GetEventType() == enums.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW {
				runID = last.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
			}
		}
	}
	return out
}

func hasActivity(h *historypb.History, name string) bool {
	for _, ev := range h.GetEvents() {
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == name {
			return true
		}
	}
	return false
}

// recordNewHistory writes h to file, which must not exist: a committed
// history is never rewritten, since executions recorded by older code must
// keep replaying. An existing file is kept and said so.
func recordNewHistory(t *testing.T, file string, h *historypb.History) {
	t.Helper()
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeNewFile(file, append(b, '\n')); err != nil {
		if errors.Is(err, fs.ErrExist) {
			t.Logf("%s exists and is never rewritten; to record another history of this construct, add a row with a new file name", file)
			return
		}
		t.Fatal(err)
	}
	t.Logf("recorded %s (%d events): commit it", file, len(h.GetEvents()))
}

// writeNewFile creates file with data, failing with fs.ErrExist when it is
// already there: O_EXCL, so no check-then-write race can rewrite it either.
func writeNewFile(file string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(file)
		return err
	}
	return f.Close()
}

// TestRecordNeverRewrites checks the recorder's one promise: an existing
// history file is left as it was.
func TestRecordNeverRewrites(t *testing.T) {
	file := filepath.Join(t.TempDir(), "replay", "x.json")
	if err := writeNewFile(file, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := writeNewFile(file, []byte("second")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second write: %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "first" {
		t.Fatalf("the file holds %q after a second recording", b)
	}
}
