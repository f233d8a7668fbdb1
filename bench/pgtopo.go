package main

// The production topology (-topology pg): PostgreSQL from Debian's packages
// in a private cluster on loopback, `outflow server` on it with a frontend
// that requires client certificates (as docker-compose.yml runs it), and a
// separate `outflow worker` process; the bench process starts flows over
// mutual TLS and hosts the partner. The outflow binary is built once into
// the run's temporary folder.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/worker"
)

// pgScenarios run the chain against the production topology.
var pgScenarios = []scenario{
	{
		Name: "server-pg",
		What: "as outflow (no `local:`, the automatic fast path), against `outflow server` on PostgreSQL with a separate `outflow worker` process, the frontend over mutual TLS (docker-compose.yml's topology as processes). CPU is the server, worker and PostgreSQL processes (the bench process, which holds the partner, the client, the idle embedded stack and the memory samplers, is shown apart); peak memory is the sum of the peak Pss of the server, the worker and PostgreSQL with its backends",
		pg:   true,
		run:  outflowOn(pgEngine, false, "default"),
	},
	{
		Name: "server-pg-regular",
		What: "as server-pg, every step with `local: false` (a regular activity per step)",
		pg:   true,
		run:  outflowOn(pgEngine, false, "regular"),
	},
}

func pgEngine(s *stack) *engine.Client { return s.pg.engine }

// pgTopology is the production topology's processes and the bench's client
// to its frontend.
type pgTopology struct {
	dir      string
	pgBin    string
	pgData   string
	pgPort   int
	pgAttr   *syscall.SysProcAttr
	server   *process
	worker   *process
	temporal client.Client
	engine   *engine.Client
	// postgresVersion is the major version of the PostgreSQL programs.
	postgresVersion string
	startup         time.Duration
}

// process is a child the bench started; its output goes to a log file.
type process struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
}

const (
	pgUser     = "temporal"
	pgPassword = "outflow-bench-pg"
)

// postgresBin finds the newest PostgreSQL server programs of Debian's
// packages (/usr/lib/postgresql/VERSION/bin).
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

// startPGTopology builds outflow, starts PostgreSQL, `outflow server` and
// `outflow worker`, and dials the frontend. Whatever started is stopped
// when it fails.
func startPGTopology(ctx context.Context, pgConf []string) (t *pgTopology, err error) {
	began := time.Now()
	pgOpts, err := pgOptions(pgConf)
	if err != nil {
		return nil, err
	}
	t = &pgTopology{}
	defer func() {
		if err != nil {
			t.close()
			t = nil
		}
	}()
	// A folder of its own: when the bench runs as root it belongs to the
	// postgres user, who must reach it.
	if t.dir, err = os.MkdirTemp("", "outflow-bench-pg-"); err != nil {
		return t, err
	}
	if t.pgBin = postgresBin(); t.pgBin == "" {
		return t, errors.New("-topology pg: PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/pg_ctl): apt-get install postgresql")
	}
	t.postgresVersion = filepath.Base(filepath.Dir(t.pgBin))
	bin := filepath.Join(t.dir, "outflow")
	fmt.Fprintf(os.Stderr, "bench: building outflow for the production topology\n")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/outflow")
	build.Dir = moduleRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return t, fmt.Errorf("-topology pg: building outflow: %w\n%s", err, tailText(out, 2000))
	}
	fmt.Fprintf(os.Stderr, "bench: starting PostgreSQL %s, outflow server and outflow worker\n", t.postgresVersion)
	if err := t.startPostgres(ctx, pgOpts); err != nil {
		return t, err
	}
	pki := filepath.Join(t.dir, "pki")
	if out, err := exec.CommandContext(ctx, bin, "certs", "dev-ca", pki, "--host", "temporal,localhost,127.0.0.1", "--client", "worker,cli").CombinedOutput(); err != nil {
		return t, fmt.Errorf("-topology pg: outflow certs dev-ca: %w\n%s", err, out)
	}
	ports, err := lowFreePorts(9)
	if err != nil {
		return t, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	began2 := time.Now()
	t.server, err = startProcess(ctx, t.dir, "server", serverEnv(t.pgPort, ports, pki), "Temporal server ready", bin, "server")
	if err != nil {
		return t, err
	}
	t.startup = time.Since(began2)
	workerEnv := cleanEnv(map[string]string{
		"TEMPORAL_ADDRESS": addr, "TEMPORAL_NAMESPACE": "default",
		worker.EnvTLSCert: filepath.Join(pki, "worker-bundle.pem"), worker.EnvTLSCA: filepath.Join(pki, "ca.crt"), worker.EnvTLSServerName: "temporal",
		"OUTFLOW_LOG_LEVEL": "error",
	})
	// No --project: steps read their keystore from the plan's project
	// folder, the partner's, on this machine.
	if t.worker, err = startProcess(ctx, t.dir, "worker", workerEnv, "worker connected", bin, "worker", "--identity", "bench-worker"); err != nil {
		return t, err
	}
	tlsConf, _, err := (&secrets.ClientTLS{Keystore: filepath.Join(pki, "cli-bundle.pem"), CA: []string{filepath.Join(pki, "ca.crt")}, ServerName: "temporal"}).Config()
	if err != nil {
		return t, err
	}
	if t.temporal, err = worker.Dial(ctx, worker.DialOptions{Address: addr, Namespace: "default", TLS: tlsConf, Logger: quietLogger()}); err != nil {
		return t, fmt.Errorf("-topology pg: dialing outflow server: %w", err)
	}
	// As the CLI against a remote server: no worker beside the client, so
	// no eager start.
	t.engine = &engine.Client{Temporal: t.temporal, Namespace: "default"}
	fmt.Fprintf(os.Stderr, "bench: production topology up in %.1f s (outflow server ready %.1f s after start)\n", time.Since(began).Seconds(), t.startup.Seconds())
	return t, nil
}

// moduleRoot is the folder of go.mod above the working directory.
func moduleRoot() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// startPostgres initialises a cluster with one password user, as the
// official image does with POSTGRES_USER and POSTGRES_PASSWORD, and starts
// it on a free loopback port with the settings given (key=value).
// Durability settings are left as PostgreSQL ships them unless given: the
// cost of a commit is part of what production pays.
func (t *pgTopology) startPostgres(ctx context.Context, opts string) error {
	t.pgData = filepath.Join(t.dir, "pgdata")
	if os.Geteuid() == 0 {
		// initdb refuses to run as root: the cluster belongs to the user
		// the postgresql package creates.
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("-topology pg: running as root, PostgreSQL needs the postgres user (made by apt-get install postgresql): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(t.dir, uid, gid); err != nil {
			return err
		}
		t.pgAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	pw := filepath.Join(t.dir, "pgpw")
	if err := os.WriteFile(pw, []byte(pgPassword+"\n"), 0o600); err != nil {
		return err
	}
	if t.pgAttr != nil {
		_ = os.Chown(pw, int(t.pgAttr.Credential.Uid), int(t.pgAttr.Credential.Gid))
	}
	if out, err := t.pgCommand(ctx, "initdb", "-D", t.pgData, "-U", pgUser, "--pwfile", pw, "--auth", "scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync").CombinedOutput(); err != nil {
		return fmt.Errorf("-topology pg: initdb: %w\n%s", err, out)
	}
	port, err := lowFreePorts(1)
	if err != nil {
		return err
	}
	t.pgPort = port[0]
	opts = fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s", t.pgPort, t.dir) + opts
	if out, err := t.pgCommand(ctx, "pg_ctl", "-D", t.pgData, "-l", filepath.Join(t.dir, "postgres.log"), "-w", "-t", "120", "-o", opts, "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(t.dir, "postgres.log"))
		return fmt.Errorf("-topology pg: pg_ctl start: %w\n%s\n%s", err, out, tailText(log, 2000))
	}
	return nil
}

// pgOptions turns -pg-conf's key=value settings into postgres options.
func pgOptions(conf []string) (string, error) {
	opts := ""
	for _, kv := range conf {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" || v == "" || strings.ContainsAny(kv, " '\"\\") {
			return "", fmt.Errorf("-pg-conf %q: want key=value without spaces or quotes", kv)
		}
		opts += fmt.Sprintf(" -c %s=%s", k, v)
	}
	return opts, nil
}

func (t *pgTopology) pgCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(t.pgBin, name), args...)
	cmd.Dir = t.dir
	cmd.SysProcAttr = t.pgAttr
	return cmd
}

// postmaster is the pid of PostgreSQL's main process (the first line of
// postmaster.pid), 0 when not running.
func (t *pgTopology) postmaster() int {
	if t == nil || t.pgData == "" {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(t.pgData, "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(first))
	return pid
}

// procs are the topology's processes by name: the server, the worker and
// PostgreSQL (its main process, whose children are the backends).
func (t *pgTopology) procs() map[string]int {
	out := map[string]int{}
	if t == nil {
		return out
	}
	for _, p := range []*process{t.server, t.worker} {
		if p != nil && p.cmd.Process != nil {
			out[p.name] = p.cmd.Process.Pid
		}
	}
	if pid := t.postmaster(); pid > 0 {
		out["postgresql"] = pid
	}
	return out
}

func (t *pgTopology) close() {
	if t == nil {
		return
	}
	if t.temporal != nil {
		t.temporal.Close()
	}
	for _, p := range []*process{t.worker, t.server} {
		p.stop()
	}
	if t.postmaster() > 0 {
		_ = t.pgCommand(context.Background(), "pg_ctl", "-D", t.pgData, "-m", "fast", "-w", "stop").Run()
	}
	if t.dir != "" {
		_ = os.RemoveAll(t.dir)
	}
}

// serverEnv is the temporal service's environment of docker-compose.yml
// for this machine: PostgreSQL on loopback, every service on its own
// loopback port, the frontend requiring client certificates of the dev CA,
// and the dynamic config the compose file mounts.
func serverEnv(pgPort int, ports []int, pki string) []string {
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	return cleanEnv(map[string]string{
		"DB": "postgres12", "DB_PORT": strconv.Itoa(pgPort), "POSTGRES_SEEDS": "127.0.0.1",
		"POSTGRES_USER": pgUser, "POSTGRES_PWD": pgPassword, "DBNAME": "temporal", "VISIBILITY_DBNAME": "temporal_visibility",
		"BIND_ON_IP":         "127.0.0.1",
		"FRONTEND_GRPC_PORT": p(0), "FRONTEND_HTTP_PORT": p(1), "FRONTEND_MEMBERSHIP_PORT": p(2),
		"HISTORY_GRPC_PORT": p(3), "HISTORY_MEMBERSHIP_PORT": p(4),
		"MATCHING_GRPC_PORT": p(5), "MATCHING_MEMBERSHIP_PORT": p(6),
		"WORKER_GRPC_PORT": p(7), "WORKER_MEMBERSHIP_PORT": p(8),
		"DYNAMIC_CONFIG_FILE_PATH":           filepath.Join(moduleRoot(), "deploy", "temporal", "dynamicconfig", "outflow.yaml"),
		"TEMPORAL_TLS_FRONTEND_CERT":         filepath.Join(pki, "server.crt"),
		"TEMPORAL_TLS_FRONTEND_KEY":          filepath.Join(pki, "server.key"),
		"TEMPORAL_TLS_CLIENT1_CA_CERT":       filepath.Join(pki, "ca.crt"),
		"TEMPORAL_TLS_CLIENT2_CA_CERT":       filepath.Join(pki, "ca.crt"),
		"TEMPORAL_TLS_REQUIRE_CLIENT_AUTH":   "true",
		"TEMPORAL_TLS_SERVER_CERT":           filepath.Join(pki, "server.crt"),
		"TEMPORAL_TLS_SERVER_KEY":            filepath.Join(pki, "server.key"),
		"TEMPORAL_TLS_SERVER_CA_CERT":        filepath.Join(pki, "ca.crt"),
		"TEMPORAL_TLS_FRONTEND_SERVER_NAME":  "temporal",
		"TEMPORAL_TLS_INTERNODE_SERVER_NAME": "temporal",
		"LOG_LEVEL":                          "error",
	})
}

// cleanEnv is this process's environment without Temporal's and the
// server's variables, with set added. GOGC and GOMEMLIMIT pass through, so
// `GOGC=off GOMEMLIMIT=1GiB go run ./bench` sets them for the server and
// worker too.
func cleanEnv(set map[string]string) []string {
	drop := func(k string) bool {
		_, ours := set[k]
		return ours || strings.HasPrefix(k, "TEMPORAL_") || strings.HasPrefix(k, "POSTGRES_") || strings.HasSuffix(k, "_PORT") ||
			k == "DB" || k == "DBNAME" || k == "VISIBILITY_DBNAME" || k == "BIND_ON_IP" || k == "DYNAMIC_CONFIG_FILE_PATH" || k == "LOG_LEVEL"
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !drop(k) {
			env = append(env, kv)
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+set[k])
	}
	return env
}

// startProcess starts a program in its own process group and waits until
// a line of its standard output contains ready; its output goes to
// dir/name.log.
func startProcess(ctx context.Context, dir, name string, env []string, ready string, bin string, args ...string) (*process, error) {
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stderr = log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("-topology pg: starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: log}
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		seen := false
		for sc.Scan() {
			fmt.Fprintln(log, sc.Text())
			if !seen && strings.Contains(sc.Text(), ready) {
				seen = true
				found <- true
			}
		}
		if !seen {
			found <- false
		}
		_, _ = io.Copy(log, out)
	}()
	timeout := time.NewTimer(3 * time.Minute)
	defer timeout.Stop()
	select {
	case ok := <-found:
		if ok {
			return p, nil
		}
		p.stop()
		b, _ := os.ReadFile(log.Name())
		return nil, fmt.Errorf("-topology pg: %s ended before it was ready:\n%s", name, tailText(b, 3000))
	case <-timeout.C:
	case <-ctx.Done():
	}
	p.stop()
	b, _ := os.ReadFile(log.Name())
	return nil, fmt.Errorf("-topology pg: %s not ready (%q) in time:\n%s", name, ready, tailText(b, 3000))
}

// stop ends the process with SIGTERM, then SIGKILL after ten seconds.
func (p *process) stop() {
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

// lowFreePorts picks n distinct free loopback ports below 32768: Temporal
// keeps membership ports in a smallint column, and the kernel hands out
// ephemeral ports above 32767.
func lowFreePorts(n int) ([]int, error) {
	seen := map[int]bool{}
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("-topology pg: no free ports below 32768")
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
	return ports, nil
}

// procSet is processes outside the bench whose CPU and memory a scenario
// counts, each with its descendants.
type procSet map[string]int

func (ps procSet) cpu() time.Duration {
	var total time.Duration
	for _, d := range ps.cpuByName() {
		total += d
	}
	return total
}

// cpuByName is the CPU time of each named process with its descendants.
func (ps procSet) cpuByName() map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, pid := range ps {
		for _, p := range processTree(pid) {
			out[name] += procCPU(p)
		}
	}
	return out
}

func (ps procSet) resetPeak() {
	for _, pid := range ps {
		for _, p := range processTree(pid) {
			_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p), []byte("5"), 0)
		}
	}
}

// peakRSS is the sum of VmHWM of each named process and its descendants.
func (ps procSet) peakRSS() map[string]int64 {
	out := map[string]int64{}
	for name, pid := range ps {
		for _, p := range processTree(pid) {
			out[name] += procHWM(p)
		}
	}
	return out
}

// procHWM is VmHWM of a process in bytes, 0 when unknown.
func procHWM(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// pssSampler samples the proportional set size (Pss of
// /proc/PID/smaps_rollup: shared pages divided among the processes that
// map them) of each named process tree every 250 ms and keeps each name's
// peak: PostgreSQL's backends share its buffers, which VmHWM would count
// once per backend.
type pssSampler struct {
	stopCh chan struct{}
	done   chan map[string]int64
}

func (ps procSet) samplePSS() *pssSampler {
	h := &pssSampler{stopCh: make(chan struct{}), done: make(chan map[string]int64, 1)}
	go func() {
		peak := map[string]int64{}
		read := func() {
			for name, pid := range ps {
				var sum int64
				for _, p := range processTree(pid) {
					sum += procPSS(p)
				}
				peak[name] = max(peak[name], sum)
			}
		}
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			read()
			select {
			case <-h.stopCh:
				read()
				h.done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *pssSampler) stop() map[string]int64 {
	if h == nil {
		return nil
	}
	close(h.stopCh)
	return <-h.done
}

// procPSS is Pss of a process in bytes, 0 when unknown.
func procPSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
