package soap

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/doccache"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/soap/soaptest"
)

// clientCertTransports is the connection's transport as steps.Transports
// builds it for a profile with a client certificate.
type clientCertTransports struct{ tr *http.Transport }

func (c clientCertTransports) RoundTripper(context.Context, *engine.Connection, *engine.ProtocolProfile, string) (http.RoundTripper, error) {
	return c.tr, nil
}

// TestWSDLFetchFollowsNoRedirect: a WSDL URL answering with a redirect —
// to a server on another port of the same host that serves the WSDL, over
// TLS with the same CA, or to plain http — is refused, and the target sees
// no connection: neither the connection's credential nor its client
// certificate goes there.
func TestWSDLFetchFollowsNoRedirect(t *testing.T) {
	ca, err := devpki.NewCA("Partner CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, err := ca.IssueServer("partner", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.IssueClient("svc-outflow", nil)
	if err != nil {
		t.Fatal(err)
	}
	serverTLS := &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	var targetConns atomic.Int64
	countConns := func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			targetConns.Add(1)
		}
	}
	serveWSDL := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write(soaptest.WSDL("https://127.0.0.1/orders"))
	})
	tlsTarget := httptest.NewUnstartedServer(serveWSDL)
	tlsTarget.TLS, tlsTarget.Config.ConnState = serverTLS, countConns
	tlsTarget.StartTLS()
	defer tlsTarget.Close()
	plainTarget := httptest.NewUnstartedServer(serveWSDL)
	plainTarget.Config.ConnState = countConns
	plainTarget.Start()
	defer plainTarget.Close()

	t.Setenv("OUTFLOW_TEST_WSDL_PASSWORD", "wsdl-pa55word")
	tr := clientCertTransports{&http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, RootCAs: ca.Pool()}}}
	fetcher := &doccache.Fetcher{Kind: WSDLDocuments, Transports: tr, Secrets: secrets.New("")}
	// The target works when asked directly.
	conn := func(srv *httptest.Server) *engine.Connection {
		u, _ := url.Parse(srv.URL)
		port, _ := strconv.Atoi(u.Port())
		return &engine.Connection{Name: "partner-soap", Scheme: u.Scheme, Host: u.Hostname(), Port: port,
			Credential: &engine.Credential{Type: "basic", Username: "svc", Password: &engine.SecretRef{Ref: "env:OUTFLOW_TEST_WSDL_PASSWORD"}}}
	}
	if _, err := fetcher.Fetch(context.Background(), conn(tlsTarget), nil, tlsTarget.URL+"/orders?wsdl"); err != nil {
		t.Fatalf("the target does not serve the WSDL: %v", err)
	}
	targetConns.Store(0)

	for _, target := range []*httptest.Server{tlsTarget, plainTarget} {
		for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound, http.StatusMovedPermanently} {
			front := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Location", target.URL+r.URL.RequestURI())
				w.WriteHeader(status)
			}))
			front.TLS = serverTLS
			front.StartTLS()
			f := &doccache.Fetcher{Kind: WSDLDocuments, Transports: tr, Secrets: secrets.New("")}
			_, err := f.Fetch(context.Background(), conn(front), nil, front.URL+"/orders?wsdl")
			front.Close()
			if err == nil {
				t.Fatalf("%d to %s: the redirect was followed", status, target.URL)
			}
			for _, want := range []string{strconv.Itoa(status), "redirect to " + target.URL + "/orders not followed"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%d to %s: %q lacks %q", status, target.URL, err, want)
				}
			}
			if strings.Contains(err.Error(), "wsdl-pa55word") {
				t.Errorf("the error carries the password: %v", err)
			}
		}
	}
	if n := targetConns.Load(); n != 0 {
		t.Fatalf("the redirect targets got %d connections", n)
	}
}
