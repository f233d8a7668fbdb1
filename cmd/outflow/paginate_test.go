package main

// A paginated step survives its worker: a real `outflow worker` process is
// killed with SIGKILL while the partner holds page 3, a second worker
// process finishes the walk, and pages 1 and 2 are not requested again.

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/examples/partner"
)

const pagesProject = `kind: ProtocolProfile
name: partner-mtls
keystore: {path: client-bundle.pem}
truststore: {paths: [ca.pem]}
---
kind: Connection
name: partner
url: https://127.0.0.1:%d/v2
mutual_auth: true
protocol_profile: partner-mtls
credential: {type: basic, username: svc-outflow, password: {secret: env:OUTFLOW_PAGES_PASSWORD}}
---
kind: Flow
name: sync-orders
steps:
  - id: orders
    rest:
      connection: partner
      path: /pages/number
      query: {hold: "3"}
      paginate: {items: $.results, page: {size_param: per_page, size: 10}}
    timeout: 5s
    retry: {initial_interval: 200ms}
outputs:
  count: "${{ steps.orders.count }}"
  last: "${{ steps.orders.items[44].id }}"
`

func TestPaginationResumesAfterWorkerKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the outflow binary")
	}
	const password = "pages-pa55-value"
	t.Setenv("OUTFLOW_PAGES_PASSWORD", password)
	pki := newMTLSPKI(t, "Partner CA", "outflow")
	pages := &partner.Pages{Total: 45}
	srv := pki.serve(t, pages.Handler())
	defer pages.Release()
	_, plan := pki.project(t, map[string]string{"flow.yaml": fmt.Sprintf(pagesProject, srv.Listener.Addr().(*net.TCPAddr).Port)}, "sync-orders")

	ctx := context.Background()
	st, err := openStack(ctx, &globalFlags{namespace: "default"}, stackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	addr := st.server.FrontendAddress()
	first := startProc(t, "worker connected", "worker", "--address", addr, "--identity", "worker-1")
	run, err := st.client.Start(ctx, plan, nil, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "page 3 to be requested", 2*time.Minute, func() bool { return pages.Held("number", 3) == 1 })
	first.kill9(t)
	pages.Release()
	startProc(t, "worker connected", "worker", "--address", addr, "--identity", "worker-2")

	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	rec, err := st.client.Wait(wctx, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outputs["count"] != 45.0 || rec.Outputs["last"] != 45.0 {
		t.Fatalf("outputs %v", rec.Outputs)
	}
	for n, want := range map[int]int{1: 1, 2: 1, 4: 1, 5: 1, 6: 0} {
		if got := pages.Requests("number", n); got != want {
			t.Errorf("page %d requested %d times, want %d", n, got, want)
		}
	}
	if got := pages.Requests("number", 3); got < 2 {
		t.Errorf("page 3 requested %d times, want the held request and at least one retry", got)
	}
	step := rec.Step("orders")
	if len(step.Pages) != 5 || step.Pages[2].Attempts < 2 || step.Worker != "worker-2" {
		t.Fatalf("pages %+v, last page's worker %q", step.Pages, step.Worker)
	}

	// One activity per page in the history: retries of page 3 are attempts
	// of its activity, not new ones.
	hist := fetchHistory(t, st, run.GetID(), run.GetRunID())
	scheduled, completed := 0, 0
	for _, ev := range hist.Events {
		switch ev.GetEventType() {
		case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			scheduled++
		case enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			completed++
		}
	}
	if scheduled != 5 || completed != 5 {
		t.Errorf("history has %d activities scheduled and %d completed, want 5 and 5", scheduled, completed)
	}
	text := historyText(t, hist)
	basic := base64.StdEncoding.EncodeToString([]byte("svc-outflow:" + password))
	if !strings.Contains(text, "env:OUTFLOW_PAGES_PASSWORD") {
		t.Fatal("the secret reference is not in the decoded history: the search does not see payloads")
	}
	if strings.Contains(text, password) || strings.Contains(text, basic) {
		t.Error("the partner password is in the workflow history")
	}
}

// walkSettings makes flows continue as new after 300 history events.
const walkSettings = `kind: Project
name: walk
history_limit: 300
`

const walkProject = `kind: ProtocolProfile
name: partner-mtls
keystore: {path: client-bundle.pem}
truststore: {paths: [ca.pem]}
---
kind: Connection
name: partner
url: https://127.0.0.1:%d/v2
mutual_auth: true
protocol_profile: partner-mtls
---
kind: Flow
name: walk
steps:
  - id: orders
    local: %v
    rest:
      connection: partner
      path: /pages/number
      paginate: {items: $.results, page: {size_param: per_page, size: 100}}
outputs:
  count: "${{ steps.orders.count }}"
  last: "${{ steps.orders.items[19999].id }}"
`

// TestPaginationContinuesAsNewOnEmbeddedServer walks 200 pages of 100
// items on a real Temporal server with a history limit of 300 events: the
// flow continues as new between pages, carrying 20,000 items, and each page
// is requested once. The time per page is logged (go test -v), not checked.
func TestPaginationContinuesAsNewOnEmbeddedServer(t *testing.T) {
	pki := newMTLSPKI(t, "Partner CA", "outflow")
	ctx := context.Background()
	st, err := openStack(ctx, &globalFlags{namespace: "default"}, stackOptions{embedWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, local := range []bool{false, true} {
		pages := &partner.Pages{Total: 20000}
		srv := pki.serve(t, pages.Handler())
		_, plan := pki.project(t, map[string]string{
			"outflow.yaml": walkSettings,
			"flow.yaml":    fmt.Sprintf(walkProject, srv.Listener.Addr().(*net.TCPAddr).Port, local),
		}, "walk")
		start := time.Now()
		run, err := st.client.Start(ctx, plan, nil, engine.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rec, err := st.client.Wait(ctx, run, nil)
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		if rec.Outputs["count"] != 20000.0 || rec.Outputs["last"] != 20000.0 {
			t.Fatalf("local=%v: outputs %v", local, rec.Outputs)
		}
		// 200 full pages, and an empty 201st that ends the list.
		step := rec.Step("orders")
		if len(step.Pages) != 201 || len(rec.Steps) != 1 {
			t.Fatalf("local=%v: %d pages, %d steps in the record", local, len(step.Pages), len(rec.Steps))
		}
		for i, p := range step.Pages {
			if p.Number != i+1 || pages.Requests("number", i+1) != 1 {
				t.Fatalf("local=%v: page %d recorded as %d, requested %d times", local, i+1, p.Number, pages.Requests("number", i+1))
			}
		}
		if !local && rec.Runs < 2 {
			t.Errorf("200 activities in one run with history_limit 300: the walk did not continue as new (runs %d)", rec.Runs)
		}
		t.Logf("local=%v: 201 pages of 100 items in %s (%.1f ms/page), continued as new %d times", local, took.Round(time.Millisecond), float64(took.Microseconds())/1000/201, rec.Runs)
	}
}
