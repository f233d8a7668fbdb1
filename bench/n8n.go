package main

// n8n side by side (-peers n8n): the same chain of GETs over the same mTLS
// with the same client certificate, run by n8n, a Node.js workflow tool, in
// its own process. The bench installs the pinned version from npm into a
// cache folder when it is missing, imports a workflow and its credentials
// with n8n's CLI, starts it, and calls the workflow through its webhook,
// which answers when the workflow's last node is done.

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// n8nVersion is the n8n release the bench installs: the newest 1.x whose
// engines field accepts Node 20 (2.x wants Node 24).
const n8nVersion = "1.123.81"

// n8nOverrides are the npm overrides the install needs: n8n-nodes-base
// depends on xlsx as a tarball from cdn.sheetjs.com, which a machine that
// reaches only the npm registry cannot download (0.18.5 is the last xlsx
// on the registry, and the chain of GETs never reads a spreadsheet); and
// @n8n/expression-runtime wants isolated-vm ^6.2.0, which needs Node 22's
// V8 and does not compile on Node 20 (5.0.4 is the last for Node 18+).
var n8nOverrides = map[string]string{"xlsx": "0.18.5", "isolated-vm": "5.0.4"}

// n8nDir is where the pinned n8n lives: the user's cache folder.
func n8nDir() (string, error) {
	if d := os.Getenv("OUTFLOW_BENCH_N8N_DIR"); d != "" {
		return d, nil
	}
	c, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(c, "outflow-bench", "n8n-"+n8nVersion), nil
}

// ensureN8n installs n8n into its cache folder unless it is there, and
// returns the path of its command.
func ensureN8n(ctx context.Context) (string, error) {
	dir, err := n8nDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "node_modules", "n8n", "bin", "n8n")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "", errors.New("n8n: npm is not installed")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	pkg, _ := json.MarshalIndent(map[string]any{
		"name": "outflow-bench-n8n", "private": true,
		"dependencies": map[string]string{"n8n": n8nVersion},
		"overrides":    n8nOverrides,
	}, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "package.json"), pkg, 0o644); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "bench: installing n8n %s into %s (npm, several minutes)\n", n8nVersion, dir)
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("n8n: npm install: %w\n%s", err, tailText(out, 2000))
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("n8n: installed, but %s is missing", bin)
	}
	return bin, nil
}

// n8nPeer is a running n8n with the bench workflow active.
type n8nPeer struct {
	cmd     *exec.Cmd
	url     string // the webhook that runs the chain
	startup time.Duration
	log     *os.File
}

// n8nChainNodes are the GETs of the n8n workflow: as many as the flows of
// the concurrent runs have steps.
func n8nWorkflow(partner *benchPartner, steps int) map[string]any {
	nodes := []map[string]any{{
		"id": "webhook", "name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
		"position": []int{0, 0}, "webhookId": "outflow-bench",
		"parameters": map[string]any{"path": "chain", "httpMethod": "GET", "responseMode": "lastNode", "responseData": "firstEntryJson", "options": map[string]any{}},
	}}
	conns := map[string]any{}
	prev := "Webhook"
	for i := 1; i <= steps; i++ {
		name := fmt.Sprintf("GET %d", i)
		url := fmt.Sprintf("https://%s/v2/customers/42", partner.addr)
		if i > 1 {
			// Each URL from the previous answer, as the Outflow chain.
			url = fmt.Sprintf("=https://%s/v2/customers/{{ $json.id }}", partner.addr)
		}
		nodes = append(nodes, map[string]any{
			"id": fmt.Sprintf("get%d", i), "name": name, "type": "n8n-nodes-base.httpRequest", "typeVersion": 4.2,
			"position": []int{200 * i, 0},
			"parameters": map[string]any{
				"url": url, "authentication": "genericCredentialType", "genericAuthType": "httpBasicAuth",
				"provideSslCertificates": true, "options": map[string]any{},
			},
			"credentials": map[string]any{
				"httpBasicAuth": map[string]any{"id": "benchBasic0001", "name": "partner basic"},
				"httpSslAuth":   map[string]any{"id": "benchCert00001", "name": "partner client certificate"},
			},
		})
		conns[prev] = map[string]any{"main": [][]map[string]any{{{"node": name, "type": "main", "index": 0}}}}
		prev = name
	}
	return map[string]any{
		"id": "outflowBench001", "name": "outflow-bench-chain", "active": true, "nodes": nodes, "connections": conns,
		"settings": map[string]any{"executionOrder": "v1"},
	}
}

// n8nCredentials are the partner's basic credential and the client
// certificate, as n8n's import:credentials reads them (it encrypts data
// given as an object).
func n8nCredentials(partner *benchPartner) ([]map[string]any, error) {
	p12, err := os.ReadFile(filepath.Join(partner.dir, "certs", "client.p12"))
	if err != nil {
		return nil, err
	}
	key, cert, chain, err := pkcs12.DecodeChain(p12, partner.keystorePassword)
	if err != nil {
		return nil, fmt.Errorf("reading the client keystore: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	for _, c := range chain {
		certPEM += string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	ca, err := os.ReadFile(filepath.Join(partner.dir, "certs", "partner-ca.pem"))
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().Format(time.RFC3339)
	return []map[string]any{
		{"id": "benchBasic0001", "name": "partner basic", "type": "httpBasicAuth", "createdAt": now, "updatedAt": now,
			"data": map[string]any{"user": partner.username, "password": partner.password}},
		{"id": "benchCert00001", "name": "partner client certificate", "type": "httpSslAuth", "createdAt": now, "updatedAt": now,
			"data": map[string]any{"ca": string(ca), "cert": certPEM, "key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "passphrase": ""}},
	}, nil
}

// startN8n imports the workflow and credentials into a fresh n8n folder
// under dir and starts n8n; startup is from the start command to its first
// answered webhook call.
func startN8n(ctx context.Context, bin, dir string, partner *benchPartner, steps int) (*n8nPeer, error) {
	home := filepath.Join(dir, "n8n")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	creds, err := n8nCredentials(partner)
	if err != nil {
		return nil, err
	}
	wf := n8nWorkflow(partner, steps)
	for name, v := range map[string]any{"credentials.json": creds, "workflow.json": []any{wf}} {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(filepath.Join(home, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	env := append(os.Environ(),
		"N8N_USER_FOLDER="+home,
		"N8N_PORT="+strconv.Itoa(port),
		"N8N_LISTEN_ADDRESS=127.0.0.1",
		"N8N_HOST=127.0.0.1",
		"N8N_ENCRYPTION_KEY=outflow-bench-not-a-secret",
		"N8N_DIAGNOSTICS_ENABLED=false",
		"N8N_VERSION_NOTIFICATIONS_ENABLED=false",
		"N8N_TEMPLATES_ENABLED=false",
		"N8N_PERSONALIZATION_ENABLED=false",
		"N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS=false",
		"N8N_LOG_LEVEL=warn",
		"N8N_RUNNERS_ENABLED=false",
		"NODE_ENV=production",
		// The partner's CA, for Node's own verification of the server.
		"NODE_EXTRA_CA_CERTS="+filepath.Join(partner.dir, "certs", "partner-ca.pem"),
	)
	logf, err := os.Create(filepath.Join(dir, "n8n.log"))
	if err != nil {
		return nil, err
	}
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "node", append([]string{bin}, args...)...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("n8n %s: %w (log: %s)", args[0], err, logTail(logf.Name()))
		}
		return nil
	}
	if err := run("import:credentials", "--input="+filepath.Join(home, "credentials.json")); err != nil {
		return nil, err
	}
	if err := run("import:workflow", "--input="+filepath.Join(home, "workflow.json")); err != nil {
		return nil, err
	}
	if err := run("update:workflow", "--id=outflowBench001", "--active=true"); err != nil {
		return nil, err
	}
	began := time.Now()
	cmd := exec.CommandContext(ctx, "node", bin, "start")
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &n8nPeer{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d/webhook/chain", port), log: logf}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if _, err := p.call(ctx, http.DefaultClient); err == nil {
			break
		} else if time.Now().After(deadline) || ctx.Err() != nil {
			p.close()
			return nil, fmt.Errorf("n8n did not answer its webhook within 3 minutes: %v (log: %s)", err, logTail(logf.Name()))
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.startup = time.Since(began)
	return p, nil
}

// call runs the workflow once and returns the last GET's answer.
func (p *n8nPeer) call(ctx context.Context, c *http.Client) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("n8n answered %d: %s", resp.StatusCode, tailText(b, 300))
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil || out["id"] != "42" {
		return nil, fmt.Errorf("n8n answered %s, not the last customer", tailText(b, 300))
	}
	return out, nil
}

func (p *n8nPeer) close() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	p.log.Close()
}

// cpu is the CPU time of n8n's process and its children.
func (p *n8nPeer) cpu() time.Duration {
	if p == nil {
		return 0
	}
	var total time.Duration
	for _, pid := range processTree(p.cmd.Process.Pid) {
		total += procCPU(pid)
	}
	return total
}

// processTree is pid and its descendants.
func processTree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", out[i]))
		for _, t := range tasks {
			b, _ := os.ReadFile(t)
			for _, f := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(f); err == nil {
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// procCPU is utime+stime of a process from /proc/PID/stat (clock ticks of
// 10 ms, as USER_HZ is 100 on Linux).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// After the command: state(0) ppid ... utime is field 14 of the line,
	// index 11 here; stime 12.
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// resetPeak and peakRSS are resetPeakRSS and peakRSS for n8n's process
// and its children (their peaks summed).
func (p *n8nPeer) resetPeak() {
	for _, pid := range processTree(p.cmd.Process.Pid) {
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	}
}

func (p *n8nPeer) peakRSS() int64 {
	var total int64
	for _, pid := range processTree(p.cmd.Process.Pid) {
		f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				total += kb << 10
			}
		}
		f.Close()
	}
	return total
}

// n8nRun is the n8n scenario: flows concurrent webhook calls, each running
// the chain once. The workflow's length is fixed when n8n starts
// (-flow-steps), so the sequential sizes run it steps/flow-steps times.
func n8nRun(ctx context.Context, s *stack, flows, steps int, _ string) (outcome, error) {
	if s.n8n == nil {
		return outcome{}, errors.New("n8n is not running")
	}
	if steps%s.n8nSteps != 0 {
		return outcome{}, fmt.Errorf("n8n runs chains of %d steps, not %d", s.n8nSteps, steps)
	}
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: max(flows, 2)}}
	defer c.CloseIdleConnections()
	return outcome{}, parallel(flows, func(int) error {
		for i := 0; i < steps/s.n8nSteps; i++ {
			if _, err := s.n8n.call(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
}

func tailText(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

func logTail(file string) string {
	b, _ := os.ReadFile(file)
	return tailText(b, 1500)
}
