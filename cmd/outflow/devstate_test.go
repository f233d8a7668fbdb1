package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

const postOnceProject = `kind: Connection
name: partner
url: http://%s
---
kind: Flow
name: post-once
steps:
  - id: post
    rest: {connection: partner, method: POST, path: /orders, body: {order: A-1}}
`

// interrupt stops a process as Ctrl-C does and waits for it to exit.
func (p *proc) interrupt(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for range p.lines {
		}
		done <- p.cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%v after SIGINT: %v", p.cmd.Args, err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%v did not exit within a minute of SIGINT", p.cmd.Args)
	}
}

// TestDevStateFileAfterGracefulStop stops `outflow dev` with SIGINT after a
// flow POSTed once, moves the state file alone (no -wal, no -shm) and
// starts `outflow dev` on it: the flow is still finished and its POST is
// not sent again. Then `outflow dev` refuses state files that hold no
// state.
func TestDevStateFileAfterGracefulStop(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the outflow binary")
	}
	partner, partnerAddr := newCountingPartner(t)
	proj := t.TempDir()
	writeProjectFile(t, proj, "flow.yaml", fmt.Sprintf(postOnceProject, partnerAddr))
	db := filepath.Join(t.TempDir(), "dev.sqlite")
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dev := startProc(t, "Temporal server", "dev", "--project", proj, "--db", db, "--port", fmt.Sprint(port), "--ui-port", "0")
	if out, err := exec.Command(outflowBinary(t), "run", "post-once", "--project", proj, "--address", addr, "--id", "post-1").CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	walRunning := fileSizeOf(t, db+"-wal")
	dev.interrupt(t)
	if n := fileSizeOf(t, db+"-wal"); n != 0 {
		t.Fatalf("after SIGINT the write-ahead log holds %d bytes (%d while running)", n, walRunning)
	}
	t.Logf("write-ahead log: %d bytes while running, 0 after SIGINT", walRunning)

	moved := filepath.Join(t.TempDir(), "moved.sqlite")
	copyPlainFile(t, db, moved)
	port = freePort(t)
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	dev = startProc(t, "Temporal server", "dev", "--project", proj, "--db", moved, "--port", fmt.Sprint(port), "--ui-port", "0")
	out, err := exec.Command(outflowBinary(t), "executions", "show", "post-1", "--json", "--address", addr).Output()
	if err != nil {
		t.Fatalf("executions show in the moved state: %v\n%s", err, out)
	}
	var rec engine.Record
	if err := json.Unmarshal(out, &rec); err != nil || rec.Status != engine.StatusSucceeded {
		t.Fatalf("the flow in the moved state: %s (%v)", rec.Status, err)
	}
	dev.interrupt(t)
	if n := partner.count("/orders?"); n != 1 {
		t.Fatalf("the partner got the POST %d times", n)
	}

	empty := filepath.Join(t.TempDir(), "empty.sqlite")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(outflowBinary(t), "dev", "--project", proj, "--db", empty, "--port", fmt.Sprint(freePort(t)), "--ui-port", "0")
	b, err := cmd.CombinedOutput()
	if err == nil || cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(b), "is empty (0 bytes)") {
		t.Fatalf("outflow dev on an empty file: %v\n%s", err, b)
	}
	if info, err := os.Stat(empty); err != nil || info.Size() != 0 {
		t.Fatalf("the refused file was changed: %v %v", info, err)
	}
}

func fileSizeOf(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

func copyPlainFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
