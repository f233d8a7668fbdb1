package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
)

// logicProject is a flow that uses switch, if/then/else, set (flow-wide
// and item-local), now() and the time helpers, repeat with an interval
// and break_when, foreach with continue_when, and fail (in a foreach with
// continue_on_error). It calls no partner: every construct runs in the
// workflow.
const logicProject = `kind: Flow
name: logic
inputs: {mode: {type: string, default: delta}}
steps:
  - id: init
    set: {left: 3, started: "${{ now() }}", day: "${{ formattime(now(), 'date') }}"}
  - id: route
    switch:
      - when: "${{ inputs.mode == 'full' }}"
        steps: [{id: full, set: {size: 100}}]
      - when: "${{ inputs.mode == 'delta' }}"
        steps: [{id: delta, set: {size: 10}}]
    default:
      - id: bad
        fail: {message: "unknown mode", type: BadMode}
  - id: drain
    repeat:
      until: "${{ vars.left == 0 }}"
      max_iterations: 10
      interval: 1s
      steps:
        - id: dec
          set: {left: "${{ vars.left - 1 }}", last: "${{ iteration }}"}
  - id: each
    foreach: "${{ [1, 2, 3] }}"
    continue_when: "${{ item == 2 }}"
    continue_on_error: true
    steps:
      - id: mine
        set: {left: "${{ item * 100 }}"}
      - id: odd
        if: "${{ vars.left == 300 }}"
        then: [{id: boom, fail: {message: "item ${{ item }} refused", type: Refused}}]
        else: [{id: fine, set: {ok: true}}]
  - id: report
    if: "${{ vars.left == 0 }}"
    then: [{id: done, set: {summary: "drained by pass ${{ vars.last }} since ${{ vars.day }}"}}]
outputs:
  summary: "${{ vars.summary }}"
  size: "${{ vars.size }}"
  each: "${{ steps.each.status }}"
  elapsed: "${{ string(date(vars.started) - date(vars.started)) }}"
`

// manyFlow is a flow of n steps of one construct (set, switch, or a
// repeat of n passes), for measuring what a construct costs per step.
func manyFlow(kind string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "kind: Connection\nname: api\nhost: api.example\n---\nkind: Flow\nname: many-%s-%d\nsteps:\n", kind, n)
	switch kind {
	case "skipped":
		// The cheapest step there was: a rest step whose if is false.
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "  - id: s%d\n    if: false\n    rest: {connection: api}\n", i)
		}
	case "set":
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "  - id: s%d\n    set: {x: %d}\n", i, i)
		}
	case "switch":
		b.WriteString("  - id: s\n    set: {x: 1}\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "  - id: w%d\n    switch:\n      - when: \"${{ vars.x == 2 }}\"\n        steps: [{id: a%d, set: {x: 2}}]\n    default: [{id: d%d, set: {x: 1}}]\n", i, i, i)
		}
	case "repeat":
		fmt.Fprintf(&b, "  - id: r\n    repeat:\n      max_iterations: %d\n      steps: [{id: s, set: {x: \"${{ iteration }}\"}}]\n", n)
	}
	return b.String()
}

func logicPlan(t *testing.T, src, name string) *engine.Plan {
	t.Helper()
	p, err := flows.LoadFS(fstest.MapFS{"flow.yaml": {Data: []byte(src)}}, "/p")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan(name)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

func countEvents(h *historypb.History, typ enums.EventType) int {
	n := 0
	for _, e := range h.Events {
		if e.EventType == typ {
			n++
		}
	}
	return n
}

// The logic constructs run on the embedded server: the record says which
// case ran, vars behave as documented, and no activity is scheduled. The
// history is written once to engine/testdata/replay/logic-constructs.json
// (never overwritten) for the replay corpus. Then flows of 1,000 sets,
// 1,000 switches and a repeat of 1,000 passes are timed against a flow of
// one set: the overhead per construct, logged, not asserted.
func TestLogicConstructsOnEmbeddedServer(t *testing.T) {
	ctx := context.Background()
	st, err := openStack(ctx, &globalFlags{namespace: "default"}, stackOptions{embedWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	run, err := st.client.Start(ctx, logicPlan(t, logicProject, "logic"), nil, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := st.client.Wait(ctx, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outputs["summary"] == nil || !strings.HasPrefix(rec.Outputs["summary"].(string), "drained by pass 3 since 20") ||
		rec.Outputs["size"] != 10.0 || rec.Outputs["each"] != engine.StatusFailed || rec.Outputs["elapsed"] != "0s" {
		t.Fatalf("outputs %v", rec.Outputs)
	}
	if r := rec.Step("route"); r == nil || r.Outputs["case"] != "case1" {
		t.Fatalf("route %+v", r)
	}
	if b := rec.Step("each[2]/odd/then/boom"); b == nil || b.Error == nil || b.Error.Type != "Refused" || b.Error.Message != "item 3 refused" {
		t.Fatalf("boom %+v", b)
	}
	if rec.Step("each[1]/mine") != nil {
		t.Fatal("continue_when did not skip item 2")
	}
	hist := fetchHistory(t, st, run.GetID(), run.GetRunID())
	if n := countEvents(hist, enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED); n != 0 {
		t.Fatalf("%d activities scheduled; switch, set, repeat and fail run in the workflow", n)
	}
	if n := countEvents(hist, enums.EVENT_TYPE_TIMER_STARTED); n != 2 {
		t.Fatalf("%d timers, want the repeat's 2 intervals", n)
	}
	out := filepath.Join("..", "..", "engine", "testdata", "replay", "logic-constructs.json")
	if _, err := os.Stat(out); errors.Is(err, os.ErrNotExist) {
		b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(hist)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", out)
	}

	once := func(kind string, n int) (time.Duration, int) {
		plan := logicPlan(t, manyFlow(kind, n), fmt.Sprintf("many-%s-%d", kind, n))
		start := time.Now()
		run, err := st.client.Start(ctx, plan, nil, engine.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.client.Wait(ctx, run, nil); err != nil {
			t.Fatalf("%s x%d: %v", kind, n, err)
		}
		took := time.Since(start)
		h := fetchHistory(t, st, run.GetID(), run.GetRunID())
		if a := countEvents(h, enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED); a != 0 {
			t.Fatalf("%s x%d scheduled %d activities", kind, n, a)
		}
		return took, len(h.Events)
	}
	// The median of five runs, start to result, through the client.
	timed := func(kind string, n int) (time.Duration, int) {
		var d []time.Duration
		events := 0
		for i := 0; i < 5; i++ {
			took, ev := once(kind, n)
			d, events = append(d, took), ev
		}
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[2], events
	}
	base, baseEvents := timed("set", 1)
	t.Logf("MEASURE one set: %v median wall, %d history events", base.Round(time.Millisecond), baseEvents)
	for _, kind := range []string{"skipped", "set", "switch", "repeat"} {
		took, events := timed(kind, 1000)
		t.Logf("MEASURE %s x1000: %v median wall, %d history events; per step over one set: %v",
			kind, took.Round(time.Millisecond), events, ((took - base) / 999).Round(time.Microsecond))
	}
}
