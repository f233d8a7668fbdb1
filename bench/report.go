package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

type results struct {
	Command         string         `json:"command"`
	Started         time.Time      `json:"started"`
	Machine         machine        `json:"machine"`
	DynamicConfig   map[string]any `json:"dynamic_config_overrides,omitempty"`
	GRPCCompression string         `json:"grpc_compression"`
	BenchEagerStart bool           `json:"bench_eager_start,omitempty"`
	Repeat          int            `json:"repeat"`
	StartupSeconds  float64        `json:"startup_seconds"`
	Seconds         float64        `json:"seconds"`
	// OtherLoadCores is how many cores other programs on the machine kept
	// busy, on average, while the bench ran.
	OtherLoadCores float64        `json:"other_load_cores"`
	Incomplete     string         `json:"incomplete,omitempty"`
	Scenarios      []scenarioInfo `json:"scenarios"`
	// Peers are the other tools measured (-peers).
	Peers []peerInfo `json:"peers,omitempty"`
	// Topology is the production topology measured (-topology).
	Topology *topologyInfo `json:"topology,omitempty"`
	// GC is the setting of the -gc scenarios (-gc-memory-limit).
	GC      *gcSetting   `json:"gc,omitempty"`
	Summary []summaryRow `json:"summary"`
	Samples []sample     `json:"samples"`
}

type peerInfo struct {
	Name           string            `json:"name"`
	Version        string            `json:"version"`
	StartupSeconds float64           `json:"startup_seconds"`
	Overrides      map[string]string `json:"npm_overrides,omitempty"`
}

type topologyInfo struct {
	Name                 string  `json:"name"`
	PostgreSQL           string  `json:"postgresql"`
	ServerStartupSeconds float64 `json:"server_startup_seconds"`
	// PostgreSQLSettings are -pg-conf's key=value; none: its defaults.
	PostgreSQLSettings []string `json:"postgresql_settings,omitempty"`
}

type scenarioInfo struct {
	Name string `json:"name"`
	What string `json:"what"`
}

type machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	MemoryMB   int64  `json:"memory_mb"`
	Go         string `json:"go"`
	OS         string `json:"os"`
	LoadAvg    string `json:"loadavg_at_start"`
}

func (m machine) Summary() string {
	return fmt.Sprintf("%s, %d cores, %s, %s", m.CPU, m.Cores, m.Go, m.OS)
}

func describeMachine() machine {
	m := machine{CPU: "unknown", Cores: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if v := procField("/proc/cpuinfo", "model name", ":"); v != "" {
		m.CPU = v
	}
	if v := procField("/proc/meminfo", "MemTotal", ":"); v != "" {
		var kb int64
		fmt.Sscan(strings.TrimSuffix(v, " kB"), &kb)
		m.MemoryMB = kb >> 10
	}
	if v := procField("/etc/os-release", "PRETTY_NAME", "="); v != "" {
		m.OS = strings.Trim(v, `"`) + " (" + m.OS + ")"
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.OS += ", Linux " + strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

// procField returns the value of the first "key<sep> value" line of a file.
func procField(path, key, sep string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), sep)
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// summaryRow is one scenario across rounds: times and rates of the fastest
// round, median CPU, totals of handshakes, maxima of memory.
type summaryRow struct {
	Scenario string `json:"scenario"`
	// SeqMsPerStep is wall time over steps of one flow, by flow size.
	SeqMsPerStep map[int]float64 `json:"seq_ms_per_step"`
	// SteadyGapMs is the median time between steps of the largest flow;
	// First/Last are the medians of its first and last quarter (at most
	// 50 steps each).
	SteadyGapMs   float64 `json:"steady_gap_ms"`
	FirstGapMs    float64 `json:"first_quarter_gap_ms"`
	LastGapMs     float64 `json:"last_quarter_gap_ms"`
	SeqCPUMs      float64 `json:"seq_cpu_ms_per_step"`
	ConcStepsPerS float64 `json:"concurrent_steps_per_sec,omitempty"`
	ConcMsPerStep float64 `json:"concurrent_ms_per_step,omitempty"`
	ConcCPUMs     float64 `json:"concurrent_cpu_ms_per_step,omitempty"`
	// Handshakes per 1,000 steps, seen by the partner.
	SeqHandshakesPer1k  float64 `json:"seq_handshakes_per_1k_steps"`
	ConcHandshakesPer1k float64 `json:"concurrent_handshakes_per_1k_steps,omitempty"`
	HandshakesPerConn   float64 `json:"handshakes_per_connection"`
	ResumedShare        float64 `json:"resumed_share"`
	ClientHandshakes    int64   `json:"client_handshakes,omitempty"`
	PartnerHandshakes   int64   `json:"partner_handshakes"`
	PeakRSSMB           float64 `json:"peak_rss_mb"`
	PeakHeapMB          float64 `json:"peak_heap_mb"`
	// History of the last sequential flow of each size.
	History map[int]historyInfo `json:"history,omitempty"`
}

type historyInfo struct {
	Events        int   `json:"events"`
	Bytes         int64 `json:"bytes"`
	BytesPerStep  int64 `json:"bytes_per_step"`
	LargestEvent  int64 `json:"largest_event_bytes"`
	ResultPayload int64 `json:"result_payload_bytes"`
	// Queries of the record while the flow ran (outflow-progress).
	Queries     int     `json:"queries,omitempty"`
	MaxQueryMs  float64 `json:"max_query_ms,omitempty"`
	RecordBytes int     `json:"record_bytes,omitempty"`
}

func (r *results) summarize(selected []scenario, sizes []int, flows, flowSteps int) {
	r.Summary = nil
	largest := sizes[len(sizes)-1]
	for _, sc := range selected {
		row := summaryRow{Scenario: sc.Name, SeqMsPerStep: map[int]float64{}, History: map[int]historyInfo{}}
		var seqSteps, seqHS, concSteps, concHS, conns, resumed int64
		var any bool
		for _, n := range sizes {
			// Other programs share the machine and only ever slow a round
			// down, so times come from the fastest round; CPU per step,
			// which waiting does not inflate, is the median of all rounds.
			var best *sample
			var cpu []float64
			for i := range r.Samples {
				s := &r.Samples[i]
				if s.Scenario != sc.Name || s.Flows != 1 || s.StepsPerFlow != n {
					continue
				}
				any = true
				cpu = append(cpu, s.CPUMsPerStep)
				if best == nil || s.MsPerStep < best.MsPerStep {
					best = s
				}
				if s.HistoryEvents > 0 {
					h := historyInfo{Events: s.HistoryEvents, Bytes: s.HistoryBytes, BytesPerStep: s.HistoryBytes / int64(n), LargestEvent: s.LargestEventBytes, ResultPayload: s.ResultPayloadBytes,
						Queries: s.Queries, MaxQueryMs: s.MaxQueryMs, RecordBytes: s.LastRecordBytes}
					if prev, ok := row.History[n]; ok {
						// The slowest query of any round is what a user may see.
						h.MaxQueryMs = max(h.MaxQueryMs, prev.MaxQueryMs)
						h.Queries += prev.Queries
					}
					row.History[n] = h
				}
			}
			if best == nil {
				continue
			}
			row.SeqMsPerStep[n] = best.MsPerStep
			if n == largest {
				row.SteadyGapMs, row.FirstGapMs, row.LastGapMs, row.SeqCPUMs = best.MedianGapMs, best.FirstGapsMs, best.LastGapsMs, median(cpu)
			}
		}
		var rates, concMs, concCPU []float64
		for _, s := range r.Samples {
			if s.Scenario != sc.Name {
				continue
			}
			hs := s.FullHandshakes + s.ResumedHandshakes
			conns += s.PartnerConns
			resumed += s.ResumedHandshakes
			row.PartnerHandshakes += hs
			row.ClientHandshakes += s.ClientFull + s.ClientResumed
			row.PeakRSSMB = max(row.PeakRSSMB, float64(s.PeakRSSBytes)/(1<<20))
			row.PeakHeapMB = max(row.PeakHeapMB, float64(s.PeakHeapBytes)/(1<<20))
			if s.Flows == 1 {
				seqSteps += int64(s.Steps)
				seqHS += hs
				continue
			}
			concSteps += int64(s.Steps)
			concHS += hs
			rates, concMs, concCPU = append(rates, s.StepsPerSec), append(concMs, s.MsPerStep), append(concCPU, s.CPUMsPerStep)
		}
		if !any && len(rates) == 0 {
			continue
		}
		row.ConcStepsPerS, row.ConcMsPerStep, row.ConcCPUMs = quantile(rates, 1), quantile(concMs, 0), median(concCPU)
		if seqSteps > 0 {
			row.SeqHandshakesPer1k = float64(seqHS) * 1000 / float64(seqSteps)
		}
		if concSteps > 0 {
			row.ConcHandshakesPer1k = float64(concHS) * 1000 / float64(concSteps)
		}
		if conns > 0 {
			row.HandshakesPerConn = float64(row.PartnerHandshakes) / float64(conns)
		}
		if row.PartnerHandshakes > 0 {
			row.ResumedShare = float64(resumed) / float64(row.PartnerHandshakes)
		}
		r.Summary = append(r.Summary, row)
	}
}

func (r *results) row(name string) *summaryRow {
	for i := range r.Summary {
		if r.Summary[i].Scenario == name {
			return &r.Summary[i]
		}
	}
	return nil
}

func (r *results) sizes() []int {
	seen := map[int]bool{}
	var out []int
	for _, row := range r.Summary {
		for n := range row.SeqMsPerStep {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sort.Ints(out)
	return out
}

func (r *results) markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	sizes := r.sizes()
	p("# Outflow step benchmark\n\n")
	rounds := "one round"
	if r.Repeat > 1 {
		rounds = fmt.Sprintf("the fastest of %d rounds (CPU: their median)", r.Repeat)
	}
	p("`%s` — %s, %s.\n\n", r.Command, r.Started.Format("2006-01-02 15:04 MST"), rounds)
	p("Machine: %s; %d MB memory; load average at start %s; other programs kept **%.1f cores** busy on average during the run.\n\n",
		r.Machine.Summary(), r.Machine.MemoryMB, r.Machine.LoadAvg, r.OtherLoadCores)
	if len(r.DynamicConfig) > 0 {
		keys := make([]string, 0, len(r.DynamicConfig))
		for k := range r.DynamicConfig {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, fmt.Sprintf("`%s=%v`", k, r.DynamicConfig[k]))
		}
		p("Server dynamic config overrides: %s.\n\n", strings.Join(kv, ", "))
	}
	if r.BenchEagerStart {
		p("Bare scenarios start their workflows with eager workflow start.\n\n")
	}
	if r.GRPCCompression != "none" {
		p("SDK client gRPC compression: %s.\n\n", r.GRPCCompression)
	}
	if r.Incomplete != "" {
		p("**Incomplete:** %s\n\n", r.Incomplete)
	}

	p("| scenario |")
	for _, n := range sizes {
		p(" %d steps ms/step |", n)
	}
	p(" steady ms/step (first → last quarter) | CPU ms/step | 100×10 steps/s | handshakes /1k steps (seq / conc) | handshakes /connection | peak RSS / heap MB |\n|---|")
	for range sizes {
		p("---:|")
	}
	p("---:|---:|---:|---:|---:|---:|\n")
	for _, row := range r.Summary {
		p("| %s |", row.Scenario)
		for _, n := range sizes {
			if v, ok := row.SeqMsPerStep[n]; ok {
				p(" %.2f |", v)
			} else {
				p(" – |")
			}
		}
		conc := "–"
		if row.ConcStepsPerS > 0 {
			conc = fmt.Sprintf("%.0f", row.ConcStepsPerS)
		}
		concHS := "–"
		if row.ConcStepsPerS > 0 {
			concHS = fmt.Sprintf("%.1f", row.ConcHandshakesPer1k)
		}
		p(" %.2f (%.2f → %.2f) | %.2f | %s | %.1f / %s | %.2f (%.0f%% resumed) | %.0f / %.0f |\n",
			row.SteadyGapMs, row.FirstGapMs, row.LastGapMs, row.SeqCPUMs, conc, row.SeqHandshakesPer1k, concHS,
			row.HandshakesPerConn, row.ResumedShare*100, row.PeakRSSMB, row.PeakHeapMB)
	}
	p("\nms/step is a flow's wall time over its steps (start, every step, result); steady ms/step is the median time between two requests at the partner in the largest flow, and the medians of its first and last quarter (50 steps of 200). CPU is the whole process (server, workers, partner) per step. Times come from the fastest round and CPU is the median of all rounds, since other programs on the machine only ever slow a round down; results.json has every round. Every run starts with empty connection pools; handshakes are counted by the partner. Peak RSS is VmHWM of the process (reset per run through /proc/self/clear_refs): server, workers and partner together; peak heap samples runtime/metrics `%s` every 10 ms.\n\n", heapMetric)

	p("Scenarios:\n\n")
	for _, s := range r.Scenarios {
		p("- **%s**: %s\n", s.Name, s.What)
	}
	p("\n")
	r.sideBySide(&b)
	r.production(&b)
	r.gcSection(&b)
	r.targets(&b)
	r.history(&b)
	return b.String()
}

func (r *results) targets(b *strings.Builder) {
	of, bare, local := r.row("outflow"), r.row("bare"), r.row("outflow-local")
	if local == nil {
		local = r.row("rest-local")
	}
	if of == nil {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	mark := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**not met**"
	}
	sizes := r.sizes()
	p("## Targets\n\n| target | measured | |\n|---|---|---|\n")
	if len(sizes) > 1 {
		lo, hi := of.SeqMsPerStep[sizes[0]], of.SeqMsPerStep[sizes[len(sizes)-1]]
		// The median over rounds of each round's last/first quarter: a few
		// seconds of other work on the machine can tilt one round.
		var ratios []float64
		for _, s := range r.Samples {
			if s.Scenario == "outflow" && s.Flows == 1 && s.StepsPerFlow == sizes[len(sizes)-1] && s.FirstGapsMs > 0 {
				ratios = append(ratios, s.LastGapsMs/s.FirstGapsMs)
			}
		}
		growth := median(ratios)
		p("| per-step time flat in the number of steps run | outflow %.2f ms/step at %d steps, %.2f at %d; last quarter of the largest flow %.2f× its first (median of rounds) | %s |\n",
			lo, sizes[0], hi, sizes[len(sizes)-1], growth, mark(growth <= 1.25 && hi <= lo*1.25))
	}
	worst := 0.0
	for _, v := range of.SeqMsPerStep {
		worst = max(worst, v)
	}
	p("| sequential REST step ≤ 5 ms | outflow %.2f ms (worst size), steady %.2f ms | %s |\n", worst, of.SteadyGapMs, mark(worst <= 5))
	if local != nil {
		lw := 0.0
		for _, v := range local.SeqMsPerStep {
			lw = max(lw, v)
		}
		p("| … with `local: true` | %s %.2f ms (worst size), steady %.2f ms | %s |\n", local.Scenario, lw, local.SteadyGapMs, mark(lw <= 5))
	}
	if of.ConcStepsPerS > 0 {
		p("| ≥ 500 steps/s across 100 concurrent flows | outflow %.0f steps/s | %s |\n", of.ConcStepsPerS, mark(of.ConcStepsPerS >= 500))
		if local != nil && local.ConcStepsPerS > 0 {
			p("| … with `local: true` | %s %.0f steps/s | %s |\n", local.Scenario, local.ConcStepsPerS, mark(local.ConcStepsPerS >= 500))
		}
	}
	if local != nil && local.Scenario == "outflow-local" && len(sizes) > 0 {
		// The default (automatic fast path) against explicit local: true.
		n := sizes[0]
		seq := r.pairedRatio("outflow", "outflow-local", func(s *sample) (float64, bool) { return s.MsPerStep, s.Flows == 1 && s.StepsPerFlow == n })
		conc := r.pairedRatio("outflow-local", "outflow", func(s *sample) (float64, bool) { return s.StepsPerSec, s.Flows > 1 })
		line := fmt.Sprintf("%.2f× the time per step at %d steps", seq, n)
		ok := seq > 0 && seq <= 1.3
		if conc > 0 {
			line += fmt.Sprintf("; %.2f× fewer steps/s across 100 concurrent flows", conc)
			ok = ok && conc <= 1.3
		}
		p("| default (no `local:`) within 1.3× of `local: true` | %s; median of the rounds' ratios | %s |\n", line, mark(ok))
	}
	regular, regName := of, "outflow"
	if rr := r.row("outflow-regular"); rr != nil {
		regular, regName = rr, "outflow-regular"
	}
	if bare != nil && len(sizes) > 0 {
		// Rounds are compared pairwise: both ran minutes apart at most,
		// under the same load from other programs.
		n := sizes[len(sizes)-1]
		seq := r.pairedRatio(regName, "bare", func(s *sample) (float64, bool) { return s.MsPerStep, s.Flows == 1 && s.StepsPerFlow == n })
		conc := r.pairedRatio("bare", regName, func(s *sample) (float64, bool) { return s.StepsPerSec, s.Flows > 1 })
		of := regular
		line := fmt.Sprintf("%s %.2f× bare at %d steps (CPU %.2f×)", regName, seq, n, of.SeqCPUMs/bare.SeqCPUMs)
		ok := seq > 0 && seq <= 1.15
		if conc > 0 {
			line += fmt.Sprintf("; 100 concurrent flows %.2f× (CPU %.2f×)", conc, of.ConcCPUMs/bare.ConcCPUMs)
			ok = ok && conc <= 1.15
		}
		p("| Outflow step ≤ 1.15× a bare activity | %s; median of the rounds' ratios | %s |\n", line, mark(ok))
	}
	p("| about one TLS handshake per pooled connection | outflow %.2f handshakes per connection, %.1f per 1,000 sequential steps | %s |\n\n",
		of.HandshakesPerConn, of.SeqHandshakesPer1k, mark(of.HandshakesPerConn <= 1.05))
}

// pairedRatio is the median over rounds of value(a)/value(b), for the
// samples pick accepts.
func (r *results) pairedRatio(a, b string, pick func(*sample) (float64, bool)) float64 {
	va, vb := map[int]float64{}, map[int]float64{}
	for i := range r.Samples {
		s := &r.Samples[i]
		v, ok := pick(s)
		if !ok {
			continue
		}
		switch s.Scenario {
		case a:
			va[s.Round] = v
		case b:
			vb[s.Round] = v
		}
	}
	var ratios []float64
	for round, x := range va {
		if y, ok := vb[round]; ok && y > 0 {
			ratios = append(ratios, x/y)
		}
	}
	return median(ratios)
}

func (r *results) history(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	var rows []summaryRow
	for _, row := range r.Summary {
		if len(row.History) > 0 {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return
	}
	p("## Workflow history of one flow\n\n| scenario | steps | events | history bytes | bytes/step | largest event | result payload | progress queries (slowest ms, last answer bytes) |\n|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, row := range rows {
		ns := make([]int, 0, len(row.History))
		for n := range row.History {
			ns = append(ns, n)
		}
		sort.Ints(ns)
		for _, n := range ns {
			h := row.History[n]
			q := "–"
			if h.Queries > 0 {
				q = fmt.Sprintf("%d (%.1f ms, %d B)", h.Queries, h.MaxQueryMs, h.RecordBytes)
			}
			p("| %s | %d | %d | %d | %d | %d | %d | %s |\n", row.Scenario, n, h.Events, h.Bytes, h.BytesPerStep, h.LargestEvent, h.ResultPayload, q)
		}
	}
	p("\n")
}
