package main

// Tests with real processes: the outflow binary is built once and started,
// killed with SIGKILL and started again.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/examples/partner"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func outflowBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "outflow-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "outflow")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type proc struct {
	cmd   *exec.Cmd
	lines chan string
	// seen are the lines up to the ready line.
	seen []string
}

// startProc starts the binary and waits until a line of its output contains ready.
func startProc(t *testing.T, ready string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, nil, ready, args...)
}

// startProcEnv is startProc with env as the whole environment (nil: this
// process's).
func startProcEnv(t *testing.T, env []string, ready string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(outflowBinary(t), args...)
	cmd.Env = env
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 1000)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.After(3 * time.Minute)
	var seen []string
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("%v exited before %q:\n%s", args, ready, strings.Join(seen, "\n"))
			}
			seen = append(seen, l)
			if strings.Contains(l, ready) {
				p.seen = seen
				return p
			}
		case <-deadline:
			t.Fatalf("%v not ready after 3 minutes:\n%s", args, strings.Join(seen, "\n"))
		}
	}
}

func (p *proc) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const slowProject = `kind: Connection
name: partner
url: http://%s/v2
---
kind: Flow
name: slow
steps:
  # local: false: regular activities, each completed call in the history.
  # What a crash repeats on the automatic fast path is
  # TestFastPathWorkerKilledMidFlow's.
  - id: first
    local: false
    rest: {connection: partner, method: GET, path: "/slow/first", query: {ms: "10"}}
    timeout: 5s
    retry: {initial_interval: 200ms}
  - id: second
    local: false
    rest: {connection: partner, method: GET, path: "/slow/second", query: {ms: "3000"}}
    timeout: 5s
    retry: {initial_interval: 200ms}
  - id: third
    local: false
    rest: {connection: partner, method: GET, path: "/slow/third", query: {ms: "10"}}
    timeout: 5s
    retry: {initial_interval: 200ms}
`

// TestDevRestartFinishesFlow kills `outflow dev` (server and worker) with
// SIGKILL while a flow is in its second step, starts it again on the same
// SQLite file, and checks that the flow finishes without running the
// completed first step again.
func TestDevRestartFinishesFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the outflow binary")
	}
	p, err := partner.Serve("127.0.0.1:0", nil, partner.New("", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	proj := t.TempDir()
	if err := os.WriteFile(filepath.Join(proj, "flow.yaml"), []byte(fmt.Sprintf(slowProject, p.Addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "dev.sqlite")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	devArgs := []string{"dev", "--db", db, "--port", fmt.Sprint(port), "--ui-port", "0"}
	dev := startProc(t, "Temporal server", devArgs...)

	out, err := exec.Command(outflowBinary(t), "run", "slow", "--project", proj, "--address", addr, "--detach").CombinedOutput()
	if err != nil {
		t.Fatalf("run --detach: %v\n%s", err, out)
	}
	id := strings.TrimSpace(string(out))
	waitFor(t, "the second step to reach the partner", time.Minute, func() bool { return p.Calls("slow/second") >= 1 })
	dev.kill9(t)

	startProc(t, "Temporal server", devArgs...)
	var rec engine.Record
	waitFor(t, "the flow to finish after the restart", 2*time.Minute, func() bool {
		cmd := exec.Command(outflowBinary(t), "executions", "show", id, "--json", "--address", addr)
		b, _ := cmd.Output()
		if json.Unmarshal(b, &rec) != nil {
			return false
		}
		return rec.Status == engine.StatusSucceeded || rec.Status == engine.StatusFailed
	})
	if rec.Status != engine.StatusSucceeded {
		t.Fatalf("flow ended %s: %+v", rec.Status, rec.Error)
	}
	if n := p.Calls("slow/first"); n != 1 {
		t.Fatalf("the completed first step ran %d times", n)
	}
	if n := p.Calls("slow/third"); n != 1 {
		t.Fatalf("the third step ran %d times", n)
	}
	t.Logf("second step called %d times (it was in flight when the server died)", p.Calls("slow/second"))
	_ = context.Background
	_ = io.Discard
}
