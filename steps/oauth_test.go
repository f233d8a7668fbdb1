package steps

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/wsdl"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/oauth2"
	"github.com/outflow-dev/outflow/steps/oauth2/oauth2test"
	"github.com/outflow-dev/outflow/steps/rest"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/soap"
	"github.com/outflow-dev/outflow/steps/soap/soaptest"
)

// bank is an authorization server and API on one TLS server that requires
// client certificates, and a project folder holding a client keystore
// issued by its CA and the trust store for it.
type bank struct {
	srv     *oauth2test.Server
	dir     string
	leaf    *devpki.Leaf
	profile *engine.ProtocolProfile
	conn    *engine.Connection
	tr      *Transports
}

func newBank(t *testing.T, api http.Handler, cred *engine.Credential) *bank {
	t.Helper()
	srv, err := oauth2test.Start(api)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	b := &bank{srv: srv, dir: t.TempDir()}
	b.leaf = b.writeClientCert(t, "svc-outflow")
	if err := os.WriteFile(filepath.Join(b.dir, "bank-ca.pem"), srv.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	b.profile = &engine.ProtocolProfile{Name: "bank-mtls", Keystore: &engine.Keystore{Path: "client.pem"}, Truststore: &engine.Truststore{Paths: []string{"bank-ca.pem"}}}
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "https://"))
	p, _ := strconv.Atoi(port)
	b.conn = &engine.Connection{Name: "bank", Scheme: "https", Host: host, Port: p, BasePath: "/open-banking", MutualAuth: true, ProtocolProfile: "bank-mtls", Credential: cred}
	b.tr = NewTransports(secrets.New(b.dir))
	return b
}

// writeClientCert issues a client certificate and puts it, with its key,
// where the profile's keystore is, replacing the file in one step as a
// certificate rotation does.
func (b *bank) writeClientCert(t *testing.T, cn string) *devpki.Leaf {
	t.Helper()
	leaf, err := b.srv.CA.IssueClient(cn, nil)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := leaf.BundlePEM()
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(b.dir, "client.pem.new")
	if err := os.WriteFile(tmp, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(b.dir, "client.pem")); err != nil {
		t.Fatal(err)
	}
	return leaf
}

func (b *bank) rest(t *testing.T, method, path string, body any) (*engine.StepResult, error) {
	t.Helper()
	a := &rest.Activity{Secrets: b.tr.Secrets, Transports: b.tr}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(a.Execute, activity.RegisterOptions{Name: engine.RestActivity})
	v, err := env.ExecuteActivity(engine.RestActivity, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: b.conn, Profile: b.profile, ProjectRoot: b.dir}, Method: method, Path: path, Body: body})
	if err != nil {
		return nil, err
	}
	var res engine.StepResult
	return &res, v.Get(&res)
}

// stepFailure returns a failed step's error, its type and the step result
// it carries.
func stepFailure(t *testing.T, err error) (*temporal.ApplicationError, *engine.StepResult) {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("err = %v, want a step failure", err)
	}
	var res engine.StepResult
	if appErr.HasDetails() {
		_ = appErr.Details(&res)
	}
	return appErr, &res
}

func tlsClientAuth() *engine.Credential {
	return &engine.Credential{Type: engine.OAuth2ClientCredentials, TokenURL: oauth2test.TokenPath, ClientID: "outflow-prod",
		ClientAuth: engine.TLSClientAuth, Scopes: []string{"accounts"}}
}

func (b *bank) registerTLSClient() {
	b.srv.Register(oauth2test.Client{ID: "outflow-prod", Method: "tls_client_auth", SubjectDN: b.leaf.Cert.Subject.String(), Scopes: []string{"accounts", "payments"}})
}

// assertNoSecrets fails when a step result holds any of the values.
func assertNoSecrets(t *testing.T, res *engine.StepResult, values ...string) {
	t.Helper()
	js, _ := json.Marshal(res)
	for _, v := range values {
		if v != "" && strings.Contains(string(js), v) {
			t.Fatalf("the step result holds a secret value: %s", js)
		}
	}
}

func TestOAuthTLSClientAuthTokenCachedAcrossSteps(t *testing.T) {
	b := newBank(t, nil, tlsClientAuth())
	b.registerTLSClient()
	const steps = 5
	for i := 0; i < steps; i++ {
		res, err := b.rest(t, "GET", "/accounts", nil)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got := res.Response.JSON.(map[string]any)
		if got["client_id"] != "outflow-prod" || got["x5t#S256"] != oauth2.Thumbprint(b.leaf.Cert) || got["scope"] != "accounts" {
			t.Fatalf("step %d: the API saw %v", i, got)
		}
		a := res.Auth
		if a == nil || a.Type != engine.OAuth2ClientCredentials || a.TokenCached != (i > 0) || a.TokenExpiresAt == nil ||
			a.BoundCertificate != oauth2.Thumbprint(b.leaf.Cert) || a.TokenURL != b.srv.URL+oauth2test.TokenPath || a.ClientAuth != "tls_client_auth" {
			t.Fatalf("step %d: auth facts %+v", i, a)
		}
		if res.Request.Headers["authorization"] != rest.Redacted {
			t.Fatalf("step %d: the authorization header in the record is %q", i, res.Request.Headers["authorization"])
		}
		assertNoSecrets(t, res, b.srv.AccessTokens()...)
	}
	if n := b.srv.TokenRequests(); n != 1 {
		t.Fatalf("%d steps made %d token requests, want 1", steps, n)
	}
	// The token request and the API calls share the profile's transport:
	// one full handshake for all of them.
	if hs := b.tr.Cache.Handshakes(); hs.Full != 1 {
		t.Fatalf("%d full handshakes, want 1", hs.Full)
	}
}

func TestOAuthTokenRefreshedBeforeExpiry(t *testing.T) {
	b := newBank(t, nil, tlsClientAuth())
	b.srv.Lifetime = 10 * time.Minute
	b.registerTLSClient()
	start := time.Now()
	var mu sync.Mutex
	elapsed := time.Duration(0)
	b.tr.Tokens.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return start.Add(elapsed) }
	advance := func(d time.Duration) { mu.Lock(); elapsed += d; mu.Unlock() }
	first, err := b.rest(t, "GET", "/accounts", nil)
	if err != nil {
		t.Fatal(err)
	}
	advance(8*time.Minute + 30*time.Second)
	second, err := b.rest(t, "GET", "/accounts", nil)
	if err != nil || !second.Auth.TokenCached {
		t.Fatalf("at 8m30s of 10m: err=%v, auth %+v", err, second.Auth)
	}
	advance(time.Minute) // inside the default one-minute margin
	third, err := b.rest(t, "GET", "/accounts", nil)
	if err != nil || third.Auth.TokenCached || !third.Auth.TokenExpiresAt.After(*first.Auth.TokenExpiresAt) {
		t.Fatalf("at 9m30s of 10m: err=%v, auth %+v", err, third.Auth)
	}
	if n := b.srv.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
}

func TestOAuthClientSecretBasicOverMTLS(t *testing.T) {
	const secret = "cl1ent-s3cret-value"
	t.Setenv("BANK_CLIENT_SECRET", secret)
	cred := &engine.Credential{Type: engine.OAuth2ClientCredentials, TokenURL: "/oauth2/token", ClientID: "outflow",
		ClientSecret: &engine.SecretRef{Ref: "env:BANK_CLIENT_SECRET"}, ClientAuth: engine.ClientSecretBasic}
	b := newBank(t, nil, cred)
	b.srv.Register(oauth2test.Client{ID: "outflow", Method: "client_secret_basic", Secret: secret})
	res, err := b.rest(t, "GET", "/accounts", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Response.JSON.(map[string]any)["client_id"] != "outflow" {
		t.Fatalf("the API saw %v", res.Response.JSON)
	}
	assertNoSecrets(t, res, append(b.srv.AccessTokens(), secret)...)

	// A wrong secret: the step fails with the token endpoint's words,
	// without retrying and without the secret.
	t.Setenv("BANK_CLIENT_SECRET", "not-the-secret")
	_, err = b.rest(t, "GET", "/accounts", nil)
	appErr, failed := stepFailure(t, err)
	if appErr.Type() != engine.ErrOAuth || !appErr.NonRetryable() ||
		!strings.Contains(appErr.Error(), "invalid_client: client authentication failed: wrong client secret") ||
		strings.Contains(appErr.Error(), "not-the-secret") {
		t.Fatalf("failure %s: %v", appErr.Type(), appErr)
	}
	if failed.Auth == nil || failed.Auth.TokenURL == "" {
		t.Fatalf("the failed step's record lacks its auth facts: %+v", failed.Auth)
	}
}

func TestOAuthInvalidScopeInTheServersWords(t *testing.T) {
	cred := tlsClientAuth()
	cred.Scopes = []string{"admin"}
	b := newBank(t, nil, cred)
	b.registerTLSClient()
	_, err := b.rest(t, "GET", "/accounts", nil)
	appErr, _ := stepFailure(t, err)
	if appErr.Type() != engine.ErrOAuth || !strings.Contains(appErr.Error(), `invalid_scope: scope "admin" is not allowed for client outflow-prod`) {
		t.Fatalf("failure %s: %v", appErr.Type(), appErr)
	}
}

func TestOAuth401RefreshesOnceAndSendsAgain(t *testing.T) {
	b := newBank(t, nil, tlsClientAuth())
	b.registerTLSClient()
	if _, err := b.rest(t, "GET", "/accounts", nil); err != nil {
		t.Fatal(err)
	}
	// The partner revokes the tokens it issued; the cached one is still
	// valid by its expiry, so only the 401 can tell.
	b.srv.RevokeAll()
	res, err := b.rest(t, "POST", "/payments", map[string]any{"amount": "10.00"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Auth.RefreshedAfter401 || res.Auth.TokenCached {
		t.Fatalf("auth facts %+v", res.Auth)
	}
	if body := res.Response.JSON.(map[string]any)["body"]; body != `{"amount":"10.00"}` {
		t.Fatalf("the request sent again carried body %v", body)
	}
	if n := b.srv.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
	if ok, rejected := b.srv.APICalls(); ok != 2 || rejected != 1 {
		t.Fatalf("API accepted %d and refused %d calls, want 2 and 1", ok, rejected)
	}
}

func TestOAuthSecond401FailsWithThePartnersWords(t *testing.T) {
	b := newBank(t, nil, tlsClientAuth())
	b.registerTLSClient()
	b.srv.RefuseAllTokens("the client is suspended")
	_, err := b.rest(t, "GET", "/accounts", nil)
	appErr, failed := stepFailure(t, err)
	for _, want := range []string{"401 Unauthorized", "the client is suspended", "a new access token was fetched and the request sent once more"} {
		if !strings.Contains(appErr.Error(), want) {
			t.Errorf("error %q lacks %q", appErr.Error(), want)
		}
	}
	if appErr.Type() != engine.ErrHTTPClient || !appErr.NonRetryable() {
		t.Errorf("type %s, non-retryable %v", appErr.Type(), appErr.NonRetryable())
	}
	if failed.Auth == nil || !failed.Auth.RefreshedAfter401 {
		t.Errorf("auth facts %+v", failed.Auth)
	}
	if ok, rejected := b.srv.APICalls(); ok != 0 || rejected != 2 {
		t.Fatalf("API accepted %d and refused %d calls, want 0 and 2: one retry only", ok, rejected)
	}
	if n := b.srv.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
}

func TestOAuthBindingMismatchInPlainWords(t *testing.T) {
	b := newBank(t, nil, tlsClientAuth())
	b.registerTLSClient()
	// As if a proxy in front of the token endpoint presented its own
	// certificate: tokens come back bound to another one.
	other, _ := b.srv.CA.IssueClient("tls-proxy", nil)
	b.srv.BindNextTokensTo(oauth2.Thumbprint(other.Cert))
	_, err := b.rest(t, "GET", "/accounts", nil)
	appErr, _ := stepFailure(t, err)
	for _, want := range []string{oauth2.Thumbprint(other.Cert), oauth2.Thumbprint(b.leaf.Cert), "CN=svc-outflow", "token endpoint saw a different client certificate"} {
		if !strings.Contains(appErr.Error(), want) {
			t.Errorf("error %q lacks %q", appErr.Error(), want)
		}
	}
	if appErr.Type() != engine.ErrOAuth {
		t.Errorf("type %s", appErr.Type())
	}
	if n := b.srv.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want 2: the first and one more", n)
	}
	if ok, rejected := b.srv.APICalls(); ok+rejected != 0 {
		t.Fatal("a token bound to another certificate was sent to the API")
	}
}

func TestOAuthOpaqueTokensAreNotChecked(t *testing.T) {
	b := newBank(t, nil, tlsClientAuth())
	b.srv.Opaque = true
	b.registerTLSClient()
	res, err := b.rest(t, "GET", "/accounts", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Auth.BoundCertificate != "" {
		t.Fatalf("an opaque token reads as bound: %+v", res.Auth)
	}
}

func TestOAuthKeystoreRotatedBetweenSteps(t *testing.T) {
	b := newBank(t, nil, tlsClientAuth())
	b.registerTLSClient()
	first, err := b.rest(t, "GET", "/accounts", nil)
	if err != nil {
		t.Fatal(err)
	}
	// A renewed certificate, same subject, new key, replaces the keystore
	// while the connection the first step used is still pooled.
	rotated := b.writeClientCert(t, "svc-outflow")
	res, err := b.rest(t, "GET", "/accounts", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := oauth2.Thumbprint(rotated.Cert)
	if got := res.Response.JSON.(map[string]any)["x5t#S256"]; got != want {
		t.Fatalf("the API saw certificate %v, want the rotated %s", got, want)
	}
	if res.Auth.BoundCertificate != want || res.Auth.BoundCertificate == first.Auth.BoundCertificate || res.Auth.TokenCached {
		t.Fatalf("auth facts after rotation %+v", res.Auth)
	}
	// The second token request went over the pooled connection, which still
	// carried the old certificate, so its token was bound to that one: seen
	// before the call, mended by closing the pool and asking once more.
	if n, hs := b.srv.TokenRequests(), b.tr.Cache.Handshakes(); n != 3 || hs.Full != 2 {
		t.Fatalf("%d token requests and %d full handshakes, want 3 and 2", n, hs.Full)
	}
}

func TestOAuthPrivateKeyJWTWithTheConnectionKey(t *testing.T) {
	cred := &engine.Credential{Type: engine.OAuth2ClientCredentials, TokenURL: oauth2test.TokenPath, ClientID: "signer", ClientAuth: engine.PrivateKeyJWT, KeyID: "k1"}
	b := newBank(t, nil, cred)
	b.srv.Register(oauth2test.Client{ID: "signer", Method: "private_key_jwt", Certificate: b.leaf.Cert})
	res, err := b.rest(t, "GET", "/accounts", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Response.JSON.(map[string]any)["client_id"] != "signer" {
		t.Fatalf("the API saw %v", res.Response.JSON)
	}
}

func TestOAuthPrivateKeyJWTWithAKeystoreOfItsOwn(t *testing.T) {
	t.Setenv("SIGNING_PW", "unused-for-pem")
	cred := &engine.Credential{Type: engine.OAuth2ClientCredentials, TokenURL: oauth2test.TokenPath, ClientID: "signer", ClientAuth: engine.PrivateKeyJWT,
		PrivateKey: &engine.Keystore{Path: "signing.pem"}}
	b := newBank(t, nil, cred)
	signing, err := b.srv.CA.IssueClient("signing-key", &devpki.Options{RSA: true})
	if err != nil {
		t.Fatal(err)
	}
	bundle, _ := signing.BundlePEM()
	if err := os.WriteFile(filepath.Join(b.dir, "signing.pem"), bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	b.srv.Register(oauth2test.Client{ID: "signer", Method: "private_key_jwt", Certificate: signing.Cert})
	if _, err := b.rest(t, "GET", "/accounts", nil); err != nil {
		t.Fatal(err)
	}
	// A missing keystore is a certificate problem, said before any request.
	cred.PrivateKey.Path = "missing.pem"
	_, err = b.rest(t, "GET", "/accounts", nil)
	appErr, _ := stepFailure(t, err)
	if appErr.Type() != engine.ErrCertificate || !strings.Contains(appErr.Error(), "reading the private_key keystore") {
		t.Fatalf("failure %s: %v", appErr.Type(), appErr)
	}
}

func TestOAuthTokenEndpointUnreachableIsATransportFailure(t *testing.T) {
	cred := tlsClientAuth()
	cred.TokenURL = "https://127.0.0.1:1/oauth2/token"
	b := newBank(t, nil, cred)
	_, err := b.rest(t, "GET", "/accounts", nil)
	appErr, _ := stepFailure(t, err)
	if appErr.Type() != engine.ErrConnection || appErr.NonRetryable() || !strings.Contains(appErr.Error(), "requesting an access token from https://127.0.0.1:1/oauth2/token") {
		t.Fatalf("failure %s (non-retryable %v): %v", appErr.Type(), appErr.NonRetryable(), appErr)
	}
}

func TestOAuthSoapStepRefreshesAfter401(t *testing.T) {
	partner := &soaptest.Orders{}
	b := newBank(t, partner, tlsClientAuth())
	b.registerTLSClient()
	d, err := wsdl.Parse(soaptest.WSDL(""), nil)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := d.Subset("", "OrdersSoap11Port", "GetOrderStatus")
	if err != nil {
		t.Fatal(err)
	}
	conn := *b.conn
	conn.BasePath = ""
	a := &soap.Activity{Secrets: b.tr.Secrets, Transports: b.tr}
	run := func() (*engine.StepResult, error) {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestActivityEnvironment()
		env.RegisterActivityWithOptions(a.Execute, activity.RegisterOptions{Name: engine.SoapActivity})
		v, err := env.ExecuteActivity(engine.SoapActivity, &engine.SoapRequest{CallHeader: engine.CallHeader{Connection: &conn, Profile: b.profile, ProjectRoot: b.dir}, Definitions: defs, Operation: "GetOrderStatus", Body: map[string]any{"OrderId": "42"}})
		if err != nil {
			return nil, err
		}
		var res engine.StepResult
		return &res, v.Get(&res)
	}
	if _, err := run(); err != nil {
		t.Fatal(err)
	}
	b.srv.RevokeAll()
	res, err := run()
	if err != nil {
		t.Fatal(err)
	}
	status := res.Body.(map[string]any)["GetOrderStatusResponse"].(map[string]any)["Status"]
	if status != "Shipped" || !res.Auth.RefreshedAfter401 || res.Request.Headers["authorization"] != rest.Redacted {
		t.Fatalf("status %v, auth %+v, headers %v", status, res.Auth, res.Request.Headers)
	}
	if n := len(partner.Requests()); n != 2 {
		t.Fatalf("the SOAP service answered %d calls, want 2 (the refused one never reached it)", n)
	}
	assertNoSecrets(t, res, b.srv.AccessTokens()...)
}
