package worker

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/rest"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// partnerWorld is a partner that requires client certificates from its CA
// and answers with the common name it saw, a project folder trusting it,
// and a protocol profile and connection for it.
type partnerWorld struct {
	ca         *devpki.CA
	conn       *engine.Connection
	projectDir string
	trust      *engine.Truststore
}

func newPartnerWorld(t *testing.T) *partnerWorld {
	t.Helper()
	ca, err := devpki.NewCA("Partner CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, err := ca.IssueServer("partner", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"client": r.TLS.PeerCertificates[0].Subject.CommonName})
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "partner-ca.pem"), ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return &partnerWorld{
		ca:         ca,
		conn:       &engine.Connection{Name: "partner", Scheme: "https", Host: host, Port: p, MutualAuth: true, ProtocolProfile: "partner-mtls"},
		projectDir: dir,
		trust:      &engine.Truststore{Paths: []string{"partner-ca.pem"}},
	}
}

// p12 issues a client certificate and returns it as a PKCS#12 file's bytes.
func (w *partnerWorld) p12(t *testing.T, cn, password string) []byte {
	t.Helper()
	leaf, err := w.ca.IssueClient(cn, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pkcs12.Modern.Encode(leaf.Key, leaf.Cert, w.ca.Chain(), password)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// agentDir writes an agent's config, with its keystore and password file
// beside it, and loads it.
func (w *partnerWorld) agentDir(t *testing.T, name, group, cn, extra string) *Config {
	t.Helper()
	dir := t.TempDir()
	pw := "pw-" + name
	if err := os.WriteFile(filepath.Join(dir, "partner.p12"), w.p12(t, cn, pw), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "partner.pass"), []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf(`name: %s
groups: [%s]
profiles:
  partner-mtls:
    keystore:
      path: partner.p12
      password: {secret: file:partner.pass}
%s`, name, group, extra)
	cfg, err := LoadConfig(writeConfig(t, dir, "agent.yaml", text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (w *partnerWorld) transports(agent *steps.Agent) *steps.Transports {
	tr := steps.NewTransports(secrets.New(w.projectDir))
	tr.Agent = agent
	return tr
}

// runStep runs the REST activity as a worker would, and returns the client
// certificate the partner saw.
func runStep(t *testing.T, tr *steps.Transports, conn *engine.Connection, profile *engine.ProtocolProfile, projectDir string) (string, error) {
	t.Helper()
	a := &rest.Activity{Secrets: tr.Secrets, Transports: tr}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(a.Execute, activity.RegisterOptions{Name: engine.RestActivity})
	v, err := env.ExecuteActivity(engine.RestActivity, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn, Profile: profile, ProjectRoot: projectDir}, Method: "GET", Path: "/whoami"})
	if err != nil {
		return "", err
	}
	var res engine.StepResult
	if err := v.Get(&res); err != nil {
		return "", err
	}
	m, _ := res.Response.JSON.(map[string]any)
	cn, _ := m["client"].(string)
	return cn, nil
}

// stepError checks that err is a step failure of type typ that Temporal
// will not retry, and returns its message.
func stepError(t *testing.T, err error, typ string) string {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("error %v is not an application error", err)
	}
	if appErr.Type() != typ || !appErr.NonRetryable() {
		t.Fatalf("error type %q (non-retryable %v), want non-retryable %q: %v", appErr.Type(), appErr.NonRetryable(), typ, appErr.Message())
	}
	return appErr.Message()
}

// TestAgentStoreAgentPresentsTheAgentsKeystore runs one profile, defined
// once in the project with store: agent and no keystore, on two agents
// whose configs hold different keystores: each presents its own.
func TestAgentStoreAgentPresentsTheAgentsKeystore(t *testing.T) {
	w := newPartnerWorld(t)
	profile := &engine.ProtocolProfile{Name: "partner-mtls", Store: "agent", Truststore: w.trust}
	a := w.agentDir(t, "a-1", "zone-a", "partner-client-a", "")
	b := w.agentDir(t, "b-1", "zone-b", "partner-client-b", "")
	for cfg, want := range map[*Config]string{a: "partner-client-a", b: "partner-client-b"} {
		got, err := runStep(t, w.transports(cfg.Agent()), w.conn, profile, w.projectDir)
		if err != nil {
			t.Fatalf("agent %s: %v", cfg.Name, err)
		}
		if got != want {
			t.Fatalf("agent %s presented %q, want %q", cfg.Name, got, want)
		}
	}

	// The project may instead name a file on the agents' machines, with its
	// password reference, both read where the step runs.
	t.Setenv("OUTFLOW_TEST_AGENT_PW", "pw-c")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keys.p12"), w.p12(t, "partner-client-c", "pw-c"), 0o600); err != nil {
		t.Fatal(err)
	}
	withPath := *profile
	withPath.Keystore = &engine.Keystore{Path: "keys.p12", Password: &engine.SecretRef{Ref: "env:OUTFLOW_TEST_AGENT_PW"}}
	got, err := runStep(t, w.transports(&steps.Agent{Name: "c-1", Groups: []string{"zone-c"}, Dir: dir}), w.conn, &withPath, w.projectDir)
	if err != nil || got != "partner-client-c" {
		t.Fatalf("keystore path given by the project: %q, %v", got, err)
	}

	// A default worker has no agent config to read the keystore from.
	_, err = runStep(t, w.transports(nil), w.conn, profile, w.projectDir)
	msg := stepError(t, err, engine.ErrCertificate)
	for _, want := range []string{`"partner-mtls"`, "store: agent", "a default worker, not an agent"} {
		if !strings.Contains(msg, want) {
			t.Errorf("default worker: %q lacks %q", msg, want)
		}
	}
	// An agent whose config lacks the profile says which agent and what to add.
	_, err = runStep(t, w.transports(&steps.Agent{Name: "d-1", Groups: []string{"zone-d"}}), w.conn, profile, w.projectDir)
	msg = stepError(t, err, engine.ErrCertificate)
	for _, want := range []string{`agent "d-1"`, "profiles.partner-mtls.keystore"} {
		if !strings.Contains(msg, want) {
			t.Errorf("agent without the profile: %q lacks %q", msg, want)
		}
	}
}

// TestAgentAppliesToRefusesOtherAgents checks that a profile limited to
// some agents fails, without retrying, on any other worker, naming the
// profile and the agent.
func TestAgentAppliesToRefusesOtherAgents(t *testing.T) {
	w := newPartnerWorld(t)
	a := w.agentDir(t, "a-1", "zone-a", "partner-client-a", "")
	b := w.agentDir(t, "b-1", "zone-b", "partner-client-b", "")
	for _, appliesTo := range [][]string{{"zone-a"}, {"a-1"}} {
		profile := &engine.ProtocolProfile{Name: "partner-mtls", Store: "agent", Truststore: w.trust, AppliesTo: appliesTo}
		if got, err := runStep(t, w.transports(a.Agent()), w.conn, profile, w.projectDir); err != nil || got != "partner-client-a" {
			t.Fatalf("applies_to %v on agent a-1: %q, %v", appliesTo, got, err)
		}
		_, err := runStep(t, w.transports(b.Agent()), w.conn, profile, w.projectDir)
		msg := stepError(t, err, engine.ErrCertificate)
		for _, want := range []string{`protocol profile "partner-mtls"`, "applies to " + appliesTo[0] + " only", `agent "b-1"`, "zone-b"} {
			if !strings.Contains(msg, want) {
				t.Errorf("applies_to %v on agent b-1: %q lacks %q", appliesTo, msg, want)
			}
		}
		_, err = runStep(t, w.transports(nil), w.conn, profile, w.projectDir)
		if msg := stepError(t, err, engine.ErrCertificate); !strings.Contains(msg, "a default worker") {
			t.Errorf("applies_to %v on a default worker: %q", appliesTo, msg)
		}
	}
	var refused *steps.ProfileRefusedError
	profile := &engine.ProtocolProfile{Name: "partner-mtls", Store: "agent", AppliesTo: []string{"zone-a"}}
	_, err := w.transports(b.Agent()).RoundTripper(context.Background(), w.conn, profile, "")
	if !errors.As(err, &refused) || refused.Profile != "partner-mtls" {
		t.Fatalf("RoundTripper: %v, want a *steps.ProfileRefusedError", err)
	}
}

func TestAgentStoreProjectNeedsTheFileOnTheAgent(t *testing.T) {
	w := newPartnerWorld(t)
	profile := &engine.ProtocolProfile{Name: "partner-mtls", Keystore: &engine.Keystore{Path: "certs/client.p12"}, Truststore: w.trust}
	_, err := runStep(t, w.transports(&steps.Agent{Name: "a-1", Groups: []string{"zone-a"}}), w.conn, profile, w.projectDir)
	msg := stepError(t, err, engine.ErrCertificate)
	for _, want := range []string{filepath.Join(w.projectDir, "certs", "client.p12"), "does not exist on this worker", `agent "a-1"`, "store: project"} {
		if !strings.Contains(msg, want) {
			t.Errorf("%q lacks %q", msg, want)
		}
	}
}

// kvServer is the KV v2 read endpoint of Vault, as its API documentation
// describes it; no Vault server can be installed where these tests run.
type kvServer struct {
	mu   sync.Mutex
	data map[string]map[string]string // "mount/path" -> fields
}

func (k *kvServer) set(path string, fields map[string]string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.data[path] = fields
}

func newKVServer(t *testing.T, token string) (*kvServer, string) {
	k := &kvServer{data: map[string]map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		defer k.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("X-Vault-Token") != token {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"errors":["permission denied"]}`)
			return
		}
		mount, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1/"), "/data/")
		fields, ok := k.data[mount+"/"+rest]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"errors":[]}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": map[string]any{"data": fields, "metadata": map[string]any{"version": 1}}})
	}))
	t.Cleanup(srv.Close)
	return k, srv.URL
}

// TestAgentStoreVaultFetchesTheKeystore keeps the keystore itself and its
// password in Vault: the agent fetches both where the step runs, and a
// keystore rotated in Vault is presented once the cached value expires.
func TestAgentStoreVaultFetchesTheKeystore(t *testing.T) {
	w := newPartnerWorld(t)
	kv, addr := newKVServer(t, "agent-token-5e1")
	kv.set("secret/partner", map[string]string{"keystore": base64.StdEncoding.EncodeToString(w.p12(t, "from-vault-1", "vault-pw")), "password": "vault-pw"})
	t.Setenv("OUTFLOW_TEST_VAULT_TOKEN", "agent-token-5e1")
	cfg := w.agentDir(t, "v-1", "zone-v", "unused", fmt.Sprintf(`secrets:
  vault:
    address: %s
    token: {secret: env:OUTFLOW_TEST_VAULT_TOKEN}
    cache_ttl: 0s
`, addr))
	res := secrets.New(w.projectDir)
	if err := cfg.registerProviders(context.Background(), res, secrets.New(cfg.dir()), slog.Default()); err != nil {
		t.Fatal(err)
	}
	tr := steps.NewTransports(res)
	tr.Agent = cfg.Agent()
	defer tr.Close()
	profile := &engine.ProtocolProfile{Name: "vaulted", Store: "vault", Truststore: w.trust,
		Keystore: &engine.Keystore{Path: "vault:secret/data/partner#keystore", Password: &engine.SecretRef{Ref: "vault:secret/data/partner#password"}}}
	conn := *w.conn
	conn.ProtocolProfile = "vaulted"
	if got, err := runStep(t, tr, &conn, profile, w.projectDir); err != nil || got != "from-vault-1" {
		t.Fatalf("keystore from vault: %q, %v", got, err)
	}
	kv.set("secret/partner", map[string]string{"keystore": base64.StdEncoding.EncodeToString(w.p12(t, "from-vault-2", "vault-pw-2")), "password": "vault-pw-2"})
	if got, err := runStep(t, tr, &conn, profile, w.projectDir); err != nil || got != "from-vault-2" {
		t.Fatalf("after rotating the keystore in vault: %q, %v", got, err)
	}

	// A missing secret fails the step as a Secret error naming the
	// reference, and no value.
	missing := *profile
	missing.Keystore = &engine.Keystore{Path: "vault:secret/data/partner#keystore", Password: &engine.SecretRef{Ref: "vault:secret/data/partner#pasword"}}
	_, err := runStep(t, tr, &conn, &missing, w.projectDir)
	msg := stepError(t, err, engine.ErrSecret)
	if !strings.Contains(msg, `"vault:secret/data/partner#pasword"`) || !strings.Contains(msg, `no field "pasword"`) {
		t.Errorf("missing field: %q", msg)
	}
	for _, v := range []string{"vault-pw-2", "agent-token-5e1"} {
		if strings.Contains(msg, v) {
			t.Errorf("the error carries a secret value: %q", msg)
		}
	}
}

// TestAgentMissingSecretNamesTheReference checks the message of a step
// whose keystore password cannot be resolved on the agent.
func TestAgentMissingSecretNamesTheReference(t *testing.T) {
	w := newPartnerWorld(t)
	cfg := w.agentDir(t, "a-1", "zone-a", "partner-client-a", "")
	cfg.Profiles["partner-mtls"].Keystore.Password = &SecretRef{Ref: "env:OUTFLOW_TEST_UNSET_PASSWORD"}
	profile := &engine.ProtocolProfile{Name: "partner-mtls", Store: "agent", Truststore: w.trust}
	_, err := runStep(t, w.transports(cfg.Agent()), w.conn, profile, w.projectDir)
	msg := stepError(t, err, engine.ErrSecret)
	if !strings.Contains(msg, `"env:OUTFLOW_TEST_UNSET_PASSWORD"`) || !strings.Contains(msg, "not set on this worker") {
		t.Fatalf("%q", msg)
	}
	if strings.Contains(msg, "pw-a-1") {
		t.Fatalf("the error carries a password: %q", msg)
	}
}
