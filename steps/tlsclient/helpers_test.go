package tlsclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

const fixtures = "../keystore/testdata"

// partner is a test server that requires client certificates and records
// what it saw.
type partner struct {
	*httptest.Server
	ca       *devpki.CA // issued the server certificate
	caFile   string     // that CA as PEM, for the profile's truststore
	newConns atomic.Int64

	mu      sync.Mutex
	serials []string // client certificate serials, per request
}

type partnerOption func(*tls.Config, *partner)

func withClientAuth(a tls.ClientAuthType) partnerOption {
	return func(c *tls.Config, _ *partner) { c.ClientAuth = a }
}

func withClientCAs(pool *x509.CertPool) partnerOption {
	return func(c *tls.Config, _ *partner) { c.ClientCAs = pool }
}

func withMaxVersion(v uint16) partnerOption {
	return func(c *tls.Config, _ *partner) { c.MaxVersion = v }
}

// fixtureRoots trusts the root of the committed keystore fixtures.
func fixtureRoots(t testing.TB) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	b, err := os.ReadFile(filepath.Join(fixtures, "root-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(b)
	return pool
}

// newPartner starts a server whose certificate, from a fresh CA, is issued
// for hosts (default 127.0.0.1 and localhost), requiring client certificates
// from the fixture CA or from clientCA.
func newPartner(t testing.TB, clientCA *devpki.CA, hosts []string, serverOpts *devpki.Options, opts ...partnerOption) *partner {
	t.Helper()
	ca, err := devpki.NewCA("Partner Test CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	return newPartnerWithCA(t, ca, clientCA, hosts, serverOpts, opts...)
}

func newPartnerWithCA(t testing.TB, ca, clientCA *devpki.CA, hosts []string, serverOpts *devpki.Options, opts ...partnerOption) *partner {
	t.Helper()
	if hosts == nil {
		hosts = []string{"127.0.0.1", "localhost"}
	}
	leaf, err := ca.IssueServer("partner", hosts, serverOpts)
	if err != nil {
		t.Fatal(err)
	}
	p := &partner{ca: ca}
	p.caFile = writeFile(t, "partner-ca.pem", ca.CertPEM())
	clients := fixtureRoots(t)
	if clientCA != nil {
		clients.AddCert(clientCA.Root())
	}
	p.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			p.mu.Lock()
			p.serials = append(p.serials, r.TLS.PeerCertificates[0].SerialNumber.String())
			p.mu.Unlock()
			fmt.Fprintf(w, "hello %s", r.TLS.PeerCertificates[0].Subject.CommonName)
			return
		}
		http.Error(w, "no client certificate", http.StatusForbidden)
	}))
	p.TLS = &tls.Config{
		Certificates: []tls.Certificate{leaf.TLSCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clients,
	}
	for _, o := range opts {
		o(p.TLS, p)
	}
	p.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			p.newConns.Add(1)
		}
	}
	p.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are the point of many tests
	p.StartTLS()
	t.Cleanup(p.Close)
	return p
}

func (p *partner) lastSerial() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.serials) == 0 {
		return ""
	}
	return p.serials[len(p.serials)-1]
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func fixturePath(t testing.TB, name string) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// secrets resolves "env:NAME" style references from a map, the way the
// worker's resolver would from the environment.
func secrets(values map[string]string) SecretResolver {
	return func(_ context.Context, ref string) (string, error) {
		v, ok := values[ref]
		if !ok {
			return "", fmt.Errorf("secret %s is not set", ref)
		}
		return v, nil
	}
}

func ref(r string) *engine.SecretRef { return &engine.SecretRef{Ref: r} }

// mtlsProfile presents the keystore at path (password env:KS) and trusts p.
func mtlsProfile(p *partner, path string) *engine.ProtocolProfile {
	return &engine.ProtocolProfile{
		Name:       "partner-mtls",
		Keystore:   &engine.Keystore{Path: path, Password: ref("env:KS")},
		Truststore: &engine.Truststore{Paths: []string{p.caFile}},
	}
}

var defaultSecrets = secrets(map[string]string{"env:KS": "changeit", "env:KEY": "keypass1"})

// get makes one request through the cache's transport for profile and
// returns the body, the probe and the error (already diagnosed).
func get(t testing.TB, c *Cache, profile *engine.ProtocolProfile, url string) (string, *http.Response, *Probe, error) {
	t.Helper()
	tr, err := c.Transport(context.Background(), profile, "", defaultSecrets)
	if err != nil {
		return "", nil, nil, Diagnose(err, profile, nil)
	}
	ctx, probe := WithProbe(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", nil, probe, Diagnose(err, profile, probe)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", resp, probe, Diagnose(err, profile, probe)
	}
	return string(body), resp, probe, nil
}

// logBuffer captures a cache's log lines.
func logBuffer() (*slog.Logger, *syncBuffer) {
	b := &syncBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func newClient(tr *http.Transport) *http.Client { return &http.Client{Transport: tr} }

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
