package secrets

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

// certEcho is a TLS server that requires a client certificate issued under
// root and answers with its common name.
func certEcho(t *testing.T, root *devpki.CA) (*httptest.Server, string) {
	t.Helper()
	srvCert, err := root.IssueServer("echo", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: root.Pool()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(caFile, root.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv, caFile
}

// whoAmI makes a new connection (so a new handshake) and returns the
// common name the server saw.
func whoAmI(t *testing.T, cfg *tls.Config, url string) string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// messyBundle is a PEM bundle as people assemble them by hand on Windows:
// root first, a PKCS#1 key in the middle, the leaf last, CRLF line endings.
func messyBundle(t *testing.T, leaf *devpki.Leaf) []byte {
	t.Helper()
	var b []byte
	pemBlock := func(typ string, der []byte) { b = append(b, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})...) }
	for i := len(leaf.Issuers) - 1; i >= 0; i-- {
		pemBlock("CERTIFICATE", leaf.Issuers[i].Raw)
		if i == len(leaf.Issuers)-1 {
			pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(leaf.Key.(*rsa.PrivateKey)))
		}
	}
	pemBlock("CERTIFICATE", leaf.Cert.Raw)
	return []byte(strings.ReplaceAll(string(b), "\n", "\r\n"))
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	// Write beside and rename, as deployment tools do, so a reader never
	// sees half a file; the new modification time marks the change.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestClientTLSConfigReadsBundlesAndReloadsRotatedFiles(t *testing.T) {
	root, err := devpki.NewCA("Temporal Test Root", nil)
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.NewIntermediate("Temporal Test Intermediate", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, caFile := certEcho(t, root)
	first, err := inter.IssueClient("agent-1", &devpki.Options{RSA: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bundle := filepath.Join(dir, "agent-bundle.pem")
	writeFile(t, bundle, messyBundle(t, first))

	cfg, problems, err := (&ClientTLS{Keystore: bundle, CA: []string{caFile}}).Config()
	if err != nil {
		t.Fatalf("a bundle in any order with CRLF and a PKCS#1 key: %v", err)
	}
	for _, p := range problems {
		t.Logf("problem reported: %s: %s", p.Code, p.Message)
	}
	if got := whoAmI(t, cfg, srv.URL); got != "agent-1" {
		t.Fatalf("server saw %q, want agent-1", got)
	}

	// Renewal: a new certificate replaces the file; the next handshake
	// presents it, with no new Config.
	renewed, _ := inter.IssueClient("agent-1-renewed", nil)
	b, _ := renewed.BundlePEM()
	writeFile(t, bundle, b)
	if got := whoAmI(t, cfg, srv.URL); got != "agent-1-renewed" {
		t.Fatalf("after rotation the server saw %q, want agent-1-renewed", got)
	}

	// A broken replacement keeps the last good certificate in use.
	writeFile(t, bundle, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"))
	if got := whoAmI(t, cfg, srv.URL); got != "agent-1-renewed" {
		t.Fatalf("after a broken write the server saw %q, want the previous certificate", got)
	}

	// Separate certificate and key files rotate the same way.
	certFile, keyFile := filepath.Join(dir, "agent.crt"), filepath.Join(dir, "agent.key")
	writeFile(t, certFile, renewed.CertPEM())
	k, _ := renewed.KeyPEM()
	writeFile(t, keyFile, k)
	pair, _, err := (&ClientTLS{Cert: certFile, Key: keyFile, CA: []string{caFile}}).Config()
	if err != nil {
		t.Fatal(err)
	}
	if got := whoAmI(t, pair, srv.URL); got != "agent-1-renewed" {
		t.Fatalf("cert and key files: server saw %q", got)
	}
	third, _ := inter.IssueClient("agent-third", nil)
	writeFile(t, certFile, third.CertPEM())
	k, _ = third.KeyPEM()
	writeFile(t, keyFile, k)
	if got := whoAmI(t, pair, srv.URL); got != "agent-third" {
		t.Fatalf("after rotating cert and key files the server saw %q", got)
	}
}

func TestClientTLSConfigRefusesUnusableFiles(t *testing.T) {
	root, _ := devpki.NewCA("Test Root", nil)
	dir := t.TempDir()
	expired, _ := root.IssueClient("old", &devpki.Options{NotBefore: time.Now().Add(-48 * time.Hour), Validity: time.Hour})
	b, _ := expired.BundlePEM()
	old := filepath.Join(dir, "old.pem")
	writeFile(t, old, b)
	trust := filepath.Join(dir, "trust.pem")
	writeFile(t, trust, root.CertPEM())
	for _, c := range []struct {
		name string
		tls  ClientTLS
		want string
	}{
		{"expired", ClientTLS{Keystore: old}, "expired"},
		{"only trusted certificates", ClientTLS{Keystore: trust}, "no private key"},
		{"cert without key", ClientTLS{Cert: old}, "cert and key go together"},
		{"both forms", ClientTLS{Keystore: old, Cert: old, Key: old}, "not both"},
		{"missing file", ClientTLS{Keystore: filepath.Join(dir, "nope.pem")}, "no such file"},
		{"CA file without certificates", ClientTLS{CA: []string{filepath.Join(dir, "nope.pem")}}, "reading CA file"},
	} {
		_, _, err := c.tls.Config()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}
