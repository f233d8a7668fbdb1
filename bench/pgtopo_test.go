package main

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// The server of -topology pg gets the environment docker-compose.yml gives
// its temporal service: every variable the compose file sets, mapped to
// this machine, and none of the bench's own TEMPORAL_ variables.
func TestServerEnvIsTheComposeService(t *testing.T) {
	t.Setenv("TEMPORAL_ADDRESS", "elsewhere:7233")
	t.Setenv("TEMPORAL_TLS_CERT", "/not/this.pem")
	data, err := os.ReadFile(filepath.Join("..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatal(err)
	}
	want := compose.Services["temporal"].Environment
	if len(want) == 0 {
		t.Fatal("docker-compose.yml has no temporal service environment")
	}
	ports := []int{20001, 20002, 20003, 20004, 20005, 20006, 20007, 20008, 20009}
	env := map[string]string{}
	for _, kv := range serverEnv(5433, ports, "/pki") {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := env[k]; dup {
			t.Errorf("%s is set twice", k)
		}
		env[k] = v
	}
	for k := range want {
		if _, ok := env[k]; !ok {
			t.Errorf("the compose temporal service sets %s, the bench's server does not", k)
		}
	}
	if env["TEMPORAL_ADDRESS"] != "" || env["TEMPORAL_TLS_CERT"] != "" {
		t.Errorf("the bench's own Temporal variables reach the server: %q %q", env["TEMPORAL_ADDRESS"], env["TEMPORAL_TLS_CERT"])
	}
	if env["DB_PORT"] != "5433" || env["FRONTEND_GRPC_PORT"] != "20001" || env["WORKER_MEMBERSHIP_PORT"] != "20009" || env["BIND_ON_IP"] != "127.0.0.1" {
		t.Errorf("ports and address: %v", env)
	}
	if env["TEMPORAL_TLS_REQUIRE_CLIENT_AUTH"] != "true" || env["TEMPORAL_TLS_FRONTEND_CERT"] != "/pki/server.crt" {
		t.Errorf("the frontend does not require client certificates of the dev CA: %v", env)
	}
	if _, err := os.Stat(env["DYNAMIC_CONFIG_FILE_PATH"]); err != nil {
		t.Errorf("the dynamic config the compose file mounts: %v", err)
	}
}

func TestPGOptions(t *testing.T) {
	got, err := pgOptions([]string{"synchronous_commit=off", "shared_buffers=256MB"})
	if err != nil || got != " -c synchronous_commit=off -c shared_buffers=256MB" {
		t.Fatalf("pgOptions = %q, %v", got, err)
	}
	for _, bad := range []string{"fsync", "=off", "fsync=", "a=b c", "a='b'"} {
		if _, err := pgOptions([]string{bad}); err == nil || !strings.Contains(err.Error(), "-pg-conf") {
			t.Errorf("pgOptions(%q) = %v, want an error naming -pg-conf", bad, err)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"512MiB": 512 << 20, "1GiB": 1 << 30, "1000": 1000, "64KiB": 64 << 10, "2048B": 2048, " 3 GiB ": 3 << 30} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1MiB", "0", "1.5GiB", "1GB", "9999999TiB"} {
		if _, err := parseBytes(bad); err == nil {
			t.Errorf("parseBytes(%q) accepted", bad)
		}
	}
}

// withGC sets the GC for a scenario's runs and puts back what was set
// before; a scenario without a setting changes nothing.
func TestWithGCSetsAndRestores(t *testing.T) {
	prevPercent, prevLimit := debug.SetGCPercent(150), debug.SetMemoryLimit(900<<20)
	defer func() { debug.SetGCPercent(prevPercent); debug.SetMemoryLimit(prevLimit) }()
	current := func() gcSetting {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return gcSetting{Percent: p, Limit: debug.SetMemoryLimit(-1)} // -1 reads without changing
	}
	g := gcSetting{Percent: -1, Limit: 512 << 20}
	restore := withGC(&g)
	if inside := current(); inside != g {
		t.Errorf("during the run: %+v, want %+v", inside, g)
	}
	restore()
	if after := current(); after != (gcSetting{Percent: 150, Limit: 900 << 20}) {
		t.Errorf("after the run: %+v, want GOGC=150 GOMEMLIMIT=900MiB", after)
	}
	withGC(nil)()
	if after := current(); after != (gcSetting{Percent: 150, Limit: 900 << 20}) {
		t.Errorf("a scenario without a setting changed it: %+v", after)
	}
	for _, sc := range gcScenarios(g) {
		if sc.gc == nil || *sc.gc != g {
			t.Errorf("%s runs without the setting", sc.Name)
		}
	}
	if s := (gcSetting{Percent: -1, Limit: 512 << 20}).String(); s != "GOGC=off GOMEMLIMIT=512MiB" {
		t.Errorf("String() = %q", s)
	}
	if s := (gcSetting{Percent: 100, Limit: math.MaxInt64}).String(); s != "GOGC=100 GOMEMLIMIT=none" {
		t.Errorf("String() = %q", s)
	}
}

// A process set measures this very process: CPU, peak VmHWM and sampled
// Pss, each above zero and Pss no more than the resident peak.
func TestProcSetMeasuresProcesses(t *testing.T) {
	ps := procSet{"self": os.Getpid()}
	pss := ps.samplePSS()
	buf := make([]byte, 32<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	peak := pss.stop()
	rss := ps.peakRSS()
	if peak["self"] <= 0 || rss["self"] <= 0 || peak["self"] > rss["self"]+(8<<20) {
		t.Errorf("peak Pss %d, VmHWM %d", peak["self"], rss["self"])
	}
	if ps.cpu() <= 0 {
		t.Error("no CPU time")
	}
	_ = buf[len(buf)-1]
	var none *pssSampler
	if none.stop() != nil {
		t.Error("a nil sampler measured something")
	}
}

func TestSelectTopologyAndGCScenarios(t *testing.T) {
	sel, err := selectScenarios("outflow,server-pg,outflow-gc")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range appendScenarios(sel, pgScenarios...) {
		names = append(names, sc.Name)
	}
	if !slices.Equal(names, []string{"outflow", "server-pg", "outflow-gc", "server-pg-regular"}) {
		t.Errorf("scenarios %v", names)
	}
	for _, sc := range pgScenarios {
		if !sc.pg {
			t.Errorf("%s does not run on the production topology", sc.Name)
		}
	}
	if _, err := selectScenarios("server-sqlite"); err == nil || !strings.Contains(err.Error(), "server-pg-regular") {
		t.Errorf("an unknown scenario: %v", err)
	}
}

// The production and GC sections show each scenario and the median over
// rounds of each round's ratio.
func TestProductionAndGCTables(t *testing.T) {
	r := &results{Repeat: 2, Topology: &topologyInfo{Name: "pg", PostgreSQL: "15"}, GC: &gcSetting{Percent: -1, Limit: 512 << 20}}
	add := func(name string, round int, msPerStep, stepsPerSec float64, pss map[string]int64) {
		var cpu map[string]float64
		if pss != nil {
			cpu = map[string]float64{"server": float64(round), "worker": 0.5, "postgresql": 3, "bench": 0.25}
		}
		r.Samples = append(r.Samples,
			sample{Round: round, Scenario: name, Flows: 1, StepsPerFlow: 10, Steps: 10, MsPerStep: msPerStep, CPUMsPerStep: msPerStep},
			sample{Round: round, Scenario: name, Flows: 100, StepsPerFlow: 10, Steps: 1000, StepsPerSec: stepsPerSec, CPUMsPerStep: 2 * msPerStep, PeakRSSBytes: 100 << 20, ProcessPeakPSS: pss, ProcessCPUMsPerStep: cpu})
	}
	pss := map[string]int64{"server": 200 << 20, "worker": 100 << 20, "postgresql": 50 << 20}
	for round := 1; round <= 2; round++ {
		f := float64(round)
		add("outflow", round, 2*f, 300/f, nil)
		add("server-pg", round, 6*f, 150/f, pss)
		add("outflow-gc", round, 1.5*f, 360/f, nil)
	}
	var sel []scenario
	for _, n := range []string{"outflow", "server-pg", "outflow-gc"} {
		s, _ := selectScenarios(n)
		sel = append(sel, s...)
	}
	r.summarize(sel, []int{10}, 100, 10)
	md := r.markdown()
	for _, want := range []string{
		"## Production topology", "PostgreSQL 15", "| server-pg ÷ outflow | 3.00× | 0.50× | 3.00× | 1.00× |",
		"| server-pg | 200 (0) | 100 (0) | 50 (0) |", "| server-pg | 1.50 | 0.50 | 3.00 | 0.25 |",
		"## GC settings", "GOGC=off GOMEMLIMIT=512MiB", "| outflow-gc ÷ outflow | 0.75× | 1.20× | 0.75× | 1.00× |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the tables lack %q:\n%s", want, md)
		}
	}
}
