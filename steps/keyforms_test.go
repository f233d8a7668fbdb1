package steps

// Vault here is vaulttest, a server written from Vault's API documentation
// (no Vault-compatible server can be built here; see its package comment).

import (
	"context"
	"crypto/tls"
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
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/hsm/hsmtest"
	"github.com/outflow-dev/outflow/steps/keystore"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/secrets/vaulttest"
)

const keyformsVaultToken = "hvs.steps-keyforms-7a21"

type vaultWorker struct {
	vault   *vaulttest.Server
	tr      *Transports
	conn    *engine.Connection
	profile *engine.ProtocolProfile
	dir     string
}

// newVaultWorker is a worker whose secret resolver has Vault, and a partner
// that trusts Vault's CA for client certificates.
func newVaultWorker(t *testing.T, role vaulttest.Role) *vaultWorker {
	t.Helper()
	v := vaulttest.New(t, "pki", keyformsVaultToken, map[string]vaulttest.Role{"outflow": role})
	vault, err := secrets.NewVault(secrets.VaultOptions{Address: v.URL, Client: v.Client(),
		Token: func(context.Context) (string, error) { return keyformsVaultToken, nil }})
	if err != nil {
		t.Fatal(err)
	}
	res := secrets.New("")
	res.Register("vault", secrets.Cached(vault, time.Minute))
	tr := NewTransports(res)
	tr.Cache.Logger = slog.New(slog.DiscardHandler)

	ca, _ := devpki.NewCA("Partner CA", nil)
	srvCert, err := ca.IssueServer("partner", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: v.Root.Pool()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return &vaultWorker{vault: v, tr: tr, dir: dir,
		conn: &engine.Connection{Name: "partner", Scheme: "https", Host: host, Port: p, MutualAuth: true, ProtocolProfile: "vault-issued"},
		profile: &engine.ProtocolProfile{Name: "vault-issued", Truststore: &engine.Truststore{Paths: []string{"ca.pem"}},
			Keystore: &engine.Keystore{VaultPKI: &engine.VaultPKI{Mount: "pki", Role: "outflow", CommonName: "worker.outflow.example", TTL: engine.Duration(24 * time.Hour)}}}}
}

// TestVaultCallsPer1000Steps measures what a Vault-issued certificate costs
// in calls to Vault: 1,000 REST steps, 100 of them at once, with a 24-hour
// certificate.
func TestVaultCallsPer1000Steps(t *testing.T) {
	w := newVaultWorker(t, vaulttest.Role{AllowAnyName: true})
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for batch := range 10 {
		for range 100 {
			wg.Go(func() {
				res, err := runStep(t, w.tr, w.conn, w.profile, w.dir)
				if err == nil && (res.Response == nil || res.Response.StatusCode != 200 || res.TLS == nil || res.TLS.ClientCertificate == nil && !res.TLS.Resumed) {
					err = &stepError{res}
				}
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		if batch == 0 && w.vault.Requests("POST /v1/pki/issue/outflow") != 1 {
			t.Fatalf("%d certificates issued for the first 100 steps run at once", w.vault.Requests("POST /v1/pki/issue/outflow"))
		}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	calls := w.vault.AllRequests()
	t.Logf("calls to Vault for 1,000 steps (certificate ttl 24h): %d", calls)
	if calls != 1 {
		t.Errorf("%d calls to Vault for 1,000 steps, want 1", calls)
	}

	// The check before a run reports the certificate the worker holds, and
	// asks Vault nothing.
	cc := &CertCheck{Transports: w.tr}
	res, err := cc.Execute(t.Context(), &engine.CertCheckRequest{ProjectRoot: w.dir,
		Profiles: []engine.CertCheckItem{{Profile: w.profile, Connections: []string{"partner"}, MutualAuth: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) != 0 || w.vault.AllRequests() != calls {
		t.Errorf("certcheck: %+v, %d calls to Vault", res, w.vault.AllRequests()-calls)
	}
	pc := CheckProfileWith(t.Context(), w.profile, w.dir, CheckOptions{Now: time.Now(), Within: time.Hour, Issued: issuedBy(w.tr)})
	if len(pc.Certs) != 2 || pc.Certs[0].Role != "client" || !strings.Contains(pc.Certs[0].File, "vault pki/issue/outflow (serial ") || pc.Certs[0].DaysLeft != 0 {
		t.Errorf("issued certificate in the check: %+v", pc)
	}
}

type stepError struct{ res *engine.StepResult }

func (e *stepError) Error() string {
	if e.res.Response == nil {
		return "step: no response"
	}
	return "step: status " + strconv.Itoa(e.res.Response.StatusCode)
}

func TestVaultPKIWithoutVault(t *testing.T) {
	w := newVaultWorker(t, vaulttest.Role{AllowAnyName: true})
	w.tr.Secrets = secrets.New("")
	_, err := runStep(t, w.tr, w.conn, w.profile, w.dir)
	if err == nil || !strings.Contains(err.Error(), "this worker has no Vault: set secrets.vault") {
		t.Fatalf("no vault: %v", err)
	}
}

// TestCheckVaultPKIRole: certs check reads the role live and says what
// would go wrong, without issuing.
func TestCheckVaultPKIRole(t *testing.T) {
	w := newVaultWorker(t, vaulttest.Role{AllowedDomains: []string{"partner.example"}, AllowSubdomains: true, MaxTTL: time.Hour})
	vault, _ := secrets.NewVault(secrets.VaultOptions{Address: w.vault.URL, Client: w.vault.Client(),
		Token: func(context.Context) (string, error) { return keyformsVaultToken, nil }})
	check := func(p *engine.ProtocolProfile, r PKIRoleReader) ProfileCheck {
		return CheckProfileWith(t.Context(), p, w.dir, CheckOptions{Now: time.Now(), Within: 30 * 24 * time.Hour, Vault: r})
	}
	messages := func(pc ProfileCheck) string {
		var b strings.Builder
		for _, p := range pc.Problems {
			b.WriteString(string(p.Severity) + " " + string(p.Code) + ": " + p.Message + "\n")
		}
		return b.String()
	}
	pc := check(w.profile, vault)
	if got := messages(pc); !strings.Contains(got, `error vault_pki_name: the PKI role outflow does not allow the name "worker.outflow.example"`) ||
		!strings.Contains(got, "warning vault_pki_ttl: the ttl 24h0m0s is longer than the role's max_ttl 1h0m0s") ||
		len(pc.Certs) != 3 || pc.Certs[0].Role != "chain" || pc.Certs[1].Role != "chain" || !pc.HasErrors() {
		t.Errorf("role check:\n%s%+v", got, pc.Certs)
	}
	missing := *w.profile
	ks := *missing.Keystore
	ks.VaultPKI = &engine.VaultPKI{Mount: "pki", Role: "nope", CommonName: "x"}
	missing.Keystore = &ks
	if got := messages(check(&missing, vault)); !strings.Contains(got, `error vault_pki_role: Vault has no PKI role "nope" on mount pki`) {
		t.Errorf("missing role:\n%s", got)
	}
	w.vault.Close()
	if got := messages(check(w.profile, vault)); !strings.Contains(got, "error vault_unreachable: vault at "+w.vault.URL+" cannot be reached") {
		t.Errorf("unreachable:\n%s", got)
	}
	if pc := check(w.profile, nil); !strings.Contains(pc.NotChecked, "give outflow certs check --config with secrets.vault") ||
		!strings.Contains(pc.Where, "issued by Vault (pki/issue/outflow)") {
		t.Errorf("no vault: %+v", pc)
	}
	if w.vault.Requests("POST /v1/pki/issue/outflow") != 0 {
		t.Error("checking issued a certificate")
	}
}

// TestCheckPKCS11Keystore: a profile whose key is in a token is checked
// through the token: the certificate must belong to the key, the PIN must
// open it.
func TestCheckPKCS11Keystore(t *testing.T) {
	tok := hsmtest.Shared(t)
	profile := func(cert, pinRef string) *engine.ProtocolProfile {
		return &engine.ProtocolProfile{Name: "hsm", Keystore: &engine.Keystore{Certificate: cert,
			PKCS11: &engine.PKCS11{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: hsmtest.ECKey, PIN: &engine.SecretRef{Ref: pinRef}}}}
	}
	resolve := func(_ context.Context, ref string) (string, error) {
		return map[string]string{"env:PIN": tok.PIN, "env:BAD": "1111-wrong"}[ref], nil
	}
	check := func(p *engine.ProtocolProfile) ProfileCheck {
		return CheckProfileWith(t.Context(), p, "", CheckOptions{Resolve: resolve, Now: time.Now(), Within: 30 * 24 * time.Hour})
	}
	pc := check(profile(tok.CertFiles[hsmtest.ECKey], "env:PIN"))
	if pc.HasErrors() || len(pc.Certs) != 1 || pc.Certs[0].Subject != "CN=hsm-partner-ec,O=Outflow Dev" || !strings.Contains(pc.Where, `PKCS#11 token "outflow-test"`) {
		t.Errorf("good token: %+v", pc)
	}
	codes := func(pc ProfileCheck) []keystore.Code {
		var out []keystore.Code
		for _, p := range pc.Problems {
			if p.Severity == keystore.SeverityError {
				out = append(out, p.Code)
			}
		}
		return out
	}
	if got := codes(check(profile(tok.CertFiles["stranger"], "env:PIN"))); len(got) != 1 || got[0] != keystore.CodeKeyMismatch {
		t.Errorf("certificate of another key: %v", got)
	}
	if got := codes(check(profile(tok.CertFiles[hsmtest.ECKey], "env:BAD"))); len(got) != 1 || got[0] != "pkcs11_pin_incorrect" {
		t.Errorf("wrong PIN: %v", got)
	}
}

// TestKeystoreFormsOnWorkers: the files of every form must be on the worker
// that runs the step; on an agent, relative ones are under its folder.
func TestKeystoreFormsOnWorkers(t *testing.T) {
	tr := NewTransports(nil)
	pair := &engine.ProtocolProfile{Name: "pair", Keystore: &engine.Keystore{Certificate: "/nonexistent/tls.crt", Key: "/nonexistent/tls.key"}}
	_, err := tr.placeProfile(t.Context(), &engine.Connection{MutualAuth: true}, pair, "")
	if err == nil || !strings.Contains(err.Error(), "keystore /nonexistent/tls.crt of protocol profile \"pair\" (store: project) does not exist on this worker") {
		t.Fatalf("missing pair: %v", err)
	}
	agentDir := t.TempDir()
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.WriteFile(filepath.Join(agentDir, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tr.Agent = &Agent{Name: "a-1", Groups: []string{"dmz"}, Dir: agentDir}
	onAgent := &engine.ProtocolProfile{Name: "pair", Store: "agent", Keystore: &engine.Keystore{Certificate: "tls.crt", Key: "tls.key"}}
	placed, err := tr.placeProfile(t.Context(), &engine.Connection{MutualAuth: true, Agent: "dmz"}, onAgent, "")
	if err != nil {
		t.Fatal(err)
	}
	if placed.Keystore.Certificate != filepath.Join(agentDir, "tls.crt") || placed.Keystore.Key != filepath.Join(agentDir, "tls.key") || onAgent.Keystore.Certificate != "tls.crt" {
		t.Errorf("placed: %+v", placed.Keystore)
	}
}
