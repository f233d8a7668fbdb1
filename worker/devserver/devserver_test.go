package devserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

var outflowAttrs = map[string]enumspb.IndexedValueType{
	"OutflowFlow":   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	"OutflowStatus": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func startServer(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("server on %s started in %v", s.FrontendAddress(), time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() { stopServer(t, s) })
	return s
}

func stopServer(t testing.TB, s *Server) {
	t.Helper()
	began := time.Now()
	if err := s.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	t.Logf("server on %s stopped in %v", s.FrontendAddress(), time.Since(began).Round(time.Millisecond))
}

func dial(t testing.TB, s *Server, tlsConf *tls.Config) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{
		HostPort:          s.FrontendAddress(),
		Namespace:         s.Namespace(),
		Logger:            quietSDKLogger(t),
		ConnectionOptions: client.ConnectionOptions{TLS: tlsConf},
	})
	if err != nil {
		t.Fatalf("dial %s: %v", s.FrontendAddress(), err)
	}
	t.Cleanup(c.Close)
	return c
}

func quietSDKLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func greet(_ context.Context, name string) (string, error) { return "hello " + name, nil }

func greetWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, greet, name).Get(ctx, &out)
	return out, err
}

func waitForSignalWorkflow(ctx workflow.Context) (string, error) {
	var got string
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &got)
	return "got " + got, nil
}

func runWorker(t testing.TB, c client.Client, queue string) worker.Worker {
	t.Helper()
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(greetWorkflow)
	w.RegisterWorkflow(waitForSignalWorkflow)
	w.RegisterWorkflow(sequenceWorkflow)
	w.RegisterActivity(greet)
	w.RegisterActivityWithOptions(step, activity.RegisterOptions{Name: "step"})
	if err := w.Start(); err != nil {
		t.Fatalf("worker: %v", err)
	}
	t.Cleanup(w.Stop)
	return w
}

func runGreet(t testing.TB, c client.Client, queue string, attrs temporal.SearchAttributes) client.WorkflowRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		TaskQueue:             queue,
		TypedSearchAttributes: attrs,
	}, greetWorkflow, "outflow")
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}
	var out string
	if err := run.Get(ctx, &out); err != nil {
		t.Fatalf("workflow: %v", err)
	}
	if out != "hello outflow" {
		t.Fatalf("workflow result = %q, want %q", out, "hello outflow")
	}
	return run
}

// eventually polls cond until it holds or a minute passes.
func eventually(t testing.TB, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: still not true after a minute (last error: %v)", what, lastErr)
}

func TestEphemeral(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{SearchAttributes: outflowAttrs})
	dbDir := filepath.Dir(s.DBPath())
	if s.UIAddress() != "" {
		t.Errorf("UIAddress = %q without a UI", s.UIAddress())
	}
	if s.Namespace() != "default" {
		t.Errorf("Namespace = %q, want default", s.Namespace())
	}

	c := dial(t, s, nil)
	w := runWorker(t, c, "q")
	run := runGreet(t, c, "q", temporal.NewSearchAttributes(
		temporal.NewSearchAttributeKeyKeyword("OutflowFlow").ValueSet("x"),
		temporal.NewSearchAttributeKeyKeyword("OutflowStatus").ValueSet("done"),
	))
	runGreet(t, c, "q", temporal.NewSearchAttributes(temporal.NewSearchAttributeKeyKeyword("OutflowFlow").ValueSet("y")))

	// Visibility is written asynchronously after the workflow closes.
	eventually(t, `list OutflowFlow = "x"`, func() (bool, error) {
		resp, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: `OutflowFlow = "x" AND ExecutionStatus = "Completed"`,
		})
		if err != nil {
			return false, err
		}
		if n := len(resp.GetExecutions()); n != 1 {
			return false, fmt.Errorf("%d executions", n)
		}
		return resp.GetExecutions()[0].GetExecution().GetRunId() == run.GetRunID(), nil
	})

	w.Stop()
	c.Close()
	stopServer(t, s)
	if _, err := os.Stat(dbDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ephemeral database directory %s still there after Stop (%v)", dbDir, err)
	}
}

func TestPersistence(t *testing.T) {
	t.Parallel()
	dbPath := filepath.Join(t.TempDir(), "state", "dev.db")
	opts := Options{DBPath: dbPath, SearchAttributes: outflowAttrs, Logger: testLogger(t)}

	s := startServer(t, opts)
	if err := func() error {
		_, err := Start(context.Background(), Options{DBPath: dbPath, Logger: testLogger(t)})
		if err == nil {
			return errors.New("a second server on the same database started")
		}
		t.Logf("second server on the same database: %v", err)
		return nil
	}(); err != nil {
		t.Fatal(err)
	}

	c := dial(t, s, nil)
	w := worker.New(c, "q", worker.Options{})
	w.RegisterWorkflow(waitForSignalWorkflow)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID:        "survivor",
		TaskQueue: "q",
	}, waitForSignalWorkflow)
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}
	// Let the workflow block on the signal, so that the restart has to bring
	// back a workflow in the middle of its code, not just a queued task.
	eventually(t, "first workflow task completed", func() (bool, error) {
		iter := c.GetWorkflowHistory(context.Background(), "survivor", run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				return false, err
			}
			if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
				return true, nil
			}
		}
		return false, nil
	})
	w.Stop()
	c.Close()
	stopServer(t, s)

	// Same file, new ports, and one more search attribute: the namespace
	// exists now, so it has to be added through the running server.
	opts.SearchAttributes = map[string]enumspb.IndexedValueType{
		"OutflowFlow":  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"OutflowRunNo": enumspb.INDEXED_VALUE_TYPE_INT,
	}
	s = startServer(t, opts)
	c = dial(t, s, nil)
	w = runWorker(t, c, "q")
	if err := c.SignalWorkflow(context.Background(), "survivor", run.GetRunID(), "go", "again"); err != nil {
		t.Fatalf("signal after restart: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out string
	if err := c.GetWorkflow(ctx, "survivor", run.GetRunID()).Get(ctx, &out); err != nil {
		t.Fatalf("workflow after restart: %v", err)
	}
	if out != "got again" {
		t.Fatalf("result = %q, want %q", out, "got again")
	}

	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: s.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	for name, typ := range map[string]enumspb.IndexedValueType{
		"OutflowFlow":   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"OutflowStatus": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"OutflowRunNo":  enumspb.INDEXED_VALUE_TYPE_INT,
	} {
		if got := resp.GetCustomAttributes()[name]; got != typ {
			t.Errorf("search attribute %s: type %v, want %v", name, got, typ)
		}
	}
	runGreet(t, c, "q", temporal.NewSearchAttributes(temporal.NewSearchAttributeKeyInt64("OutflowRunNo").ValueSet(2)))
	w.Stop()
	c.Close()
	stopServer(t, s)

	opts.SearchAttributes = map[string]enumspb.IndexedValueType{"OutflowRunNo": enumspb.INDEXED_VALUE_TYPE_KEYWORD}
	_, err = Start(context.Background(), opts)
	if err == nil || !strings.Contains(err.Error(), "OutflowRunNo") {
		t.Fatalf("Start with a search attribute of another type: err = %v, want one naming OutflowRunNo", err)
	}
	t.Logf("search attribute of another type: %v", err)
}

func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pki := newTestPKI(t, dir)
	s := startServer(t, Options{
		TLS: &TLSOptions{
			CertFile:          pki.serverCert,
			KeyFile:           pki.serverKey,
			ClientCAFile:      pki.caFile,
			RequireClientCert: true,
		},
		UIPort: -1,
	})

	withCert := &tls.Config{RootCAs: pki.roots, Certificates: []tls.Certificate{pki.client}, ServerName: "localhost"}
	c := dial(t, s, withCert)
	runWorker(t, c, "q")
	runGreet(t, c, "q", temporal.SearchAttributes{})

	// The UI reaches the server without a client certificate.
	eventually(t, "UI lists namespaces", func() (bool, error) {
		status, body, err := httpGet(s.UIAddress() + "/api/v1/namespaces")
		return status == http.StatusOK && strings.Contains(body, `"default"`), fmt.Errorf("%d %s %v", status, body, err)
	})

	noCert := &tls.Config{RootCAs: pki.roots, ServerName: "localhost"}
	_, err := client.Dial(client.Options{
		HostPort:          s.FrontendAddress(),
		Namespace:         s.Namespace(),
		Logger:            quietSDKLogger(t),
		ConnectionOptions: client.ConnectionOptions{TLS: noCert},
	})
	if err == nil {
		t.Fatal("client without a certificate connected")
	}
	t.Logf("without a client certificate: %v", err)

	_, err = client.Dial(client.Options{HostPort: s.FrontendAddress(), Namespace: s.Namespace(), Logger: quietSDKLogger(t)})
	if err == nil {
		t.Fatal("plaintext client connected to the TLS frontend")
	}
}

func TestUI(t *testing.T) {
	t.Parallel()
	s := startServer(t, Options{UIPort: -1, Namespace: "outflow", UICodecEndpoint: "http://127.0.0.1:8081"})
	if !strings.HasPrefix(s.UIAddress(), "http://127.0.0.1:") {
		t.Fatalf("UIAddress = %q", s.UIAddress())
	}
	status, body, err := httpGet(s.UIAddress() + "/")
	if err != nil || status != http.StatusOK || !strings.Contains(strings.ToLower(body), "<html") {
		t.Fatalf("GET /: %d %v %.200s", status, err, body)
	}
	eventually(t, "UI API answers", func() (bool, error) {
		status, body, err := httpGet(s.UIAddress() + "/api/v1/namespaces/outflow")
		return status == http.StatusOK, fmt.Errorf("%d %.200s %v", status, body, err)
	})
	// The UI learns where to decode encrypted payloads from its settings.
	if status, body, err := httpGet(s.UIAddress() + "/api/v1/settings"); err != nil || status != http.StatusOK || !strings.Contains(body, `"Endpoint":"http://127.0.0.1:8081"`) {
		t.Fatalf("settings: %d %v %.300s", status, err, body)
	}
	addr := strings.TrimPrefix(s.UIAddress(), "http://")
	stopServer(t, s)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("UI still accepts connections on %s after Stop", addr)
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port

	readOnly := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(readOnly, 0o500); err != nil {
		t.Fatal(err)
	}
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"frontend port in use", Options{Port: taken}, "frontend port " + strconv.Itoa(taken)},
		{"UI port in use", Options{UIPort: taken}, "UI port " + strconv.Itoa(taken)},
		{"bad log level", Options{LogLevel: "loud"}, "log level"},
		{"missing TLS key", Options{TLS: &TLSOptions{CertFile: "nope.pem", KeyFile: "nope.key"}}, "TLS server certificate"},
		{"mTLS without CA", Options{TLS: &TLSOptions{CertFile: "a", KeyFile: "b", RequireClientCert: true}}, "ClientCAFile"},
		{"database under a file", Options{DBPath: filepath.Join(notADir, "dev.db")}, "database directory"},
	}
	if os.Geteuid() != 0 { // root writes anywhere
		cases = append(cases, struct {
			name string
			opts Options
			want string
		}{"database not writable", Options{DBPath: filepath.Join(readOnly, "dev.db")}, "dev.db"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Logger = testLogger(t)
			began := time.Now()
			s, err := Start(context.Background(), tc.opts)
			if err == nil {
				s.Stop()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			if d := time.Since(began); d > 5*time.Second {
				t.Errorf("failing took %v", d)
			}
		})
	}

	t.Run("canceled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Start(ctx, Options{Logger: testLogger(t)}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("context ends while starting", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		began := time.Now()
		s, err := Start(ctx, Options{Logger: testLogger(t)})
		if err == nil {
			// A fast machine may finish first; that is not a failure.
			s.Stop()
			t.Skip("server started within the deadline")
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		t.Logf("returned after %v", time.Since(began).Round(time.Millisecond))
	})
}

func httpGet(url string) (int, string, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

type testPKI struct {
	caFile, serverCert, serverKey string
	roots                         *x509.CertPool
	client                        tls.Certificate
}

// newTestPKI writes a CA, a server certificate for localhost/127.0.0.1 and
// keeps a client certificate in memory, all signed by the CA.
func newTestPKI(t testing.TB, dir string) testPKI {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(0)
	issue := func(tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) *x509.Certificate {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore = time.Now().Add(-time.Hour)
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert
	}
	writePEM := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}

	caKey := newKey()
	ca := issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "outflow test CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, caKey, nil, nil)

	serverKey := newKey()
	server := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, serverKey, ca, caKey)

	clientKey := newKey()
	clientCert := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "outflow worker"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, clientKey, ca, caKey)

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return testPKI{
		caFile:     writePEM("ca.pem", "CERTIFICATE", ca.Raw),
		serverCert: writePEM("server.pem", "CERTIFICATE", server.Raw),
		serverKey:  writePEM("server-key.pem", "PRIVATE KEY", keyDER(serverKey)),
		roots:      roots,
		client:     tls.Certificate{Certificate: [][]byte{clientCert.Raw}, PrivateKey: clientKey, Leaf: clientCert},
	}
}

// step is one link of sequenceWorkflow.
func step(_ context.Context, i int) (int, error) { return i + 1, nil }

// sequenceWorkflow runs n activities one after another, the shape of a flow
// whose steps depend on each other.
func sequenceWorkflow(ctx workflow.Context, n int) (int, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	v := 0
	for range n {
		if err := workflow.ExecuteActivity(ctx, "step", v).Get(ctx, &v); err != nil {
			return 0, err
		}
	}
	return v, nil
}

// BenchmarkSequentialActivities reports the time per activity of workflows
// that run activities one after another, by workflow length: the cost of one
// step of a flow, and whether it grows with history.
func BenchmarkSequentialActivities(b *testing.B) {
	s := startServer(b, Options{})
	c := dial(b, s, nil)
	runWorker(b, c, "bench")
	for _, n := range []int{10, 50, 200} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			for b.Loop() {
				run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{TaskQueue: "bench"}, sequenceWorkflow, n)
				if err != nil {
					b.Fatal(err)
				}
				var got int
				if err := run.Get(context.Background(), &got); err != nil || got != n {
					b.Fatalf("got %d, %v", got, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*n), "ms/activity")
		})
	}
}
