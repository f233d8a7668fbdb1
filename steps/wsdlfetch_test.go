package steps

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
	"testing"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/wsdl"
	"github.com/outflow-dev/outflow/steps/doccache"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/soap"
	"github.com/outflow-dev/outflow/steps/soap/soaptest"
)

// wsdlPartner serves engine/wsdl/testdata/imports (a WSDL importing a
// binding WSDL that imports a schema that includes another) over TLS that
// requires a client certificate issued by ca, behind basic auth.
type wsdlPartner struct {
	srv  *httptest.Server
	conn *engine.Connection
	mu   sync.Mutex
	gets []string // paths requested, with the client certificate's CN
}

func newWSDLPartner(t *testing.T, ca *devpki.CA) *wsdlPartner {
	t.Helper()
	p := &wsdlPartner{}
	srvCert, err := ca.IssueServer("partner", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	files := http.StripPrefix("/ws/", http.FileServer(http.Dir("../engine/wsdl/testdata/imports")))
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := ""
		if len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		p.mu.Lock()
		p.gets = append(p.gets, r.URL.Path+" "+cn)
		p.mu.Unlock()
		if u, pw, ok := r.BasicAuth(); !ok || u != "svc" || pw != "wsdl-secret-pw" {
			w.Header().Set("WWW-Authenticate", `Basic realm="partner"`)
			http.Error(w, "authentication required for the service description", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/ws/gone":
			http.Error(w, "no such service: gone", http.StatusNotFound)
		case "/ws/html":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("maintenance until 6 am"))
		default:
			files.ServeHTTP(w, r)
		}
	}))
	p.srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	host, port, _ := net.SplitHostPort(p.srv.Listener.Addr().String())
	n, _ := strconv.Atoi(port)
	p.conn = &engine.Connection{Name: "partner", Scheme: "https", Host: host, Port: n, MutualAuth: true, ProtocolProfile: "mtls",
		Credential: &engine.Credential{Type: "basic", Username: "svc", Password: &engine.SecretRef{Ref: "env:OUTFLOW_TEST_WSDL_PW"}}}
	return p
}

func (p *wsdlPartner) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.gets...)
}

// parseThrough parses the WSDL at u with every document fetched by f.
func parseThrough(f *doccache.Fetcher, conn *engine.Connection, profile *engine.ProtocolProfile, u string) (*wsdl.Definitions, error) {
	read := func(loc string) ([]byte, error) { return f.Fetch(context.Background(), conn, profile, loc) }
	data, err := read(u)
	if err != nil {
		return nil, err
	}
	return wsdl.ParseLocation(u, data, read)
}

func TestFetchWSDLOverMutualTLSAndCache(t *testing.T) {
	t.Setenv("OUTFLOW_TEST_WSDL_PW", "wsdl-secret-pw")
	ca, _ := devpki.NewCA("Partner CA", nil)
	p := newWSDLPartner(t, ca)
	profile, dir := profileFor(t, ca, ca)
	cache := filepath.Join(dir, wsdl.CacheDir)
	res := secrets.New(dir)
	newFetcher := func(refresh bool) *doccache.Fetcher {
		return &doccache.Fetcher{Kind: soap.WSDLDocuments, Transports: NewTransports(res), Secrets: res, BaseDir: dir, Dir: cache, Refresh: refresh}
	}
	u := p.srv.URL + "/ws/service.wsdl"

	defs, err := parseThrough(newFetcher(false), p.conn, profile, u)
	if err != nil {
		t.Fatal(err)
	}
	ops := wsdl.Operations(defs)
	if len(ops) == 0 {
		t.Fatal("no operations in the fetched WSDL")
	}
	if _, err := wsdl.Skeleton(defs, ops[0].Operation); err != nil {
		t.Fatalf("skeleton of %s: %v", ops[0].Operation, err)
	}
	// Four documents: the WSDL, the binding it imports, the schema that
	// imports, the schema it includes; each fetched once, with our
	// client certificate.
	got := p.requests()
	if len(got) != 4 {
		t.Fatalf("partner saw %d requests, want 4: %v", len(got), got)
	}
	for _, g := range got {
		if !strings.HasSuffix(g, " svc-outflow") {
			t.Fatalf("request without our client certificate: %q", g)
		}
	}
	cached, err := soap.ListWSDLCache(cache)
	if err != nil || len(cached) != 4 {
		t.Fatalf("cache holds %d documents (%v), want 4", len(cached), err)
	}
	for _, c := range cached {
		b, err := os.ReadFile(c.File)
		if err != nil || len(b) != c.Size || c.Connection != "partner" {
			t.Fatalf("cached %+v: %d bytes, %v", c, len(b), err)
		}
		if strings.Contains(string(b), "wsdl-secret-pw") {
			t.Fatal("the credential reached the cache")
		}
	}

	// The next load reads the cache: nothing reaches the partner, even
	// when it is gone.
	p.srv.Close()
	if _, err := parseThrough(newFetcher(false), p.conn, profile, u); err != nil {
		t.Fatalf("reading from the cache: %v", err)
	}
	if n := len(p.requests()); n != 4 {
		t.Fatalf("the cached load made %d more requests", n-4)
	}
	// A refresh goes to the partner, and says why it cannot.
	if _, err := parseThrough(newFetcher(true), p.conn, profile, u); err == nil || !strings.Contains(err.Error(), "fetching the WSDL through connection partner") {
		t.Fatalf("refresh with the partner down: %v", err)
	}
}

func TestFetchWSDLErrors(t *testing.T) {
	t.Setenv("OUTFLOW_TEST_WSDL_PW", "wsdl-secret-pw")
	ca, _ := devpki.NewCA("Partner CA", nil)
	otherCA, _ := devpki.NewCA("Some Other CA", nil)
	p := newWSDLPartner(t, ca)
	profile, dir := profileFor(t, ca, ca)
	res := secrets.New(dir)
	fetch := func(conn *engine.Connection, profile *engine.ProtocolProfile, dir, u string) error {
		f := &doccache.Fetcher{Kind: soap.WSDLDocuments, Transports: NewTransports(res), Secrets: res, BaseDir: dir, Dir: filepath.Join(dir, wsdl.CacheDir)}
		_, err := f.Fetch(context.Background(), conn, profile, u)
		return err
	}
	wrongPW := *p.conn
	wrongPW.Credential = &engine.Credential{Type: "basic", Username: "svc", Password: &engine.SecretRef{Ref: "env:OUTFLOW_TEST_WSDL_WRONG"}}
	t.Setenv("OUTFLOW_TEST_WSDL_WRONG", "not-it")
	untrusted, untrustedDir := profileFor(t, ca, otherCA)

	for name, c := range map[string]struct {
		conn    *engine.Connection
		profile *engine.ProtocolProfile
		dir     string
		url     string
		want    string
	}{
		"not found, in the partner's words":      {p.conn, profile, dir, p.srv.URL + "/ws/gone", "404 Not Found: no such service: gone"},
		"not XML":                                {p.conn, profile, dir, p.srv.URL + "/ws/html", "not XML: maintenance until 6 am"},
		"credential refused":                     {&wrongPW, profile, dir, p.srv.URL + "/ws/service.wsdl", "401 Unauthorized: authentication required"},
		"client certificate from another CA":     {p.conn, untrusted, untrustedDir, p.srv.URL + "/ws/service.wsdl", "reject"},
		"another host never gets the credential": {p.conn, profile, dir, "https://wsdl.elsewhere.example/ws/service.wsdl", "must be on the connection's host"},
		"plain http on an https connection":      {p.conn, profile, dir, strings.Replace(p.srv.URL, "https", "http", 1) + "/ws/service.wsdl", "plain http"},
		"user info in the URL":                   {p.conn, profile, dir, strings.Replace(p.srv.URL, "https://", "https://svc:pw@", 1) + "/ws/service.wsdl", "user name or password"},
	} {
		t.Run(name, func(t *testing.T) {
			before := len(p.requests())
			err := fetch(c.conn, c.profile, c.dir, c.url)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to say %q", err, c.want)
			}
			if strings.Contains(err.Error(), "wsdl-secret-pw") {
				t.Fatal("the error carries the credential")
			}
			if strings.Contains(c.want, "host") || strings.Contains(c.want, "plain") || strings.Contains(c.want, "user") {
				if n := len(p.requests()) - before; n != 0 {
					t.Fatalf("a refused URL still made %d requests", n)
				}
			}
			// Nothing in this test succeeds, so nothing may be cached.
			if entries, _ := os.ReadDir(filepath.Join(c.dir, wsdl.CacheDir)); len(entries) != 0 {
				t.Fatalf("a failed fetch left %d files in the cache", len(entries))
			}
		})
	}
}

// A WSDL behind an OAuth 2.0 protected gateway is fetched with the
// connection's access token, got over the same mTLS transport.
func TestFetchWSDLWithOAuthToken(t *testing.T) {
	b := newBank(t, &soaptest.Orders{}, tlsClientAuth())
	f := &doccache.Fetcher{Kind: soap.WSDLDocuments, Transports: b.tr, Secrets: b.tr.Secrets, BaseDir: b.dir}
	u := b.srv.URL + "/ws/orders?wsdl"
	if _, err := f.Fetch(context.Background(), b.conn, b.profile, u); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("fetch by an unregistered client: %v", err)
	}
	b.registerTLSClient()
	data, err := f.Fetch(context.Background(), b.conn, b.profile, u)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "GetOrderStatus") {
		t.Fatalf("fetched %.200s", data)
	}
	if accepted, _ := b.srv.APICalls(); accepted != 1 || b.srv.TokenRequests() != 1 {
		t.Fatalf("API calls accepted %d, token requests %d; want 1 and 1", accepted, b.srv.TokenRequests())
	}
}

// TestFetchWSDLNeverToAnotherPort pins a defect: a WSDL URL on another port
// of the connection's host (another service, perhaps not the partner's)
// was fetched with the connection's client certificate and credential,
// because the URL check compared scheme and host but not port. The other
// port here is a real TLS server that asks for client certificates and
// records what it is sent.
func TestFetchWSDLNeverToAnotherPort(t *testing.T) {
	t.Setenv("OUTFLOW_TEST_WSDL_PW", "wsdl-secret-pw")
	ca, _ := devpki.NewCA("Partner CA", nil)
	p := newWSDLPartner(t, ca)
	profile, dir := profileFor(t, ca, ca)
	srvCert, err := ca.IssueServer("other", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		what := r.URL.Path
		if len(r.TLS.PeerCertificates) > 0 {
			what += " cert=" + r.TLS.PeerCertificates[0].Subject.CommonName
		}
		if _, pw, ok := r.BasicAuth(); ok {
			what += " password=" + pw
		}
		seen = append(seen, what)
		http.Error(w, "not here", http.StatusNotFound)
	}))
	other.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: tls.RequestClientCert}
	other.StartTLS()
	defer other.Close()

	res := secrets.New(dir)
	f := &doccache.Fetcher{Kind: soap.WSDLDocuments, Transports: NewTransports(res), Secrets: res, BaseDir: dir, Dir: filepath.Join(dir, wsdl.CacheDir)}
	_, err = f.Fetch(context.Background(), p.conn, profile, other.URL+"/ws/service.wsdl")
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 0 {
		t.Errorf("the other port of the connection's host was sent %q", seen)
	}
	if err == nil || !strings.Contains(err.Error(), "port") || !strings.Contains(err.Error(), "connection partner") {
		t.Fatalf("err = %v, want a refusal naming the port and the connection", err)
	}
}
