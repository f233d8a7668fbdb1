package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

// TestEventsMeasureGateway measures, on the embedded server with the
// in-process worker and a TLS gateway: webhook requests per second that
// each start an execution (respond: accepted, bearer auth), and the time
// from a callback's arrival at the gateway (the event's received_at) to
// the waiting step's completion (its end in the record). Logged with
// MEASURE (go test -v), not asserted; each run is checked for success.
func TestEventsMeasureGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("measures")
	}
	e := newEventsEnv(t)
	ctx := context.Background()

	const hooks, workers = 300, 16
	var next, failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > hooks {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/hooks/bearer?n=m%d", e.gwURL, i), nil)
				req.Header.Set("Authorization", "Bearer "+evtBearer)
				resp, err := e.client.Do(req)
				if err != nil || resp.StatusCode != http.StatusAccepted {
					failed.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if failed.Load() != 0 {
		t.Fatalf("%d webhook requests failed", failed.Load())
	}
	if !e.started(t, fmt.Sprintf("bearer-hook-m%d", hooks)) {
		t.Fatal("the last webhook started nothing")
	}
	t.Logf("MEASURE webhook -> started execution: %d requests, %d concurrent, %v: %.0f requests/s",
		hooks, workers, took.Round(time.Millisecond), float64(hooks)/took.Seconds())

	plan := e.plans[3]
	const waits = 30
	var lat []time.Duration
	for i := 0; i < waits; i++ {
		run, err := e.st.client.Start(ctx, plan, nil, engine.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		waitForStep(t, e.st, run.GetID(), "paid", engine.StatusWaiting)
		cb := engine.CallbackURL(e.gwURL, e.key, run.GetID(), run.GetRunID(), "paid")
		if c := e.partner.call(cb, fmt.Sprint(i)); c != http.StatusAccepted {
			t.Fatalf("callback answered %d", c)
		}
		rec, err := e.st.client.Wait(ctx, run, nil)
		if err != nil {
			t.Fatal(err)
		}
		st := rec.Step("paid")
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(st.Outputs["received_at"]))
		if err != nil || rec.Outputs["payment"] != fmt.Sprintf("pay-%d", i) {
			t.Fatalf("record %+v: %v", st, err)
		}
		lat = append(lat, st.Start.Add(st.Duration.D()).Sub(at))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("MEASURE callback received -> waiting step completed: median %v, p90 %v, max %v over %d callbacks",
		lat[waits/2].Round(time.Microsecond*100), lat[waits*9/10].Round(time.Microsecond*100), lat[waits-1].Round(time.Microsecond*100), waits)
}
