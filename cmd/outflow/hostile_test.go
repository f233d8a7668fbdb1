package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/examples/partner"
)

const hostileProject = `kind: Connection
name: partner
url: http://%s/v2
---
kind: Flow
name: hostile-repeat
vars:
  big: '${{ len(repeat(repeat("a", 999999), 1000000)) }}'
steps:
  - id: never
    rest: {connection: partner, method: GET, path: /slow/never}
---
kind: Flow
name: hostile-reduce
steps:
  - id: post
    rest:
      connection: partner
      method: GET
      path: /slow/never
      query: {n: '${{ len(reduce(1..30000, #acc + "aaaaaaaaaa", "")) }}'}
---
kind: Flow
name: hostile-foreach
steps:
  - id: each
    foreach: '${{ map(1..1000000, #) }}'
    steps:
      - id: get
        rest: {connection: partner, method: GET, path: '/slow/never'}
---
kind: Flow
name: hostile-foreach-items
steps:
  - id: each
    foreach: '${{ map(1..6000, #) }}'
    steps:
      - id: get
        rest: {connection: partner, method: GET, path: '/slow/never'}
---
kind: Flow
name: normal
vars:
  greeting: '${{ "hello, " + repeat("o", 3) }}'
steps:
  - id: get
    rest: {connection: partner, method: GET, path: /slow/normal, query: {ms: "0"}}
outputs:
  greeting: '${{ vars.greeting }}'
  calls: '${{ steps.get.json.calls }}'
`

// procWatch reads a process's output as it comes, so that the lines of a
// crash are not lost behind earlier logs, and sees it exit.
type procWatch struct {
	mu     sync.Mutex
	lines  []string
	exited chan struct{}
}

func watchProc(p *proc) *procWatch {
	w := &procWatch{exited: make(chan struct{})}
	go func() {
		for l := range p.lines {
			w.mu.Lock()
			if len(w.lines) < 50000 {
				w.lines = append(w.lines, l)
			}
			w.mu.Unlock()
		}
		close(w.exited)
	}()
	return w
}

func (w *procWatch) alive() bool {
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

// crash is what the process said when it died: its fatal error and panic
// lines, then its last lines.
func (w *procWatch) crash() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, l := range w.lines {
		if strings.Contains(l, "fatal error") || strings.HasPrefix(l, "panic:") || strings.Contains(l, "out of memory") {
			out = append(out, l)
		}
	}
	out = append(out, "…")
	return strings.Join(append(out, w.lines[max(0, len(w.lines)-10):]...), "\n")
}

// TestHostileFlowsLeaveDevServing runs, against a real `outflow dev`
// process, the flows of issue 13's defect 1: one whose vars made the
// process die with `fatal error: out of memory` (and again after every
// restart), one whose quadratic string building kept a workflow task
// failing and retrying forever, and foreach over a million and over 6,000
// items. Each fails with a clear error, the process stays up, and it then
// runs a normal flow.
func TestHostileFlowsLeaveDevServing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the outflow binary")
	}
	p, err := partner.Serve("127.0.0.1:0", nil, partner.New("", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	proj := t.TempDir()
	if err := os.WriteFile(filepath.Join(proj, "flows.yaml"), []byte(fmt.Sprintf(hostileProject, p.Addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dev := startProc(t, "Temporal server", "dev", "--db", filepath.Join(t.TempDir(), "dev.sqlite"), "--port", fmt.Sprint(port), "--ui-port", "0")
	devWatch := watchProc(dev)
	mustLive := func(after string) {
		t.Helper()
		if !devWatch.alive() {
			t.Fatalf("outflow dev died %s:\n%s", after, devWatch.crash())
		}
	}

	for _, c := range []struct{ flow, typ, want string }{
		{"hostile-repeat", engine.ErrExpression, "vars.big: evaluating"},
		{"hostile-reduce", engine.ErrExpression, "more than 16 MiB in all"},
		{"hostile-foreach", engine.ErrExpression, "over the limit of 250000 list and map elements"},
		{"hostile-foreach-items", engine.ErrLimit, "the list has 6000 items, over the limit of 5000"},
	} {
		out, err := exec.Command(outflowBinary(t), "run", c.flow, "--project", proj, "--address", addr, "--detach").CombinedOutput()
		if err != nil {
			t.Fatalf("run %s --detach: %v\n%s", c.flow, err, out)
		}
		id := strings.TrimSpace(string(out))
		var rec engine.Record
		waitFor(t, c.flow+" to end", 3*time.Minute, func() bool {
			mustLive("running " + c.flow)
			b, _ := exec.Command(outflowBinary(t), "executions", "show", id, "--json", "--address", addr).Output()
			if json.Unmarshal(b, &rec) != nil {
				return false
			}
			return rec.Status != engine.StatusRunning
		})
		if rec.Status != engine.StatusFailed || rec.Error == nil || rec.Error.Type != c.typ || !strings.Contains(rec.Error.Message, c.want) {
			t.Fatalf("%s: status %s, error %+v; want a %s error saying %q", c.flow, rec.Status, rec.Error, c.typ, c.want)
		}
		t.Logf("%s failed: %s", c.flow, rec.Error.Message)
		mustLive("after " + c.flow)
	}
	if n := p.Calls("slow/never"); n != 0 {
		t.Fatalf("hostile flows called the partner %d times", n)
	}

	out, err := exec.Command(outflowBinary(t), "run", "normal", "--project", proj, "--address", addr, "--json").Output()
	if err != nil {
		t.Fatalf("run normal: %v\n%s", err, out)
	}
	var rec engine.Record
	if err := json.Unmarshal(out, &rec); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rec.Status != engine.StatusSucceeded || rec.Outputs["greeting"] != "hello, ooo" || rec.Outputs["calls"] != 1.0 {
		t.Fatalf("normal flow: %s, outputs %v, error %+v", rec.Status, rec.Outputs, rec.Error)
	}
	mustLive("after the normal flow")
}
