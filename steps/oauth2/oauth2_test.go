package oauth2

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/oauth2/oauth2test"
)

// fixture is an authorization server that requires client certificates,
// and a client certificate issued by its CA.
type fixture struct {
	srv  *oauth2test.Server
	leaf *devpki.Leaf
	cert *tls.Certificate
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv, err := oauth2test.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	leaf, err := srv.CA.IssueClient("svc-outflow", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := leaf.TLSCertificate()
	return &fixture{srv: srv, leaf: leaf, cert: &c}
}

// transport presents cert and trusts the server's CA.
func (f *fixture) transport(cert *tls.Certificate) *http.Transport {
	cfg := &tls.Config{RootCAs: f.srv.CA.Pool()}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Transport{TLSClientConfig: cfg}
}

func (f *fixture) client(cred *engine.Credential, secret string) *Client {
	u, _ := url.Parse(f.srv.URL + oauth2test.TokenPath)
	return &Client{Connection: "bank", Credential: cred, TokenURL: u, Secret: secret, Transport: f.transport(f.cert), Certificate: f.cert}
}

func TestFetchTLSClientAuthBindsTokenToCertificate(t *testing.T) {
	f := newFixture(t)
	f.srv.Register(oauth2test.Client{ID: "outflow", Method: "tls_client_auth", SubjectDN: f.leaf.Cert.Subject.String(), Scopes: []string{"accounts", "payments"}})
	cred := &engine.Credential{Type: engine.OAuth2ClientCredentials, ClientID: "outflow", ClientAuth: engine.TLSClientAuth,
		Scopes: []string{"accounts", "payments"}, Audience: "https://api.bank.example", Params: []engine.KV{{Name: "acr_values", Value: "psd2"}}}
	now := time.Now()
	tok, err := f.client(cred, "").Fetch(context.Background(), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if tok.BoundTo != Thumbprint(f.leaf.Cert) {
		t.Fatalf("token bound to %q, want the presented certificate %q", tok.BoundTo, Thumbprint(f.leaf.Cert))
	}
	if !tok.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("expires at %v, want an hour after %v", tok.ExpiresAt, now)
	}
	form := f.srv.LastTokenForm()
	if form.Get("grant_type") != "client_credentials" || form.Get("client_id") != "outflow" || form.Get("scope") != "accounts payments" ||
		form.Get("audience") != "https://api.bank.example" || form.Get("acr_values") != "psd2" {
		t.Fatalf("token request form = %v", form)
	}
	if err := CheckBinding(tok, f.cert, "bank"); err != nil {
		t.Fatal(err)
	}
}

func TestFetchEachClientAuthentication(t *testing.T) {
	f := newFixture(t)
	rsaLeaf, err := f.srv.CA.IssueClient("signer-rsa", &devpki.Options{RSA: true})
	if err != nil {
		t.Fatal(err)
	}
	rsaCert := rsaLeaf.TLSCertificate()
	selfSigned, err := devpki.NewCA("self-signed-client", nil)
	if err != nil {
		t.Fatal(err)
	}
	selfCert := &tls.Certificate{Certificate: [][]byte{selfSigned.Cert.Raw}, PrivateKey: selfSigned.Key, Leaf: selfSigned.Cert}
	// A secret that needs form-encoding before Basic (RFC 6749 §2.3.1).
	const secret = "s3:cr%t +&é"
	cases := []struct {
		name   string
		reg    oauth2test.Client
		auth   string
		cert   *tls.Certificate
		signer *tls.Certificate
	}{
		{"client_secret_basic", oauth2test.Client{ID: "id:with/odd chars", Method: "client_secret_basic", Secret: secret}, engine.ClientSecretBasic, f.cert, nil},
		{"client_secret_post", oauth2test.Client{ID: "poster", Method: "client_secret_post", Secret: secret}, engine.ClientSecretPost, f.cert, nil},
		{"self_signed_tls_client_auth", oauth2test.Client{ID: "selfie", Method: "self_signed_tls_client_auth", Certificate: selfSigned.Cert}, engine.SelfSignedTLSClientAuth, selfCert, nil},
		{"private_key_jwt ES256 with the TLS key", oauth2test.Client{ID: "jwt-ec", Method: "private_key_jwt", Certificate: f.leaf.Cert}, engine.PrivateKeyJWT, f.cert, nil},
		{"private_key_jwt RS256 with a key of its own", oauth2test.Client{ID: "jwt-rsa", Method: "private_key_jwt", Certificate: rsaLeaf.Cert}, engine.PrivateKeyJWT, f.cert, &rsaCert},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f.srv.Register(c.reg)
			cl := f.client(&engine.Credential{Type: engine.OAuth2ClientCredentials, ClientID: c.reg.ID, ClientAuth: c.auth}, secret)
			cl.Transport, cl.Certificate, cl.Signer = f.transport(c.cert), c.cert, c.signer
			tok, err := cl.Fetch(context.Background(), time.Now)
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken == "" || tok.BoundTo != Thumbprint(c.cert.Leaf) {
				t.Fatalf("token %+v", tok)
			}
		})
	}
}

func TestTokenEndpointErrorsInTheServersWords(t *testing.T) {
	f := newFixture(t)
	const secret = "the-real-secret-value"
	f.srv.Register(oauth2test.Client{ID: "outflow", Method: "client_secret_basic", Secret: secret, Scopes: []string{"accounts"}})
	cases := []struct {
		name   string
		secret string
		scopes []string
		fail   *oauth2test.Failure
		want   []string
		retry  bool
	}{
		{name: "wrong secret", secret: "wrong-secret-value", want: []string{"HTTP 401", "invalid_client: client authentication failed: wrong client secret"}},
		{name: "scope not allowed", secret: secret, scopes: []string{"payments"}, want: []string{"HTTP 400", `invalid_scope: scope "payments" is not allowed for client outflow`}},
		{name: "server down", secret: secret, fail: &oauth2test.Failure{Status: 503, Body: "upstream connect error"}, want: []string{"HTTP 503", "upstream connect error"}, retry: true},
		{name: "temporarily unavailable", secret: secret, fail: &oauth2test.Failure{Status: 400, Error: "temporarily_unavailable", Description: "maintenance until 02:00"}, want: []string{"temporarily_unavailable: maintenance until 02:00"}, retry: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.fail != nil {
				f.srv.FailNext(*c.fail)
			}
			cl := f.client(&engine.Credential{Type: engine.OAuth2ClientCredentials, ClientID: "outflow", Scopes: c.scopes}, c.secret)
			_, err := cl.Fetch(context.Background(), time.Now)
			var oe *Error
			if !errors.As(err, &oe) {
				t.Fatalf("err = %v, want *Error", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), f.srv.URL+oauth2test.TokenPath) {
				t.Errorf("error %q does not name the token endpoint", err)
			}
			if oe.Retry != c.retry {
				t.Errorf("retry = %v, want %v", oe.Retry, c.retry)
			}
			if strings.Contains(err.Error(), c.secret) {
				t.Errorf("error %q holds the client secret", err)
			}
		})
	}
}

func TestTransportFailureIsMarked(t *testing.T) {
	f := newFixture(t)
	f.srv.Register(oauth2test.Client{ID: "outflow", Method: "tls_client_auth", SubjectDN: f.leaf.Cert.Subject.String()})
	cl := f.client(&engine.Credential{Type: engine.OAuth2ClientCredentials, ClientID: "outflow", ClientAuth: engine.TLSClientAuth}, "")
	// A transport that does not trust the server: the handshake fails.
	cl.Transport = &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{*f.cert}, RootCAs: x509.NewCertPool()}}
	_, err := cl.Fetch(context.Background(), time.Now)
	var oe *Error
	if !errors.As(err, &oe) || !oe.Transport || !oe.Retry {
		t.Fatalf("err = %#v", err)
	}
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Fatalf("the TLS cause is not kept: %v", err)
	}
}

func TestTLSClientAuthWithoutCertificateSaysSo(t *testing.T) {
	f := newFixture(t)
	cl := f.client(&engine.Credential{Type: engine.OAuth2ClientCredentials, ClientID: "outflow", ClientAuth: engine.TLSClientAuth}, "")
	cl.Certificate = nil
	_, err := cl.Fetch(context.Background(), time.Now)
	if err == nil || !strings.Contains(err.Error(), "presents none: set mutual_auth: true") {
		t.Fatalf("err = %v", err)
	}
}

func response(status int, contentType, body string) *http.Response {
	return &http.Response{StatusCode: status, Status: http.StatusText(status), Header: http.Header{"Content-Type": {contentType}}, Body: io.NopCloser(strings.NewReader(body))}
}

func TestParseTokenAnswers(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	jwt := func(payload string) string {
		return "eyJhbGciOiJIUzI1NiJ9." + b64(payload) + ".c2ln"
	}
	cases := []struct {
		name, body string
		wantErr    string
		wantExp    time.Time
		wantBound  string
	}{
		{name: "opaque, expires_in number", body: `{"access_token":"abc","token_type":"bearer","expires_in":300}`, wantExp: now.Add(300 * time.Second)},
		{name: "expires_in as a string", body: `{"access_token":"abc","token_type":"Bearer","expires_in":"60"}`, wantExp: now.Add(time.Minute)},
		{name: "no expires_in, JWT exp", body: `{"access_token":"` + jwt(`{"exp":1800000900,"cnf":{"x5t#S256":"abc"}}`) + `","token_type":"Bearer"}`, wantExp: time.Unix(1_800_000_900, 0), wantBound: "abc"},
		{name: "no expiry at all", body: `{"access_token":"abc"}`},
		{name: "DPoP token", body: `{"access_token":"abc","token_type":"DPoP"}`, wantErr: `token_type is "DPoP"`},
		{name: "no access_token", body: `{"token_type":"Bearer"}`, wantErr: "no access_token"},
		{name: "an error with status 200", body: `{"error":"invalid_client","error_description":"unknown client"}`, wantErr: "refused to issue an access token (HTTP 200): invalid_client: unknown client"},
		{name: "HTML", body: `<html>login</html>`, wantErr: "not a JSON object"},
		{name: "negative expires_in", body: `{"access_token":"abc","expires_in":-5}`, wantErr: "expires_in is not a number of seconds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := parseToken("https://as/token", response(200, "application/json", c.body), []byte(c.body), now)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tok.ExpiresAt.Equal(c.wantExp) || tok.BoundTo != c.wantBound {
				t.Fatalf("token %+v", tok)
			}
		})
	}
}

func b64(s string) string {
	return strings.TrimRight(base64URL([]byte(s)), "=")
}

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestCacheReusesThenRefreshesBeforeExpiry(t *testing.T) {
	f := newFixture(t)
	f.srv.Lifetime = 10 * time.Minute
	f.srv.Register(oauth2test.Client{ID: "outflow", Method: "tls_client_auth", SubjectDN: f.leaf.Cert.Subject.String()})
	clk := &clock{t: time.Now()}
	cache := &Cache{Now: clk.now}
	cred := &engine.Credential{Type: engine.OAuth2ClientCredentials, ClientID: "outflow", ClientAuth: engine.TLSClientAuth, RefreshBefore: engine.Duration(2 * time.Minute)}
	cl := f.client(cred, "")
	first, cached, err := cache.Get(context.Background(), cl)
	if err != nil || cached {
		t.Fatalf("first Get: cached=%v err=%v", cached, err)
	}
	for i := 0; i < 5; i++ {
		tok, cached, err := cache.Get(context.Background(), f.client(cred, ""))
		if err != nil || !cached || tok.AccessToken != first.AccessToken {
			t.Fatalf("Get %d: cached=%v err=%v", i, cached, err)
		}
	}
	clk.advance(7*time.Minute + 59*time.Second) // 1s before the refresh margin
	if _, cached, _ := cache.Get(context.Background(), cl); !cached {
		t.Fatal("token refreshed before the margin")
	}
	clk.advance(2 * time.Second) // inside the 2 minute margin, the token still valid
	second, cached, err := cache.Get(context.Background(), cl)
	if err != nil || cached || second.AccessToken == first.AccessToken {
		t.Fatalf("token not refreshed inside the margin: cached=%v err=%v", cached, err)
	}
	if n := f.srv.TokenRequests(); n != 2 || cache.Requests() != 2 {
		t.Fatalf("%d token requests (cache counted %d), want 2", n, cache.Requests())
	}
}

func TestCacheShortLivedTokenUsedForHalfItsLife(t *testing.T) {
	clk := &clock{t: time.Now()}
	issued := 0
	cache := &Cache{Now: clk.now, Issue: func(context.Context, *Client) (*Token, error) {
		issued++
		return &Token{AccessToken: "t", IssuedAt: clk.now(), ExpiresAt: clk.now().Add(30 * time.Second)}, nil
	}}
	cl := &Client{Connection: "c", Credential: &engine.Credential{ClientID: "x"}, TokenURL: &url.URL{Scheme: "https", Host: "as"}}
	_, _, _ = cache.Get(context.Background(), cl)
	clk.advance(14 * time.Second)
	_, _, _ = cache.Get(context.Background(), cl)
	clk.advance(2 * time.Second)
	_, _, _ = cache.Get(context.Background(), cl)
	if issued != 2 {
		t.Fatalf("issued %d tokens, want 2: a 30s token is used for 15s with the default 1m margin", issued)
	}
}

func TestCacheOneRequestForConcurrentSteps(t *testing.T) {
	f := newFixture(t)
	f.srv.Register(oauth2test.Client{ID: "outflow", Method: "tls_client_auth", SubjectDN: f.leaf.Cert.Subject.String()})
	cache := &Cache{}
	cred := &engine.Credential{Type: engine.OAuth2ClientCredentials, ClientID: "outflow", ClientAuth: engine.TLSClientAuth}
	var wg sync.WaitGroup
	tokens := make([]string, 16)
	errs := make([]error, 16)
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, _, err := cache.Get(context.Background(), f.client(cred, ""))
			errs[i] = err
			if tok != nil {
				tokens[i] = tok.AccessToken
			}
		}()
	}
	wg.Wait()
	for i := range tokens {
		if errs[i] != nil || tokens[i] != tokens[0] {
			t.Fatalf("step %d: err=%v, token differs=%v", i, errs[i], tokens[i] != tokens[0])
		}
	}
	if n := f.srv.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests for 16 concurrent steps, want 1", n)
	}
}

func TestCacheKeys(t *testing.T) {
	f := newFixture(t)
	f.srv.Register(oauth2test.Client{ID: "outflow", Method: "client_secret_post", Secret: "one"})
	cache := &Cache{}
	get := func(scopes []string, secret string) string {
		t.Helper()
		cl := f.client(&engine.Credential{Type: engine.OAuth2ClientCredentials, ClientID: "outflow", ClientAuth: engine.ClientSecretPost, Scopes: scopes}, secret)
		tok, _, err := cache.Get(context.Background(), cl)
		if err != nil {
			t.Fatal(err)
		}
		return tok.AccessToken
	}
	a := get([]string{"a", "b"}, "one")
	if get([]string{"b", "a"}, "one") != a {
		t.Fatal("the same scopes in another order got another token")
	}
	if get([]string{"a"}, "one") == a {
		t.Fatal("other scopes got the same token")
	}
	f.srv.Register(oauth2test.Client{ID: "outflow", Method: "client_secret_post", Secret: "two"})
	if get([]string{"a", "b"}, "two") == a {
		t.Fatal("a rotated client secret reused the token of the old one")
	}
	if n := f.srv.TokenRequests(); n != 3 {
		t.Fatalf("%d token requests, want 3", n)
	}
	for k := range cache.entries {
		if strings.Contains(k, "one") || strings.Contains(k, "two") {
			t.Fatalf("cache key %q reveals the secret", k)
		}
	}
}

func TestInvalidateKeepsANewerToken(t *testing.T) {
	n := 0
	cache := &Cache{Issue: func(context.Context, *Client) (*Token, error) {
		n++
		return &Token{AccessToken: strings.Repeat("t", n)}, nil
	}}
	cl := &Client{Connection: "c", Credential: &engine.Credential{ClientID: "x"}, TokenURL: &url.URL{Scheme: "https", Host: "as"}}
	old, _, _ := cache.Get(context.Background(), cl)
	cache.Invalidate(cl, old)
	newer, _, _ := cache.Get(context.Background(), cl)
	cache.Invalidate(cl, old) // a second step that also got a 401 with the old token
	again, cached, _ := cache.Get(context.Background(), cl)
	if !cached || again.AccessToken != newer.AccessToken || n != 2 {
		t.Fatalf("the newer token was dropped: issued %d", n)
	}
}

func TestCheckBindingInPlainWords(t *testing.T) {
	f := newFixture(t)
	other, _ := f.srv.CA.IssueClient("rotated", nil)
	otherCert := other.TLSCertificate()
	tok := &Token{AccessToken: "t", BoundTo: Thumbprint(f.leaf.Cert)}
	err := CheckBinding(tok, &otherCert, "bank")
	var be *BindingError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v", err)
	}
	for _, w := range []string{Thumbprint(f.leaf.Cert), Thumbprint(other.Cert), "CN=rotated", `connection "bank"`, "keystore was replaced"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
	be.Refetched = true
	if !strings.Contains(be.Error(), "token endpoint saw a different client certificate") {
		t.Errorf("refetched mismatch: %q", be.Error())
	}
	if err := CheckBinding(tok, nil, "bank"); err == nil || !strings.Contains(err.Error(), "presents no client certificate") {
		t.Errorf("no certificate: %v", err)
	}
	if err := CheckBinding(&Token{AccessToken: "opaque"}, &otherCert, "bank"); err != nil {
		t.Errorf("an unbound token failed: %v", err)
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add(`{"access_token":"a.eyJleHAiOjF9.c","token_type":"Bearer","expires_in":"3600"}`)
	f.Add(`{"access_token":"x","expires_in":1e99}`)
	f.Add(`{"error":"invalid_client"}`)
	f.Fuzz(func(t *testing.T, body string) {
		_, _ = parseToken("https://as/token", response(200, "application/json", body), []byte(body), time.Now())
		_ = errorResponse("https://as/token", response(400, "application/json", body), []byte(body)).Error()
		_, _ = jwtClaims(body)
	})
}

func base64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
