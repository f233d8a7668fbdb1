package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
	"github.com/outflow-dev/outflow/steps/oauth2"
	"github.com/outflow-dev/outflow/steps/oauth2/oauth2test"
)

// oauthProject writes a project whose connections get OAuth 2.0 tokens from
// the test authorization server over mTLS: one by its client certificate
// (tls_client_auth), one by a client secret. Both present the same
// keystore.
func oauthProject(t *testing.T, srv *oauth2test.Server) (dir, certThumbprint string) {
	t.Helper()
	dir = t.TempDir()
	leaf, err := srv.CA.IssueClient("svc-outflow", nil)
	if err != nil {
		t.Fatal(err)
	}
	bundle, _ := leaf.BundlePEM()
	if err := os.WriteFile(filepath.Join(dir, "client.pem"), bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bank-ca.pem"), srv.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	srv.Register(oauth2test.Client{ID: "outflow-tls", Method: "tls_client_auth", SubjectDN: leaf.Cert.Subject.String()})
	srv.Register(oauth2test.Client{ID: "outflow-secret", Method: "client_secret_post", Secret: os.Getenv("BANK_CLIENT_SECRET")})
	project := fmt.Sprintf(`kind: ProtocolProfile
name: bank-mtls
keystore: {path: client.pem}
truststore: {paths: [bank-ca.pem]}
---
kind: Connection
name: bank
url: %[1]s/open-banking/v3
mutual_auth: true
protocol_profile: bank-mtls
credential:
  type: oauth2_client_credentials
  token_url: /oauth2/token
  client_id: outflow-tls
  client_auth: tls_client_auth
  scopes: [accounts]
---
kind: Connection
name: bank-secret
url: %[1]s/open-banking/v3
mutual_auth: true
protocol_profile: bank-mtls
credential:
  type: oauth2_client_credentials
  token_url: %[1]s/oauth2/token
  client_id: outflow-secret
  client_secret: {secret: env:BANK_CLIENT_SECRET}
  client_auth: client_secret_post
  scopes: [payments]
---
kind: Flow
name: pay
steps:
  - id: accounts
    rest: {connection: bank, method: GET, path: /accounts}
  - id: again
    rest: {connection: bank, method: GET, path: /accounts}
  - id: pay
    rest: {connection: bank-secret, method: POST, path: /payments, body: {amount: "10.00"}}
outputs:
  first_client: "${{ steps.accounts.json.client_id }}"
  payer: "${{ steps.pay.json.client_id }}"
`, srv.URL)
	if err := os.WriteFile(filepath.Join(dir, "project.yaml"), []byte(project), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, oauth2.Thumbprint(leaf.Cert)
}

// TestOAuthFlowEndToEnd runs a flow whose steps get certificate-bound OAuth
// 2.0 tokens, on the embedded Temporal server with a real worker, then
// searches the workflow history and the execution record for the client
// secret and every access token issued.
func TestOAuthFlowEndToEnd(t *testing.T) {
	const secret = "e2e-cl1ent-secret-value"
	t.Setenv("BANK_CLIENT_SECRET", secret)
	srv, err := oauth2test.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir, thumb := oauthProject(t, srv)
	if _, stderr, code := cli(t, "validate", "--project", dir); code != 0 {
		t.Fatalf("validate: exit %d\n%s", code, stderr)
	}
	proj, err := flows.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := proj.Plan("pay")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := openStack(ctx, &globalFlags{namespace: "default"}, stackOptions{embedWorker: true, baseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.client.Start(ctx, plan, nil, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := st.client.Wait(ctx, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != engine.StatusSucceeded || rec.Outputs["first_client"] != "outflow-tls" || rec.Outputs["payer"] != "outflow-secret" {
		t.Fatalf("status %s, outputs %v, error %+v", rec.Status, rec.Outputs, rec.Error)
	}
	for id, cached := range map[string]bool{"accounts": false, "again": true, "pay": false} {
		s := rec.Step(id)
		if s == nil || s.Auth == nil || s.Auth.TokenCached != cached || s.Auth.BoundCertificate != thumb || s.Auth.TokenExpiresAt == nil {
			t.Fatalf("step %s: auth facts %+v", id, s)
		}
	}
	if n := srv.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want 2: one per connection", n)
	}
	var text bytes.Buffer
	rec.WriteText(&text, true)
	if !strings.Contains(text.String(), "auth:     oauth2_client_credentials (tls_client_auth), cached token from "+srv.URL+"/oauth2/token") {
		t.Fatalf("the record's text lacks the auth line:\n%s", text.String())
	}

	history := historyText(t, fetchHistory(t, st, run.GetID(), run.GetRunID()))
	recJSON, _ := json.Marshal(rec)
	// The searches must be able to find something: the secret's reference
	// is in the plan, and the record names the token endpoint.
	if !strings.Contains(history, "env:BANK_CLIENT_SECRET") || !strings.Contains(history, `"token_cached":true`) {
		t.Fatal("the decoded history lacks the secret reference or the auth facts: the search does not see payloads")
	}
	if !strings.Contains(string(recJSON), `"bound_certificate":"`+thumb+`"`) {
		t.Fatal("the record lacks the auth facts: the search does not see them")
	}
	tokens := srv.AccessTokens()
	if len(tokens) != 2 {
		t.Fatalf("%d tokens issued", len(tokens))
	}
	for name, value := range map[string]string{"client secret": secret, "first access token": tokens[0], "second access token": tokens[1]} {
		if strings.Contains(history, value) {
			t.Errorf("%s found in the workflow history", name)
		}
		if strings.Contains(string(recJSON), value) || strings.Contains(text.String(), value) {
			t.Errorf("%s found in the execution record", name)
		}
	}
}
