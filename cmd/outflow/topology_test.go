package main

// The production topology of docker-compose.yml, as processes: PostgreSQL
// from Debian's packages on loopback, `outflow server` on it with a frontend
// that requires client certificates, certificates from `outflow certs
// dev-ca`, a default worker and an agent connecting over mutual TLS, and a
// flow with one step on each. Every process gets the environment its
// service has in docker-compose.yml, with only host names, ports and mount
// paths mapped to this machine.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	pgschema "go.temporal.io/server/schema/postgresql/v12"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/examples/partner"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/telemetry/promtest"
	"github.com/outflow-dev/outflow/worker"
)

// pgCluster is a throwaway PostgreSQL cluster listening on 127.0.0.1.
type pgCluster struct {
	bin, dir, data string
	port           int
	user, password string
	attr           *syscall.SysProcAttr
}

// postgresBin finds the newest PostgreSQL server programs of Debian's
// packages.
func postgresBin() string {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	sort.Slice(found, func(i, j int) bool {
		vi, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(found[i]))), 64)
		vj, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(found[j]))), 64)
		return vi < vj
	})
	if len(found) == 0 {
		return ""
	}
	return filepath.Dir(found[len(found)-1])
}

// startPostgres initialises a cluster in a temporary folder with one
// superuser that logs in with a password (as the official postgres image
// does with POSTGRES_USER and POSTGRES_PASSWORD), starts it on a free
// loopback port and stops it when the test ends, failed or not.
func startPostgres(t *testing.T, user, password string) *pgCluster {
	t.Helper()
	bin := postgresBin()
	if bin == "" {
		if testing.Short() {
			t.Skip("PostgreSQL is not installed")
		}
		t.Fatal("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl): .ci/run installs it (apt-get install postgresql)")
	}
	dir, err := os.MkdirTemp("", "outflow-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pg := &pgCluster{bin: bin, dir: dir, data: filepath.Join(dir, "data"), port: freePort(t), user: user, password: password}
	if os.Geteuid() == 0 {
		// initdb refuses to run as root: the cluster belongs to the user
		// the postgresql package creates.
		u, err := userLookup("postgres")
		if err != nil {
			t.Fatalf("running as root, PostgreSQL needs the postgres user (made by apt-get install postgresql): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		pg.attr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	pwFile := filepath.Join(dir, "pw")
	writeTestFile(t, pwFile, []byte(password+"\n"))
	if pg.attr != nil {
		_ = os.Chown(pwFile, int(pg.attr.Credential.Uid), int(pg.attr.Credential.Gid))
	}
	pg.run(t, "initdb", "-D", pg.data, "-U", user, "--pwfile", pwFile, "--auth", "scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync")
	t.Cleanup(func() {
		cmd := pg.command("pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "stop")
		_ = cmd.Run()
	})
	// Durability settings are off: the cluster dies with the test.
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off", pg.port, dir)
	if out, err := pg.command("pg_ctl", "-D", pg.data, "-l", filepath.Join(dir, "log"), "-w", "-t", "120", "-o", opts, "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	return pg
}

func (pg *pgCluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(pg.bin, name), args...)
	cmd.Dir = pg.dir
	cmd.SysProcAttr = pg.attr
	cmd.Env = append(os.Environ(), "PGPASSWORD="+pg.password)
	return cmd
}

func (pg *pgCluster) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := pg.command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// query runs SQL with psql over TCP, as the cluster's user.
func (pg *pgCluster) query(t *testing.T, db, sql string) string {
	t.Helper()
	return strings.TrimSpace(pg.run(t, "psql", "-h", "127.0.0.1", "-p", strconv.Itoa(pg.port), "-U", pg.user, "-d", db, "-Atc", sql))
}

var userLookup = user.Lookup

// lowFreePorts picks n distinct free loopback ports below 32768: Temporal
// keeps membership ports in a smallint column, and the kernel hands out
// ephemeral ports above 32767, so ports here do not race with tests that
// ask for port 0.
func lowFreePorts(t *testing.T, n int) []int {
	t.Helper()
	seen := map[int]bool{}
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			t.Fatal("no free ports below 32768")
		}
		p := 20000 + rand.IntN(12000)
		if seen[p] {
			continue
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		ports = append(ports, p)
	}
	return ports
}

// serviceEnv is the environment of a compose service as a process here:
// its variables with container paths mapped through mounts, then replace
// (variables the service sets, with values for this machine), then add
// (variables the service leaves at their defaults). Variables of the same
// names in this process's environment are dropped.
func serviceEnv(t *testing.T, name string, s composeService, mounts, replace, add map[string]string) []string {
	t.Helper()
	drop := func(k string) bool {
		_, inService := s.Environment[k]
		_, added := add[k]
		return inService || added || strings.HasPrefix(k, "TEMPORAL_")
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !drop(k) {
			env = append(env, kv)
		}
	}
	for k := range replace {
		if _, ok := s.Environment[k]; !ok {
			t.Fatalf("service %s does not set %s any more: update topology_test.go with docker-compose.yml", name, k)
		}
	}
	for k, v := range s.Environment {
		v = composeDefault(v)
		if p, ok := hostPath(v, mounts); ok {
			v = p
		}
		if r, ok := replace[k]; ok {
			v = r
		}
		env = append(env, k+"="+v)
	}
	for k, v := range add {
		if _, ok := s.Environment[k]; ok {
			t.Fatalf("service %s sets %s itself: move it to replace", name, k)
		}
		env = append(env, k+"="+v)
	}
	return env
}

const topologyProject = `kind: ProtocolProfile
name: partner-direct
keystore: {path: direct-client.pem}
truststore: {paths: [partner-ca.pem]}
---
kind: ProtocolProfile
name: partner-dmz
# The keystore, its password and the trust are in the agent's config.
store: agent
keystore: {path: dmz-client.p12}
applies_to: [dmz]
---
kind: Connection
name: direct
url: https://%[1]s/v2
mutual_auth: true
protocol_profile: partner-direct
---
kind: Connection
name: via-dmz
url: https://%[1]s/v2
mutual_auth: true
protocol_profile: partner-dmz
agent: dmz
---
kind: Flow
name: through-both
steps:
  - id: direct
    rest: {connection: direct, method: GET, path: /whoami}
  - id: dmz
    rest: {connection: via-dmz, method: GET, path: /whoami}
`

// TestTopologyOnPostgres runs docker-compose.yml's topology as processes
// and a flow through both workers, then restarts the server (SIGTERM) on
// the same database and runs the flow again.
func TestTopologyOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, a Temporal server and two workers")
	}
	c := loadCompose(t)
	began := time.Now()
	pgEnv := c.service(t, "postgresql").Environment
	pg := startPostgres(t, pgEnv["POSTGRES_USER"], pgEnv["POSTGRES_PASSWORD"])
	t.Logf("PostgreSQL %s on 127.0.0.1:%d in %v", filepath.Base(filepath.Dir(pg.bin)), pg.port, time.Since(began).Round(time.Millisecond))

	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	vols := map[string]string{"pki": pki, "postgresql-data": pg.data}

	// The certs service, as a process.
	certs := c.service(t, "certs")
	if out, err := exec.Command(outflowBinary(t), rewritePaths(certs.Command, certs.mounts(t, vols))...).CombinedOutput(); err != nil {
		t.Fatalf("certs: %v\n%s", err, out)
	}

	// The temporal service: `outflow server` with its environment. The
	// schema is set up by the server itself (temporal-schema runs
	// Temporal's SQL tool on the same variables in compose).
	temporal := c.service(t, "temporal")
	ports := lowFreePorts(t, 9)
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	serverEnv := serviceEnv(t, "temporal", temporal, temporal.mounts(t, vols),
		map[string]string{"POSTGRES_SEEDS": "127.0.0.1", "DB_PORT": strconv.Itoa(pg.port), "BIND_ON_IP": "127.0.0.1", "FRONTEND_GRPC_PORT": strconv.Itoa(ports[0])},
		map[string]string{
			"FRONTEND_HTTP_PORT": strconv.Itoa(ports[1]), "FRONTEND_MEMBERSHIP_PORT": strconv.Itoa(ports[2]),
			"HISTORY_GRPC_PORT": strconv.Itoa(ports[3]), "HISTORY_MEMBERSHIP_PORT": strconv.Itoa(ports[4]),
			"MATCHING_GRPC_PORT": strconv.Itoa(ports[5]), "MATCHING_MEMBERSHIP_PORT": strconv.Itoa(ports[6]),
			"WORKER_GRPC_PORT": strconv.Itoa(ports[7]), "WORKER_MEMBERSHIP_PORT": strconv.Itoa(ports[8]),
		})
	// A wrong password is refused with PostgreSQL's reason, before
	// anything starts.
	bad := exec.Command(outflowBinary(t), "server")
	bad.Env = append(append([]string{}, serverEnv...), "POSTGRES_PWD=not-the-password")
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "password authentication failed") || strings.Contains(string(out), "not-the-password") {
		t.Errorf("outflow server with a wrong PostgreSQL password: %v\n%s", err, out)
	}

	serverStart := time.Now()
	server := startProcEnv(t, serverEnv, "Temporal server ready", "server")
	t.Logf("outflow server (schema set up, mTLS frontend) ready in %v", time.Since(serverStart).Round(time.Millisecond))
	if v := pg.query(t, temporal.Environment["DBNAME"], "select curr_version from schema_version"); v != pgschema.Version {
		t.Errorf("schema version %q, want %q", v, pgschema.Version)
	}
	if v := pg.query(t, temporal.Environment["VISIBILITY_DBNAME"], "select curr_version from schema_version"); v != pgschema.VisibilityVersion {
		t.Errorf("visibility schema version %q, want %q", v, pgschema.VisibilityVersion)
	}
	updates := pg.query(t, temporal.Environment["DBNAME"], "select count(*) from schema_update_history")

	// The partner, with its own CA; each worker holds its own key for it.
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

	project := filepath.Join(dir, "project")
	agentDir := filepath.Join(dir, "agent")
	for _, d := range []string{project, agentDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeTestFile(t, filepath.Join(project, "flow.yaml"), []byte(fmt.Sprintf(topologyProject, p.Addr)))
	writeTestFile(t, filepath.Join(project, "partner-ca.pem"), pca.CertPEM())
	direct, _ := pca.IssueClient("partner-client-direct", nil)
	bundle, _ := direct.BundlePEM()
	writeTestFile(t, filepath.Join(project, "direct-client.pem"), bundle)

	// The agent's folder: deploy/agent/agent.yaml with the key material of
	// the partner-dmz profile added, as an operator would.
	const keystorePassword = "dmz-keystore-pw-5d1f"
	dmz, _ := pca.IssueClient("partner-client-dmz", nil)
	p12, err := pkcs12.Modern.Encode(dmz.Key, dmz.Cert, pca.Chain(), keystorePassword)
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(agentDir, "dmz-client.p12"), p12)
	writeTestFile(t, filepath.Join(agentDir, "partner-ca.pem"), pca.CertPEM())
	agentYAML, err := os.ReadFile(filepath.Join(repoRoot, "deploy", "agent", "agent.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(agentDir, "agent.yaml"), append(agentYAML, []byte(`profiles:
  partner-dmz:
    keystore:
      path: dmz-client.p12
      password: {secret: env:DMZ_KEYSTORE_PASSWORD}
    truststore: {paths: [partner-ca.pem]}
`)...))

	// The worker and agent services, as processes.
	workerSvc, agentSvc := c.service(t, "worker"), c.service(t, "agent")
	workerMounts := workerSvc.mounts(t, vols)
	workerMounts["/project"] = project
	agentMounts := agentSvc.mounts(t, vols)
	agentMounts["/etc/outflow"] = agentDir
	// Each process serves its metrics as its service does, on a port of
	// its own here.
	metricsPorts := lowFreePorts(t, 2)
	withMetrics := func(port int) map[string]string {
		return map[string]string{"TEMPORAL_ADDRESS": addr, envMetricsAddr: fmt.Sprintf("127.0.0.1:%d", port)}
	}
	workersStart := time.Now()
	startProcEnv(t, serviceEnv(t, "worker", workerSvc, workerMounts, withMetrics(metricsPorts[0]), nil),
		"worker connected", rewritePaths(workerSvc.Command, workerMounts)...)
	startProcEnv(t, serviceEnv(t, "agent", agentSvc, agentMounts, withMetrics(metricsPorts[1]), map[string]string{"DMZ_KEYSTORE_PASSWORD": keystorePassword}),
		"agent agent-1 connected", rewritePaths(agentSvc.Command, agentMounts)...)
	t.Logf("worker and agent connected over mTLS in %v", time.Since(workersStart).Round(time.Millisecond))

	// The CLI, with the compose worker's settings and the cli certificate.
	cliEnv := serviceEnv(t, "worker", workerSvc, workerMounts, map[string]string{
		"TEMPORAL_ADDRESS": addr, "TEMPORAL_TLS_CERT": filepath.Join(pki, "cli-bundle.pem"),
	}, nil)
	runFlow := func() (*engine.Record, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, outflowBinary(t), "run", "through-both", "--project", project, "--json")
		cmd.Env = cliEnv
		out, err := cmd.Output()
		var rec engine.Record
		if jerr := json.Unmarshal(out, &rec); jerr != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("run: %v\n%s\n%s", err, out, stderr)
		}
		return &rec, string(out)
	}
	check := func(rec *engine.Record, raw string) {
		t.Helper()
		if rec.Status != engine.StatusSucceeded {
			t.Fatalf("flow ended %s:\n%s", rec.Status, raw)
		}
		for id, want := range map[string]struct{ worker, cn string }{
			"direct": {"worker-1", "partner-client-direct"},
			"dmz":    {"agent-1/", "partner-client-dmz"},
		} {
			s := rec.Step(id)
			if s == nil || s.Status != engine.StatusSucceeded {
				t.Fatalf("step %s: %+v", id, s)
			}
			if !strings.HasPrefix(s.Worker, want.worker) {
				t.Errorf("step %s ran on %q, want %s", id, s.Worker, want.worker)
			}
			m, _ := s.Response.JSON.(map[string]any)
			if got, _ := m["client_certificate"].(string); !strings.Contains(got, "CN="+want.cn) {
				t.Errorf("step %s: the partner saw %q, want %s", id, got, want.cn)
			}
		}
		if strings.Contains(raw, keystorePassword) {
			t.Error("the execution record holds the agent's keystore password")
		}
	}
	flowStart := time.Now()
	rec, raw := runFlow()
	check(rec, raw)
	t.Logf("flow through both workers in %v", time.Since(flowStart).Round(time.Millisecond))

	// Each process's metrics count the step it ran, by flow and connection.
	for i, conn := range []string{"direct", "via-dmz"} {
		fams := promtest.Scrape(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPorts[i]))
		m := promtest.Sample(fams, "outflow_step_duration_seconds", map[string]string{"flow": "through-both", "kind": "rest", "connection": conn, "status_code": "200", "outcome": "ok"})
		if m == nil || m.Histogram.GetSampleCount() != 1 {
			t.Errorf("process %d (%s) does not count one ok step on %s: %v", i, []string{"worker", "agent"}[i], conn, m)
		}
	}

	// Nor is the password in the workflow's history, read over mTLS with
	// the cli certificate.
	tlsConf, _, err := (&secrets.ClientTLS{Keystore: filepath.Join(pki, "cli-bundle.pem"), CA: []string{filepath.Join(pki, "ca.crt")}, ServerName: "temporal"}).Config()
	if err != nil {
		t.Fatal(err)
	}
	tc, err := worker.Dial(context.Background(), worker.DialOptions{Address: addr, Namespace: workerSvc.Environment["TEMPORAL_NAMESPACE"], TLS: tlsConf})
	if err != nil {
		t.Fatal(err)
	}
	history := historyText(t, fetchHistory(t, &stack{temporal: tc}, rec.WorkflowID, rec.RunID))
	tc.Close()
	if !strings.Contains(history, "partner-client-dmz") {
		t.Error("the history lacks the dmz step's response: the search below proves nothing")
	}
	if strings.Contains(history, keystorePassword) {
		t.Error("the workflow history holds the agent's keystore password")
	}

	// Both processes' liveness endpoints report the frontend reachable.
	healthz := func(i int) (int, string) {
		t.Helper()
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", metricsPorts[i]))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for i := range metricsPorts {
		if code, body := healthz(i); code != http.StatusOK || body != "ok\n" {
			t.Errorf("process %d /healthz: %d %q", i, code, body)
		}
	}

	// A restart on the same database: nothing to set up, the namespace and
	// the first run are there, the workers reconnect by themselves.
	if err := server.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := server.cmd.Wait(); err != nil {
		t.Fatalf("outflow server after SIGTERM: %v", err)
	}
	// With the server down, /healthz says so.
	for i := range metricsPorts {
		if code, body := healthz(i); code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "unhealthy: ") {
			t.Errorf("process %d /healthz with the server down: %d %q", i, code, body)
		}
	}
	restart := time.Now()
	startProcEnv(t, serverEnv, "Temporal server ready", "server")
	t.Logf("outflow server restarted on the same database in %v", time.Since(restart).Round(time.Millisecond))
	if again := pg.query(t, temporal.Environment["DBNAME"], "select count(*) from schema_update_history"); again != updates {
		t.Errorf("the restart changed the schema: %s schema updates recorded before, %s after", updates, again)
	}
	flowStart = time.Now()
	rec2, raw2 := runFlow()
	check(rec2, raw2)
	t.Logf("flow after the server restart in %v", time.Since(flowStart).Round(time.Millisecond))
	cmd := exec.Command(outflowBinary(t), "executions", "show", rec.WorkflowID, "--json")
	cmd.Env = cliEnv
	if out, err := cmd.Output(); err != nil || !strings.Contains(string(out), `"succeeded"`) {
		t.Errorf("the first execution after the restart: %v\n%s", err, out)
	}
	if seen := p.ClientCertificates(); seen["partner-client-direct"] != 2 || seen["partner-client-dmz"] != 2 {
		t.Errorf("client certificates the partner saw: %v, want each twice", seen)
	}
}
