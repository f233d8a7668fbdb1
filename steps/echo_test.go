package steps

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/wsdl"
	"github.com/outflow-dev/outflow/steps/rest"
	"github.com/outflow-dev/outflow/steps/rest/echotest"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/soap"
	"github.com/outflow-dev/outflow/steps/soap/soaptest"
)

// echoPartner is a partner that hands back every credential it is sent,
// on a TLS server that requires a client certificate, and a project folder
// with the client's keystore and trust store for it.
type echoPartner struct {
	p       *echotest.Partner
	dir     string
	profile *engine.ProtocolProfile
	tr      *Transports
}

func newEchoPartner(t *testing.T) *echoPartner {
	t.Helper()
	p, err := echotest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	e := &echoPartner{p: p, dir: t.TempDir()}
	bundle, err := p.ClientBundle("svc-outflow")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "client.pem"), bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "partner-ca.pem"), p.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	e.profile = &engine.ProtocolProfile{Name: "echo-mtls", Keystore: &engine.Keystore{Path: "client.pem"}, Truststore: &engine.Truststore{Paths: []string{"partner-ca.pem"}}}
	e.tr = NewTransports(secrets.New(e.dir))
	return e
}

func (e *echoPartner) conn(basePath string, cred *engine.Credential) *engine.Connection {
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(e.p.URL, "https://"))
	p, _ := strconv.Atoi(port)
	return &engine.Connection{Name: "echo", Scheme: "https", Host: host, Port: p, BasePath: basePath, MutualAuth: true, ProtocolProfile: "echo-mtls", Credential: cred}
}

func (e *echoPartner) rest(t *testing.T, conn *engine.Connection, method, path string) (*engine.StepResult, error) {
	t.Helper()
	a := &rest.Activity{Secrets: e.tr.Secrets, Transports: e.tr}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(a.Execute, activity.RegisterOptions{Name: engine.RestActivity})
	v, err := env.ExecuteActivity(engine.RestActivity, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn, Profile: e.profile, ProjectRoot: e.dir}, Method: method, Path: path})
	if err != nil {
		return nil, err
	}
	var res engine.StepResult
	return &res, v.Get(&res)
}

// echoed fails unless the partner handed back a value holding each of
// values: without the echo, finding no secret would prove nothing.
func (e *echoPartner) echoed(t *testing.T, values ...string) {
	t.Helper()
	got := e.p.Echoed()
	for _, v := range values {
		found := false
		for _, g := range got {
			if strings.Contains(g, v) {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("the partner never echoed %q (it echoed %q): the test would prove nothing", v, got)
		}
	}
}

// outcomeText is everything a step attempt hands back, as Temporal would
// store it: the result, or the failure's message and the step result it
// carries, as JSON.
func outcomeText(t *testing.T, res *engine.StepResult, err error) string {
	t.Helper()
	var b strings.Builder
	if err != nil {
		appErr, details := stepFailure(t, err)
		b.WriteString(appErr.Error())
		b.WriteString("\n")
		res = details
	}
	js, jerr := json.Marshal(res)
	if jerr != nil {
		t.Fatal(jerr)
	}
	b.Write(js)
	return b.String()
}

func assertAbsent(t *testing.T, text string, values map[string]string) {
	t.Helper()
	for name, v := range values {
		if v == "" {
			t.Fatalf("no value for %s", name)
		}
		// The JSON of the result holds strings JSON-escaped.
		js, _ := json.Marshal(v)
		if strings.Contains(text, v) || strings.Contains(text, string(js[1:len(js)-1])) {
			t.Errorf("%s (%q) is in what the step hands back:\n%s", name, v, text)
		}
	}
	if !strings.Contains(text, "[redacted]") {
		t.Errorf("nothing reads [redacted]:\n%s", text)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestEchoed401CredentialsAreRedacted: a partner answers 401 "credentials
// refused: <the Authorization header>" to a basic credential, a bearer
// token and an OAuth 2.0 access token (refreshed once, refused again).
func TestEchoed401CredentialsAreRedacted(t *testing.T) {
	const password, bearer, clientSecret = "pw-2f9d-basic-echo", "bt-77c1-static-bearer-echo", "cs-a41e-client-secret-echo"
	t.Setenv("ECHO_TEST_PASSWORD", password)
	t.Setenv("ECHO_TEST_BEARER", bearer)
	t.Setenv("ECHO_TEST_CLIENT_SECRET", clientSecret)
	e := newEchoPartner(t)
	for _, tc := range []struct {
		name string
		cred *engine.Credential
	}{
		{"basic", &engine.Credential{Type: "basic", Username: "svc-outflow", Password: &engine.SecretRef{Ref: "env:ECHO_TEST_PASSWORD"}}},
		{"bearer", &engine.Credential{Type: "bearer", Token: &engine.SecretRef{Ref: "env:ECHO_TEST_BEARER"}}},
		{"oauth2", &engine.Credential{Type: engine.OAuth2ClientCredentials, TokenURL: "/v2/token", ClientID: "outflow",
			ClientSecret: &engine.SecretRef{Ref: "env:ECHO_TEST_CLIENT_SECRET"}, ClientAuth: engine.ClientSecretBasic}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.rest(t, e.conn("/v2", tc.cred), "GET", "/refuse")
			if err == nil {
				t.Fatalf("the step succeeded: %+v", res)
			}
			text := outcomeText(t, res, err)
			values := map[string]string{}
			switch tc.name {
			case "basic":
				basic := b64("svc-outflow:" + password)
				e.echoed(t, "Basic "+basic)
				values["password"], values["base64(user:password)"] = password, basic
			case "bearer":
				e.echoed(t, "Bearer "+bearer)
				values["bearer token"] = bearer
			case "oauth2":
				tokens := e.p.Tokens()
				if len(tokens) != 4 {
					t.Fatalf("%d tokens issued, want two access and two refresh tokens", len(tokens))
				}
				e.echoed(t, "Bearer "+tokens[0], "Bearer "+tokens[2])
				values["client secret"], values["client_secret_basic"] = clientSecret, b64("outflow:"+clientSecret)
				for i, tok := range tokens {
					values["token "+strconv.Itoa(i)] = tok
				}
			}
			if !strings.Contains(text, "credentials refused: ") {
				t.Fatalf("the partner's words are missing:\n%s", text)
			}
			assertAbsent(t, text, values)
		})
	}
}

// TestEchoedHeadersInABodyAreRedacted: a partner echoes every request
// header into its JSON body.
func TestEchoedHeadersInABodyAreRedacted(t *testing.T) {
	const password, apiKey, clientSecret = "pw-91ab-header-echo", "ak-5c2e-header-echo-key", "cs-0d7f-header-echo-secret"
	t.Setenv("ECHO_TEST_PASSWORD", password)
	t.Setenv("ECHO_TEST_API_KEY", apiKey)
	t.Setenv("ECHO_TEST_CLIENT_SECRET", clientSecret)
	e := newEchoPartner(t)
	for _, tc := range []struct {
		name   string
		cred   *engine.Credential
		header string
	}{
		{"basic", &engine.Credential{Type: "basic", Username: "svc-outflow", Password: &engine.SecretRef{Ref: "env:ECHO_TEST_PASSWORD"}}, "Authorization"},
		{"api_key", &engine.Credential{Type: "api_key", Key: "X-Partner-Key", Value: &engine.SecretRef{Ref: "env:ECHO_TEST_API_KEY"}}, "X-Partner-Key"},
		{"oauth2", &engine.Credential{Type: engine.OAuth2ClientCredentials, TokenURL: "/v2/token", ClientID: "outflow",
			ClientSecret: &engine.SecretRef{Ref: "env:ECHO_TEST_CLIENT_SECRET"}, ClientAuth: engine.ClientSecretBasic}, "Authorization"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.rest(t, e.conn("/v2", tc.cred), "GET", "/echo")
			if err != nil {
				t.Fatal(err)
			}
			values := map[string]string{}
			var want string
			switch tc.name {
			case "basic":
				basic := b64("svc-outflow:" + password)
				e.echoed(t, "Basic "+basic)
				values["password"], values["base64(user:password)"] = password, basic
				want = "Basic [redacted]"
			case "api_key":
				e.echoed(t, apiKey)
				values["api key"] = apiKey
				want = "[redacted]"
			case "oauth2":
				tokens := e.p.Tokens()
				access := tokens[len(tokens)-2]
				e.echoed(t, "Bearer "+access)
				values["access token"], values["refresh token"], values["client secret"] = access, tokens[len(tokens)-1], clientSecret
				want = "Bearer [redacted]"
			}
			body, _ := res.Response.JSON.(map[string]any)
			headers, _ := body["headers"].(map[string]any)
			if headers[tc.header] != want {
				t.Errorf("the echoed %s reads %q, want %q", tc.header, headers[tc.header], want)
			}
			if headers["User-Agent"] != "outflow" {
				t.Errorf("an ordinary header was changed: %v", headers)
			}
			assertAbsent(t, outcomeText(t, res, nil), values)
		})
	}
}

// TestAPIKeyInALocationQueryIsRedacted: a partner repeats the request's
// query, API key included, in the Location of its 201.
func TestAPIKeyInALocationQueryIsRedacted(t *testing.T) {
	const apiKey = "ak-8e3b/query+key=&echo" // escapes differently in a query
	t.Setenv("ECHO_TEST_API_KEY", apiKey)
	e := newEchoPartner(t)
	conn := e.conn("/v2", &engine.Credential{Type: "api_key", In: "query", Key: "api_key", Value: &engine.SecretRef{Ref: "env:ECHO_TEST_API_KEY"}})
	res, err := e.rest(t, conn, "POST", "/created")
	if err != nil {
		t.Fatal(err)
	}
	e.echoed(t, "api_key=ak-8e3b%2Fquery%2Bkey%3D%26echo")
	loc := res.Response.Headers["location"]
	if loc != "/items/42?api_key=[redacted]" {
		t.Errorf("location = %q", loc)
	}
	assertAbsent(t, outcomeText(t, res, nil), map[string]string{"api key": apiKey, "api key, query-escaped": "ak-8e3b%2Fquery%2Bkey%3D%26echo"})
}

// TestWSSecurityPasswordInAFaultIsRedacted: a SOAP partner quotes the
// UsernameToken password, or the digest sent for it, in its fault string
// and detail.
func TestWSSecurityPasswordInAFaultIsRedacted(t *testing.T) {
	const password = "ws-6a0c-<soap>&password"
	t.Setenv("ECHO_TEST_WS_PASSWORD", password)
	e := newEchoPartner(t)
	d, err := wsdl.Parse(soaptest.WSDL(""), nil)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := d.Subset("", "OrdersSoap11Port", "GetOrderStatus")
	if err != nil {
		t.Fatal(err)
	}
	conn := e.conn("/soap", nil)
	a := &soap.Activity{Secrets: e.tr.Secrets, Transports: e.tr}
	for _, typ := range []string{"text", "digest"} {
		t.Run(typ, func(t *testing.T) {
			before := len(e.p.Echoed())
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			env.RegisterActivityWithOptions(a.Execute, activity.RegisterOptions{Name: engine.SoapActivity})
			_, err := env.ExecuteActivity(engine.SoapActivity, &engine.SoapRequest{CallHeader: engine.CallHeader{Connection: conn, Profile: e.profile, ProjectRoot: e.dir},
				Definitions: defs, Operation: "GetOrderStatus", Body: map[string]any{"OrderId": "42"},
				Security: &engine.SoapSecurity{Username: "svc-outflow", Password: &engine.SecretRef{Ref: "env:ECHO_TEST_WS_PASSWORD"}, PasswordType: typ}})
			if err == nil {
				t.Fatal("the step succeeded")
			}
			got := e.p.Echoed()
			if len(got) != before+1 {
				t.Fatalf("the partner echoed %v", got[before:])
			}
			sent := got[before]
			values := map[string]string{"password": password, "password, XML-escaped": "ws-6a0c-&lt;soap&gt;&amp;password"}
			if typ == "digest" {
				values["digest"] = sent
				values["password"] = password // never sent, never echoed
			} else if sent != password {
				t.Fatalf("the partner echoed %q, not the password", sent)
			}
			text := outcomeText(t, nil, err)
			if !strings.Contains(text, "authentication failed: password [redacted] is not valid") {
				t.Errorf("the fault string is not the partner's words, redacted:\n%s", text)
			}
			assertAbsent(t, text, values)
		})
	}
}

// TestClientSecretInErrorDescriptionIsRedacted: a token endpoint quotes
// the client secret it got in its error_description.
func TestClientSecretInErrorDescriptionIsRedacted(t *testing.T) {
	const clientSecret = "cs-3b8e-error-description"
	t.Setenv("ECHO_TEST_CLIENT_SECRET", clientSecret)
	e := newEchoPartner(t)
	for _, auth := range []string{engine.ClientSecretPost, engine.ClientSecretBasic} {
		t.Run(auth, func(t *testing.T) {
			conn := e.conn("/v2", &engine.Credential{Type: engine.OAuth2ClientCredentials, TokenURL: "/v2/token-refused", ClientID: "outflow",
				ClientSecret: &engine.SecretRef{Ref: "env:ECHO_TEST_CLIENT_SECRET"}, ClientAuth: auth})
			res, err := e.rest(t, conn, "GET", "/echo")
			if err == nil {
				t.Fatalf("the step succeeded: %+v", res)
			}
			e.echoed(t, clientSecret)
			text := outcomeText(t, res, err)
			if !strings.Contains(text, "invalid_client: client secret [redacted] is not valid for outflow") {
				t.Errorf("the token endpoint's words are missing or not redacted:\n%s", text)
			}
			assertAbsent(t, text, map[string]string{"client secret": clientSecret, "client_secret_basic": b64("outflow:" + clientSecret)})
		})
	}
}

// TestKeystorePasswordIsKnownToTheRedactor: the keystore password a step's
// transport resolves joins the attempt's Redactor like any other secret,
// although it is never sent: a partner that happens to say it (a password
// used twice) gets it redacted too.
func TestKeystorePasswordIsKnownToTheRedactor(t *testing.T) {
	const keystorePassword = "ks-71e4-keystore-password"
	t.Setenv("ECHO_TEST_KEYSTORE_PASSWORD", keystorePassword)
	e := newEchoPartner(t)
	leaf, err := e.p.CA.IssueClient("svc-outflow", nil)
	if err != nil {
		t.Fatal(err)
	}
	p12, err := pkcs12.Modern.Encode(leaf.Key, leaf.Cert, nil, keystorePassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "client.p12"), p12, 0o600); err != nil {
		t.Fatal(err)
	}
	profile := *e.profile
	profile.Keystore = &engine.Keystore{Path: "client.p12", Password: &engine.SecretRef{Ref: "env:ECHO_TEST_KEYSTORE_PASSWORD"}}
	red := e.tr.Secrets.NewRedactor()
	if _, err := e.tr.RoundTripper(secrets.WithRedactor(context.Background(), red), e.conn("/v2", nil), &profile, e.dir); err != nil {
		t.Fatal(err)
	}
	if got := red.String("partner said " + keystorePassword); got != "partner said [redacted]" {
		t.Fatalf("got %q: the keystore password is unknown to the attempt's Redactor", got)
	}
}
