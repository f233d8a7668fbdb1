package engine

import (
	"fmt"
	"strings"
	"testing"
)

// simulateSteps does to a record what the interpreter does for n steps of
// a foreach whose own record runs meanwhile: before each step the record is
// trimmed (newStepRecord), the step is appended running, then finishes with
// a request and a response of about 2×size bytes. check, when set, is called
// every 100 steps with the record's JSON size.
func simulateSteps(n, size int, limit int64, check func(i, size int)) *runner {
	r := &runner{plan: &Plan{Settings: Settings{RecordLimit: limit}}, rec: &Record{Flow: "t", Status: StatusRunning, Steps: []*StepRecord{}}}
	r.trimRecord()
	r.rec.Steps = append(r.rec.Steps, &StepRecord{ID: "each", Kind: "foreach", Status: StatusRunning})
	body := strings.Repeat("x", size)
	for i := range n {
		r.trimRecord()
		s := &StepRecord{ID: fmt.Sprintf("each[%d]/post", i), Kind: "rest", Status: StatusRunning}
		r.rec.Steps = append(r.rec.Steps, s)
		s.Status = StatusSucceeded
		s.Request = &RequestSummary{Method: "POST", URL: "https://partner/items", Body: body}
		s.Response = &ResponseSummary{StatusCode: 201, Body: body}
		if check != nil && i%100 == 99 {
			check(i, jsonSize(r.rec))
		}
	}
	r.trimRecord()
	return r
}

// TestRecordStaysBoundedWhileForeachRuns: the items of a running foreach
// are trimmed like any finished steps; the foreach's own record, which
// runs until the last item ends, does not stop the oldest items from being
// removed. Before, nothing behind a running step was ever removed, so a
// long foreach grew its record past the limit (and Temporal's 2 MB) and
// rescanned it all at every step.
func TestRecordStaysBoundedWhileForeachRuns(t *testing.T) {
	const limit = 64 << 10
	r := simulateSteps(5000, 500, limit, func(i, size int) {
		if size > limit+4<<10 {
			t.Fatalf("after %d items the record is %d bytes, over its limit of %d", i+1, size, limit)
		}
	})
	if r.rec.StepsDropped == 0 || r.rec.Steps[0].ID != "each" || r.rec.Steps[0].Status != StatusRunning {
		t.Fatalf("dropped %d, first step %+v", r.rec.StepsDropped, r.rec.Steps[0])
	}
	last := r.rec.Steps[len(r.rec.Steps)-1]
	if last.ID != "each[4999]/post" || last.Dropped || last.Request == nil {
		t.Fatalf("newest step: %+v", last)
	}
	if len(r.rec.Steps)+r.rec.StepsDropped != 5001 {
		t.Fatalf("%d steps kept, %d removed", len(r.rec.Steps), r.rec.StepsDropped)
	}
}

// BenchmarkRecordTrimming measures trimming over 2,000, 10,000 and 20,000
// items of a running foreach (1 MiB record limit, about 1 KiB per item):
// `go test ./engine -run '^$' -bench RecordTrimming -benchtime 1x`.
// The time per step stays flat with the running tally; it grew with the
// number of steps when every call rescanned the record.
func BenchmarkRecordTrimming(b *testing.B) {
	for _, n := range []int{2000, 10000, 20000} {
		b.Run(fmt.Sprintf("%dsteps", n), func(b *testing.B) {
			for range b.N {
				simulateSteps(n, 500, DefaultRecordLimit, nil)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/step")
		})
	}
}
