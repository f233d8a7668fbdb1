package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// temporalPayloadLimit is Temporal's default limit on one payload (a query
// answer, a workflow result, a continue-as-new input).
const temporalPayloadLimit = 2 << 20

// runLongFlow runs a plan to its end in the SDK test environment, following
// its continue-as-new runs, and returns the final record, the number of runs
// and the largest continue-as-new input.
func runLongFlow(t *testing.T, p *Plan, act func(context.Context, *RestRequest) (*StepResult, error)) (rec *Record, runs, largestInput int, progress *Record) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	in := RunInput{Plan: p}
	for runs = 1; runs < 20; runs++ {
		env := s.NewTestWorkflowEnvironment()
		env.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
		env.RegisterActivityWithOptions(act, activity.RegisterOptions{Name: RestActivity})
		env.ExecuteWorkflow(WorkflowName, in)
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			size := 0
			for _, pl := range can.Input.GetPayloads() {
				size += len(pl.GetData())
			}
			largestInput = max(largestInput, size)
			in = RunInput{}
			if derr := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); derr != nil {
				t.Fatal(derr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		rec = &Record{}
		if err := env.GetWorkflowResult(rec); err != nil {
			t.Fatal(err)
		}
		v, err := env.QueryWorkflow(ProgressQuery)
		if err != nil {
			t.Fatal(err)
		}
		progress = &Record{}
		if err := v.Get(progress); err != nil {
			t.Fatal(err)
		}
		return rec, runs, largestInput, progress
	}
	t.Fatal("the flow never finished")
	return
}

// TestRecordStaysBoundedOverThousandsOfSteps runs a flow of 3,000 steps that
// each answer with about 1 KiB, about 4 MB of record if all were kept, more
// than Temporal lets a query answer or a workflow result carry. The record
// stays under its limit: the oldest steps lose their details, marked as
// dropped, the last ones keep them, and expressions still read the first
// step's answer.
func TestRecordStaysBoundedOverThousandsOfSteps(t *testing.T) {
	const n = 3000
	padding := strings.Repeat("x", 1000)
	var echoed sync.Map // step -> path it was called with
	act := func(ctx context.Context, req *RestRequest) (*StepResult, error) {
		echoed.Store(req.StepPath, req.Path)
		return &StepResult{Attempt: 1, Request: RequestSummary{Method: "POST", URL: "https://partner" + req.Path, Body: `{"n":1}`},
			Response: &ResponseSummary{StatusCode: 201, Headers: map[string]string{"content-type": "application/json"},
				JSON: map[string]any{"path": req.Path, "padding": padding}, BodySize: 1030}}, nil
	}
	steps := make([]Step, n)
	for i := range steps {
		steps[i] = Step{ID: fmt.Sprintf("s%04d", i+1), Local: true, Rest: &RestStep{Connection: "p", Method: "POST", Path: fmt.Sprintf("/items/%d", i+1)}}
	}
	// A late step reads the answer of the first, whose record details are
	// long dropped by then.
	steps[1999].Rest.Path = "/echo${{ steps.s0001.json.path }}"
	p := testPlan(steps...)
	p.Inputs = nil
	p.Outputs = []Binding{{Name: "first", Value: "${{ steps.s0001.status }}"}, {Name: "last", Value: "${{ steps.s3000.json.path }}"}}

	for _, tc := range []struct {
		name  string
		limit int64
	}{{"default limit", 0}, {"64 KiB limit", 64 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			p.Settings.RecordLimit = tc.limit
			limit := tc.limit
			if limit == 0 {
				limit = DefaultRecordLimit
			}
			rec, runs, largestInput, progress := runLongFlow(t, p, act)
			b, _ := json.Marshal(rec)
			if rec.Status != StatusSucceeded || rec.Outputs["first"] != StatusSucceeded || rec.Outputs["last"] != "/items/3000" {
				t.Fatalf("status %s, outputs %v", rec.Status, rec.Outputs)
			}
			if p, _ := echoed.Load("s2000"); p != "/echo/items/1" {
				t.Errorf("step s2000 was called with %v, want the first step's answer in its path", p)
			}
			if runs > 1 && (len(rec.Notes) == 0 || !strings.Contains(rec.Notes[len(rec.Notes)-1], "were dropped to keep the flow's state under Temporal's payload limit")) {
				t.Errorf("notes: %q", rec.Notes)
			}
			if len(b) > int(limit)+4<<10 || len(b) >= temporalPayloadLimit {
				t.Errorf("the record is %d bytes, over its limit of %d", len(b), limit)
			}
			if largestInput > maxContinueInput {
				t.Errorf("a continue-as-new input was %d bytes", largestInput)
			}
			if len(rec.Steps)+rec.StepsDropped != n {
				t.Fatalf("%d steps recorded and %d dropped, want %d in all", len(rec.Steps), rec.StepsDropped, n)
			}
			first, last := rec.Steps[0], rec.Steps[len(rec.Steps)-1]
			if !first.Dropped || first.Request != nil || first.Response == nil || first.Response.StatusCode != 201 || first.Response.JSON != nil || first.Status != StatusSucceeded {
				t.Errorf("oldest step kept: %+v", first)
			}
			if last.ID != "s3000" || last.Dropped || last.Response == nil || last.Response.JSON == nil {
				t.Errorf("newest step: %+v", last)
			}
			dropped := 0
			for i, s := range rec.Steps {
				if s.Dropped {
					dropped++
					if i > 0 && !rec.Steps[i-1].Dropped {
						t.Fatalf("step %s dropped after %s was kept: not oldest first", s.ID, rec.Steps[i-1].ID)
					}
				}
			}
			var text strings.Builder
			rec.WriteText(&text, false)
			if !strings.Contains(text.String(), fmt.Sprintf("record limit reached: %d earlier steps removed, details of %d more dropped", rec.StepsDropped, dropped)) {
				t.Errorf("the text report does not say the record was trimmed:\n%s", text.String()[:min(500, text.Len())])
			}
			pb, _ := json.Marshal(progress)
			if len(progress.Steps) != len(rec.Steps) || progress.Steps[len(progress.Steps)-1].Response.JSON != nil || len(pb) >= len(b) {
				t.Errorf("progress: %d steps, %d bytes (record %d bytes)", len(progress.Steps), len(pb), len(b))
			}
			t.Logf("%d steps in %d runs: record %d KiB (limit %d KiB), %d steps with details dropped, %d removed; largest continue-as-new input %d KiB; progress answer %d KiB",
				n, runs, len(b)>>10, limit>>10, dropped, rec.StepsDropped, largestInput>>10, len(pb)>>10)
		})
	}
}

// TestPollCallsGetTheirOwnIdempotencyKey polls with POST: every call is a
// new request with its own key (a retry of one call would repeat that
// call's key), so a partner that honours Idempotency-Key does not answer
// every poll with its first answer.
func TestPollCallsGetTheirOwnIdempotencyKey(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	act := func(ctx context.Context, req *RestRequest) (*StepResult, error) {
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, req.IdempotencyKey)
		state := "pending"
		if len(keys) == 3 {
			state = "done"
		}
		return &StepResult{Attempt: 1, Response: &ResponseSummary{StatusCode: 200, JSON: map[string]any{"state": state}}}, nil
	}
	p := testPlan(Step{ID: "check", Rest: &RestStep{Connection: "p", Method: "POST", Path: "/jobs/7/check"},
		Poll: &Poll{Until: "${{ steps.check.json.state == 'done' }}", Interval: Duration(time.Minute), MaxAttempts: 5}})
	p.Inputs = nil
	rec, _, _, _ := runLongFlow(t, p, act)
	if rec.Status != StatusSucceeded {
		t.Fatalf("status %s", rec.Status)
	}
	want := "default-test-workflow-id/check,default-test-workflow-id/check#2,default-test-workflow-id/check#3"
	if got := strings.Join(keys, ","); got != want {
		t.Fatalf("keys %s, want %s", got, want)
	}
}

// TestRecordTrimmingCostIsFlat counts the work trimming does (steps looked
// at, bytes marshalled) over 2,000 and 20,000 items of a running foreach:
// per item it is the same, about three times an item's size (measured when
// it finishes, when its details are dropped, and once more if removed), not
// a multiple of the record's length.
func TestRecordTrimmingCostIsFlat(t *testing.T) {
	perStep := map[int]float64{}
	for _, n := range []int{2000, 20000} {
		r := simulateSteps(n, 500, DefaultRecordLimit, nil)
		perStep[n] = float64(r.budget.work) / float64(n)
		if n == 20000 && r.rec.StepsDropped == 0 {
			t.Fatalf("%d steps: nothing removed", n)
		}
	}
	item := float64(jsonSize(&StepRecord{ID: "each[10000]/post", Kind: "rest", Status: StatusSucceeded,
		Request:  &RequestSummary{Method: "POST", URL: "https://partner/items", Body: strings.Repeat("x", 500)},
		Response: &ResponseSummary{StatusCode: 201, Body: strings.Repeat("x", 500)}}))
	for n, w := range perStep {
		if w > 3*item {
			t.Errorf("%d steps: %.0f units of work per step, more than three times a step's %.0f bytes", n, w, item)
		}
	}
	if perStep[20000] > 1.1*perStep[2000] {
		t.Errorf("work per step grew from %.0f (2,000 steps) to %.0f (20,000 steps)", perStep[2000], perStep[20000])
	}
	t.Logf("work per step: %.0f at 2,000 steps, %.0f at 20,000; a step is %.0f bytes", perStep[2000], perStep[20000], item)
}
