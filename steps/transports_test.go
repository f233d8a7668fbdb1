package steps

import (
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/rest"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// mtlsPartner is a real TLS server; clientAuth says what it asks of clients.
func mtlsPartner(t *testing.T, ca *devpki.CA, clientAuth tls.ClientAuthType) (*httptest.Server, *engine.Connection) {
	t.Helper()
	srvCert, err := ca.IssueServer("partner", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: clientAuth, ClientCAs: ca.Pool()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return srv, &engine.Connection{Name: "partner", Scheme: "https", Host: host, Port: p, MutualAuth: true, ProtocolProfile: "mtls"}
}

// profileFor writes a client bundle issued by clientCA and the server's CA
// into a project folder and returns a profile using them.
func profileFor(t *testing.T, serverCA, clientCA *devpki.CA) (*engine.ProtocolProfile, string) {
	t.Helper()
	dir := t.TempDir()
	leaf, err := clientCA.IssueClient("svc-outflow", nil)
	if err != nil {
		t.Fatal(err)
	}
	files, err := leaf.WriteFiles(dir, "client")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), serverCA.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return &engine.ProtocolProfile{Name: "mtls", Keystore: &engine.Keystore{Path: filepath.Base(files.Bundle)},
		Truststore: &engine.Truststore{Paths: []string{"ca.pem"}}}, dir
}

func runStep(t *testing.T, tr *Transports, conn *engine.Connection, profile *engine.ProtocolProfile, dir string) (*engine.StepResult, error) {
	t.Helper()
	a := &rest.Activity{Secrets: tr.Secrets, Transports: tr}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(a.Execute, activity.RegisterOptions{Name: engine.RestActivity})
	v, err := env.ExecuteActivity(engine.RestActivity, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn, Profile: profile, ProjectRoot: dir}, Method: "GET", Path: "/x"})
	if err != nil {
		return nil, err
	}
	var res engine.StepResult
	return &res, v.Get(&res)
}

func TestStepOverMutualTLSRecordsFacts(t *testing.T) {
	ca, _ := devpki.NewCA("Partner CA", nil)
	_, conn := mtlsPartner(t, ca, tls.RequireAndVerifyClientCert)
	profile, dir := profileFor(t, ca, ca)
	tr := NewTransports(secrets.New(dir))
	for i := 0; i < 20; i++ {
		res, err := runStep(t, tr, conn, profile, dir)
		if err != nil {
			t.Fatal(err)
		}
		if res.TLS == nil || res.TLS.ClientCertificate == nil || !strings.Contains(res.TLS.ClientCertificate.Subject, "svc-outflow") || len(res.TLS.ServerChain) == 0 {
			t.Fatalf("TLS facts: %+v", res.TLS)
		}
		if (i == 0) != res.TLS.NewConnection {
			t.Fatalf("step %d: new connection = %v", i, res.TLS.NewConnection)
		}
	}
	if hs := tr.Cache.Handshakes(); hs.Full != 1 {
		t.Fatalf("20 steps made %d full handshakes, want 1", hs.Full)
	}
}

func TestStepErrorsDiagnoseTLS(t *testing.T) {
	partnerCA, _ := devpki.NewCA("Partner CA", nil)
	otherCA, _ := devpki.NewCA("Some Other CA", nil)
	for name, c := range map[string]struct {
		serverCA, clientCA, trustCA *devpki.CA
		auth                        tls.ClientAuthType
		want                        string
	}{
		"server rejects our certificate": {partnerCA, otherCA, partnerCA, tls.RequireAndVerifyClientCert, "reject"},
		"server not trusted":             {partnerCA, partnerCA, otherCA, tls.RequireAndVerifyClientCert, "trust"},
		"no client certificate asked":    {partnerCA, partnerCA, partnerCA, tls.NoClientCert, "did not ask"},
	} {
		t.Run(name, func(t *testing.T) {
			_, conn := mtlsPartner(t, c.serverCA, c.auth)
			profile, dir := profileFor(t, c.trustCA, c.clientCA)
			res, err := runStep(t, NewTransports(secrets.New(dir)), conn, profile, dir)
			if c.auth == tls.NoClientCert {
				// The call works, so the step succeeds; its TLS facts say what is wrong.
				if err != nil || res.TLS == nil || len(res.TLS.Notes) == 0 || !strings.Contains(res.TLS.Notes[0], c.want) {
					t.Fatalf("err = %v, facts = %+v", err, res.TLS)
				}
				return
			}
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) {
				t.Fatalf("err = %v", err)
			}
			if !strings.Contains(strings.ToLower(appErr.Error()), c.want) {
				t.Fatalf("error does not explain the cause (%q): %v", c.want, appErr.Error())
			}
		})
	}
}
