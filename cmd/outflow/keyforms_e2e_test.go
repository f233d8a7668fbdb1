package main

// The matrix of keystore forms against a partner that demands client
// certificates, on an embedded Temporal server: flows whose steps present
// a PKCS#12, a JKS and a PEM keystore kept at absolute paths outside the
// project (on the default worker), a Kubernetes-style tls.crt/tls.key/ca.crt
// triple rotated between runs, a certificate Vault's PKI engine issues and
// renews while a flow keeps calling, and a key in a SoftHSM2 token (both on
// an agent whose config sets up Vault). Afterwards the histories, records
// and logs are searched for the PIN, the Vault token, the keystore password
// and every private key Vault issued.
//
// Vault is vaulttest, a server written from Vault's API documentation (no
// Vault-compatible server can be built here; see its package comment). The
// partner closes each connection after its answer, so that every step makes
// a handshake and shows the certificate presented at that moment; pooled
// connections across rotations are tested in steps/tlsclient.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
	"github.com/outflow-dev/outflow/steps/hsm/hsmtest"
	"github.com/outflow-dev/outflow/steps/keystore"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/secrets/vaulttest"
	"github.com/outflow-dev/outflow/worker"
)

const (
	matrixVaultToken = "hvs.matrix-token-f00dfeed"
	matrixKSPassword = "changeit" // the keystore fixtures' password
	vaultCN          = "worker.outflow.example"
)

// certPartner requires client certificates from any of its CAs and answers
// /whoami with the certificate it saw.
type certPartner struct {
	srv  *http.Server
	addr string
	ca   *devpki.CA

	mu            sync.Mutex
	vaultSerials  map[string]bool
	handshakeErrs []string
}

func (p *certPartner) Write(b []byte) (int, error) { // the server's error log
	p.mu.Lock()
	defer p.mu.Unlock()
	p.handshakeErrs = append(p.handshakeErrs, string(b))
	return len(b), nil
}

func newCertPartner(t *testing.T, clientCAs ...*x509.Certificate) *certPartner {
	t.Helper()
	ca, err := devpki.NewCA("Matrix Partner CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.IssueServer("partner", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for _, c := range clientCAs {
		pool.AddCert(c)
	}
	p := &certPartner{ca: ca, vaultSerials: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/whoami", func(w http.ResponseWriter, r *http.Request) {
		c := r.TLS.PeerCertificates[0]
		serial := keystore.SerialHex(c.SerialNumber)
		p.mu.Lock()
		if c.Subject.CommonName == vaultCN {
			p.vaultSerials[serial] = true
		}
		n := len(p.vaultSerials)
		p.mu.Unlock()
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"subject": c.Subject.String(), "serial": serial, "vault_serials": n})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.srv = &http.Server{Handler: mux, ErrorLog: log.New(p, "", 0), TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{leaf.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}}
	go p.srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { p.srv.Close() })
	return p
}

func (p *certPartner) errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.handshakeErrs...)
}

// syncWriter collects log output from many goroutines.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

const matrixProject = `kind: ProtocolProfile
name: worker-p12
keystore: {path: %[1]s/client.p12, password: {secret: env:MATRIX_KS_PASSWORD}}
truststore: {paths: [partner-ca.pem]}
---
kind: ProtocolProfile
name: worker-jks
keystore: {path: %[1]s/client.jks, password: {secret: env:MATRIX_KS_PASSWORD}}
truststore: {paths: [%[1]s/partner-ca.pem]}
---
kind: ProtocolProfile
name: worker-pem
keystore: {path: %[1]s/bundle.pem}
truststore: {paths: [partner-ca.pem]}
---
kind: ProtocolProfile
name: k8s-secret
keystore: {certificate: %[2]s/tls.crt, key: %[2]s/tls.key, chain: %[2]s/ca.crt}
truststore: {paths: [partner-ca.pem]}
---
kind: ProtocolProfile
name: vault-issued
keystore:
  vault_pki: {mount: pki, role: outflow-client, common_name: ` + vaultCN + `, ttl: 24h}
truststore: {paths: [partner-ca.pem]}
---
kind: ProtocolProfile
name: hsm
keystore:
  pkcs11: {module: %[3]s, token_label: %[4]s, key_label: %[5]s, pin: {secret: env:MATRIX_HSM_PIN}}
  certificate: %[6]s
truststore: {paths: [partner-ca.pem]}
---
kind: Connection
name: p12
url: https://%[7]s/v2
mutual_auth: true
protocol_profile: worker-p12
---
kind: Connection
name: jks
url: https://%[7]s/v2
mutual_auth: true
protocol_profile: worker-jks
---
kind: Connection
name: pem
url: https://%[7]s/v2
mutual_auth: true
protocol_profile: worker-pem
---
kind: Connection
name: k8s
url: https://%[7]s/v2
mutual_auth: true
protocol_profile: k8s-secret
---
kind: Connection
name: vault
url: https://%[7]s/v2
mutual_auth: true
protocol_profile: vault-issued
agent: keys
---
kind: Connection
name: hsm
url: https://%[7]s/v2
mutual_auth: true
protocol_profile: hsm
agent: keys
---
kind: Flow
name: files
steps:
  - id: p12
    rest: {connection: p12, method: GET, path: /whoami}
  - id: jks
    rest: {connection: jks, method: GET, path: /whoami}
  - id: pem
    rest: {connection: pem, method: GET, path: /whoami}
---
kind: Flow
name: k8s
steps:
  - id: call
    rest: {connection: k8s, method: GET, path: /whoami}
---
kind: Flow
name: vault-renewal
steps:
  - id: call
    rest: {connection: vault, method: GET, path: /whoami}
    poll: {until: "${{ steps.call.json.vault_serials >= 3 }}", interval: 1s, deadline: 3m}
---
kind: Flow
name: hsm
steps:
  - id: call
    rest: {connection: hsm, method: GET, path: /whoami}
`

func TestKeystoreMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an embedded Temporal server")
	}
	tok := hsmtest.Shared(t)
	fixtures := filepath.Join("..", "..", "steps", "keystore", "testdata")
	fixtureRoot := readCert(t, filepath.Join(fixtures, "root-ca.pem"))
	k8sCA, err := devpki.NewCA("Kubernetes Issuer CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	vault := vaulttest.New(t, "pki", matrixVaultToken, map[string]vaulttest.Role{
		// The role caps certificates at 12 seconds, so that the flow below
		// sees two renewals.
		"outflow-client": {AllowedDomains: []string{"outflow.example"}, AllowSubdomains: true, MaxTTL: 12 * time.Second},
	})
	partner := newCertPartner(t, fixtureRoot, k8sCA.Cert, vault.Root.Cert, tok.CA.Cert)

	// Key material on "the worker's machine": folders outside the project.
	machine := t.TempDir()
	etcPKI := filepath.Join(machine, "etc", "pki", "partner")
	for from, to := range map[string]string{"client-openssl.p12": "client.p12", "kb0696002-good.jks": "client.jks", "bundle-ordered.pem": "bundle.pem"} {
		data, err := os.ReadFile(filepath.Join(fixtures, from))
		if err != nil {
			t.Fatal(err)
		}
		writeFileAll(t, filepath.Join(etcPKI, to), data)
	}
	writeFileAll(t, filepath.Join(etcPKI, "partner-ca.pem"), partner.ca.CertPEM())
	secretVolume := filepath.Join(machine, "var", "run", "secrets", "partner")
	k8s := newSecretVolume(t, secretVolume, k8sCA)
	k8s.mount(t, "pair-1")

	proj := t.TempDir()
	writeFileAll(t, filepath.Join(proj, "partner-ca.pem"), partner.ca.CertPEM())
	writeFileAll(t, filepath.Join(proj, "project.yaml"), fmt.Appendf(nil, matrixProject, etcPKI, secretVolume,
		tok.Module, tok.Label, hsmtest.RSAKey, tok.CertFiles[hsmtest.RSAKey], partner.addr))
	t.Setenv("MATRIX_KS_PASSWORD", matrixKSPassword)
	t.Setenv("MATRIX_HSM_PIN", tok.PIN)

	// validate says where each keystore is read.
	_, stderr, code := cli(t, "validate", "--project", proj)
	if code != 0 || !strings.Contains(stderr, etcPKI+"/client.p12 read on the machine of the worker that runs the step") ||
		!strings.Contains(stderr, `the key stays in PKCS#11 token "outflow-test"`) || !strings.Contains(stderr, "issued by Vault (pki/issue/outflow-client)") {
		t.Fatalf("validate: exit %d\n%s", code, stderr)
	}

	// Logs of both workers (the transports log through slog's default).
	logs := &syncWriter{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	prev := slog.Default()
	slog.SetDefault(logger)
	t.Cleanup(func() { slog.SetDefault(prev) })

	ctx := context.Background()
	st, err := openStack(ctx, &globalFlags{namespace: "default"}, stackOptions{embedWorker: true, baseDir: proj})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// The agent that holds the token and reaches Vault.
	agentDir := t.TempDir()
	writeFileAll(t, filepath.Join(agentDir, "vault-token"), []byte(matrixVaultToken+"\n"))
	writeFileAll(t, filepath.Join(agentDir, "vault-ca.pem"), vault.CAPEM())
	cfgPath := filepath.Join(agentDir, "agent.yaml")
	writeFileAll(t, cfgPath, fmt.Appendf(nil, "name: keys-1\ngroups: [keys]\nproject_dir: %s\nsecrets:\n  vault:\n    address: %s\n    token: {secret: file:vault-token}\n    tls: {ca: vault-ca.pem}\n",
		proj, vault.URL))
	cfg, err := worker.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	agent, err := worker.StartAgent(ctx, cfg, worker.AgentOptions{Address: st.server.FrontendAddress(), Namespace: "default", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Stop()

	project, err := flows.Load(proj)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string // histories and records, searched at the end
	run := func(flow string) *engine.Record {
		t.Helper()
		plan, err := project.Plan(flow)
		if err != nil {
			t.Fatal(err)
		}
		r, err := st.client.Start(ctx, plan, nil, engine.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := st.client.Wait(ctx, r, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(rec)
		texts = append(texts, string(b), historyText(t, fetchHistory(t, st, r.GetID(), r.GetRunID())))
		if rec.Status != engine.StatusSucceeded {
			t.Fatalf("flow %s ended %s:\n%s", flow, rec.Status, b)
		}
		return rec
	}
	saw := func(rec *engine.Record, step string) (subject, serial string) {
		t.Helper()
		s := rec.Step(step)
		m, _ := s.Response.JSON.(map[string]any)
		subject, _ = m["subject"].(string)
		serial, _ = m["serial"].(string)
		// A resumed session reports the certificate of the full handshake
		// it came from.
		if s.TLS == nil || s.TLS.ClientCertificate == nil || !strings.EqualFold(s.TLS.ClientCertificate.Serial, serial) {
			t.Errorf("step %s: the partner saw serial %s, the TLS facts say %+v", step, serial, s.TLS)
		}
		return subject, serial
	}

	t.Run("keystores at absolute paths on the default worker", func(t *testing.T) {
		rec := run("files")
		for _, step := range []string{"p12", "jks", "pem"} {
			if subject, _ := saw(rec, step); !strings.Contains(subject, "CN=") {
				t.Errorf("%s: subject %q", step, subject)
			}
			if w := rec.Step(step).Worker; strings.HasPrefix(w, "keys-1") {
				t.Errorf("%s ran on the agent", step)
			}
		}
	})

	t.Run("kubernetes secret volume rotated", func(t *testing.T) {
		_, first := saw(run("k8s"), "call")
		if !strings.EqualFold(first, k8s.serial("pair-1")) {
			t.Fatalf("first pair: %s, want %s", first, k8s.serial("pair-1"))
		}
		k8s.mount(t, "pair-2") // the kubelet swaps ..data: both files at once
		if _, got := saw(run("k8s"), "call"); !strings.EqualFold(got, k8s.serial("pair-2")) {
			t.Fatalf("after the volume swap: %s, want %s", got, k8s.serial("pair-2"))
		}
		// A writer that replaces the certificate first: the last good pair
		// is presented until the key follows.
		k8s.issue(t, "pair-3")
		k8s.replace(t, "pair-2", "tls.crt", "pair-3")
		if _, got := saw(run("k8s"), "call"); !strings.EqualFold(got, k8s.serial("pair-2")) {
			t.Fatalf("half-written pair: %s, want the last good %s", got, k8s.serial("pair-2"))
		}
		if !strings.Contains(logs.String(), "do not make a usable pair (a rotation half done") {
			t.Errorf("the half-written pair was not logged")
		}
		k8s.replace(t, "pair-2", "tls.key", "pair-3")
		if _, got := saw(run("k8s"), "call"); !strings.EqualFold(got, k8s.serial("pair-3")) {
			t.Fatalf("after the key followed: %s, want %s", got, k8s.serial("pair-3"))
		}
	})

	t.Run("vault pki issued and renewed while a flow keeps calling", func(t *testing.T) {
		before := len(partner.errors())
		rec := run("vault-renewal")
		s := rec.Step("call")
		issued := vault.Issued()
		if len(issued) < 3 {
			t.Fatalf("%d certificates issued, want at least 3 (two renewals)", len(issued))
		}
		if s.TLS == nil || s.TLS.ClientCertificate == nil || s.TLS.ClientCertificate.Source != "vault pki/issue/outflow-client" {
			t.Errorf("facts: %+v", s.TLS)
		}
		if errs := partner.errors()[before:]; len(errs) > 0 {
			t.Errorf("handshakes failed during the renewals: %v", errs)
		}
		if s.Attempts > 1 {
			t.Errorf("a call was retried (%d attempts) during the renewals", s.Attempts)
		}
		t.Logf("%d calls, %d certificates issued (ttl 12s), %d requests to vault", s.Polls, len(issued), vault.AllRequests())
	})

	t.Run("softhsm2 key", func(t *testing.T) {
		rec := run("hsm")
		subject, serial := saw(rec, "call")
		if !strings.Contains(subject, "hsm-"+hsmtest.RSAKey) || serial != keystore.SerialHex(tok.Leaves[hsmtest.RSAKey].Cert.SerialNumber) {
			t.Errorf("partner saw %s %s", subject, serial)
		}
		if s := rec.Step("call"); !strings.HasPrefix(s.Worker, "keys-1") || s.TLS.ClientCertificate.Source != `pkcs11 token "outflow-test" key "partner-rsa"` {
			t.Errorf("step: worker %s, facts %+v", s.Worker, s.TLS.ClientCertificate)
		}
	})

	t.Run("certs check and inspect with the agent's config", func(t *testing.T) {
		out, errOut, code := cli(t, "certs", "check", "--project", proj, "--config", cfgPath, "--within", "1d")
		// Vault's certificates live seconds, not a day: the Vault role is
		// checked live (its CA chain listed), the token opened.
		if code != 0 || !strings.Contains(out, "vault pki/ca_chain") || !strings.Contains(out, "hsm-partner-rsa") ||
			!strings.Contains(errOut, "longer than the role's max_ttl 12s") {
			t.Errorf("certs check: exit %d\n%s\n%s", code, out, errOut)
		}
		out, _, code = cli(t, "certs", "inspect", "--project", proj, "--profile", "hsm")
		if code != 0 || !regexp.MustCompile(`partner-rsa +RSA 2048 +id 01 +← key_label`).MatchString(out) {
			t.Errorf("certs inspect --profile hsm: exit %d\n%s", code, out)
		}
		out, _, code = cli(t, "certs", "inspect", filepath.Join(secretVolume, "tls.crt"), "--key", filepath.Join(secretVolume, "tls.key"), "--chain", filepath.Join(secretVolume, "ca.crt"))
		if code != 0 || !strings.Contains(out, "k8s-pair-3") {
			t.Errorf("certs inspect pair: exit %d\n%s", code, out)
		}
	})

	// No secret value anywhere: histories, records, logs.
	all := strings.Join(texts, "\n") + "\n" + logs.String()
	if !strings.Contains(all, "env:MATRIX_HSM_PIN") || !strings.Contains(logs.String(), "issued a new client certificate") {
		t.Fatal("the PIN's reference or the renewal's log line is not in the searched text: the search sees nothing")
	}
	secrets := map[string]string{"HSM PIN": tok.PIN, "vault token": matrixVaultToken, "keystore password": matrixKSPassword}
	for i, is := range vault.Issued() {
		// A line of the key's base64: any form of the key would hold it.
		secrets[fmt.Sprintf("issued key %d", i)] = strings.Split(strings.TrimSpace(is.PrivateKey), "\n")[1]
	}
	for name, v := range secrets {
		if strings.Contains(all, v) {
			t.Errorf("%s found in history, records or logs", name)
		}
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeFileAll(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// secretVolume lays files out as the kubelet does for a secret volume:
// tls.crt -> ..data/tls.crt, ..data -> a folder per version, swapped by
// renaming a link.
type secretVolume struct {
	dir    string
	ca     *devpki.CA
	leaves map[string]*devpki.Leaf
}

func newSecretVolume(t *testing.T, dir string, ca *devpki.CA) *secretVolume {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return &secretVolume{dir: dir, ca: ca, leaves: map[string]*devpki.Leaf{}}
}

func (v *secretVolume) issue(t *testing.T, name string) *devpki.Leaf {
	t.Helper()
	if l := v.leaves[name]; l != nil {
		return l
	}
	l, err := v.ca.IssueClient("k8s-"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	v.leaves[name] = l
	return l
}

func (v *secretVolume) serial(name string) string {
	return keystore.SerialHex(v.leaves[name].Cert.SerialNumber)
}

func (v *secretVolume) file(t *testing.T, name, file string) []byte {
	t.Helper()
	l := v.issue(t, name)
	switch file {
	case "tls.crt":
		return l.CertPEM()
	case "tls.key":
		k, _ := l.KeyPEM()
		return k
	}
	return v.ca.CertPEM()
}

// mount makes name the current version of the volume.
func (v *secretVolume) mount(t *testing.T, name string) {
	t.Helper()
	version := filepath.Join(v.dir, "..v-"+name)
	for _, f := range []string{"tls.crt", "tls.key", "ca.crt"} {
		writeFileAll(t, filepath.Join(version, f), v.file(t, name, f))
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(version), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tls.crt", "tls.key", "ca.crt"} {
		link := filepath.Join(v.dir, f)
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(filepath.Join("..data", f), link); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// replace overwrites one file of a mounted version with that of another
// pair, as a tool writing files one by one does.
func (v *secretVolume) replace(t *testing.T, version, file, from string) {
	t.Helper()
	path := filepath.Join(v.dir, "..v-"+version, file)
	tmp := path + ".tmp"
	writeFileAll(t, tmp, v.file(t, from, file))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
