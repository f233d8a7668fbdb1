package worker

// A project chooses its secret references and the hosts its steps call:
// on an agent, it must not be able to send the agent's own secrets — the
// Vault token, the Temporal client key, the payload key — to a host of its
// choosing. The steps run as the worker runs them (the REST activity, the
// agent's resolver as StartAgent builds it) against a partner that records
// what it receives.

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/rest"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// collector is a partner that keeps the Authorization headers it gets.
type collector struct {
	mu   sync.Mutex
	auth []string
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.auth = append(c.auth, r.Header.Get("Authorization"))
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"ok": true}`)
}

func (c *collector) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.auth...)
}

// basicStep runs a REST step whose basic password is ref, as the agent's
// worker runs it, and returns the step's error.
func basicStep(t *testing.T, res *secrets.Resolver, partnerURL, ref string) error {
	t.Helper()
	u, _ := url.Parse(partnerURL)
	port, _ := strconv.Atoi(u.Port())
	conn := &engine.Connection{Name: "partner", Scheme: "http", Host: u.Hostname(), Port: port,
		Credential: &engine.Credential{Type: "basic", Username: "svc", Password: &engine.SecretRef{Ref: ref}}}
	tr := steps.NewTransports(res)
	defer tr.Close()
	a := &rest.Activity{Secrets: res, Transports: tr}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(a.Execute, activity.RegisterOptions{Name: engine.RestActivity})
	_, err := env.ExecuteActivity(engine.RestActivity, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn}, Method: "GET", Path: "/collect"})
	return err
}

// ownSecretsAgent writes an agent whose Temporal client certificate and
// Vault token are its own, and returns its config and project folder.
func ownSecretsAgent(t *testing.T, extra string) (*Config, string) {
	t.Helper()
	ca, err := devpki.NewCA("Temporal CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.IssueClient("dmz-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := leaf.BundlePEM()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeConfig(t, dir, "dmz-1-bundle.pem", string(bundle))
	writeConfig(t, dir, "partner.pass", "partner-ks-pw\n")
	project := filepath.Join(dir, "project")
	if err := os.Mkdir(project, 0o755); err != nil {
		t.Fatal(err)
	}
	_, vaultURL := newKVServer(t, "vault-token-a41f")
	t.Setenv("OUTFLOW_TEST_VAULT_TOKEN", "vault-token-a41f")
	cfg, err := LoadConfig(writeConfig(t, dir, "agent.yaml", fmt.Sprintf(`name: dmz-1
groups: [dmz]
project_dir: project
temporal:
  tls: {keystore: dmz-1-bundle.pem}
profiles:
  partner-mtls:
    keystore: {path: dmz-1-bundle.pem, password: {secret: file:partner.pass}}
secrets:
  vault:
    address: %s
    token: {secret: env:OUTFLOW_TEST_VAULT_TOKEN}
%s`, vaultURL, extra)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, project
}

func TestAgentStepsCannotReadTheAgentsOwnSecrets(t *testing.T) {
	cfg, project := ownSecretsAgent(t, "")
	t.Setenv(EnvPayloadKey, "payload-key-c0de")
	t.Setenv("PARTNER_PASSWORD", "partner-pw-7e11")
	payloadFile := filepath.Join(t.TempDir(), "payload.key")
	writeConfig(t, filepath.Dir(payloadFile), "payload.key", "payload-key-file-9b9b\n")
	res, _, err := cfg.resolvers(context.Background(), AgentOptions{OwnSecrets: PayloadKeySecrets([]string{"file:" + payloadFile})}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	partner := &collector{}
	srv := httptest.NewServer(partner)
	defer srv.Close()

	bundle := filepath.Join(cfg.dir(), "dmz-1-bundle.pem")
	rel, _ := filepath.Rel(project, bundle)
	for _, c := range []struct{ ref, value, why string }{
		{"env:OUTFLOW_TEST_VAULT_TOKEN", "vault-token-a41f", "secrets.vault.token in " + cfg.File},
		{"file:" + rel, "PRIVATE KEY", "temporal.tls.keystore in " + cfg.File},
		{"file:" + bundle, "PRIVATE KEY", "temporal.tls.keystore in " + cfg.File},
		{"env:" + EnvPayloadKey, "payload-key-c0de", "the payload key, " + EnvPayloadKey},
		{"file:" + payloadFile, "payload-key-file-9b9b", "--payload-key"},
		{"file:/proc/self/environ", "vault-token-a41f", "a file of the system"},
	} {
		err := basicStep(t, res, srv.URL, c.ref)
		msg := stepError(t, err, engine.ErrSecret)
		for _, want := range []string{fmt.Sprintf("%q", c.ref), `refused on agent "dmz-1"`, c.why} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q lacks %q", c.ref, msg, want)
			}
		}
		if strings.Contains(msg, c.value) {
			t.Errorf("%s: the error carries the value", c.ref)
		}
	}
	if got := partner.received(); len(got) != 0 {
		t.Fatalf("the partner received %d requests: %q", len(got), got)
	}

	// The project's own references still resolve and reach the partner.
	if err := basicStep(t, res, srv.URL, "env:PARTNER_PASSWORD"); err != nil {
		t.Fatal(err)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("svc:partner-pw-7e11"))
	if got := partner.received(); len(got) != 1 || got[0] != want {
		t.Fatalf("the partner received %q", got)
	}
}

// TestAgentAllowList: with secrets.allow, steps resolve only the
// references it names and those of the config's profiles.
func TestAgentAllowList(t *testing.T) {
	cfg, _ := ownSecretsAgent(t, "  allow: [env:PARTNER_*, file:partner-secrets/*]\n")
	t.Setenv("PARTNER_PASSWORD", "partner-pw-7e11")
	t.Setenv("OUTFLOW_TEST_OTHER", "other-3c3c")
	writeConfig(t, filepath.Join(cfg.dir()), "other.pass", "other-file-5d5d\n")
	if err := os.Mkdir(filepath.Join(cfg.dir(), "partner-secrets"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, filepath.Join(cfg.dir(), "partner-secrets"), "api.pass", "api-file-6e6e\n")
	res, _, err := cfg.resolvers(context.Background(), AgentOptions{}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	partner := &collector{}
	srv := httptest.NewServer(partner)
	defer srv.Close()
	for _, ref := range []string{"env:PARTNER_PASSWORD", "file:" + filepath.Join(cfg.dir(), "partner-secrets", "api.pass")} {
		if err := basicStep(t, res, srv.URL, ref); err != nil {
			t.Errorf("%s: %v", ref, err)
		}
	}
	for _, ref := range []string{"env:OUTFLOW_TEST_OTHER", "file:" + filepath.Join(cfg.dir(), "other.pass"), "vault:secret/partner#password"} {
		msg := stepError(t, basicStep(t, res, srv.URL, ref), engine.ErrSecret)
		for _, want := range []string{fmt.Sprintf("%q", ref), "is not in secrets.allow in " + cfg.File, "env:PARTNER_*", "add it there"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q lacks %q", ref, msg, want)
			}
		}
	}
	// A prefix that covers the agent's own secret does not open it.
	t.Setenv("PARTNER_VAULT_TOKEN", "vault-token-a41f")
	cfg2, _ := ownSecretsAgent(t, "  allow: [env:*]\n")
	res2, _, err := cfg2.resolvers(context.Background(), AgentOptions{}, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	msg := stepError(t, basicStep(t, res2, srv.URL, "env:OUTFLOW_TEST_VAULT_TOKEN"), engine.ErrSecret)
	if !strings.Contains(msg, "secrets.vault.token") {
		t.Errorf("env:* opened the agent's vault token: %q", msg)
	}
	// The profiles' own references are allowed without being listed.
	v, err := res.Resolve(context.Background(), "file:"+filepath.Join(cfg.dir(), "partner.pass"))
	if err != nil || v != "partner-ks-pw" {
		t.Fatalf("the profile's keystore password: %q %v", v, err)
	}
	if n := len(partner.received()); n != 2 {
		t.Fatalf("the partner received %d requests, want the 2 allowed", n)
	}
}

// TestConfigSecretAllowAndOwnRefsAreChecked: bad allow entries, and a
// profile that would hand its steps one of the agent's own secrets, are
// config problems at their position.
func TestConfigSecretAllowAndOwnRefsAreChecked(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, "bundle.pem", "x")
	writeConfig(t, dir, "partner.p12", "x")
	_, err := LoadConfig(writeConfig(t, dir, "agent.yaml", `name: dmz-1
groups: [dmz]
temporal:
  tls: {keystore: bundle.pem, password: {secret: env:AGENT_KEY_PASSWORD}}
profiles:
  partner-mtls:
    keystore: {path: partner.p12, password: {secret: env:AGENT_KEY_PASSWORD}}
secrets:
  allow: [PARTNER_PASSWORD, "env:PARTNER_*_PW", ssm:x]
`))
	if err == nil {
		t.Fatal("loaded")
	}
	got := err.Error()
	for _, want := range []string{
		`agent.yaml:7:54: profiles.partner-mtls.keystore.password.secret: "env:AGENT_KEY_PASSWORD" is also temporal.tls.password in`,
		`agent.yaml:9:11: secrets.allow[0]: "PARTNER_PASSWORD" is not a secret reference`,
		`agent.yaml:9:29: secrets.allow[1]: "env:PARTNER_*_PW": * may only end`,
		`agent.yaml:9:49: secrets.allow[2]: "ssm:x": unknown scheme "ssm"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
}

// TestDefaultWorkerKeepsItsOwnSecrets: a worker without an agent config
// (outflow worker, dev, run) keeps its payload keys and its Temporal client
// key from its steps too.
func TestDefaultWorkerKeepsItsOwnSecrets(t *testing.T) {
	dir := t.TempDir()
	key := writeConfig(t, dir, "client.key", "temporal-key-1d1d\n")
	payload := writeConfig(t, dir, "payload.key", "payload-file-2e2e\n")
	t.Setenv(EnvTLSKey, key)
	t.Setenv(EnvPayloadKey, "payload-env-3f3f")
	t.Setenv("PARTNER_PASSWORD", "partner-pw-7e11")
	wd, _ := os.Getwd()
	relPayload, _ := filepath.Rel(wd, payload)
	res, err := defaultSecrets(dir, PayloadKeySecrets([]string{"file:" + relPayload}))
	if err != nil {
		t.Fatal(err)
	}
	for ref, why := range map[string]string{
		"file:client.key":       "the Temporal client certificate, " + EnvTLSKey,
		"env:" + EnvPayloadKey:  "the payload key",
		"file:payload.key":      "--payload-key",
		"file:/proc/1/environ":  "a file of the system",
		"file:/proc/self/fd/0":  "a file of the system",
		"file:" + payload + "/": "--payload-key",
	} {
		_, err := res.Resolve(context.Background(), ref)
		if err == nil || !secrets.IsRefused(err) || !strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), "this worker") {
			t.Errorf("%s: %v; want it refused naming %q", ref, err, why)
		}
	}
	if v, err := res.Resolve(context.Background(), "env:PARTNER_PASSWORD"); err != nil || v != "partner-pw-7e11" {
		t.Fatalf("a project's reference: %q %v", v, err)
	}
}
