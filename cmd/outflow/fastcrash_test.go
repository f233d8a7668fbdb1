package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/outflow-dev/outflow/engine"
)

// chainPartner answers GET /v2/chain/N with {"next": N+1} and counts every
// request by method and path; the first GET of /v2/chain/<hold> hangs
// until its connection dies (the worker that sent it is killed).
type chainPartner struct {
	mu    sync.Mutex
	calls map[string]int
	hold  string
	held  chan struct{}
}

func (c *chainPartner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.Path
	c.mu.Lock()
	c.calls[key]++
	first := c.calls[key] == 1
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v2/chain/"):
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/v2/chain/"))
		if err != nil {
			http.Error(w, `{"message":"not a number"}`, http.StatusBadRequest)
			return
		}
		if first && r.URL.Path == "/v2/chain/"+c.hold {
			close(c.held)
			<-r.Context().Done()
			return
		}
		_, _ = fmt.Fprintf(w, `{"next":%d}`, n+1)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v2/log/"):
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"logged":%q}`, strings.TrimPrefix(r.URL.Path, "/v2/log/"))
	default:
		http.Error(w, `{"message":"unknown path"}`, http.StatusNotFound)
	}
}

func (c *chainPartner) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[key]
}

// TestFastPathWorkerKilledMidFlow runs a chain of GETs on the automatic
// fast path with two POSTs among them on a worker process, kills the worker
// with SIGKILL while the partner holds the fourth GET, and lets a second
// worker process finish the flow: every step's result reaches the outputs,
// each POST reached the partner once, and a GET was repeated at most once
// (the fast calls since the last completed workflow task, which is what a
// crash can repeat on the fast path: docs/flows.md).
func TestFastPathWorkerKilledMidFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the outflow binary")
	}
	proj := t.TempDir()
	cp := &chainPartner{calls: map[string]int{}, hold: "4", held: make(chan struct{})}
	addr := ledgerServer(t, proj, cp)
	const flow = `---
kind: Flow
name: fast-chain
steps:
  - id: g1
    rest: {connection: ledger, path: /chain/1}
  - id: p1
    rest: {connection: ledger, method: POST, path: "/log/${{ steps.g1.json.next }}", body: {n: 1}, expect: [201]}
  - id: g2
    rest: {connection: ledger, path: "/chain/${{ steps.g1.json.next }}"}
  - id: g3
    rest: {connection: ledger, path: "/chain/${{ steps.g2.json.next }}"}
  - id: g4
    rest: {connection: ledger, path: "/chain/${{ steps.g3.json.next }}"}
  - id: p2
    rest: {connection: ledger, method: POST, path: "/log/${{ steps.g4.json.next }}", body: {n: 2}, expect: [201]}
  - id: g5
    rest: {connection: ledger, path: "/chain/${{ steps.g4.json.next }}"}
outputs:
  chain: "${{ [steps.g1.json.next, steps.g2.json.next, steps.g3.json.next, steps.g4.json.next, steps.g5.json.next] }}"
  logged: "${{ [steps.p1.json.logged, steps.p2.json.logged] }}"
`
	writeTestFile(t, filepath.Join(proj, "flow.yaml"), []byte(fmt.Sprintf(mtlsConnection, addr)+flow))
	rec, _, _ := runWorkerKilledMidFlow(t, proj, "fast-chain", cp.held, "GET /chain/4")
	if rec.Status != engine.StatusSucceeded || len(rec.Steps) != 7 {
		t.Fatalf("flow ended %s with %d steps", rec.Status, len(rec.Steps))
	}
	if got, want := fmt.Sprint(rec.Outputs["chain"]), "[2 3 4 5 6]"; got != want {
		t.Errorf("outputs chain = %s, want %s: a step's result was lost", got, want)
	}
	if got, want := fmt.Sprint(rec.Outputs["logged"]), "[2 5]"; got != want {
		t.Errorf("outputs logged = %s, want %s", got, want)
	}
	for _, post := range []string{"POST /v2/log/2", "POST /v2/log/5"} {
		if n := cp.count(post); n != 1 {
			t.Errorf("%s reached the partner %d times, want once", post, n)
		}
	}
	for i := 1; i <= 5; i++ {
		get := fmt.Sprintf("GET /v2/chain/%d", i)
		n := cp.count(get)
		if n < 1 || n > 2 {
			t.Errorf("%s reached the partner %d times, want once, or twice when the crash repeated it", get, n)
		}
		if i == 1 || i == 5 {
			// Before the first POST, whose scheduling completed the workflow
			// task that recorded g1; after the crash.
			if n != 1 {
				t.Errorf("%s reached the partner %d times, want once", get, n)
			}
		}
	}
	if n := cp.count("GET /v2/chain/4"); n != 2 {
		t.Errorf("GET /v2/chain/4, held when the worker died, reached the partner %d times, want twice", n)
	}
	for _, s := range rec.Steps {
		want := engine.CallFast
		if strings.HasPrefix(s.ID, "p") {
			want = engine.CallRegular
		}
		if s.CallPath != want {
			t.Errorf("step %s ran %q (%s), want %q", s.ID, s.CallPath, s.CallPathReason, want)
		}
	}
	if w := rec.Step("g4").Worker; !strings.HasPrefix(w, "second") {
		t.Errorf("g4 ran on %q, want the second worker", w)
	}
}
