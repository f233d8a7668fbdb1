package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"github.com/outflow-dev/outflow/engine"
)

// scenario is one way of making the partner calls.
type scenario struct {
	Name string `json:"name"`
	What string `json:"what"`
	// seqOnly scenarios are not run as concurrent flows.
	seqOnly bool
	// pg scenarios run against the production topology (-topology pg).
	pg bool
	// gc, when set, is the bench process's GC setting during the
	// scenario's runs (-gc-memory-limit).
	gc *gcSetting
	// run runs flows flows of steps steps each, all at once.
	run runFunc
}

type runFunc func(ctx context.Context, s *stack, flows, steps int, tag string) (outcome, error)

// outcome is what a run leaves to look at besides its time.
type outcome struct {
	// wfID and runID name the last workflow that ended (empty when not a
	// workflow).
	wfID, runID string
	queries     int
	maxQuery    time.Duration
	recordBytes int
}

var scenarios = []scenario{
	{
		Name: "plain",
		What: "plain Go client: the same mTLS GET with keep-alive, no Temporal",
		run: func(ctx context.Context, s *stack, flows, steps int, _ string) (outcome, error) {
			c := &bareCaller{client: &http.Client{Transport: s.plainTransport}, url: s.customerURL(), user: s.partner.username, pass: s.partner.password}
			return outcome{}, parallel(flows, func(int) error {
				for i := 0; i < steps; i++ {
					if _, err := c.call(ctx); err != nil {
						return err
					}
				}
				return nil
			})
		},
	},
	{
		Name: "bare",
		What: "bare Temporal activity: minimal workflow, one activity per step making the same call",
		run:  bareRun("activity"),
	},
	{
		Name: "bare-local",
		What: "bare local activity: the same workflow with the call as a local activity",
		run:  bareRun("local"),
	},
	{
		Name: "rest",
		What: "Outflow's REST step activity (steps/rest) called from the minimal workflow",
		run:  bareRun("rest"),
	},
	{
		Name: "rest-local",
		What: "Outflow's REST step activity as a local activity from the minimal workflow",
		run:  bareRun("rest-local"),
	},
	{
		Name: "outflow",
		What: "Outflow as users get it by default: engine.FlowWorkflow with a plan of N chained GET steps (each path from the previous answer), no `local:`, so each call takes the automatic fast path; worker.Start, engine.Client Start+Wait",
		run:  outflowRun(false, "default"),
	},
	{
		Name: "outflow-regular",
		What: "as outflow, every step with `local: false` (a regular activity per step)",
		run:  outflowRun(false, "regular"),
	},
	{
		Name: "outflow-local",
		What: "as outflow, every step with `local: true` (a local activity on the flow's worker)",
		run:  outflowRun(false, "local"),
	},
	{
		Name:    "outflow-progress",
		What:    "as outflow-regular, while the progress query is read every 200 ms as `outflow run` does to show progress",
		seqOnly: true,
		run:     outflowRun(true, "regular"),
	},
}

// n8nScenario runs the chain in n8n (-peers n8n).
var n8nScenario = scenario{
	Name: "n8n",
	What: "n8n " + n8nVersion + " in its own Node.js process (SQLite, defaults): a webhook-triggered workflow of the same chain of GETs, HTTP Request nodes with basic auth and the same client certificate (SSL certificates credential); a chain of N steps is N/10 webhook calls one after the other. CPU is n8n's processes plus the bench process (partner, client); peak RSS is n8n's processes",
	run:  n8nRun,
}

func bareRun(mode string) runFunc {
	return func(ctx context.Context, s *stack, flows, steps int, tag string) (outcome, error) {
		var mu sync.Mutex
		var out outcome
		err := parallel(flows, func(i int) error {
			id := fmt.Sprintf("bench-%s-%d", tag, i)
			in := bareInput{Steps: steps, Mode: mode}
			if mode == "rest" || mode == "rest-local" {
				in.Request = s.restRequest(id)
			}
			run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: benchQueue, EnableEagerStart: s.eagerStart}, bareWorkflowName, in)
			if err != nil {
				return err
			}
			var done int
			if err := run.Get(ctx, &done); err != nil {
				return err
			}
			if done != steps {
				return fmt.Errorf("%s: %d of %d steps ran", id, done, steps)
			}
			mu.Lock()
			out.wfID, out.runID = run.GetID(), run.GetRunID()
			mu.Unlock()
			return nil
		})
		return out, err
	}
}

// outflowRun runs the plan of stack.plan with every step's path as mode
// says: default (no local:), local (local: true) or regular (local: false).
func outflowRun(progress bool, mode string) runFunc {
	return outflowOn(func(s *stack) *engine.Client { return s.engine }, progress, mode)
}

// outflowOn is outflowRun through the engine client engineOf gives.
func outflowOn(engineOf func(*stack) *engine.Client, progress bool, mode string) runFunc {
	return func(ctx context.Context, s *stack, flows, steps int, tag string) (outcome, error) {
		ec := engineOf(s)
		plan := s.plan(steps)
		for i := range plan.Steps {
			plan.Steps[i].Local = mode == "local"
			plan.Steps[i].Regular = mode == "regular"
		}
		var mu sync.Mutex
		var out outcome
		err := parallel(flows, func(i int) error {
			run, err := ec.Start(ctx, plan, nil, engine.RunOptions{WorkflowID: fmt.Sprintf("bench-%s-%d", tag, i)})
			if err != nil {
				return err
			}
			var stopQueries func() (int, time.Duration, int)
			if progress {
				stopQueries = queryWhileRunning(ctx, ec, run.GetID(), run.GetRunID())
			}
			rec, err := ec.Wait(ctx, run, nil)
			if stopQueries != nil {
				n, slowest, size := stopQueries()
				mu.Lock()
				out.queries += n
				out.maxQuery = max(out.maxQuery, slowest)
				out.recordBytes = size
				mu.Unlock()
			}
			if err != nil {
				return err
			}
			if rec.Status != engine.StatusSucceeded || len(rec.Steps) != steps {
				return fmt.Errorf("%s: status %s with %d of %d steps", run.GetID(), rec.Status, len(rec.Steps), steps)
			}
			mu.Lock()
			out.wfID, out.runID = run.GetID(), run.GetRunID()
			mu.Unlock()
			return nil
		})
		return out, err
	}
}

// queryWhileRunning reads the progress query every 200 ms, as
// engine.Client.Wait does when given a progress callback, timing each query;
// the returned function stops it and tells how many queries ran, the
// slowest, and the size of the last answer read.
func queryWhileRunning(ctx context.Context, c *engine.Client, id, runID string) func() (int, time.Duration, int) {
	stop := make(chan struct{})
	done := make(chan struct{})
	var n, size int
	var slowest time.Duration
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			began := time.Now()
			rec, err := c.Progress(ctx, id, runID)
			took := time.Since(began)
			if err != nil {
				continue
			}
			n++
			slowest = max(slowest, took)
			if b, err := json.Marshal(rec); err == nil {
				size = len(b)
			}
		}
	}()
	return func() (int, time.Duration, int) {
		close(stop)
		<-done
		return n, slowest, size
	}
}

// parallel runs fn(0..n-1) at once and returns the first error.
func parallel(n int, fn func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sample is one measured run.
type sample struct {
	Round        int     `json:"round"`
	Scenario     string  `json:"scenario"`
	Shape        string  `json:"shape"` // sequential | concurrent
	Flows        int     `json:"flows"`
	StepsPerFlow int     `json:"steps_per_flow"`
	Steps        int     `json:"steps"`
	WallMillis   float64 `json:"wall_ms"`
	MsPerStep    float64 `json:"ms_per_step"`
	StepsPerSec  float64 `json:"steps_per_sec"`
	// CPUMsPerStep is the CPU time of the whole process (server, workers,
	// partner, clients) per step: less sensitive than wall time to other
	// programs sharing the machine.
	CPUMsPerStep float64 `json:"cpu_ms_per_step"`
	// OtherCores is how many cores other programs kept busy meanwhile.
	OtherCores float64 `json:"other_cores"`
	// Gaps between consecutive requests at the partner, for sequential
	// runs: the time one step takes once the flow is running.
	FirstGapsMs float64 `json:"first_quarter_gap_ms,omitempty"`
	LastGapsMs  float64 `json:"last_quarter_gap_ms,omitempty"`
	MedianGapMs float64 `json:"median_gap_ms,omitempty"`
	P90GapMs    float64 `json:"p90_gap_ms,omitempty"`
	MaxGapMs    float64 `json:"max_gap_ms,omitempty"`
	// GapsMs are all gaps of flows of 200 steps or more, to see how the
	// time per step moves along a long flow.
	GapsMs []float64 `json:"gaps_ms,omitempty"`
	// Record queries made while waiting (outflow-progress): how long the
	// slowest took and how big the last record was.
	Queries         int     `json:"queries,omitempty"`
	MaxQueryMs      float64 `json:"max_query_ms,omitempty"`
	LastRecordBytes int     `json:"last_record_bytes,omitempty"`
	PartnerConns    int64   `json:"partner_connections"`
	// Handshakes seen by the partner (server side).
	FullHandshakes    int64 `json:"full_handshakes"`
	ResumedHandshakes int64 `json:"resumed_handshakes"`
	// ClientHandshakes are tlsclient.Cache.Handshakes() of the Outflow
	// transports involved (outflow and rest scenarios).
	ClientFull    int64 `json:"client_full_handshakes,omitempty"`
	ClientResumed int64 `json:"client_resumed_handshakes,omitempty"`
	// PeakRSSBytes is VmHWM of /proc/self/status, reset before the run
	// through /proc/self/clear_refs: the peak resident memory of the whole
	// process (server, workers, partner).
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// ProcessPeakRSS is VmHWM of each process of the production topology
	// (server, worker, PostgreSQL with its backends), reset before the
	// run; ProcessPeakPSS the highest proportional set size of each,
	// sampled every 100 ms, which counts PostgreSQL's shared buffers once.
	// PeakRSSBytes is the sum of ProcessPeakPSS then.
	ProcessPeakRSS map[string]int64 `json:"process_peak_rss_bytes,omitempty"`
	// ProcessCPUMsPerStep splits CPUMsPerStep of the production topology
	// into its processes: server, worker, postgresql and bench (partner,
	// client, the idle embedded stack).
	ProcessCPUMsPerStep map[string]float64 `json:"process_cpu_ms_per_step,omitempty"`
	ProcessPeakPSS      map[string]int64   `json:"process_peak_pss_bytes,omitempty"`
	// PeakHeapBytes is the highest /memory/classes/heap/objects:bytes of
	// runtime/metrics sampled every 10 ms: live and not yet swept Go heap
	// objects of the whole process.
	PeakHeapBytes int64 `json:"peak_heap_bytes"`
	// History of the last flow of the run (sequential workflow runs).
	HistoryEvents      int   `json:"history_events,omitempty"`
	HistoryBytes       int64 `json:"history_bytes,omitempty"`
	LargestEventBytes  int64 `json:"largest_event_bytes,omitempty"`
	ResultPayloadBytes int64 `json:"result_payload_bytes,omitempty"`
}

// measure runs one scenario shape and returns what it cost.
func measure(ctx context.Context, s *stack, sc scenario, flows, steps int, tag string) (*sample, error) {
	s.closeIdle()
	s.partner.takeArrivals()
	runtime.GC()
	resetPeakRSS()
	heap := startHeapSampler()
	p0 := s.partner.counts()
	c0 := s.outflowTransports.Cache.Handshakes()
	b0 := s.benchTransports.Cache.Handshakes()
	peer := sc.Name == "n8n"
	if peer {
		s.n8n.resetPeak()
	}
	var procs procSet
	var pss *pssSampler
	if sc.pg {
		procs = s.pg.procs()
		procs.resetPeak()
		pss = procs.samplePSS()
	}
	restoreGC := withGC(sc.gc)
	load := startMachineLoad()
	cpu0, peerCPU0, procCPU0 := cpuTime(), s.n8n.cpu(), procs.cpuByName()
	began := time.Now()

	out, err := sc.run(ctx, s, flows, steps, tag)

	wall := time.Since(began)
	cpu := cpuTime() - cpu0
	if peer {
		cpu += s.n8n.cpu() - peerCPU0
	}
	procCPU := procs.cpuByName()
	for name, d := range procCPU {
		procCPU[name] = d - procCPU0[name]
		cpu += procCPU[name]
	}
	peakPSS := pss.stop()
	peakHeap := heap.stop()
	rss := peakRSS()
	restoreGC()
	if err != nil {
		return nil, fmt.Errorf("%s %d×%d: %w", sc.Name, flows, steps, err)
	}
	p := s.partner.counts().sub(p0)
	c1, b1 := s.outflowTransports.Cache.Handshakes(), s.benchTransports.Cache.Handshakes()
	total := flows * steps
	if p.Requests != int64(total) {
		return nil, fmt.Errorf("%s %d×%d: the partner saw %d requests, want %d", sc.Name, flows, steps, p.Requests, total)
	}
	smp := &sample{
		Scenario: sc.Name, Flows: flows, StepsPerFlow: steps, Steps: total,
		WallMillis:        ms(wall),
		MsPerStep:         ms(wall) / float64(total),
		StepsPerSec:       float64(total) / wall.Seconds(),
		CPUMsPerStep:      ms(cpu) / float64(total),
		OtherCores:        load.othersCores(),
		PartnerConns:      p.Conns,
		FullHandshakes:    p.Full,
		ResumedHandshakes: p.Resumed,
		ClientFull:        (c1.Full - c0.Full) + (b1.Full - b0.Full),
		ClientResumed:     (c1.Resumed - c0.Resumed) + (b1.Resumed - b0.Resumed),
		PeakRSSBytes:      rss,
		PeakHeapBytes:     peakHeap,
		Queries:           out.queries,
		MaxQueryMs:        ms(out.maxQuery),
		LastRecordBytes:   out.recordBytes,
	}
	if peer {
		smp.PeakRSSBytes = s.n8n.peakRSS()
	}
	if sc.pg {
		// The topology's CPU is its own processes': the bench process
		// also holds the idle embedded stack and the memory samplers.
		smp.ProcessCPUMsPerStep = map[string]float64{"bench": ms(cpu-procs0(procCPU)) / float64(total)}
		for name, d := range procCPU {
			smp.ProcessCPUMsPerStep[name] = ms(d) / float64(total)
		}
		smp.CPUMsPerStep = ms(procs0(procCPU)) / float64(total)
		smp.ProcessPeakRSS, smp.ProcessPeakPSS = procs.peakRSS(), peakPSS
		smp.PeakRSSBytes = 0
		for _, v := range peakPSS {
			smp.PeakRSSBytes += v
		}
	}
	smp.Shape = "sequential"
	if flows > 1 {
		smp.Shape = "concurrent"
	}
	if flows == 1 {
		gaps := gapsMs(s.partner.takeArrivals())
		// Medians of the first and last quarter (at most 50 steps): whether
		// a step costs more once many ran, robust to a stray slow step.
		q := min(50, max(1, len(gaps)/4))
		smp.FirstGapsMs, smp.LastGapsMs, smp.MedianGapMs = median(head(gaps, q)), median(tail(gaps, q)), median(gaps)
		smp.P90GapMs, smp.MaxGapMs = quantile(gaps, 0.9), quantile(gaps, 1)
		if len(gaps) >= 199 {
			for _, g := range gaps {
				smp.GapsMs = append(smp.GapsMs, float64(int(g*100))/100)
			}
		}
		if out.wfID != "" {
			tc := s.temporal
			if sc.pg {
				tc = s.pg.temporal
			}
			if err := historySize(ctx, tc, out.wfID, out.runID, smp); err != nil {
				return nil, err
			}
		}
	}
	return smp, nil
}

// procs0 sums durations.
func procs0(m map[string]time.Duration) time.Duration {
	var t time.Duration
	for _, d := range m {
		t += d
	}
	return t
}

// historySize reads a finished workflow's history and notes its size.
func historySize(ctx context.Context, c client.Client, id, runID string, smp *sample) error {
	it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return fmt.Errorf("reading the history of %s: %w", id, err)
		}
		n := int64(proto.Size(ev))
		smp.HistoryEvents++
		smp.HistoryBytes += n
		smp.LargestEventBytes = max(smp.LargestEventBytes, n)
		if a := ev.GetWorkflowExecutionCompletedEventAttributes(); a != nil {
			smp.ResultPayloadBytes = int64(proto.Size(a.GetResult()))
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func gapsMs(ts []time.Time) []float64 {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	var out []float64
	for i := 1; i < len(ts); i++ {
		out = append(out, ms(ts[i].Sub(ts[i-1])))
	}
	return out
}

func head(v []float64, n int) []float64 { return v[:min(n, len(v))] }
func tail(v []float64, n int) []float64 { return v[max(0, len(v)-n):] }

// quantile returns the q-quantile (nearest rank) of v.
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	i := int(q*float64(len(c))+0.5) - 1
	return c[min(max(i, 0), len(c)-1)]
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// resetPeakRSS makes VmHWM start again from the current resident size
// (Linux: writing 5 to clear_refs), so each run reports its own peak.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS returns VmHWM of this process in bytes, 0 when unknown.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
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

type heapSampler struct {
	stopCh chan struct{}
	done   chan int64
}

const heapMetric = "/memory/classes/heap/objects:bytes"

func startHeapSampler() *heapSampler {
	h := &heapSampler{stopCh: make(chan struct{}), done: make(chan int64, 1)}
	go func() {
		s := []metrics.Sample{{Name: heapMetric}}
		var peak int64
		read := func() {
			metrics.Read(s)
			if s[0].Value.Kind() == metrics.KindUint64 {
				peak = max(peak, int64(s[0].Value.Uint64()))
			}
		}
		t := time.NewTicker(10 * time.Millisecond)
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

func (h *heapSampler) stop() int64 {
	close(h.stopCh)
	return <-h.done
}

// machineLoad is what other programs did to the CPU during the run: busy
// time of all CPUs (from /proc/stat) minus this process's CPU time.
type machineLoad struct {
	busy, own time.Duration
	began     time.Time
}

func startMachineLoad() *machineLoad {
	return &machineLoad{busy: busyCPU(), own: cpuTime(), began: time.Now()}
}

// othersCores returns how many cores other programs kept busy on average.
func (m *machineLoad) othersCores() float64 {
	wall := time.Since(m.began)
	others := (busyCPU() - m.busy) - (cpuTime() - m.own)
	return float64(others) / float64(wall)
}

// busyCPU sums the non-idle time of all CPUs from /proc/stat.
func busyCPU() time.Duration {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && err != io.EOF {
		return 0
	}
	fields := strings.Fields(line)
	if len(fields) < 8 || fields[0] != "cpu" {
		return 0
	}
	var busy int64
	// user nice system idle iowait irq softirq steal: all but idle and
	// iowait are busy.
	for i, f := range fields[1:] {
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		n, _ := strconv.ParseInt(f, 10, 64)
		busy += n
	}
	// /proc/stat counts in USER_HZ, 100 per second on Linux.
	return time.Duration(busy) * 10 * time.Millisecond
}
