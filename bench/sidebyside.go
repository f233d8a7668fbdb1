package main

import (
	"fmt"
	"strings"
)

// sideBySide writes the table of the comparison: plain Go, Outflow
// by default, regular and local, and the peers (n8n), with min/median/max
// over rounds, and the ratios that matter, each the median over rounds of
// that round's ratio (rounds interleave scenarios).
func (r *results) sideBySide(b *strings.Builder) {
	names := []string{"plain", "outflow", "outflow-regular", "outflow-local", "n8n"}
	var present []string
	for _, n := range names {
		if r.row(n) != nil {
			present = append(present, n)
		}
	}
	if r.row("n8n") == nil || len(present) < 2 {
		return
	}
	sizes := r.sizes()
	if len(sizes) == 0 {
		return
	}
	n := sizes[0]
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	seq := func(s *sample) (float64, bool) { return s.MsPerStep, s.Flows == 1 && s.StepsPerFlow == n }
	conc := func(s *sample) (float64, bool) { return s.StepsPerSec, s.Flows > 1 }
	cpu := func(s *sample) (float64, bool) { return s.CPUMsPerStep, s.Flows > 1 }
	rss := func(s *sample) (float64, bool) { return float64(s.PeakRSSBytes) / (1 << 20), s.Flows > 1 }
	p("## Side by side\n\nThe chain of %d GETs over mTLS (each path from the previous answer); min / median / max over %d interleaved rounds.\n\n", n, r.Repeat)
	p("| scenario | ms/step, 1 flow of %d | steps/s, 100 concurrent | CPU ms/step (concurrent) | peak RSS MB (concurrent) | start-up s |\n|---|---:|---:|---:|---:|---:|\n", n)
	for _, name := range present {
		startup := r.StartupSeconds
		for _, pe := range r.Peers {
			if pe.Name == name {
				startup = pe.StartupSeconds
			}
		}
		p("| %s | %s | %s | %s | %s | %.1f |\n", name, r.spread(name, seq), r.spread(name, conc), r.spread(name, cpu), r.spread(name, rss), startup)
	}
	p("\nStart-up: Outflow's is the bench's whole stack (partner, embedded Temporal server on SQLite, workers); n8n's is from `n8n start` to the first answered webhook call (its imports before are not counted).\n\n")
	p("| ratio | median over rounds | target |\n|---|---:|---|\n")
	ratio := func(label, a, b string, pick func(*sample) (float64, bool), target string) {
		if r.row(a) == nil || r.row(b) == nil {
			return
		}
		p("| %s | %.2f× | %s |\n", label, r.pairedRatio(a, b, pick), target)
	}
	ratio("Outflow default steps/s ÷ n8n", "outflow", "n8n", conc, "≥ 4×")
	ratio("Outflow default ms/step ÷ n8n", "outflow", "n8n", seq, "≤ 0.25×")
	ratio("Outflow default ms/step ÷ `local: true`", "outflow", "outflow-local", seq, "≤ 1.3×")
	ratio("`local: true` steps/s ÷ default", "outflow-local", "outflow", conc, "≤ 1.3×")
	ratio("Outflow regular steps/s ÷ n8n", "outflow-regular", "n8n", conc, "")
	ratio("Outflow regular ms/step ÷ n8n", "outflow-regular", "n8n", seq, "")
	ratio("Outflow default CPU/step ÷ n8n", "outflow", "n8n", cpu, "")
	p("\n")
}

// spread is min / median / max of a scenario's values over rounds.
func (r *results) spread(name string, pick func(*sample) (float64, bool)) string {
	var v []float64
	for i := range r.Samples {
		s := &r.Samples[i]
		if s.Scenario != name {
			continue
		}
		if x, ok := pick(s); ok {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return "–"
	}
	f := "%.2f"
	if median(v) >= 100 {
		f = "%.0f"
	}
	return fmt.Sprintf(f+" / "+f+" / "+f, quantile(v, 0), median(v), quantile(v, 1))
}

// production writes the table of the production topology against the
// embedded server (-topology pg), with the ratios of each round.
func (r *results) production(b *strings.Builder) {
	if r.row("server-pg") == nil && r.row("server-pg-regular") == nil {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Production topology\n\n`outflow server` on PostgreSQL")
	if r.Topology != nil {
		p(" %s (ready %.1f s after start, schema set up)", r.Topology.PostgreSQL, r.Topology.ServerStartupSeconds)
	}
	p(", its frontend over mutual TLS, and a separate `outflow worker` process, against the embedded server (SQLite, in the bench process) in the same rounds. CPU of the topology counts the server, the worker and PostgreSQL's processes over the run, per step; the bench process (partner, client, the idle embedded stack, the memory samplers) is shown apart below, while the embedded scenarios' CPU is the whole bench process, partner and client included (the plain scenario puts those at about 0.2 ms/step). Its peak memory is the sum of the peak proportional set sizes (Pss, sampled every 250 ms) of the server, the worker and PostgreSQL with its backends, so PostgreSQL's shared buffers count once; the embedded scenarios' is the bench process's VmHWM. The worker's connection pool to the partner is not emptied between runs (it is another process), so its runs pay no TLS handshakes.\n\n")
	r.compare(b, []string{"outflow", "server-pg", "outflow-regular", "server-pg-regular"}, [][2]string{
		{"server-pg", "outflow"}, {"server-pg-regular", "outflow-regular"}, {"server-pg", "server-pg-regular"},
	})
	r.processRSS(b)
}

// gcSection writes the default GC against -gc-memory-limit's setting.
func (r *results) gcSection(b *strings.Builder) {
	if r.row("outflow-gc") == nil && r.row("outflow-regular-gc") == nil {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## GC settings\n\nThe bench process (embedded server, workers, partner) with Go's default GC (GOGC=100, no memory limit) against ")
	if r.GC != nil {
		p("%s", r.GC)
	} else {
		p("a memory-limit-based GC")
	}
	p(" set during the `-gc` scenarios' runs, in the same rounds.\n\n")
	r.compare(b, []string{"outflow", "outflow-gc", "outflow-regular", "outflow-regular-gc"}, [][2]string{
		{"outflow-gc", "outflow"}, {"outflow-regular-gc", "outflow-regular"},
	})
}

// compare writes min / median / max of the chain's numbers for names, then
// for each pair a÷b the median over rounds of each round's ratio.
func (r *results) compare(b *strings.Builder, names []string, pairs [][2]string) {
	sizes := r.sizes()
	if len(sizes) == 0 {
		return
	}
	n := sizes[0]
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	seq := func(s *sample) (float64, bool) { return s.MsPerStep, s.Flows == 1 && s.StepsPerFlow == n }
	conc := func(s *sample) (float64, bool) { return s.StepsPerSec, s.Flows > 1 }
	cpu := func(s *sample) (float64, bool) { return s.CPUMsPerStep, s.Flows > 1 }
	rss := func(s *sample) (float64, bool) { return float64(s.PeakRSSBytes) / (1 << 20), s.Flows > 1 }
	p("| scenario | ms/step, 1 flow of %d | steps/s, 100 concurrent | CPU ms/step (concurrent) | peak memory MB (concurrent) |\n|---|---:|---:|---:|---:|\n", n)
	for _, name := range names {
		if r.row(name) != nil {
			p("| %s | %s | %s | %s | %s |\n", name, r.spread(name, seq), r.spread(name, conc), r.spread(name, cpu), r.spread(name, rss))
		}
	}
	p("\nmin / median / max over rounds.\n\n| ratio (median of the rounds' ratios) | ms/step | steps/s | CPU ms/step | peak memory |\n|---|---:|---:|---:|---:|\n")
	for _, pr := range pairs {
		if r.row(pr[0]) == nil || r.row(pr[1]) == nil {
			continue
		}
		f := func(pick func(*sample) (float64, bool)) string {
			if v := r.pairedRatio(pr[0], pr[1], pick); v > 0 {
				return fmt.Sprintf("%.2f×", v)
			}
			return "–"
		}
		p("| %s ÷ %s | %s | %s | %s | %s |\n", pr[0], pr[1], f(seq), f(conc), f(cpu), f(rss))
	}
	p("\n")
}

// processRSS writes the median peak RSS of each process of the topology
// across the concurrent runs.
func (r *results) processRSS(b *strings.Builder) {
	per := map[string]map[string][]float64{}
	cpu := map[string]map[string][]float64{}
	var scs []string
	for _, s := range r.Samples {
		if s.Flows < 2 || len(s.ProcessPeakPSS) == 0 {
			continue
		}
		if per[s.Scenario] == nil {
			per[s.Scenario] = map[string][]float64{}
			scs = append(scs, s.Scenario)
		}
		for k, v := range s.ProcessPeakPSS {
			per[s.Scenario][k] = append(per[s.Scenario][k], float64(v)/(1<<20))
		}
		for k, v := range s.ProcessPeakRSS {
			per[s.Scenario][k+"-hwm"] = append(per[s.Scenario][k+"-hwm"], float64(v)/(1<<20))
		}
		if cpu[s.Scenario] == nil {
			cpu[s.Scenario] = map[string][]float64{}
		}
		for k, v := range s.ProcessCPUMsPerStep {
			cpu[s.Scenario][k] = append(cpu[s.Scenario][k], v)
		}
	}
	if len(scs) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("Peak memory by process, 100 concurrent, median MB: Pss (VmHWM in brackets; PostgreSQL's sums its backends' VmHWM, which counts the shared buffers once per backend):\n\n| scenario | outflow server | outflow worker | PostgreSQL |\n|---|---:|---:|---:|\n")
	for _, sc := range scs {
		m := per[sc]
		p("| %s | %.0f (%.0f) | %.0f (%.0f) | %.0f (%.0f) |\n", sc, median(m["server"]), median(m["server-hwm"]), median(m["worker"]), median(m["worker-hwm"]), median(m["postgresql"]), median(m["postgresql-hwm"]))
	}
	p("\n")
	if len(cpu[scs[0]]) == 0 {
		return
	}
	p("CPU ms per step by process, 100 concurrent (median of rounds):\n\n| scenario | outflow server | outflow worker | PostgreSQL | bench process (partner, client, idle embedded stack) |\n|---|---:|---:|---:|---:|\n")
	for _, sc := range scs {
		m := cpu[sc]
		p("| %s | %.2f | %.2f | %.2f | %.2f |\n", sc, median(m["server"]), median(m["worker"]), median(m["postgresql"]), median(m["bench"]))
	}
	p("\n")
}
