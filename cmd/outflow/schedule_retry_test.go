package main

// A retry of a scheduled run, on the embedded Temporal server against a
// real HTTP partner: it is recorded against the schedule (listed with its
// runs, shown with the schedule's id) and stays outside the schedule's
// overlap policy (the schedule's next run starts while the retry runs).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

// gatePartner answers GET /fetch, and POST /push with 503 while down. A
// push carrying the Idempotency-Key hangKey waits until released, so the
// execution that sends it stays running as long as the test wants.
type gatePartner struct {
	mu      sync.Mutex
	down    bool
	hangKey string
	pushes  map[string]int // by Idempotency-Key
	hung    chan struct{}  // closed when the hanging push arrived
	hungOne sync.Once
	release chan struct{}
}

func (p *gatePartner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path != "/push" {
		fmt.Fprint(w, `{"ok": true}`)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	p.mu.Lock()
	p.pushes[key]++
	down, hang := p.down, key != "" && key == p.hangKey
	p.mu.Unlock()
	if hang {
		p.hungOne.Do(func() { close(p.hung) })
		select {
		case <-p.release:
		case <-r.Context().Done():
			return
		}
	}
	if down {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error": "a bad hour"}`)
		return
	}
	fmt.Fprint(w, `{"ok": true}`)
}

func (p *gatePartner) set(down bool, hangKey string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down, p.hangKey = down, hangKey
}

func (p *gatePartner) count(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pushes[key]
}

const scheduledRetryFlow = `kind: Connection
name: partner
url: http://%s
---
kind: Flow
name: nightly
triggers: [{schedule: {every: 1h}}]
steps:
  - id: fetch
    rest: {connection: partner, method: GET, path: /fetch}
  - id: push
    rest: {connection: partner, method: POST, path: /push, body: {n: 1}}
    retry: {max_attempts: 1}
`

func TestScheduleRetryRecordedAgainstSchedule(t *testing.T) {
	st, addr := scheduleStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := &gatePartner{pushes: map[string]int{}, hung: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	var released sync.Once
	release := func() { released.Do(func() { close(p.release) }) }
	t.Cleanup(release) // before srv.Close, which waits for the hanging push
	dir := t.TempDir()
	writeProjectFile(t, dir, "flow.yaml", fmt.Sprintf(scheduledRetryFlow, srv.Listener.Addr().String()))
	deployLines(t, addr, dir)
	const sched = "outflow:nightly:0"

	// The partner has a bad hour: the scheduled run fails at push.
	p.set(true, "")
	run1 := triggerRun(t, st, addr, "nightly", sched)
	if rec, err := waitRun(t, st, run1); err == nil || rec.Status != engine.StatusFailed || rec.Step("push").Status != engine.StatusFailed {
		t.Fatalf("scheduled run %s: want a failure at push, got %v %+v", run1, err, rec)
	}

	// The partner is back, but holds the retry's push until released: the
	// retry is running while the schedule's next run is due.
	const retryID = "nightly-retry"
	p.set(false, retryID+"/push")
	out, errOut, code := cli(t, "executions", "retry", run1, "--id", retryID, "--address", addr, "--project", dir)
	if code != 0 {
		t.Fatalf("retry: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "recorded against schedule "+sched+", outside its overlap policy") {
		t.Errorf("retry said:\n%s", out)
	}
	select {
	case <-p.hung:
	case <-ctx.Done():
		t.Fatal("the retry's push never reached the partner")
	}

	// Under the schedule's skip policy a trigger while one of its runs is
	// running does nothing; the retry is not one of its runs, so the next
	// run starts, runs and succeeds while the retry is still running.
	before, err := st.client.DescribeSchedule(ctx, sched)
	if err != nil {
		t.Fatal(err)
	}
	if before.Overlap != "skip" || len(before.Running) != 0 {
		t.Fatalf("schedule before the next run: overlap %s, running %v; want skip and none (the retry is not the schedule's)", before.Overlap, before.Running)
	}
	if before.LastRetry == nil || before.LastRetry.WorkflowID != retryID || before.LastRetry.RetriedFrom != run1 || before.LastRetry.Status != engine.StatusRunning {
		t.Fatalf("schedule's last retry: %+v, want %s of %s, running", before.LastRetry, retryID, run1)
	}
	// A run's workflow id ends with the second it was due: the next run
	// must be due in a later second, or it would reuse run1's id.
	due, err := time.Parse(time.RFC3339, strings.TrimPrefix(run1, "nightly-schedule0-"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a second later than the first run", 5*time.Second, func() bool { return time.Now().After(due.Add(time.Second)) })
	run2 := triggerRun(t, st, addr, "nightly", sched)
	if run2 == run1 {
		t.Fatalf("the next run reused the id %s", run1)
	}
	if rec, err := waitRun(t, st, run2); err != nil || rec.Status != engine.StatusSucceeded {
		t.Fatalf("the next scheduled run %s: %v %+v", run2, err, rec)
	}
	if n := p.count(run2 + "/push"); n != 1 {
		t.Errorf("the next run pushed %d times, want 1", n)
	}
	if rec, err := st.client.Show(ctx, retryID); err != nil || rec.Status != engine.StatusRunning {
		t.Fatalf("the retry, once the next run ended: %v %+v; want it still running", err, rec)
	}
	release()
	if rec, err := waitRun(t, st, retryID); err != nil || rec.Status != engine.StatusSucceeded || rec.Step("fetch").CarriedFrom != run1 {
		t.Fatalf("the retry: %v %+v", err, rec)
	}

	// A run of the flow that no schedule started is not listed with them.
	proj, err := openProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := proj.Plan("nightly")
	if err != nil {
		t.Fatal(err)
	}
	manual, err := st.client.Start(ctx, plan, nil, engine.RunOptions{WorkflowID: "nightly-by-hand"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.client.Wait(ctx, manual, nil); err != nil {
		t.Fatal(err)
	}

	// executions list --schedule lists the scheduled runs and the retry,
	// linked both ways.
	want := []string{retryID, run1, run2}
	sort.Strings(want)
	var exs []engine.Execution
	waitFor(t, "the schedule's runs and retry listed", 30*time.Second, func() bool {
		out, _, code := cli(t, "executions", "list", "--schedule", sched, "--json", "--address", addr)
		exs = nil
		if code != 0 || json.Unmarshal([]byte(out), &exs) != nil {
			return false
		}
		var got []string
		for _, e := range exs {
			got = append(got, e.WorkflowID)
		}
		sort.Strings(got)
		done := fmt.Sprint(got) == fmt.Sprint(want)
		for _, e := range exs {
			done = done && (e.Status == engine.StatusSucceeded || e.WorkflowID == run1)
		}
		return done
	})
	for _, e := range exs {
		if e.Schedule != sched {
			t.Errorf("%s listed with schedule %q, want %s", e.WorkflowID, e.Schedule, sched)
		}
		switch e.WorkflowID {
		case run1:
			if e.Status != engine.StatusFailed || fmt.Sprint(e.RetriedBy) != fmt.Sprint([]string{retryID}) {
				t.Errorf("the failed run listed as %+v, want failed and retried by %s", e, retryID)
			}
		case retryID:
			if e.RetriedFrom != run1 {
				t.Errorf("the retry listed as %+v, want retried from %s", e, run1)
			}
		}
	}
	out, _, _ = cli(t, "executions", "list", "--schedule", sched, "--address", addr)
	if !lineHas(out, retryID, "retry of "+run1) || !lineHas(out, run1, "retried by "+retryID) {
		t.Errorf("executions list --schedule:\n%s", out)
	}
	out, _, _ = cli(t, "executions", "list", "--flow", "nightly", "--address", addr)
	if !strings.Contains(out, "nightly-by-hand") {
		t.Errorf("executions list --flow lacks the run by hand:\n%s", out)
	}
	out, _, code = cli(t, "executions", "list", "--schedule", "outflow:nightly:1", "--json", "--address", addr)
	if code != 0 || strings.TrimSpace(out) != "null" && strings.TrimSpace(out) != "[]" {
		t.Errorf("executions list of a schedule without runs: exit %d\n%s", code, out)
	}

	// executions show says which schedule, for the run and its retry; a run
	// by hand has none.
	for _, id := range []string{retryID, run1} {
		out, errOut, _ := cli(t, "executions", "show", id, "--address", addr)
		if !strings.Contains(out, "schedule: "+sched+"\n") {
			t.Errorf("executions show %s lacks the schedule:\n%s%s", id, out, errOut)
		}
	}
	out, _, _ = cli(t, "executions", "show", "nightly-by-hand", "--address", addr)
	if strings.Contains(out, "schedule:") {
		t.Errorf("executions show of a run by hand names a schedule:\n%s", out)
	}

	// schedules list shows the latest retry of its runs.
	out, errOut, code = cli(t, "schedules", "list", "--address", addr)
	if code != 0 || !lineHas(out, sched, retryID+" (succeeded)") || !strings.Contains(out, "LAST RETRY") {
		t.Errorf("schedules list: exit %d\n%s%s", code, out, errOut)
	}
	// The retry was started once, by the CLI: the partner saw one push of it.
	if n := p.count(retryID + "/push"); n != 1 {
		t.Errorf("the retry pushed %d times, want 1", n)
	}
}

// lineHas reports whether a line of out has all of parts.
func lineHas(out string, parts ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}
