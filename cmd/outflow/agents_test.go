package main

// Agents as real processes: an embedded Temporal server whose frontend
// requires client certificates, two agents (`outflow worker --config`) that
// connect to it over mutual TLS and hold different keystores for the
// partner, and a flow whose connections are routed to one agent each. One
// agent is killed with SIGKILL in the middle of a step and started again.

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/examples/partner"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

const agentsProject = `kind: ProtocolProfile
name: partner-a
# The keystore and its password are in the config of the agents of zone-a.
store: agent
keystore: {path: partner.p12}
truststore: {paths: [partner-ca.pem]}
applies_to: [zone-a]
---
kind: ProtocolProfile
name: partner-b
store: agent
keystore: {path: partner.pem}
truststore: {paths: [partner-ca.pem]}
applies_to: [zone-b]
---
kind: Connection
name: via-a
url: https://%[1]s/v2
mutual_auth: true
protocol_profile: partner-a
agent: zone-a
---
kind: Connection
name: via-b
url: https://%[1]s/v2
mutual_auth: true
protocol_profile: partner-b
agent: zone-b
---
kind: Flow
name: two-zones
steps:
  - id: a1
    rest: {connection: via-a, method: GET, path: /whoami}
  - id: b1
    rest: {connection: via-b, method: GET, path: /whoami}
  - id: a2
    rest: {connection: via-a, method: GET, path: /slow/hold, query: {ms: "3000"}}
    timeout: 5s
    retry: {initial_interval: 200ms}
  - id: b2
    rest: {connection: via-b, method: GET, path: /whoami}
  - id: a3
    rest: {connection: via-a, method: GET, path: /whoami}
---
kind: Flow
name: after-rotation
steps:
  - id: a
    rest: {connection: via-a, method: GET, path: /whoami}
  - id: b
    rest: {connection: via-b, method: GET, path: /whoami}
`

// messyBundle rewrites a PEM bundle the way one assembled by hand on
// Windows often is: the key first, then the certificates from the root
// down, with CRLF line endings.
func messyBundle(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var certs, keys [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if strings.Contains(b.Type, "PRIVATE KEY") {
			keys = append(keys, pem.EncodeToMemory(b))
		} else {
			certs = append([][]byte{pem.EncodeToMemory(b)}, certs...)
		}
	}
	out := bytes.Join(append(keys, certs...), nil)
	if err := os.WriteFile(path, bytes.ReplaceAll(out, []byte("\n"), []byte("\r\n")), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeTestFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// cliEnv runs the binary with the client TLS of the CLI in its environment.
func cliEnv(t *testing.T, env []string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(outflowBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd.Output()
}

func TestAgentsOverMutualTLSSurviveKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the outflow binary")
	}
	dir := t.TempDir()

	// The Temporal side: a CA, the frontend's certificate and client
	// certificates for dev's own worker, the CLI and the two agents, made
	// by the command users run.
	pki := filepath.Join(dir, "temporal-pki")
	if out, err := exec.Command(outflowBinary(t), "certs", "dev-ca", pki, "--client", "worker,agent-a,agent-b").CombinedOutput(); err != nil {
		t.Fatalf("certs dev-ca: %v\n%s", err, out)
	}
	tp := func(name string) string { return filepath.Join(pki, name) }
	messyBundle(t, tp("agent-a-bundle.pem"))

	// The partner side: its own CA, and a different keystore on each agent.
	pca, err := devpki.NewCA("Partner CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, err := pca.IssueServer("partner", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := partner.Serve("127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pca.Pool(),
	}, partner.New("", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	agentA, agentB := filepath.Join(dir, "agent-a"), filepath.Join(dir, "agent-b")
	for _, d := range []string{agentA, agentB} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	leafA, _ := pca.IssueClient("partner-client-a", nil)
	p12, err := pkcs12.Modern.Encode(leafA.Key, leafA.Cert, pca.Chain(), "a-keystore-pw")
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(agentA, "partner-a.p12"), p12)
	writeTestFile(t, filepath.Join(agentA, "partner-a.pass"), []byte("a-keystore-pw\n"))
	leafB, _ := pca.IssueClient("partner-client-b", nil)
	bundleB, _ := leafB.BundlePEM()
	writeTestFile(t, filepath.Join(agentB, "partner-b.pem"), bundleB)

	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	agentConfig := func(name, group, tlsBlock, profile string) string {
		return fmt.Sprintf("name: %s\ngroups: [%s]\ntemporal:\n  address: %s\n  namespace: default\n%s%s", name, group, addr, tlsBlock, profile)
	}
	cfgA := filepath.Join(agentA, "agent.yaml")
	writeTestFile(t, cfgA, []byte(agentConfig("a-1", "zone-a",
		fmt.Sprintf("  tls:\n    keystore: %s\n    ca: %s\n", tp("agent-a-bundle.pem"), tp("ca.crt")),
		"profiles:\n  partner-a:\n    keystore:\n      path: partner-a.p12\n      password: {secret: file:partner-a.pass}\n")))
	cfgB := filepath.Join(agentB, "agent.yaml")
	writeTestFile(t, cfgB, []byte(agentConfig("b-1", "zone-b",
		fmt.Sprintf("  tls:\n    cert: %s\n    key: %s\n    ca: %s\n", tp("agent-b.crt"), tp("agent-b.key"), tp("ca.crt")),
		"profiles:\n  partner-b:\n    keystore: {path: partner-b.pem}\n")))
	if out, err := exec.Command(outflowBinary(t), "worker", "--config", cfgA, "--check").CombinedOutput(); err != nil {
		t.Fatalf("worker --check: %v\n%s", err, out)
	}

	proj := filepath.Join(dir, "project")
	if err := os.MkdirAll(proj, 0o700); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(proj, "flow.yaml"), []byte(fmt.Sprintf(agentsProject, p.Addr)))
	writeTestFile(t, filepath.Join(proj, "partner-ca.pem"), pca.CertPEM())

	db := filepath.Join(dir, "dev.sqlite")
	devArgs := func(clientCA, workerCert string) []string {
		return []string{"dev", "--db", db, "--port", fmt.Sprint(port), "--ui-port", "0",
			"--tls-cert", tp("server.crt"), "--tls-key", tp("server.key"), "--tls-client-ca", clientCA, "--worker-cert", workerCert}
	}
	devStart := time.Now()
	dev := startProc(t, "mutual TLS: client certificates required", devArgs(tp("ca.crt"), tp("worker-bundle.pem"))...)
	t.Logf("dev with an mTLS frontend ready in %v", time.Since(devStart).Round(time.Millisecond))

	// A worker without a client certificate is turned away.
	noCert := filepath.Join(dir, "nocert.yaml")
	writeTestFile(t, noCert, []byte(agentConfig("x-1", "zone-x", fmt.Sprintf("  tls: {ca: %s}\n", tp("ca.crt")), "")))
	began := time.Now()
	out, err := exec.Command(outflowBinary(t), "worker", "--config", noCert).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "requires a client certificate") {
		t.Fatalf("an agent without a client certificate: %v\n%s", err, out)
	}
	t.Logf("an agent without a client certificate, refused in %v: %s", time.Since(began).Round(time.Millisecond), out)

	startA := func() *proc { return startProc(t, "agent a-1 connected", "worker", "--config", cfgA) }
	agentStart := time.Now()
	a := startA()
	b := startProc(t, "agent b-1 connected", "worker", "--config", cfgB)
	t.Logf("two agents connected over mTLS in %v", time.Since(agentStart).Round(time.Millisecond))
	flowStart := time.Now()

	clientTLS := []string{"TEMPORAL_TLS_CERT=" + tp("worker-bundle.pem"), "TEMPORAL_TLS_CA=" + tp("ca.crt")}
	runOut, err := cliEnv(t, clientTLS, "run", "two-zones", "--project", proj, "--address", addr, "--detach")
	if err != nil {
		t.Fatalf("run --detach: %v\n%s", err, runOut)
	}
	id := strings.TrimSpace(string(runOut))
	show := func() (*engine.Record, string) {
		b, _ := cliEnv(t, clientTLS, "executions", "show", id, "--json", "--address", addr)
		var rec engine.Record
		if json.Unmarshal(b, &rec) != nil {
			return nil, string(b)
		}
		return &rec, string(b)
	}

	waitFor(t, "step a2 to reach the partner", time.Minute, func() bool { return p.Calls("slow/hold") >= 1 })
	killedAt := time.Now()
	a.kill9(t)

	// With agent a-1 dead, the step waits durably for its group, and the
	// execution says so.
	var waiting *engine.StepRecord
	waitFor(t, "executions show to report a2 waiting for zone-a", time.Minute, func() bool {
		rec, _ := show()
		if rec == nil {
			return false
		}
		if s := rec.Step("a2"); s != nil && s.Status == engine.StatusWaiting {
			waiting = s
			return true
		}
		return false
	})
	t.Logf("%.1fs after the kill: %s", time.Since(killedAt).Seconds(), waiting.Error.Message)
	if !strings.Contains(waiting.Error.Message, `agent group "zone-a"`) || !strings.Contains(waiting.Error.Message, engine.AgentTaskQueue("zone-a")) {
		t.Fatalf("waiting message: %q", waiting.Error.Message)
	}
	text, _ := cliEnv(t, clientTLS, "executions", "show", id, "--address", addr)
	if !strings.Contains(string(text), `waiting for a worker of agent group "zone-a"`) {
		t.Fatalf("executions show (text) does not say what a2 waits for:\n%s", text)
	}

	restart := time.Now()
	a = startA()
	var rec *engine.Record
	waitFor(t, "the flow to finish after agent a-1 came back", 2*time.Minute, func() bool {
		r, _ := show()
		if r == nil || (r.Status != engine.StatusSucceeded && r.Status != engine.StatusFailed) {
			return false
		}
		rec = r
		return true
	})
	t.Logf("flow finished %v after agent a-1 restarted, %v after it started", time.Since(restart).Round(time.Millisecond), time.Since(flowStart).Round(time.Millisecond))
	if rec.Status != engine.StatusSucceeded {
		b, _ := json.MarshalIndent(rec, "", "  ")
		t.Fatalf("flow ended %s:\n%s", rec.Status, b)
	}
	for id, want := range map[string]struct{ cn, worker string }{
		"a1": {"partner-client-a", "a-1/"}, "b1": {"partner-client-b", "b-1/"}, "a2": {"", "a-1/"},
		"b2": {"partner-client-b", "b-1/"}, "a3": {"partner-client-a", "a-1/"},
	} {
		s := rec.Step(id)
		if s == nil || s.Status != engine.StatusSucceeded {
			t.Fatalf("step %s: %+v", id, s)
		}
		if !strings.HasPrefix(s.Worker, want.worker) {
			t.Errorf("step %s ran on %q, want agent %s", id, s.Worker, want.worker)
		}
		if want.cn != "" {
			m, _ := s.Response.JSON.(map[string]any)
			if got, _ := m["client_certificate"].(string); !strings.Contains(got, "CN="+want.cn) {
				t.Errorf("step %s: the partner saw %q, want %s", id, got, want.cn)
			}
		}
	}
	if s := rec.Step("a2"); s.Attempts != 2 {
		t.Errorf("a2 took %d attempts, want 2 (the first died with its agent)", s.Attempts)
	}
	// Every step reached the partner once, but a2, which was in flight
	// when its agent died: no step was lost, none ran twice.
	seen := p.ClientCertificates()
	if seen["partner-client-a"] != 4 || seen["partner-client-b"] != 2 || len(seen) != 2 {
		t.Errorf("client certificates the partner saw: %v, want partner-client-a 4 (a1, a2 twice, a3), partner-client-b 2", seen)
	}
	if n := p.Calls("slow/hold"); n != 2 {
		t.Errorf("a2 reached the partner %d times, want 2", n)
	}

	// Certificate rotation without restarting the agents: their Temporal
	// certificates are replaced on disk by ones from a new CA, and the
	// server is restarted trusting only that CA. The agents reconnect with
	// the new certificates (the old ones would be refused) and run steps.
	pki2 := filepath.Join(dir, "temporal-pki-2")
	if out, err := exec.Command(outflowBinary(t), "certs", "dev-ca", pki2, "--client", "worker,agent-a,agent-b").CombinedOutput(); err != nil {
		t.Fatalf("certs dev-ca: %v\n%s", err, out)
	}
	for from, to := range map[string]string{"agent-a-bundle.pem": "agent-a-bundle.pem", "agent-b.crt": "agent-b.crt", "agent-b.key": "agent-b.key"} {
		data, err := os.ReadFile(filepath.Join(pki2, from))
		if err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, tp(to)+".new", data)
		if err := os.Rename(tp(to)+".new", tp(to)); err != nil {
			t.Fatal(err)
		}
	}
	messyBundle(t, tp("agent-a-bundle.pem"))
	dev.kill9(t)
	startProc(t, "mutual TLS: client certificates required", devArgs(filepath.Join(pki2, "ca.crt"), filepath.Join(pki2, "worker-bundle.pem"))...)
	clientTLS = []string{"TEMPORAL_TLS_CERT=" + filepath.Join(pki2, "worker-bundle.pem"), "TEMPORAL_TLS_CA=" + tp("ca.crt")}
	rotated := time.Now()
	runOut, err = cliEnv(t, clientTLS, "run", "after-rotation", "--project", proj, "--address", addr, "--detach")
	if err != nil {
		t.Fatalf("run --detach after the rotation: %v\n%s", err, runOut)
	}
	id = strings.TrimSpace(string(runOut))
	waitFor(t, "the agents to run steps with their rotated certificates", 2*time.Minute, func() bool {
		r, _ := show()
		if r == nil || r.Status == engine.StatusRunning {
			return false
		}
		rec = r
		return true
	})
	if rec.Status != engine.StatusSucceeded {
		b, _ := json.MarshalIndent(rec, "", "  ")
		t.Fatalf("after the rotation the flow ended %s:\n%s", rec.Status, b)
	}
	for _, s := range rec.Steps {
		pid := a.cmd.Process.Pid
		if s.ID == "b" {
			pid = b.cmd.Process.Pid
		}
		if !strings.Contains(s.Worker, fmt.Sprintf("/%d@", pid)) {
			t.Errorf("step %s ran on %q, not on the agent process started before the rotation (pid %d)", s.ID, s.Worker, pid)
		}
	}
	t.Logf("after rotating the agents' certificates and restarting the server, a flow finished in %v", time.Since(rotated).Round(time.Millisecond))
}

// TestWorkerConfigProblemsExitOne checks that `outflow worker --config`
// prints every problem of the file with its position and starts nothing.
func TestWorkerConfigProblemsExitOne(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "agent.yaml")
	writeTestFile(t, cfg, []byte("name: a-1\ngroups: [zone-a]\ntemporal:\n  adress: localhost:7233\n  tls: {cert: agent.crt}\nprofiles:\n  partner: {keystore: {path: missing.p12}}\n"))
	for _, args := range [][]string{{"worker", "--config", cfg}, {"worker", "--config", cfg, "--check"}} {
		stdout, stderr, code := cli(t, args...)
		if code != 1 {
			t.Fatalf("%v: exit %d, want 1\n%s%s", args, code, stdout, stderr)
		}
		for _, want := range []string{
			cfg + `:4:3: temporal.adress: unknown field "adress" (did you mean "address"?`,
			cfg + ":5:9: temporal.tls.key: cert: without key",
			cfg + ":5:15: temporal.tls.cert: " + filepath.Join(dir, "agent.crt") + " does not exist",
			cfg + ":7:30: profiles.partner.keystore.path: " + filepath.Join(dir, "missing.p12") + " does not exist",
			"4 problem(s)",
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("%v: stderr lacks %q:\n%s", args, want, stderr)
			}
		}
	}
}
