package steps

// TLS failures that the same request meets again on every attempt fail the
// step at once with their diagnosis; handshakes cut short by the network
// stay retryable. Real TLS servers, real keystores, the rest and soap
// activities.

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/rest"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/soap"
)

// tlsWorld is a project folder with a client keystore (issued by clientCA)
// and a trust store, and the profile that uses them.
type tlsWorld struct {
	serverCA, clientCA *devpki.CA
	dir                string
	profile            *engine.ProtocolProfile
}

func newTLSWorld(t *testing.T) *tlsWorld {
	t.Helper()
	w := &tlsWorld{dir: t.TempDir()}
	var err error
	if w.serverCA, err = devpki.NewCA("Partner Server CA", nil); err != nil {
		t.Fatal(err)
	}
	if w.clientCA, err = devpki.NewCA("Our Client CA", nil); err != nil {
		t.Fatal(err)
	}
	client, err := w.clientCA.IssueClient("svc-outflow", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.WriteFiles(w.dir, "client"); err != nil {
		t.Fatal(err)
	}
	// A certificate for servers only: a server checking client certificates
	// refuses it (bad_certificate).
	serverOnly, err := w.clientCA.IssueServer("svc-outflow", []string{"svc.example"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serverOnly.WriteFiles(w.dir, "server-only"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "partner-ca.pem"), w.serverCA.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	w.profile = &engine.ProtocolProfile{Name: "partner-mtls", Keystore: &engine.Keystore{Path: "client-bundle.pem"}, Truststore: &engine.Truststore{Paths: []string{"partner-ca.pem"}}}
	return w
}

// partner starts a TLS server with a certificate of ca for hosts, asking
// for client certificates of clientCAs, and returns the connection to it.
func (w *tlsWorld) partner(t *testing.T, ca *devpki.CA, hosts []string, clientCAs *x509.CertPool, maxVersion uint16) *engine.Connection {
	t.Helper()
	cert, err := ca.IssueServer("partner", hosts, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs, MaxVersion: maxVersion}
	// The refused handshakes are what the test is about.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return stallConn(t, srv.Listener.Addr().String())
}

func (w *tlsWorld) rest(t *testing.T, conn *engine.Connection, profile *engine.ProtocolProfile) error {
	t.Helper()
	tr := NewTransports(secrets.New(w.dir))
	t.Cleanup(func() { _ = tr.Close() })
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions((&rest.Activity{Secrets: tr.Secrets, Transports: tr}).Execute, activity.RegisterOptions{Name: engine.RestActivity})
	_, err := env.ExecuteActivity(engine.RestActivity, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn, Profile: profile, ProjectRoot: w.dir}, Method: "GET", Path: "/accounts"})
	return err
}

func (w *tlsWorld) soap(t *testing.T, conn *engine.Connection, profile *engine.ProtocolProfile) error {
	t.Helper()
	tr := NewTransports(secrets.New(w.dir))
	t.Cleanup(func() { _ = tr.Close() })
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions((&soap.Activity{Secrets: tr.Secrets, Transports: tr}).Execute, activity.RegisterOptions{Name: engine.SoapActivity})
	_, err := env.ExecuteActivity(engine.SoapActivity, &engine.SoapRequest{CallHeader: engine.CallHeader{Connection: conn, Profile: profile, ProjectRoot: w.dir},
		Definitions: ordersSubset(t), Operation: "GetOrderStatus", Body: map[string]any{"OrderId": "1"}})
	return err
}

func failure(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("err = %v, want a step failure", err)
	}
	return appErr
}

func TestDeterministicTLSFailuresAreNotRetried(t *testing.T) {
	w := newTLSWorld(t)
	otherCA, err := devpki.NewCA("Someone Else's CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	serverOnly := *w.profile
	serverOnly.Keystore = &engine.Keystore{Path: "server-only-bundle.pem"}
	noKeystore := *w.profile
	noKeystore.Keystore = nil
	for _, tc := range []struct {
		name    string
		conn    *engine.Connection
		profile *engine.ProtocolProfile
		want    []string
	}{
		{"server certificate not trusted", w.partner(t, otherCA, []string{"127.0.0.1"}, w.clientCA.Pool(), 0), w.profile,
			[]string{"issued by CN=Someone Else's CA", "not trusted", "truststore.paths"}},
		{"host name mismatch", w.partner(t, w.serverCA, []string{"partner.example"}, w.clientCA.Pool(), 0), w.profile,
			[]string{"the server's certificate is for partner.example", "server_name"}},
		{"client certificate refused: unknown_ca", w.partner(t, w.serverCA, []string{"127.0.0.1"}, otherCA.Pool(), tls.VersionTLS12), w.profile,
			[]string{"rejected our client certificate (TLS alert unknown_ca)", "CN=svc-outflow"}},
		{"client certificate refused: bad_certificate", w.partner(t, w.serverCA, []string{"127.0.0.1"}, w.clientCA.Pool(), tls.VersionTLS12), &serverOnly,
			[]string{"rejected our client certificate (TLS alert bad_certificate)"}},
		{"no client certificate configured", w.partner(t, w.serverCA, []string{"127.0.0.1"}, w.clientCA.Pool(), tls.VersionTLS12), &noKeystore,
			[]string{"requires a client certificate", "has no keystore"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			appErr := failure(t, w.rest(t, tc.conn, tc.profile))
			if appErr.Type() != engine.ErrTLSHandshake || !appErr.NonRetryable() {
				t.Errorf("type %s, non-retryable %v; want a non-retryable %s: %v", appErr.Type(), appErr.NonRetryable(), engine.ErrTLSHandshake, appErr)
			}
			for _, want := range tc.want {
				if !strings.Contains(appErr.Error(), want) {
					t.Errorf("the diagnosis does not say %q: %v", want, appErr)
				}
			}
		})
	}
	t.Run("SOAP: server certificate not trusted", func(t *testing.T) {
		conn := w.partner(t, otherCA, []string{"127.0.0.1"}, w.clientCA.Pool(), 0)
		appErr := failure(t, w.soap(t, conn, w.profile))
		if appErr.Type() != engine.ErrTLSHandshake || !appErr.NonRetryable() || !strings.Contains(appErr.Error(), "issued by CN=Someone Else's CA") {
			t.Errorf("type %s, non-retryable %v: %v", appErr.Type(), appErr.NonRetryable(), appErr)
		}
	})
	t.Run("TLS 1.3 refusal", func(t *testing.T) {
		// Under TLS 1.3 the server's alert arrives after the client's side
		// of the handshake, and is often lost when the server resets the
		// connection: without the alert, the refusal is inferred from a
		// reset, which stays retryable like any reset.
		conn := w.partner(t, w.serverCA, []string{"127.0.0.1"}, otherCA.Pool(), tls.VersionTLS13)
		appErr := failure(t, w.rest(t, conn, w.profile))
		alert := strings.Contains(appErr.Error(), "TLS alert")
		if appErr.Type() != engine.ErrTLSHandshake || appErr.NonRetryable() != alert {
			t.Errorf("type %s, non-retryable %v, alert received %v: %v", appErr.Type(), appErr.NonRetryable(), alert, appErr)
		}
	})
}

// resetting accepts connections and resets them at once.
func resetting(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.(*net.TCPConn).SetLinger(0)
			// Wait for the ClientHello, so the reset hits the handshake.
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _ = c.Read(make([]byte, 1))
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l.Addr().String()
}

func TestResetHandshakeIsRetried(t *testing.T) {
	w := newTLSWorld(t)
	appErr := failure(t, w.rest(t, stallConn(t, resetting(t)), w.profile))
	if appErr.NonRetryable() || appErr.Type() == engine.ErrConfig || appErr.Type() == engine.ErrCertificate {
		t.Fatalf("type %s, non-retryable %v: %v; want a retryable failure", appErr.Type(), appErr.NonRetryable(), appErr)
	}
	t.Logf("%s: %v", appErr.Type(), appErr)
}

// With the default retry policy (five attempts), an untrusted server
// certificate fails the step on its first attempt.
func TestUntrustedServerFailsOnFirstAttempt(t *testing.T) {
	w := newTLSWorld(t)
	otherCA, err := devpki.NewCA("Someone Else's CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	conn := w.partner(t, otherCA, []string{"127.0.0.1"}, w.clientCA.Pool(), 0)
	sr := runStalledStep(t, w.dir, conn, w.profile, engine.Step{ID: "call", Rest: &engine.RestStep{Connection: conn.Name, Method: "GET", Path: "/accounts"}})
	if sr.Attempts != 1 || sr.Error.Type != engine.ErrTLSHandshake || !strings.Contains(sr.Error.Message, "not trusted") {
		t.Fatalf("attempts %d, error %s: %s", sr.Attempts, sr.Error.Type, sr.Error.Message)
	}
}
