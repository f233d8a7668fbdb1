package steps

// Steps that run out of time against a real TLS partner that demands client
// certificates and stalls. Flows run in the Temporal SDK's workflow test
// environment with the real rest and soap activities, transports and
// keystores; the environment gives activities their start-to-close deadline
// in real time, as a server does.

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/wsdl"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/rest"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/soap"
	"github.com/outflow-dev/outflow/steps/soap/soaptest"
)

// stallPartner is a partner behind mutual TLS whose paths stall at a
// phase of the exchange, and a project folder with the client keystore and
// the trust store for it.
type stallPartner struct {
	ca      *devpki.CA
	url     string
	dir     string
	conn    *engine.Connection
	profile *engine.ProtocolProfile
	release chan struct{}
}

const bodyBeforeStall = 1000

func newStallPartner(t *testing.T) *stallPartner {
	t.Helper()
	ca, err := devpki.NewCA("Stall Partner CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, err := ca.IssueServer("partner", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.IssueClient("outflow", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &stallPartner{ca: ca, dir: t.TempDir(), release: make(chan struct{})}
	stall := func(r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-p.release:
		}
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/no-answer"):
			_, _ = io.Copy(io.Discard, r.Body)
			stall(r)
		case strings.HasSuffix(r.URL.Path, "/half-body"):
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "4000")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "["+strings.Repeat(" ", bodyBeforeStall-1))
			w.(http.Flusher).Flush()
			stall(r)
		default:
			_, _ = io.WriteString(w, `{"ok": true}`)
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(p.release) })
	p.url = srv.URL
	if err := os.WriteFile(filepath.Join(p.dir, "ca.pem"), ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := client.WriteFiles(p.dir, "client"); err != nil {
		t.Fatal(err)
	}
	p.conn = stallConn(t, srv.Listener.Addr().String())
	p.profile = &engine.ProtocolProfile{Name: "partner-mtls", Keystore: &engine.Keystore{Path: "client-bundle.pem"}, Truststore: &engine.Truststore{Paths: []string{"ca.pem"}}}
	return p
}

func stallConn(t *testing.T, addr string) *engine.Connection {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return &engine.Connection{Name: "partner", Scheme: "https", Host: host, Port: n, MutualAuth: true, ProtocolProfile: "partner-mtls"}
}

// handshakeStaller accepts TCP connections and never answers the TLS
// ClientHello.
func handshakeStaller(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// runStep runs a flow of the one step st against conn in the workflow test
// environment and returns the step's record.
func runStalledStep(t *testing.T, dir string, conn *engine.Connection, profile *engine.ProtocolProfile, st engine.Step) *engine.StepRecord {
	t.Helper()
	plan := &engine.Plan{
		Name: "stalls", Kind: "Flow", ProjectRoot: dir,
		Steps:       []engine.Step{st},
		Connections: map[string]*engine.Connection{conn.Name: conn},
		Profiles:    map[string]*engine.ProtocolProfile{profile.Name: profile},
	}
	tr := NewTransports(secrets.New(dir))
	t.Cleanup(func() { _ = tr.Close() })
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetTestTimeout(2 * time.Minute)
	// The step reports a tenth of its timeout before its deadline; on a
	// machine busy compiling, the test environment's own timeout check
	// could still fire first. What is tested is what the step reports,
	// not how fast: a grace period keeps the check from racing it.
	env.SetActivityTimeoutGracePeriod(5 * time.Second)
	env.RegisterWorkflowWithOptions(engine.FlowWorkflow, workflow.RegisterOptions{Name: engine.WorkflowName})
	env.RegisterActivityWithOptions((&rest.Activity{Secrets: tr.Secrets, Transports: tr, Identity: "test-worker"}).Execute, activity.RegisterOptions{Name: engine.RestActivity})
	env.RegisterActivityWithOptions((&soap.Activity{Secrets: tr.Secrets, Transports: tr, Identity: "test-worker"}).Execute, activity.RegisterOptions{Name: engine.SoapActivity})
	env.ExecuteWorkflow(engine.WorkflowName, engine.RunInput{Plan: plan})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var rec engine.Record
	err := env.GetWorkflowError()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != engine.ErrFlowFailed {
		t.Fatalf("flow error %v, want a failed flow", err)
	}
	if err := appErr.Details(&rec); err != nil {
		t.Fatal(err)
	}
	sr := rec.Step(st.ID)
	if sr == nil || sr.Error == nil {
		t.Fatalf("no failed step %q in the record: %+v", st.ID, rec.Steps)
	}
	return sr
}

// A step cut off by its timeout records what it sent and how far the
// exchange got, whatever phase the partner stalled in: the request goes
// out with a deadline inside the activity's, so the step itself reports,
// before Temporal's start-to-close timeout does with nothing but "timed
// out".
func TestTimedOutStepRecordsHowFarItGot(t *testing.T) {
	p := newStallPartner(t)
	stalledTLS := stallConn(t, handshakeStaller(t))
	const timeout = 2 * time.Second
	rest := func(conn *engine.Connection, method, path string) engine.Step {
		return engine.Step{ID: "call", Timeout: engine.Duration(timeout), Retry: &engine.RetryPolicy{MaxAttempts: 1},
			Rest: &engine.RestStep{Connection: conn.Name, Method: method, Path: path, Body: map[string]any{"order": "A-1"}}}
	}
	for _, tc := range []struct {
		name     string
		conn     *engine.Connection
		step     engine.Step
		url      string
		want     []string
		response bool
	}{
		{"TLS handshake", stalledTLS, rest(stalledTLS, "POST", "/orders"), "https://" + net.JoinHostPort(stalledTLS.Host, strconv.Itoa(stalledTLS.Port)) + "/orders",
			[]string{"connected to " + net.JoinHostPort(stalledTLS.Host, strconv.Itoa(stalledTLS.Port)), "the TLS handshake did not finish"}, false},
		{"response headers", p.conn, rest(p.conn, "POST", "/no-answer"), p.url + "/no-answer",
			[]string{"TLS handshake done", "request sent", "no response came"}, false},
		{"body", p.conn, rest(p.conn, "GET", "/half-body"), p.url + "/half-body",
			[]string{"TLS handshake done", "request sent", "response headers received (200 OK)", fmt.Sprintf("%d of 4000 bytes of the body read", bodyBeforeStall)}, true},
		{"SOAP response headers", p.conn, engine.Step{ID: "call", Timeout: engine.Duration(timeout), Retry: &engine.RetryPolicy{MaxAttempts: 1},
			Soap: &engine.SoapStep{Connection: p.conn.Name, Operation: "GetOrderStatus", Body: map[string]any{"OrderId": "1"}}}, p.url + "/soap/no-answer",
			[]string{"TLS handshake done", "request sent", "no response came"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.step.Soap != nil {
				conn := *tc.conn
				conn.BasePath = "/soap/no-answer"
				tc.conn = &conn
				tc.step.Soap.Definitions = ordersSubset(t)
			}
			sr := runStalledStep(t, p.dir, tc.conn, p.profile, tc.step)
			t.Logf("record: %s: %s", sr.Error.Type, sr.Error.Message)
			if sr.Error.Type != engine.ErrTimeout {
				t.Errorf("error type %s, want %s: %s", sr.Error.Type, engine.ErrTimeout, sr.Error.Message)
			}
			for _, want := range append([]string{tc.url, "timeout of 2s ran out"}, tc.want...) {
				if !strings.Contains(sr.Error.Message, want) {
					t.Errorf("the error does not say %q: %s", want, sr.Error.Message)
				}
			}
			if sr.Request == nil || sr.Request.URL != tc.url || !strings.Contains(sr.Request.Body, "A-1") && tc.step.Rest != nil && tc.step.Rest.Method == "POST" {
				t.Errorf("the record does not say what was sent: %+v", sr.Request)
			}
			if sr.Attempts != 1 || sr.Worker != "test-worker" {
				t.Errorf("attempts %d, worker %q", sr.Attempts, sr.Worker)
			}
			if tc.response {
				if sr.Response == nil || sr.Response.StatusCode != 200 || sr.Response.BodySize != bodyBeforeStall {
					t.Errorf("the record does not keep the response so far: %+v", sr.Response)
				}
			}
		})
	}
}

func ordersSubset(t *testing.T) *wsdl.Definitions {
	t.Helper()
	d, err := wsdl.Parse(soaptest.WSDL(""), nil)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := d.Subset("", "", "GetOrderStatus")
	if err != nil {
		t.Fatal(err)
	}
	return sub
}
