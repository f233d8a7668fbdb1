// Package echotest is a partner for tests that hands back every credential
// it is sent, the ways real partners have been seen to: a 401 that quotes
// the Authorization header, an endpoint that echoes all request headers in
// its JSON body, a Location header that repeats the query (and the API key
// in it), a SOAP fault that quotes the WS-Security password, and a token
// endpoint that quotes the client secret in its error_description. It runs
// on one TLS server that requires a client certificate issued by its CA,
// and keeps every value it echoed so that a test can show the echo
// happened before it shows the echo is redacted.
//
// Paths are matched on their last segment, so any base path works:
//
//	…/refuse   401 text/plain "credentials refused: <Authorization>"
//	…/echo     200 {"method", "path", "query", "headers": {name: value}}
//	…/created  201 with Location: /items/42?<the request's query>
//	…/soap     SOAP 1.1 Client fault (HTTP 500) quoting the UsernameToken
//	           password (or digest) in faultstring and detail
//	…/token    a client credentials token endpoint that issues opaque
//	           access and refresh tokens to any client
//	…/token-refused  401 {"error": "invalid_client", "error_description":
//	           "client secret <secret> is not valid for <client_id>"}
package echotest

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"sync"

	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

// Partner is the echoing partner.
type Partner struct {
	// CA issues the server's certificate and the client certificates the
	// server accepts.
	CA *devpki.CA
	// URL is the server's base URL, such as https://127.0.0.1:40123.
	URL string

	srv    *httptest.Server
	mu     sync.Mutex
	echoed []string
	tokens []string
}

// Start starts a partner on loopback.
func Start() (*Partner, error) {
	ca, err := devpki.NewCA("Echo Partner CA", nil)
	if err != nil {
		return nil, err
	}
	leaf, err := ca.IssueServer("127.0.0.1", []string{"127.0.0.1", "localhost"}, nil)
	if err != nil {
		return nil, err
	}
	p := &Partner{CA: ca}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	p.srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{leaf.TLSCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
		MinVersion:   tls.VersionTLS12,
	}
	p.srv.StartTLS()
	p.URL = p.srv.URL
	return p, nil
}

// Close stops the server.
func (p *Partner) Close() { p.srv.Close() }

// CAPEM is the CA certificate, for a client's trust store.
func (p *Partner) CAPEM() []byte { return p.CA.CertPEM() }

// ClientBundle issues a client certificate and returns it with its key as
// a PEM bundle, for a client's keystore.
func (p *Partner) ClientBundle(commonName string) ([]byte, error) {
	leaf, err := p.CA.IssueClient(commonName, nil)
	if err != nil {
		return nil, err
	}
	return leaf.BundlePEM()
}

// Echoed returns every credential value the partner has handed back, in the
// form it received it (an Authorization header, an API key, a password).
func (p *Partner) Echoed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.echoed...)
}

// Tokens returns the access and refresh tokens the partner issued.
func (p *Partner) Tokens() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tokens...)
}

func (p *Partner) echo(values ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, v := range values {
		if v != "" {
			p.echoed = append(p.echoed, v)
		}
	}
}

func (p *Partner) serve(w http.ResponseWriter, r *http.Request) {
	switch path.Base(r.URL.Path) {
	case "refuse":
		auth := r.Header.Get("Authorization")
		p.echo(auth)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, "credentials refused: "+auth)
	case "echo":
		headers := map[string]string{}
		for name, v := range r.Header {
			headers[name] = strings.Join(v, ", ")
			p.echo(v...)
		}
		p.echo(r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "headers": headers})
	case "created":
		p.echo(r.URL.RawQuery)
		w.Header().Set("Location", "/items/42?"+r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":42}`)
	case "soap":
		p.soapFault(w, r)
	case "token":
		p.token(w, r)
	case "token-refused":
		_ = r.ParseForm()
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		p.echo(secret)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client",
			"error_description": fmt.Sprintf("client secret %s is not valid for %s", secret, id)})
	default:
		http.NotFound(w, r)
	}
}

var password = regexp.MustCompile(`(?s)<(?:\w+:)?Password\b[^>]*>([^<]*)</(?:\w+:)?Password>`)

// soapFault answers a SOAP 1.1 Client fault that quotes the password or
// digest of the request's UsernameToken.
func (p *Partner) soapFault(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var pw string
	if m := password.FindSubmatch(data); m != nil {
		var v struct {
			Text string `xml:",chardata"`
		}
		if xml.Unmarshal([]byte("<p>"+string(m[1])+"</p>"), &v) == nil {
			pw = v.Text
		}
	}
	p.echo(pw)
	var esc strings.Builder
	_ = xml.EscapeText(&esc, []byte(pw))
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = fmt.Fprintf(w, `<?xml version="1.0"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>
<faultcode>soap:Client</faultcode><faultstring>authentication failed: password %[1]s is not valid</faultstring>
<detail><Echo><Password>%[1]s</Password></Echo></detail>
</soap:Fault></soap:Body></soap:Envelope>`, esc.String())
}

// token issues opaque tokens to any client that asks with the client
// credentials grant.
func (p *Partner) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"unsupported_grant_type"}`)
		return
	}
	access, refresh := "at-"+random(), "rt-"+random()
	p.mu.Lock()
	p.tokens = append(p.tokens, access, refresh)
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": access, "refresh_token": refresh, "token_type": "Bearer", "expires_in": 3600})
}

func random() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
