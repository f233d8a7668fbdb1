package main

// Schedules on the embedded Temporal server, without waiting for a clock:
// deploy, then trigger and backfill to make runs happen now.

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

// scheduleStack starts an embedded server with a worker, as `outflow dev`
// runs them, and returns it with the address commands are given.
func scheduleStack(t *testing.T) (*stack, string) {
	t.Helper()
	st, err := openStack(context.Background(), &globalFlags{namespace: "default"}, stackOptions{embedWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st, st.server.FrontendAddress()
}

// countingPartner is a plain HTTP partner that counts requests by path.
type countingPartner struct {
	mu   sync.Mutex
	hits map[string]int
}

func (p *countingPartner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.hits[r.URL.Path+"?"+r.URL.RawQuery]++
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"ok": true}`)
}

func (p *countingPartner) count(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[key]
}

func (p *countingPartner) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, v := range p.hits {
		n += v
	}
	return n
}

func newCountingPartner(t *testing.T) (*countingPartner, string) {
	t.Helper()
	p := &countingPartner{hits: map[string]int{}}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.Listener.Addr().String()
}

func writeProjectFile(t *testing.T, dir, name, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

const pollFlow = `kind: Connection
name: partner
url: http://%s
---
kind: Flow
name: %s
inputs:
  tag: {type: string, default: none}
triggers: [%s]
steps:
  - id: ping
    rest: {connection: partner, method: GET, path: /ping, query: {tag: "${{ inputs.tag }}"}}
`

// writePollProject writes a project of one flow calling the partner at
// addr, with the given triggers (YAML flow mappings). They share one line,
// so that removing one moves no step: plans record the lines of steps, and
// a moved step updates the schedule.
func writePollProject(t *testing.T, dir, addr, flow string, triggers ...string) {
	t.Helper()
	writeProjectFile(t, dir, "flow.yaml", fmt.Sprintf(pollFlow, addr, flow, strings.Join(triggers, ", ")))
}

// deployLines runs deploy and returns its lines, failing on a non-zero exit.
func deployLines(t *testing.T, addr, dir string, extra ...string) string {
	t.Helper()
	out, errOut, code := cli(t, append([]string{"deploy", "--project", dir, "--address", addr}, extra...)...)
	if code != 0 {
		t.Fatalf("deploy: exit %d\n%s%s", code, out, errOut)
	}
	return out
}

// wantLines checks that out has a line starting with each action and id.
func wantLines(t *testing.T, out string, want ...[2]string) {
	t.Helper()
	for _, w := range want {
		found := false
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == w[0] && f[1] == w[1] {
				found = true
			}
		}
		if !found {
			t.Errorf("no line %q %q in:\n%s", w[0], w[1], out)
		}
	}
}

func TestDeploySchedules(t *testing.T) {
	st, addr := scheduleStack(t)
	ctx := context.Background()
	_, partner := newCountingPartner(t)
	dir := filepath.Join(t.TempDir(), "billing")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	hourly := `{schedule: {every: 1h, overlap: allow_all, catchup_window: 10m, inputs: {tag: hourly}}}`
	nightly := `{schedule: {cron: "0 2 * * *", timezone: Europe/Berlin, paused: true}}`
	writePollProject(t, dir, partner, "sync", hourly, nightly)

	out := deployLines(t, addr, dir)
	wantLines(t, out, [2]string{"created", "outflow:sync:0"}, [2]string{"created", "outflow:sync:1"})
	if !strings.Contains(out, "2 schedules: 2 created") {
		t.Errorf("summary missing:\n%s", out)
	}
	first, err := st.client.DescribeSchedule(ctx, "outflow:sync:0")
	if err != nil {
		t.Fatal(err)
	}
	if first.Paused || first.When != "every 1h" || first.Overlap != "allow_all" || first.Flow != "sync" || first.Project != "billing" || first.Next == nil {
		t.Errorf("outflow:sync:0 = %+v", first)
	}
	second, err := st.client.DescribeSchedule(ctx, "outflow:sync:1")
	if err != nil {
		t.Fatal(err)
	}
	if !second.Paused || second.When != "cron 0 2 * * * (Europe/Berlin)" || second.Next != nil {
		t.Errorf("outflow:sync:1 = %+v, want paused as the trigger says", second)
	}

	out = deployLines(t, addr, dir)
	wantLines(t, out, [2]string{"unchanged", "outflow:sync:0"}, [2]string{"unchanged", "outflow:sync:1"})
	if !strings.Contains(out, "2 schedules: 2 unchanged") {
		t.Errorf("second deploy changed something:\n%s", out)
	}

	writePollProject(t, dir, partner, "sync", `{schedule: {every: 30m, inputs: {tag: hourly}}}`, nightly)
	out = deployLines(t, addr, dir, "--dry-run")
	wantLines(t, out, [2]string{"updated", "outflow:sync:0"}, [2]string{"unchanged", "outflow:sync:1"})
	if !strings.Contains(out, "dry run: nothing changed") {
		t.Errorf("dry run not said:\n%s", out)
	}
	if s, _ := st.client.DescribeSchedule(ctx, "outflow:sync:0"); s.When != "every 1h" {
		t.Errorf("dry run changed the schedule: %+v", s)
	}
	out = deployLines(t, addr, dir)
	wantLines(t, out, [2]string{"updated", "outflow:sync:0"}, [2]string{"unchanged", "outflow:sync:1"})
	if s, _ := st.client.DescribeSchedule(ctx, "outflow:sync:0"); s.When != "every 30m" {
		t.Errorf("after update: %+v", s)
	}

	writePollProject(t, dir, partner, "sync", `{schedule: {every: 30m, inputs: {tag: hourly}}}`)
	out = deployLines(t, addr, dir)
	wantLines(t, out, [2]string{"unchanged", "outflow:sync:0"}, [2]string{"deleted", "outflow:sync:1"})
	if _, err := st.client.DescribeSchedule(ctx, "outflow:sync:1"); err == nil {
		t.Error("outflow:sync:1 still exists after deploy deleted it")
	}

	// Another project's schedules in the same namespace are not this
	// project's to delete.
	other := filepath.Join(t.TempDir(), "crm")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	writePollProject(t, other, partner, "contacts", hourly)
	wantLines(t, deployLines(t, addr, other), [2]string{"created", "outflow:contacts:0"})

	// A flow removed from the project is found by listing, which the
	// visibility store may show a moment late.
	waitFor(t, "outflow:sync:0 and outflow:contacts:0 listed", 30*time.Second, func() bool {
		infos, err := st.client.Schedules(ctx, "")
		return err == nil && len(infos) == 2
	})
	writePollProject(t, dir, partner, "renamed", hourly)
	out = deployLines(t, addr, dir, "--prune=false")
	wantLines(t, out, [2]string{"created", "outflow:renamed:0"}, [2]string{"stale", "outflow:sync:0"})
	if strings.Contains(out, "contacts") {
		t.Errorf("deploy of project billing reports project crm's schedule:\n%s", out)
	}
	out = deployLines(t, addr, dir)
	wantLines(t, out, [2]string{"unchanged", "outflow:renamed:0"}, [2]string{"deleted", "outflow:sync:0"})
	if _, err := st.client.DescribeSchedule(ctx, "outflow:contacts:0"); err != nil {
		t.Errorf("project crm's schedule is gone: %v", err)
	}
}

func TestDeployRefusesProblems(t *testing.T) {
	dir := t.TempDir()
	writeProjectFile(t, dir, "flow.yaml", "kind: Flow\nname: broken\ntriggers:\n  - schedule: {cron: \"61 * * * *\"}\nsteps: []\n")
	_, errOut, code := cli(t, "deploy", "--project", dir, "--address", "127.0.0.1:1")
	if code != 1 || !strings.Contains(errOut, "flow.yaml:4:") {
		t.Fatalf("exit %d, want 1 with a positioned problem:\n%s", code, errOut)
	}
}

// waitRun waits for a workflow started by a schedule and returns its
// record, failed or not.
func waitRun(t *testing.T, st *stack, id string) (*engine.Record, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var rec engine.Record
	err := st.temporal.GetWorkflow(ctx, id, "").Get(ctx, &rec)
	if err == nil {
		return &rec, nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == engine.ErrFlowFailed && appErr.HasDetails() {
		if derr := appErr.Details(&rec); derr == nil {
			return &rec, err
		}
	}
	t.Fatalf("waiting for %s: %v", id, err)
	return nil, err
}

// triggerRun triggers a schedule and returns the id of the run it started.
func triggerRun(t *testing.T, st *stack, addr, ref, scheduleID string) string {
	t.Helper()
	ctx := context.Background()
	before, err := st.client.DescribeSchedule(ctx, scheduleID)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := cli(t, "schedules", "trigger", ref, "--address", addr)
	if code != 0 || strings.TrimSpace(out) != "triggered "+scheduleID {
		t.Fatalf("trigger: exit %d\n%s%s", code, out, errOut)
	}
	var id string
	waitFor(t, "the triggered run", 30*time.Second, func() bool {
		s, err := st.client.DescribeSchedule(ctx, scheduleID)
		if err == nil && s.Actions > before.Actions {
			id = s.LastWorkflowID
		}
		return id != ""
	})
	return id
}

func TestSchedulesTriggerPauseBackfill(t *testing.T) {
	st, addr := scheduleStack(t)
	ctx := context.Background()
	partner, partnerAddr := newCountingPartner(t)
	dir := t.TempDir()
	writePollProject(t, dir, partnerAddr, "poll", `{schedule: {every: 1h, inputs: {tag: scheduled}}}`)
	deployLines(t, addr, dir)

	id := triggerRun(t, st, addr, "poll", "outflow:poll:0")
	if !strings.HasPrefix(id, "poll-schedule0-") {
		t.Errorf("workflow id %q lacks the prefix poll-schedule0-", id)
	}
	rec, err := waitRun(t, st, id)
	if err != nil || rec.Status != engine.StatusSucceeded || rec.Flow != "poll" || rec.Inputs["tag"] != "scheduled" {
		t.Fatalf("triggered run: %v, %+v", err, rec)
	}
	if n := partner.count("/ping?tag=scheduled"); n != 1 {
		t.Errorf("partner saw %d scheduled pings, want 1", n)
	}

	out, errOut, code := cli(t, "schedules", "pause", "poll", "--note", "partner maintenance", "--address", addr)
	if code != 0 || strings.TrimSpace(out) != "paused outflow:poll:0" {
		t.Fatalf("pause: exit %d\n%s%s", code, out, errOut)
	}
	s, err := st.client.DescribeSchedule(ctx, "outflow:poll:0")
	if err != nil || !s.Paused || s.Note != "partner maintenance" {
		t.Fatalf("after pause: %+v, %v", s, err)
	}
	// A deploy of an unchanged project leaves an operator's pause alone.
	wantLines(t, deployLines(t, addr, dir), [2]string{"unchanged", "outflow:poll:0"})
	if s, _ := st.client.DescribeSchedule(ctx, "outflow:poll:0"); !s.Paused {
		t.Error("deploy unpaused a schedule an operator paused")
	}
	out, errOut, code = cli(t, "schedules", "unpause", "outflow:poll:0", "--address", addr)
	if code != 0 || strings.TrimSpace(out) != "unpaused outflow:poll:0" {
		t.Fatalf("unpause: exit %d\n%s%s", code, out, errOut)
	}
	if s, _ := st.client.DescribeSchedule(ctx, "outflow:poll:0"); s.Paused {
		t.Error("still paused after unpause")
	}

	// Three due times fall strictly inside the window, whatever the clock.
	start := time.Now().UTC().Add(-10 * time.Hour).Truncate(time.Hour).Add(30 * time.Minute)
	end := start.Add(3 * time.Hour)
	out, errOut, code = cli(t, "schedules", "backfill", "poll", "--address", addr, "--overlap", "allow_all",
		"--start", start.Format(time.RFC3339), "--end", end.Format(time.RFC3339))
	if code != 0 || !strings.HasPrefix(out, "backfilling outflow:poll:0 from ") {
		t.Fatalf("backfill: exit %d\n%s%s", code, out, errOut)
	}
	var backfilled []string
	waitFor(t, "three backfilled runs to succeed", time.Minute, func() bool {
		exs, err := st.client.List(ctx, engine.ListOptions{Flow: "poll", Status: engine.StatusSucceeded})
		if err != nil {
			return false
		}
		backfilled = backfilled[:0]
		for _, e := range exs {
			due, err := time.Parse(time.RFC3339, strings.TrimPrefix(e.WorkflowID, "poll-schedule0-"))
			if err == nil && due.After(start) && due.Before(end) {
				backfilled = append(backfilled, e.WorkflowID)
			}
		}
		return len(backfilled) >= 3
	})
	if len(backfilled) != 3 {
		t.Errorf("backfilled runs %v, want 3", backfilled)
	}
	if n := partner.count("/ping?tag=scheduled"); n != 4 {
		t.Errorf("partner saw %d scheduled pings, want 4 (one triggered, three backfilled)", n)
	}

	waitFor(t, "the schedule listed", 30*time.Second, func() bool {
		out, _, code := cli(t, "schedules", "list", "--json", "--address", addr)
		var infos []engine.ScheduleInfo
		return code == 0 && json.Unmarshal([]byte(out), &infos) == nil && len(infos) == 1 &&
			infos[0].ID == "outflow:poll:0" && infos[0].Actions == 4
	})
	out, _, _ = cli(t, "schedules", "list", "--address", addr)
	if !strings.Contains(out, "SCHEDULE") || !strings.Contains(out, "outflow:poll:0") || !strings.Contains(out, "every 1h") {
		t.Errorf("schedules list:\n%s", out)
	}

	_, errOut, code = cli(t, "schedules", "trigger", "nope", "--address", addr)
	if code == 0 || !strings.Contains(errOut, `flow "nope" has no schedules`) {
		t.Errorf("trigger of an unknown flow: exit %d, %s", code, errOut)
	}
}

// mtlsPartner is a partner that requires client certificates signed by ca.
func mtlsPartner(t *testing.T, ca *devpki.CA) (*countingPartner, int) {
	t.Helper()
	leaf, err := ca.IssueServer("127.0.0.1", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingPartner{hits: map[string]int{}}
	srv := httptest.NewUnstartedServer(p)
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{leaf.TLSCertificate()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return p, srv.Listener.Addr().(*net.TCPAddr).Port
}

const securedProject = `kind: ProtocolProfile
name: partner-mtls
keystore: {path: client-bundle.pem}
truststore: {paths: [ca.pem]}
---
kind: Connection
name: partner
url: https://127.0.0.1:%d
mutual_auth: true
protocol_profile: partner-mtls
---
kind: Flow
name: secured
triggers:
  - schedule: {every: 24h}
steps:
  - id: ping
    rest: {connection: partner, method: GET, path: /ping}
`

// TestScheduledRunChecksCertificates checks that a scheduled run fails
// before calling anyone when its client certificate has expired, and notes
// a certificate that expires soon.
func TestScheduledRunChecksCertificates(t *testing.T) {
	st, addr := scheduleStack(t)
	ca, err := devpki.NewCA("Partner CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	partner, port := mtlsPartner(t, ca)
	dir := t.TempDir()
	writeProjectFile(t, dir, "ca.pem", string(ca.CertPEM()))
	writeProjectFile(t, dir, "project.yaml", fmt.Sprintf(securedProject, port))
	client := func(notAfter time.Time) {
		t.Helper()
		leaf, err := ca.IssueClient("svc-outflow", &devpki.Options{NotBefore: time.Now().Add(-400 * 24 * time.Hour), NotAfter: notAfter})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := leaf.WriteFiles(dir, "client"); err != nil {
			t.Fatal(err)
		}
	}
	client(time.Now().Add(-72 * time.Hour))
	deployLines(t, addr, dir)

	rec, err := waitRun(t, st, triggerRun(t, st, addr, "secured", "outflow:secured:0"))
	if rec != nil && len(rec.Steps) > 0 && (rec.Error == nil || rec.Error.Type != engine.ErrCertificate) {
		t.Fatalf("the run went to its steps: FlowWorkflow must call checkCertificates before them when RunInput.CheckCertificates is set; run error: %v", err)
	}
	if err == nil || rec.Status != engine.StatusFailed || rec.Error == nil || rec.Error.Type != engine.ErrCertificate ||
		!strings.Contains(rec.Error.Message, "CN=svc-outflow,O=Outflow Dev expired on") ||
		!strings.Contains(rec.Error.Message, `protocol profile "partner-mtls" (connection partner)`) {
		t.Fatalf("run with an expired certificate: %v, record %+v", err, rec)
	}
	if len(rec.Steps) != 0 || partner.total() != 0 {
		t.Errorf("the run called the partner (%d requests, %d steps) despite the expired certificate", partner.total(), len(rec.Steps))
	}

	// A rotated certificate that expires within the profile's 30-day
	// warning window lets the run through with a note.
	client(time.Now().Add(5 * 24 * time.Hour))
	rec, err = waitRun(t, st, triggerRun(t, st, addr, "secured", "outflow:secured:0"))
	if err != nil || rec.Status != engine.StatusSucceeded {
		t.Fatalf("run with a valid certificate: %v, record %+v", err, rec)
	}
	if len(rec.Notes) != 1 || !strings.Contains(rec.Notes[0], "the client certificate CN=svc-outflow,O=Outflow Dev expires on") {
		t.Errorf("notes = %q, want one about the client certificate", rec.Notes)
	}
	if partner.count("/ping?") != 1 {
		t.Errorf("partner saw %d pings, want 1", partner.count("/ping?"))
	}
}

// lockedBuffer is an io.Writer that the sync loop and the test share.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDevSyncsSchedules checks the loop `outflow dev` runs: a deploy at
// start, another when a project file changes, problems reported and not
// deployed, and nothing written once it is stopped.
func TestDevSyncsSchedules(t *testing.T) {
	st, _ := scheduleStack(t)
	_, partner := newCountingPartner(t)
	dir := t.TempDir()
	hourly := `{schedule: {every: 1h}}`
	writePollProject(t, dir, partner, "watched", hourly)
	var out lockedBuffer
	stop := syncSchedules(context.Background(), &out, st.client, dir, 20*time.Millisecond)
	defer stop()
	lineOf := func(action, id string) func() bool {
		return func() bool {
			for _, line := range strings.Split(out.String(), "\n") {
				f := strings.Fields(line)
				if len(f) >= 3 && f[0] == "schedules" && f[1] == action && f[2] == id {
					return true
				}
			}
			return false
		}
	}
	waitFor(t, "the first deploy", 30*time.Second, lineOf("created", "outflow:watched:0"))

	writePollProject(t, dir, partner, "watched", hourly, `{schedule: {every: 2h}}`)
	waitFor(t, "the added trigger deployed", 30*time.Second, lineOf("created", "outflow:watched:1"))
	if lineOf("unchanged", "outflow:watched:0")() {
		t.Errorf("a re-deploy printed unchanged schedules:\n%s", out.String())
	}

	writeProjectFile(t, dir, "broken.yaml", "kind: Flow\nname: broken\nsteps: [{id: x, rest: {connection: nowhere}}]\n")
	waitFor(t, "the problem reported", 30*time.Second, func() bool { return strings.Contains(out.String(), "not deployed: the project has") })
	if err := os.Remove(filepath.Join(dir, "broken.yaml")); err != nil {
		t.Fatal(err)
	}
	writePollProject(t, dir, partner, "watched", hourly)
	waitFor(t, "the removed trigger deleted", 30*time.Second, lineOf("deleted", "outflow:watched:1"))

}
