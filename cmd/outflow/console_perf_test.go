package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/examples/partner"
	"github.com/outflow-dev/outflow/worker"
)

var consolePerf = flag.Bool("console-perf", false, "measure the console's time to first paint with 1,000 executions and a 500-step execution (slow; not a CI test)")

const perfProject = `kind: Connection
name: partner
url: http://%s/v2
---
kind: Connection
name: big
url: http://%s
---
kind: Flow
name: big-body
steps:
  - id: get
    rest: {connection: big, method: GET, path: "/big"}
---
kind: Flow
name: tiny
steps:
  - id: get
    local: true
    rest: {connection: partner, method: GET, path: "/customers/1"}
---
kind: Flow
name: five-hundred
steps:
  - id: each
    foreach: "${{ map(1..500, #) }}"
    concurrency: 10
    steps:
      - id: get
        local: true
        rest: {connection: partner, method: GET, path: "/customers/${{ item }}"}
`

// paint is what the browser measured of one page load, in milliseconds
// from the start of navigation.
type paint struct {
	ResponseEnd          float64 `json:"responseEnd"`
	FirstContentfulPaint float64 `json:"fcp"`
	DOMContentLoaded     float64 `json:"dcl"`
	Nodes                int     `json:"nodes"`
}

const paintJS = `(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  return {responseEnd: nav.responseEnd, fcp: fcp ? fcp.startTime : -1, dcl: nav.domContentLoadedEventEnd,
          nodes: document.getElementsByTagName('*').length};
})()`

// TestConsoleFirstPaint measures, with -console-perf, the time to first
// contentful paint of the executions list with 1,000 executions in the
// namespace and of an execution page with 500 steps (median of 5 loads,
// Chromium's Performance timing). It asserts nothing about the numbers: it
// reports them.
func TestConsoleFirstPaint(t *testing.T) {
	if !*consolePerf {
		t.Skip("measurement: run with -console-perf")
	}
	exe := chromiumPath(t)
	p, err := partner.Serve("127.0.0.1:0", nil, partner.New("", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// A partner answering with a JSON body just under the 256 KiB body
	// limit: 1,650 orders of 7 fields.
	var orders []map[string]any
	for i := 0; i < 1650; i++ {
		orders = append(orders, map[string]any{"id": fmt.Sprintf("order-%05d", i), "customer": fmt.Sprintf("C-%d", i%97), "status": "open",
			"amount": float64(i) * 1.25, "currency": "EUR", "lines": []any{map[string]any{"sku": "A-1", "qty": 2}}, "note": "deliver to the back door"})
	}
	bigBody, _ := json.Marshal(map[string]any{"orders": orders})
	bigSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(bigBody)
	}))
	defer bigSrv.Close()
	t.Logf("big body: %d bytes", len(bigBody))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "perf.yaml"), []byte(fmt.Sprintf(perfProject, p.Addr, strings.TrimPrefix(bigSrv.URL, "http://"))), 0o644); err != nil {
		t.Fatal(err)
	}
	proj, err := openProject(dir)
	if err != nil {
		t.Fatal(err)
	}
	tiny, _ := proj.Plan("tiny")
	bigBodyPlan, err := proj.Plan("big-body")
	if err != nil {
		t.Fatal(err)
	}
	big, err := proj.Plan("five-hundred")
	if err != nil {
		t.Fatal(err)
	}
	dev := startDev(t, dir)
	ctx := context.Background()
	tc, err := worker.Dial(ctx, worker.DialOptions{Address: dev.address, Namespace: "default", Plaintext: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	ec := &engine.Client{Temporal: tc, Namespace: "default"}

	started := time.Now()
	var wg sync.WaitGroup
	ids := make(chan int, 1000)
	for i := 0; i < 1000; i++ {
		ids <- i
	}
	close(ids)
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ids {
				if _, err := ec.Start(ctx, tiny, nil, engine.RunOptions{WorkflowID: fmt.Sprintf("tiny-%04d", i)}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	run, err := ec.Start(ctx, big, nil, engine.RunOptions{WorkflowID: "five-hundred"})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ec.Wait(ctx, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Steps) != 501 {
		t.Fatalf("%d steps", len(rec.Steps))
	}
	brun, err := ec.Start(ctx, bigBodyPlan, nil, engine.RunOptions{WorkflowID: "big-body"})
	if err != nil {
		t.Fatal(err)
	}
	if brec, err := ec.Wait(ctx, brun, nil); err != nil || brec.Steps[0].Response == nil || brec.Steps[0].Response.BodyTruncated {
		t.Fatalf("big body run: %v %+v", err, brec)
	}
	waitFor(t, "1,000 executions to be visible", 5*time.Minute, func() bool {
		n, err := tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: "default", Query: "WorkflowType = '" + engine.WorkflowName + "'"})
		return err == nil && n.GetCount() >= 1002
	})
	t.Logf("started and ran 1,002 executions in %s", time.Since(started).Round(time.Second))

	b := newBrowser(t, exe)
	measure := func(name, url, ready string) {
		var ps []paint
		for i := 0; i < 5; i++ {
			b.run(t, name, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(ready)))
			// The paint entry is posted after the paint: ask until it is there.
			var pt paint
			waitFor(t, "the first contentful paint entry", 30*time.Second, func() bool {
				pt = value(t, b, "paint timing", chromedp.Evaluate[paint](paintJS))
				return pt.FirstContentfulPaint > 0
			})
			ps = append(ps, pt)
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].FirstContentfulPaint < ps[j].FirstContentfulPaint })
		m := ps[len(ps)/2]
		t.Logf("%s: first contentful paint %.0f ms (response end %.0f ms, DOMContentLoaded %.0f ms, %d elements); all FCP: %v",
			name, m.FirstContentfulPaint, m.ResponseEnd, m.DOMContentLoaded, m.Nodes, fcps(ps))
	}
	measure("executions list (1,001 executions, first page of 50)", dev.consoleURL+"/executions", "#executions")
	measure("execution page (500 steps)", dev.consoleURL+"/executions/five-hundred", "#steps")
	measure("step page (one of the 500)", dev.consoleURL+"/executions/five-hundred/step?path=each%5B250%5D%2Fget", "#response-body")
	measure("step page with a 250 KiB JSON body (collapsible tree)", dev.consoleURL+"/executions/big-body/step?path=get", "#response-body .tree-json")
}

func fcps(ps []paint) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%.0f", p.FirstContentfulPaint))
	}
	return out
}
