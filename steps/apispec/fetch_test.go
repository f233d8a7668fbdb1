package apispec_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/openapi"
	"github.com/outflow-dev/outflow/engine/openapi/reader"
	"github.com/outflow-dev/outflow/steps"
	"github.com/outflow-dev/outflow/steps/apispec"
	"github.com/outflow-dev/outflow/steps/doccache"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/secrets"
)

const rootDoc = `openapi: 3.0.3
info: {title: orders, version: "1"}
paths:
  /orders/{id}:
    get:
      operationId: getOrder
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: the order
          content: {application/json: {schema: {$ref: 'schemas/order.yaml'}}}
`

const orderDoc = `type: object
required: [id, status]
properties:
  id: {type: string}
  status: {type: string, enum: [open, shipped]}
`

// partner serves a description split over two documents over TLS that
// requires a client certificate issued by ca, behind basic auth.
type partner struct {
	srv  *httptest.Server
	conn *engine.Connection
	mu   sync.Mutex
	gets []string // paths requested, with the client certificate's CN
}

func newPartner(t *testing.T, ca *devpki.CA) *partner {
	t.Helper()
	p := &partner{}
	srvCert, err := ca.IssueServer("partner", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := ""
		if len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		p.mu.Lock()
		p.gets = append(p.gets, r.URL.Path+" "+cn)
		p.mu.Unlock()
		if u, pw, ok := r.BasicAuth(); !ok || u != "svc" || pw != "spec-secret-pw" {
			http.Error(w, "authentication required for the API description", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/api/openapi.yaml":
			w.Header().Set("Content-Type", "application/yaml")
			_, _ = w.Write([]byte(rootDoc))
		case "/api/schemas/order.yaml":
			_, _ = w.Write([]byte(orderDoc))
		case "/api/login":
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<!doctype html><title>Sign in</title>"))
		case "/api/moved":
			http.Redirect(w, r, "https://cdn.elsewhere.example/openapi.yaml?sig=abc", http.StatusFound)
		default:
			http.Error(w, "no such document", http.StatusNotFound)
		}
	}))
	p.srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	host, port, _ := net.SplitHostPort(p.srv.Listener.Addr().String())
	n, _ := strconv.Atoi(port)
	p.conn = &engine.Connection{Name: "partner", Scheme: "https", Host: host, Port: n, MutualAuth: true, ProtocolProfile: "mtls",
		Credential: &engine.Credential{Type: "basic", Username: "svc", Password: &engine.SecretRef{Ref: "env:OUTFLOW_TEST_SPEC_PW"}}}
	return p
}

func (p *partner) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.gets...)
}

// profileFor writes a client certificate from clientCA and the server's
// CA into a project folder, and returns the profile that names them.
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

// parseThrough reads the description at u with every document fetched by f.
func parseThrough(f *doccache.Fetcher, conn *engine.Connection, profile *engine.ProtocolProfile, u string) (*openapi.Spec, error) {
	read := func(loc string) ([]byte, error) { return f.Fetch(context.Background(), conn, profile, loc) }
	data, err := read(u)
	if err != nil {
		return nil, err
	}
	return reader.Parse(u, data, read)
}

func TestFetchOverMutualTLSThenOffline(t *testing.T) {
	t.Setenv("OUTFLOW_TEST_SPEC_PW", "spec-secret-pw")
	ca, _ := devpki.NewCA("Partner CA", nil)
	p := newPartner(t, ca)
	profile, dir := profileFor(t, ca, ca)
	cache := filepath.Join(dir, openapi.CacheDir)
	res := secrets.New(dir)
	newFetcher := func(refresh bool) *doccache.Fetcher {
		return &doccache.Fetcher{Kind: apispec.Documents, Transports: steps.NewTransports(res), Secrets: res, BaseDir: dir, Dir: cache, Refresh: refresh}
	}
	u := p.srv.URL + "/api/openapi.yaml"

	spec, err := parseThrough(newFetcher(false), p.conn, profile, u)
	if err != nil {
		t.Fatal(err)
	}
	check := func(spec *openapi.Spec) {
		t.Helper()
		ops := spec.Ops("getOrder")
		if len(ops) != 1 || len(spec.Defects) != 0 {
			t.Fatalf("operations %v, defects %v", spec.Operations, spec.Defects)
		}
		// The schema came from the second document.
		if ms := openapi.Check(spec.Schemas, ops[0].Responses[0].Schema, map[string]any{"id": "1", "status": "lost"}, openapi.Options{Dir: openapi.ResponseDir}); len(ms) != 1 {
			t.Fatalf("the referenced schema was not read: %v", ms)
		}
	}
	check(spec)
	got := p.requests()
	if len(got) != 2 || got[0] != "/api/openapi.yaml svc-outflow" || got[1] != "/api/schemas/order.yaml svc-outflow" {
		t.Fatalf("partner saw %v; want both documents, once each, with our client certificate", got)
	}
	cached, err := apispec.ListCache(cache)
	if err != nil || len(cached) != 2 {
		t.Fatalf("cache holds %d documents (%v), want 2", len(cached), err)
	}
	for _, c := range cached {
		b, err := os.ReadFile(c.File)
		if err != nil || len(b) != c.Size || c.Connection != "partner" || c.FetchedAt.IsZero() || !strings.HasPrefix(c.URL, p.srv.URL+"/api/") {
			t.Fatalf("cached %+v: %d bytes, %v", c, len(b), err)
		}
		if strings.Contains(string(b), "spec-secret-pw") {
			t.Fatal("the credential reached the cache")
		}
	}

	// Offline: the partner is gone, the cache answers.
	p.srv.Close()
	spec, err = parseThrough(newFetcher(false), p.conn, profile, u)
	if err != nil {
		t.Fatalf("reading from the cache: %v", err)
	}
	check(spec)
	if n := len(p.requests()); n != 2 {
		t.Fatalf("the cached read made %d more requests", n-2)
	}
	// A refresh goes to the partner, and says why it cannot.
	if _, err := parseThrough(newFetcher(true), p.conn, profile, u); err == nil || !strings.Contains(err.Error(), "fetching the OpenAPI document through connection partner") {
		t.Fatalf("refresh with the partner down: %v", err)
	}
}

func TestFetchErrors(t *testing.T) {
	t.Setenv("OUTFLOW_TEST_SPEC_PW", "spec-secret-pw")
	t.Setenv("OUTFLOW_TEST_SPEC_WRONG", "not-it")
	ca, _ := devpki.NewCA("Partner CA", nil)
	otherCA, _ := devpki.NewCA("Some Other CA", nil)
	p := newPartner(t, ca)
	profile, dir := profileFor(t, ca, ca)
	untrusted, untrustedDir := profileFor(t, ca, otherCA)
	res := secrets.New(dir)
	wrongPW := *p.conn
	wrongPW.Credential = &engine.Credential{Type: "basic", Username: "svc", Password: &engine.SecretRef{Ref: "env:OUTFLOW_TEST_SPEC_WRONG"}}
	for name, c := range map[string]struct {
		conn    *engine.Connection
		profile *engine.ProtocolProfile
		dir     string
		url     string
		want    string
		sent    bool
	}{
		"not found, in the partner's words":      {p.conn, profile, dir, p.srv.URL + "/api/gone.yaml", "404 Not Found: no such document", true},
		"a login page":                           {p.conn, profile, dir, p.srv.URL + "/api/login", "HTML or XML, not JSON or YAML", true},
		"a redirect is not followed":             {p.conn, profile, dir, p.srv.URL + "/api/moved", "redirect to https://cdn.elsewhere.example/openapi.yaml not followed", true},
		"credential refused":                     {&wrongPW, profile, dir, p.srv.URL + "/api/openapi.yaml", "401 Unauthorized: authentication required", true},
		"client certificate from another CA":     {p.conn, untrusted, untrustedDir, p.srv.URL + "/api/openapi.yaml", "reject", true},
		"another host never gets the credential": {p.conn, profile, dir, "https://spec.elsewhere.example/openapi.yaml", "must be on the connection's host", false},
		"plain http on an https connection":      {p.conn, profile, dir, strings.Replace(p.srv.URL, "https", "http", 1) + "/api/openapi.yaml", "plain http", false},
	} {
		t.Run(name, func(t *testing.T) {
			before := len(p.requests())
			f := &doccache.Fetcher{Kind: apispec.Documents, Transports: steps.NewTransports(res), Secrets: res, BaseDir: c.dir, Dir: filepath.Join(c.dir, openapi.CacheDir)}
			_, err := f.Fetch(context.Background(), c.conn, c.profile, c.url)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to say %q", err, c.want)
			}
			if strings.Contains(err.Error(), "spec-secret-pw") || strings.Contains(err.Error(), "sig=abc") {
				t.Fatalf("the error carries the credential or the redirect's query: %v", err)
			}
			if n := len(p.requests()) - before; !c.sent && n != 0 {
				t.Fatalf("a refused URL still made %d requests", n)
			}
			if entries, _ := os.ReadDir(filepath.Join(c.dir, openapi.CacheDir)); len(entries) != 0 {
				t.Fatalf("a failed fetch left %d files in the cache", len(entries))
			}
		})
	}
}

// Another port of the connection's host is another service: it never
// receives the connection's credential or client certificate (not even a
// connection is opened to it).
func TestFetchRefusesAnotherPort(t *testing.T) {
	t.Setenv("OUTFLOW_TEST_SPEC_PW", "spec-secret-pw")
	ca, _ := devpki.NewCA("Partner CA", nil)
	p := newPartner(t, ca)
	profile, dir := profileFor(t, ca, ca)
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	res := secrets.New(dir)
	f := &doccache.Fetcher{Kind: apispec.Documents, Transports: steps.NewTransports(res), Secrets: res, BaseDir: dir}
	u := "https://" + other.Addr().String() + "/openapi.yaml"
	_, err = f.Fetch(context.Background(), p.conn, profile, u)
	if err == nil || !strings.Contains(err.Error(), "must be on the connection's port") {
		t.Fatalf("err = %v", err)
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the other port was connected to %d times", n)
	}
}
