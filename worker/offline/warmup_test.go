package offline

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"
)

// bytesRead is what this process has read so far (rchar of /proc/self/io),
// from files and sockets alike.
func bytesRead(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/io")
	if err != nil {
		t.Skipf("cannot count the bytes this process reads: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "rchar: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("/proc/self/io has no rchar")
	return 0
}

// readsInWorkflow counts the bytes the process reads while the workflow
// function runs: on its goroutine, and in whatever runs meanwhile.
type readsInWorkflow struct {
	interceptor.WorkerInterceptorBase
	t *testing.T
	n atomic.Int64
}

func (r *readsInWorkflow) InterceptWorkflow(ctx workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &readsInWorkflowInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, r: r}
}

type readsInWorkflowInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	r *readsInWorkflow
}

func (i *readsInWorkflowInbound) ExecuteWorkflow(ctx workflow.Context, in *interceptor.ExecuteWorkflowInput) (any, error) {
	before := bytesRead(i.r.t)
	defer func() { i.r.n.Add(bytesRead(i.r.t) - before) }()
	return i.Next.ExecuteWorkflow(ctx, in)
}

// The first test of a process ran 550–950 ms of one-time warm-up inside
// workflow code under CPU load — the SDK's test environment hashing the
// whole executable for its binary checksum inside the first ExecuteActivity —
// and tripped the 1 s deadlock detector. Rather than time the workflow
// task, this counts bytes: in a fresh process, the workflow of the first
// test must not read the executable. Before the warm-up moved out, it read
// all of it.
func TestFirstWorkflowOfAProcessDoesNotHashTheExecutable(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts reads with /proc/self/io")
	}
	if os.Getenv("OUTFLOW_OFFLINE_FRESH_PROCESS") == "" {
		// The warm-up happens once per process: run in a process where no
		// workflow has run yet.
		cmd := exec.Command(os.Args[0], "-test.run=^TestFirstWorkflowOfAProcessDoesNotHashTheExecutable$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "OUTFLOW_OFFLINE_FRESH_PROCESS=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("in a fresh process: %v\n%s", err, out)
		}
		t.Logf("in a fresh process:\n%s", out)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(exe)
	if err != nil {
		t.Fatal(err)
	}
	// The count sees a hash of the executable: hashing it reads all of it.
	before := bytesRead(t)
	if _, err := binaryChecksum(); err != nil {
		t.Fatal(err)
	}
	if n := bytesRead(t) - before; n < st.Size() {
		t.Fatalf("hashing the %d-byte executable counted %d bytes read", st.Size(), n)
	}

	reads := &readsInWorkflow{t: t}
	testInterceptors = []interceptor.WorkerInterceptor{reads}
	t.Cleanup(func() { testInterceptors = nil })
	r := runTest(t, "sync-passes")
	if !r.Passed || r.Error != "" {
		t.Fatalf("sync-passes: %s %s", r.Error, failures(r))
	}
	if n := reads.n.Load(); n >= st.Size()/2 {
		t.Fatalf("the first workflow read %d bytes, the executable is %d: its binary checksum was computed on the workflow goroutine", n, st.Size())
	} else {
		t.Logf("the first workflow read %d bytes; the executable is %d", n, st.Size())
	}
}
