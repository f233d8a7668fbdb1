// Command bench measures what a REST step costs in Outflow against a plain
// Go client and a bare Temporal activity making the same mTLS call, all in
// this one process on the embedded Temporal server, and writes the results
// as markdown and JSON.
//
//	go run ./bench                 # the full run: at most about four minutes
//	go run ./bench -repeat 1       # one round, a quick look
//	go run ./bench -dc history.transferProcessorMaxPollRPS=20   # a server setting to compare
//	go run ./bench -from bench/results/results.json             # the tables again, no measuring
//	go run ./bench -peers n8n -sizes 10                          # n8n side by side (bench/n8n.go)
//	go run ./bench -topology pg -scenarios outflow,outflow-regular -sizes 10 -name production-topology
//	                                    # and outflow server on PostgreSQL with a separate worker (bench/pgtopo.go)
//	go run ./bench -gc-memory-limit 768MiB -scenarios outflow,outflow-regular -sizes 10 -name gc-memory-limit
//	                                    # and the same with GOGC=off GOMEMLIMIT=768MiB (bench/gc.go)
//	go test ./bench -run '^$' -bench .                          # the parts, without a server
//
// The partner is the example partner API (examples/partner) behind TLS that
// requires a client certificate. Every run starts with empty client
// connection pools, so handshakes per run are what pooling costs.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
	"time"

	sdkworker "go.temporal.io/sdk/worker"
)

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		out         = flag.String("out", "bench/results", "folder for results.md and results.json")
		name        = flag.String("name", "results", "base name of the result files")
		sizesFlag   = flag.String("sizes", "10,50,200", "steps of the sequential flows")
		flows       = flag.Int("flows", 100, "concurrent flows")
		flowSteps   = flag.Int("flow-steps", 10, "steps of each concurrent flow")
		repeat      = flag.Int("repeat", 3, "rounds; tables show the fastest round and the median CPU")
		only        = flag.String("scenarios", "", "comma-separated scenarios to run (default all)")
		budget      = flag.Duration("budget", 3*time.Minute+30*time.Second, "start no new measurement after this long; write what was measured")
		compression = flag.String("grpc-compression", "none", "SDK client gRPC compression: none (what worker.Dial uses towards an in-process server) or gzip (the SDK default)")
		wfPollers   = flag.Int("bench-wf-pollers", 0, "MaxConcurrentWorkflowTaskPollers of the bare scenarios' worker (0: SDK default)")
		actPollers  = flag.Int("bench-act-pollers", 0, "MaxConcurrentActivityTaskPollers of the bare scenarios' worker (0: SDK default)")
		eagerStart  = flag.Bool("bench-eager-start", false, "start the bare scenarios' workflows with eager workflow start (the first workflow task handed to this process's worker in the start response)")
		cpuProfile  = flag.String("cpuprofile", "", "write a CPU profile of the measured rounds to this file")
		traceFile   = flag.String("trace", "", "write a runtime trace of the measured rounds to this file")
		idlePerHost = flag.Int("plain-idle-per-host", plainIdlePerHost, "idle connections per host the plain client and the bare activity keep")
		from        = flag.String("from", "", "write the tables again from this results JSON instead of measuring")
		peers       = flag.String("peers", "", "other workflow tools to measure side by side: n8n (installed from npm into the cache folder when missing)")
		topology    = flag.String("topology", "", "pg: also run server-pg and server-pg-regular against `outflow server` on PostgreSQL with a separate `outflow worker` process (builds outflow; needs Debian's postgresql)")
		gcLimit     = flag.String("gc-memory-limit", "", "also run outflow-gc and outflow-regular-gc with this GOMEMLIMIT (e.g. 800MiB) and -gc-percent set for the bench process during their runs")
		gcPercent   = flag.Int("gc-percent", -1, "GOGC of the -gc-memory-limit scenarios (-1: off, the limit alone triggers collections)")
		dcFlags     stringList
		pgConf      stringList
	)
	flag.Var(&pgConf, "pg-conf", "with -topology pg: a PostgreSQL setting key=value (repeatable), e.g. synchronous_commit=off; default: PostgreSQL's own")
	flag.Var(&dcFlags, "dc", "server dynamic config override key=value (repeatable), e.g. history.transferProcessorMaxPollRPS=20")
	flag.Parse()

	plainIdlePerHost = *idlePerHost
	if *from != "" {
		return rewrite(*from, *out, *name)
	}
	sizes, err := parseInts(*sizesFlag)
	if err != nil {
		return fmt.Errorf("-sizes: %w", err)
	}
	dc, err := parseDynamicConfig(dcFlags)
	if err != nil {
		return err
	}
	selected, err := selectScenarios(*only)
	if err != nil {
		return err
	}
	var gc *gcSetting
	if *gcLimit != "" {
		limit, err := parseBytes(*gcLimit)
		if err != nil {
			return fmt.Errorf("-gc-memory-limit: %w", err)
		}
		gc = &gcSetting{Percent: *gcPercent, Limit: limit}
		selected = appendScenarios(selected, gcScenarios(*gc)...)
	}
	switch *topology {
	case "":
	case "pg":
		selected = appendScenarios(selected, pgScenarios...)
	default:
		return fmt.Errorf("-topology: unknown topology %q (known: pg)", *topology)
	}
	needPG := false
	for _, sc := range selected {
		needPG = needPG || sc.pg
	}
	var n8nBin string
	for _, peer := range strings.Split(*peers, ",") {
		switch strings.TrimSpace(peer) {
		case "":
		case "n8n":
			if n8nBin, err = ensureN8n(context.Background()); err != nil {
				return err
			}
			selected = append(selected, n8nScenario)
		default:
			return fmt.Errorf("-peers: unknown peer %q (known: n8n)", peer)
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// A measurement started just before the budget ends may run on; the
	// hard stop cuts it 45 s later, leaving time to shut down and write the
	// files within five minutes of starting.
	ctx, cancel := context.WithTimeout(ctx, *budget+45*time.Second)
	defer cancel()
	deadline := time.Now().Add(*budget)

	dir, err := os.MkdirTemp("", "outflow-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	res := &results{
		Command:         strings.TrimSpace("go run ./bench " + strings.Join(os.Args[1:], " ")),
		Started:         time.Now().UTC(),
		Machine:         describeMachine(),
		DynamicConfig:   dc,
		GRPCCompression: *compression,
		BenchEagerStart: *eagerStart,
		Repeat:          *repeat,
		GC:              gc,
	}
	for _, sc := range selected {
		res.Scenarios = append(res.Scenarios, scenarioInfo{Name: sc.Name, What: sc.What})
	}
	load := startMachineLoad()
	began := time.Now()
	fmt.Fprintf(os.Stderr, "bench: starting partner, embedded Temporal server and workers (%s)\n", res.Machine.Summary())
	s, err := startStack(ctx, stackOptions{
		dir: dir, dynamicConfig: dc, compression: *compression, eagerStart: *eagerStart,
		benchWorker: sdkworker.Options{MaxConcurrentWorkflowTaskPollers: *wfPollers, MaxConcurrentActivityTaskPollers: *actPollers},
	})
	if err != nil {
		return err
	}
	res.StartupSeconds = time.Since(began).Seconds()
	if needPG {
		if s.pg, err = startPGTopology(ctx, pgConf); err != nil {
			s.close()
			return err
		}
		res.Topology = &topologyInfo{Name: "pg", PostgreSQL: s.pg.postgresVersion, ServerStartupSeconds: s.pg.startup.Seconds(), PostgreSQLSettings: pgConf}
	}
	if n8nBin != "" {
		fmt.Fprintf(os.Stderr, "bench: starting n8n %s\n", n8nVersion)
		if s.n8n, err = startN8n(ctx, n8nBin, dir, s.partner, *flowSteps); err != nil {
			s.close()
			return err
		}
		s.n8nSteps = *flowSteps
		res.Peers = append(res.Peers, peerInfo{Name: "n8n", Version: n8nVersion, StartupSeconds: s.n8n.startup.Seconds(), Overrides: n8nOverrides})
	}

	stopProfiles, err := startProfiles(*cpuProfile, *traceFile)
	if err != nil {
		s.close()
		return err
	}
	measureErr := measureAll(ctx, s, res, selected, sizes, *flows, *flowSteps, *repeat, deadline)
	stopProfiles()
	s.close()
	res.Seconds = time.Since(began).Seconds()
	res.OtherLoadCores = load.othersCores()
	if measureErr != nil {
		res.Incomplete = measureErr.Error()
		fmt.Fprintln(os.Stderr, "bench:", measureErr)
	}
	res.summarize(selected, sizes, *flows, *flowSteps)
	md, js := filepath.Join(*out, *name+".md"), filepath.Join(*out, *name+".json")
	if err := res.write(md, js); err != nil {
		return err
	}
	fmt.Print(res.markdown())
	fmt.Fprintf(os.Stderr, "bench: wrote %s and %s in %.0f s\n", md, js, res.Seconds)
	return nil
}

// errBudget ends the measurements when the time budget is spent.
var errBudget = errors.New("time budget spent; the results hold the rounds measured so far")

func measureAll(ctx context.Context, s *stack, res *results, selected []scenario, sizes []int, flows, flowSteps, repeat int, deadline time.Time) error {
	// A warm-up flow per scenario: the first flows pay for code paths and
	// caches warming up, not for steps.
	for _, sc := range selected {
		warm := 5
		if sc.Name == "n8n" {
			warm = s.n8nSteps // n8n runs whole chains
		}
		if _, err := measure(ctx, s, sc, 1, warm, sc.Name+"-warmup"); err != nil {
			return err
		}
	}
	// Rounds interleave scenarios, so a change in what else runs on the
	// machine affects all of them alike.
	for r := 1; r <= repeat; r++ {
		for _, n := range sizes {
			for _, sc := range selected {
				if time.Now().After(deadline) {
					return errBudget
				}
				if err := record(ctx, s, res, sc, r, 1, n); err != nil {
					return err
				}
			}
		}
		for _, sc := range selected {
			if sc.seqOnly || flows < 2 {
				continue
			}
			if time.Now().After(deadline) {
				return errBudget
			}
			if err := record(ctx, s, res, sc, r, flows, flowSteps); err != nil {
				return err
			}
		}
	}
	return nil
}

func record(ctx context.Context, s *stack, res *results, sc scenario, round, flows, steps int) error {
	smp, err := measure(ctx, s, sc, flows, steps, fmt.Sprintf("%s-r%d-%dx%d", sc.Name, round, flows, steps))
	if err != nil {
		return err
	}
	smp.Round = round
	fmt.Fprintf(os.Stderr, "bench: %-16s %3d×%-3d %7.2f ms/step %7.0f steps/s  cpu %5.2f ms/step  handshakes %d full %d resumed on %d connections\n",
		sc.Name, flows, steps, smp.MsPerStep, smp.StepsPerSec, smp.CPUMsPerStep, smp.FullHandshakes, smp.ResumedHandshakes, smp.PartnerConns)
	res.Samples = append(res.Samples, *smp)
	return nil
}

// startProfiles starts the CPU profile and the runtime trace asked for and
// returns what stops them.
func startProfiles(cpuPath, tracePath string) (func(), error) {
	var stops []func()
	stop := func() {
		for _, f := range stops {
			f()
		}
	}
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		stops = append(stops, func() { pprof.StopCPUProfile(); f.Close() })
	}
	if tracePath != "" {
		f, err := os.Create(tracePath)
		if err != nil {
			stop()
			return nil, err
		}
		if err := trace.Start(f); err != nil {
			f.Close()
			stop()
			return nil, err
		}
		stops = append(stops, func() { trace.Stop(); f.Close() })
	}
	return stop, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseDynamicConfig reads key=value overrides. Values that read as
// integers become int (what the server's settings expect), true/false
// bools, other numbers float64; anything else stays a string.
func parseDynamicConfig(kvs []string) (map[string]any, error) {
	dc := map[string]any{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("-dc %q: want key=value", kv)
		}
		if n, err := strconv.Atoi(v); err == nil {
			dc[k] = n
		} else if b, err := strconv.ParseBool(v); err == nil {
			dc[k] = b
		} else if f, err := strconv.ParseFloat(v, 64); err == nil {
			dc[k] = f
		} else if d, err := time.ParseDuration(v); err == nil {
			dc[k] = d
		} else {
			dc[k] = v
		}
	}
	return dc, nil
}

// appendScenarios adds the scenarios not selected yet.
func appendScenarios(selected []scenario, more ...scenario) []scenario {
	for _, sc := range more {
		if !slices.ContainsFunc(selected, func(o scenario) bool { return o.Name == sc.Name }) {
			selected = append(selected, sc)
		}
	}
	return selected
}

// knownScenarios are the scenarios -scenarios and -from may name; the
// n8n, pg and gc ones also need their flags to run.
func knownScenarios() []scenario {
	known := append(slices.Clone(scenarios), pgScenarios...)
	known = append(known, gcScenarios(gcSetting{Percent: -1, Limit: math.MaxInt64})...)
	return append(known, n8nScenario)
}

func selectScenarios(only string) ([]scenario, error) {
	if only == "" {
		return scenarios, nil
	}
	var out []scenario
	for _, n := range strings.Split(only, ",") {
		found := false
		for _, sc := range knownScenarios() {
			if sc.Name == strings.TrimSpace(n) {
				out = append(out, sc)
				found = true
			}
		}
		if !found {
			var names []string
			for _, sc := range knownScenarios() {
				names = append(names, sc.Name)
			}
			return nil, fmt.Errorf("unknown scenario %q (known: %s)", n, strings.Join(names, ", "))
		}
	}
	return out, nil
}

// rewrite summarizes the samples of a results file again, so a change to
// the tables needs no new measurements.
func rewrite(path, out, name string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var res results
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	var selected []scenario
	for _, info := range res.Scenarios {
		sc, err := selectScenarios(info.Name)
		if err != nil {
			return err
		}
		selected = append(selected, sc...)
	}
	var sizes []int
	flows, flowSteps := 0, 0
	seen := map[int]bool{}
	for _, s := range res.Samples {
		if s.Flows == 1 && !seen[s.StepsPerFlow] {
			seen[s.StepsPerFlow] = true
			sizes = append(sizes, s.StepsPerFlow)
		}
		if s.Flows > 1 {
			flows, flowSteps = s.Flows, s.StepsPerFlow
		}
	}
	if len(sizes) == 0 {
		return fmt.Errorf("%s holds no sequential samples", path)
	}
	slices.Sort(sizes)
	res.summarize(selected, sizes, flows, flowSteps)
	if err := res.write(filepath.Join(out, name+".md"), filepath.Join(out, name+".json")); err != nil {
		return err
	}
	fmt.Print(res.markdown())
	return nil
}

func (r *results) write(mdPath, jsonPath string) error {
	if err := os.MkdirAll(filepath.Dir(mdPath), 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonPath, append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(mdPath, []byte(r.markdown()), 0o644)
}
