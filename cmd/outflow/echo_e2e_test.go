package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/steps/rest/echotest"
	"github.com/outflow-dev/outflow/steps/soap/soaptest"
)

// echoProject calls a partner that hands back every credential it gets:
// headers echoed into a body, an API key repeated in a Location query, a
// 401 quoting the Authorization header (basic and OAuth 2.0), a SOAP fault
// quoting the WS-Security password and a token endpoint quoting the client
// secret. The failing steps continue, so one run holds every case, and
// the outputs copy what the partner said into the record; the last step
// fails the run, so the CLI reports a failure too.
const echoProject = `kind: ProtocolProfile
name: echo-mtls
keystore: {path: client.pem}
truststore: {paths: [partner-ca.pem]}
---
kind: Connection
name: echo-basic
url: %[1]s/v2
mutual_auth: true
protocol_profile: echo-mtls
credential: {type: basic, username: svc-outflow, password: {secret: env:ECHO_E2E_PASSWORD}}
---
kind: Connection
name: echo-key
url: %[1]s/v2
mutual_auth: true
protocol_profile: echo-mtls
credential: {type: api_key, in: query, key: api_key, value: {secret: env:ECHO_E2E_API_KEY}}
---
kind: Connection
name: echo-oauth
url: %[1]s/v2
mutual_auth: true
protocol_profile: echo-mtls
credential: {type: oauth2_client_credentials, token_url: token, client_id: outflow, client_secret: {secret: env:ECHO_E2E_CLIENT_SECRET}}
---
kind: Connection
name: echo-oauth-refused
url: %[1]s/v2
mutual_auth: true
protocol_profile: echo-mtls
credential: {type: oauth2_client_credentials, token_url: token-refused, client_id: outflow, client_auth: client_secret_post,
             client_secret: {secret: env:ECHO_E2E_CLIENT_SECRET}}
---
kind: Connection
name: echo-soap
url: %[1]s/soap
mutual_auth: true
protocol_profile: echo-mtls
---
kind: Flow
name: hostile
steps:
  - id: headers
    rest: {connection: echo-basic, method: GET, path: /echo}
  - id: created
    rest: {connection: echo-key, method: POST, path: /created}
  - id: bearer
    rest: {connection: echo-oauth, method: GET, path: /echo}
  - id: bearer_refused
    continue_on_error: true
    rest: {connection: echo-oauth, method: GET, path: /refuse}
  - id: fault
    continue_on_error: true
    soap:
      connection: echo-soap
      wsdl: orders.wsdl
      operation: GetOrderStatus
      body: {OrderId: "42"}
      security: {username: svc-outflow, password: {secret: env:ECHO_E2E_WS_PASSWORD}}
  - id: token_refused
    continue_on_error: true
    rest: {connection: echo-oauth-refused, method: GET, path: /echo}
  - id: basic_refused
    rest: {connection: echo-basic, method: GET, path: /refuse}
outputs:
  authorization: "${{ steps.headers.json.headers.Authorization }}"
  bearer: "${{ steps.bearer.json.headers.Authorization }}"
  location: "${{ steps.created.headers.location }}"
  bearer_refused: "${{ steps.bearer_refused.error.message }}"
  fault: "${{ steps.fault.error.message }}"
  token_refused: "${{ steps.token_refused.error.message }}"
`

// TestEchoedSecretsNeverLeaveTheWorker runs a flow against a partner that
// echoes every credential back, on the embedded Temporal server of
// outflow dev (its worker and its JSON log at debug level), then searches
// the workflow history, the output of outflow run and outflow executions
// show --json, and the dev log for each secret and each form it was sent
// in. Each value is first shown to have been echoed by the partner.
func TestEchoedSecretsNeverLeaveTheWorker(t *testing.T) {
	const (
		password     = "pw-e2e-4d1c-basic"
		apiKey       = "ak-e2e-7b2f/query+key"
		clientSecret = "cs-e2e-90ae-client-secret"
		wsPassword   = "ws-e2e-3e5d-<password>"
	)
	t.Setenv("ECHO_E2E_PASSWORD", password)
	t.Setenv("ECHO_E2E_API_KEY", apiKey)
	t.Setenv("ECHO_E2E_CLIENT_SECRET", clientSecret)
	t.Setenv("ECHO_E2E_WS_PASSWORD", wsPassword)
	p, err := echotest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dir := t.TempDir()
	bundle, err := p.ClientBundle("svc-outflow")
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(dir, "client.pem"), bundle)
	writeTestFile(t, filepath.Join(dir, "partner-ca.pem"), p.CAPEM())
	writeTestFile(t, filepath.Join(dir, "orders.wsdl"), soaptest.WSDL(p.URL+"/soap"))
	writeTestFile(t, filepath.Join(dir, "flow.yaml"), []byte(fmt.Sprintf(echoProject, p.URL)))
	if _, stderr, code := cli(t, "validate", "--project", dir); code != 0 {
		t.Fatalf("validate: exit %d\n%s", code, stderr)
	}

	// outflow dev, in this process: its server, worker and log.
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	devOut, devLog := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, []string{"dev", "--db", filepath.Join(t.TempDir(), "dev.sqlite"), "--port", fmt.Sprint(port), "--ui-port", "0",
			"--log-format", "json", "--log-level", "debug"}, devOut, devLog)
	}()
	defer func() {
		cancel()
		<-done
	}()
	waitFor(t, "outflow dev", 3*time.Minute, func() bool {
		select {
		case code := <-done:
			t.Fatalf("outflow dev exited %d:\n%s\n%s", code, devOut.String(), devLog.String())
		default:
		}
		return strings.Contains(devOut.String(), "run flows with")
	})

	runOut, runErr, code := cli(t, "run", "hostile", "--project", dir, "--address", addr, "--id", "hostile-1", "--json")
	if code == 0 {
		t.Fatalf("the run succeeded, but its last step is refused:\n%s", runOut)
	}
	// It exits 1 as run does: the execution failed.
	showOut, showErr, _ := cli(t, "executions", "show", "hostile-1", "--json", "--address", addr)
	if !strings.Contains(showOut, `"workflow_id": "hostile-1"`) || !strings.Contains(showOut, `"status": "failed"`) {
		t.Fatalf("executions show:\n%s%s\nrun: %s%s", showOut, showErr, runOut, runErr)
	}
	st, err := openStack(context.Background(), &globalFlags{namespace: "default", address: addr}, stackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	history := historyText(t, fetchHistory(t, st, "hostile-1", ""))
	cliText := runOut + runErr + showOut + showErr

	// The searches can find things: the history has the references and
	// the redacted echoes, the CLI the record, the log the steps.
	for what, text := range map[string]string{"history": history, "the CLI output": cliText} {
		for _, want := range []string{"env:ECHO_E2E_PASSWORD", "Basic [redacted]", "Bearer [redacted]", "api_key=[redacted]",
			"credentials refused: Bearer [redacted]", "password [redacted] is not valid", "client secret [redacted] is not valid"} {
			if what == "the CLI output" && want == "env:ECHO_E2E_PASSWORD" {
				continue
			}
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q: the search would not see it", what, want)
			}
		}
	}
	if !strings.Contains(devLog.String(), `"step":"headers"`) {
		t.Fatalf("the dev log has no step lines:\n%s", devLog.String())
	}

	basic := base64.StdEncoding.EncodeToString([]byte("svc-outflow:" + password))
	clientBasic := base64.StdEncoding.EncodeToString([]byte("outflow:" + clientSecret))
	values := map[string]string{
		"password": password, "base64(user:password)": basic,
		"api key": apiKey, "api key, query-escaped": url.QueryEscape(apiKey),
		"client secret": clientSecret, "client_secret_basic": clientBasic,
		"WS-Security password": wsPassword, "WS-Security password, XML-escaped": "ws-e2e-3e5d-&lt;password&gt;",
	}
	tokens := p.Tokens()
	if len(tokens) < 4 {
		t.Fatalf("%d tokens issued, want at least two access and two refresh tokens", len(tokens))
	}
	for i, tok := range tokens {
		values[fmt.Sprintf("token %d", i)] = tok
	}
	echoed := strings.Join(p.Echoed(), "\n")
	for _, sent := range []string{"Basic " + basic, "api_key=" + url.QueryEscape(apiKey), "Bearer " + tokens[0], "Bearer " + tokens[2], clientSecret, wsPassword} {
		if !strings.Contains(echoed, sent) {
			t.Fatalf("the partner never echoed %q: the test would prove nothing", sent)
		}
	}
	for name, v := range values {
		// The history and the JSON output hold strings JSON-escaped.
		js, _ := json.Marshal(v)
		for where, text := range map[string]string{"workflow history": history, "the CLI output": cliText, "the dev log": devLog.String() + devOut.String()} {
			if strings.Contains(text, v) || strings.Contains(text, string(js[1:len(js)-1])) {
				t.Errorf("%s (%q) found in %s", name, v, where)
			}
		}
	}
}
