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
