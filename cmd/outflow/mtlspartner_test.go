package main

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

// mtlsPKI is a throwaway CA with a server certificate for 127.0.0.1 and a
// client certificate, for tests that run a partner demanding client
// certificates and a project that calls it.
type mtlsPKI struct {
	ca             *devpki.CA
	server, client *devpki.Leaf
}

func newMTLSPKI(t *testing.T, caName, clientName string) *mtlsPKI {
	t.Helper()
	ca, err := devpki.NewCA(caName, nil)
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.IssueServer("partner", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.IssueClient(clientName, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &mtlsPKI{ca: ca, server: server, client: client}
}

// serve starts h over TLS, requiring a client certificate of the CA; it is
// closed when the test ends.
func (k *mtlsPKI) serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{k.server.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: k.ca.Pool()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// project writes a project folder holding the CA (ca.pem), the client's
// certificate and key (client.*) and files (name to content), loads it and
// returns the folder and the plan of flow.
func (k *mtlsPKI) project(t *testing.T, files map[string]string, flow string) (string, *engine.Plan) {
	t.Helper()
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "ca.pem"), k.ca.CertPEM())
	if _, err := k.client.WriteFiles(dir, "client"); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		writeTestFile(t, filepath.Join(dir, name), []byte(text))
	}
	proj, err := flows.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := proj.Plan(flow)
	if err != nil {
		t.Fatal(err)
	}
	return dir, plan
}
