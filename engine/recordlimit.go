package engine

import (
	"encoding/json"
	"fmt"
)

// ProgressQuery returns a small copy of the record (Record.Progress) for
// following a run without reading every step's request and response.
const ProgressQuery = "progress"

// recordBudget keeps the execution record under the plan's record limit.
// Every record query answers with the whole record and the record is the
// workflow's result and part of continue-as-new input, all of which Temporal
// caps (2 MB by default), so a flow of thousands of steps must not carry
// every step's details to the end.
//
// It keeps a running tally instead of measuring the record again: each step
// is marshalled once when it is first seen finished and once more when its
// details are dropped, and each call looks only at the steps appended since
// the last call and at the steps still running. Sizes are JSON bytes,
// measured deterministically (encoding/json sorts map keys).
type recordBudget struct {
	started bool
	// total is the record's size: base (everything but the steps, measured
	// at the first call of the run) plus the counted steps.
	total, base int
	sizes       map[*StepRecord]int
	// seen is how many of Record.Steps this budget has looked at; pending
	// are those of them still running, in record order.
	seen    int
	pending []*StepRecord
	// full are the counted steps that keep their details, slim those whose
	// details are dropped, each oldest first; slimBytes is slim's share of
	// total.
	full, slim stepQueue
	slimBytes  int
	// work counts the steps looked at and the bytes marshalled, so tests can
	// check the cost per step stays flat.
	work int
	// planSize is the plan's JSON size, measured at the first continue-as-new.
	planSize int
}

// stepQueue is a first-in first-out list of step records.
type stepQueue struct {
	items []*StepRecord
	head  int
}

func (q *stepQueue) len() int { return len(q.items) - q.head }

func (q *stepQueue) push(s *StepRecord) { q.items = append(q.items, s) }

func (q *stepQueue) pop() *StepRecord {
	s := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head > 64 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items = q.items[:n]
		q.head = 0
	}
	return s
}

func (r *runner) recordLimit() int {
	if l := r.plan.Settings.RecordLimit; l > 0 {
		return int(l)
	}
	return DefaultRecordLimit
}

func jsonSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b)
}

// measure is jsonSize counted as work.
func (b *recordBudget) measure(v any) int {
	n := jsonSize(v)
	b.work += n
	return n
}

// trimRecord keeps the record under the plan's record limit.
func (r *runner) trimRecord() { r.trimRecordTo(r.recordLimit()) }

// trimRecordTo counts the steps that finished since the last call and,
// while the record is over limit, drops the details of the oldest finished
// steps; the records of steps whose details were dropped may use half the
// limit, past which the oldest are removed whole (counted in
// Record.StepsDropped). Running steps are never touched: the workflow still
// updates them (a foreach's own record runs while its items come and go).
func (r *runner) trimRecordTo(limit int) {
	b := &r.budget
	if !b.started {
		// The first call of a run (also after continue-as-new): everything
		// but the steps; the steps are all new to this budget.
		b.started = true
		b.sizes = map[*StepRecord]int{}
		steps := r.rec.Steps
		r.rec.Steps = nil
		b.base = b.measure(r.rec)
		r.rec.Steps = steps
		b.total = b.base
	}
	if len(b.pending) > 0 {
		running := b.pending[:0]
		for _, s := range b.pending {
			b.work++
			if s.finished() {
				b.count(s)
			} else {
				running = append(running, s)
			}
		}
		clear(b.pending[len(running):])
		b.pending = running
	}
	steps := r.rec.Steps
	for _, s := range steps[b.seen:] {
		b.work++
		if s.finished() {
			b.count(s)
		} else {
			b.pending = append(b.pending, s)
		}
	}
	b.seen = len(steps)
	for b.total > limit {
		switch {
		case b.slim.len() > 0 && b.slimBytes > limit/2:
			r.removeOldest()
		case b.full.len() > 0:
			b.dropOldestDetails()
		case b.slim.len() > 0:
			r.removeOldest()
		default:
			return // only running steps are left
		}
	}
}

// count adds a finished step to the tally.
func (b *recordBudget) count(s *StepRecord) {
	n := b.measure(s) + 1 // and its comma
	b.sizes[s] = n
	b.total += n
	if s.Dropped {
		b.slim.push(s)
		b.slimBytes += n
		return
	}
	b.full.push(s)
}

// dropOldestDetails drops the details of the oldest finished step that
// still has them.
func (b *recordBudget) dropOldestDetails() {
	s := b.full.pop()
	n := b.sizes[s]
	s.dropDetails()
	m := b.measure(s) + 1
	b.sizes[s] = m
	b.total += m - n
	b.slim.push(s)
	b.slimBytes += m
}

// removeOldest removes the record of the oldest step whose details are
// dropped. Steps still running before it stay where they are.
func (r *runner) removeOldest() {
	b := &r.budget
	s := b.slim.pop()
	n := b.sizes[s]
	b.total -= n
	b.slimBytes -= n
	delete(b.sizes, s)
	steps := r.rec.Steps
	for i, x := range steps {
		b.work++
		if x == s {
			// The steps before it (running ones) move up one place: the
			// oldest step is near the front, so this costs little, and the
			// slice's start moves on (append reallocates it in time).
			copy(steps[1:i+1], steps[:i])
			steps[0] = nil
			r.rec.Steps = steps[1:]
			b.seen--
			r.rec.StepsDropped++
			return
		}
	}
}

// maxContinueInput bounds the input of a continue-as-new (plan, inputs,
// vars, step data and record), under Temporal's default 2 MB payload limit.
const maxContinueInput = 1536 << 10

// boundResume keeps a continue-as-new input under maxContinueInput: the
// record is trimmed to at most half of it, and the data of the oldest
// top-level steps (what expressions read as steps.<id>) is replaced by its
// status when the rest does not fit. A flow that runs so many steps that
// this happens says so in the record's notes. The record's size comes from
// the tally and each step's data is measured once, so this costs the size
// of the state carried, not a multiple of it.
func (r *runner) boundResume(in *RunInput, next int) {
	rs := in.Resume
	r.trimRecordTo(min(r.recordLimit(), maxContinueInput/2))
	b := &r.budget
	if b.planSize == 0 {
		b.planSize = b.measure(in.Plan)
	}
	steps, rec, plan := rs.Steps, rs.Record, in.Plan
	rs.Steps, rs.Record, in.Plan = nil, nil, nil
	rest := b.measure(in)
	rs.Steps, rs.Record, in.Plan = steps, rec, plan
	budget := maxContinueInput - rest - b.planSize - r.recordSize()
	// Sizes of each step's data and of its stub; their sums do not depend
	// on the order the map is read in.
	sizes := make(map[string]int, len(steps))
	total := 2
	for id, data := range steps {
		n := b.measure(data)
		sizes[id] = n
		total += len(id) + 4 + n
	}
	if total <= budget {
		return
	}
	// Every step keeps at least its status; the newest keep their data while
	// it fits.
	stubs := make(map[string]any, len(steps))
	stubSizes := make(map[string]int, len(steps))
	total = 2
	for id, data := range steps {
		stub := map[string]any{"dropped": true}
		if m, ok := data.(map[string]any); ok {
			for _, k := range []string{"status", "status_code"} {
				if v, ok := m[k]; ok {
					stub[k] = v
				}
			}
		}
		stubs[id] = stub
		stubSizes[id] = b.measure(stub)
		total += len(id) + 4 + stubSizes[id]
	}
	budget -= total
	kept := make(map[string]any, len(steps))
	var dropped []string
	for i := min(next, len(r.plan.Steps)) - 1; i >= 0; i-- {
		id := r.plan.Steps[i].ID
		data, ok := steps[id]
		if !ok {
			continue
		}
		if grow := sizes[id] - stubSizes[id]; grow <= budget {
			kept[id] = data
			budget -= grow
			continue
		}
		kept[id] = stubs[id]
		dropped = append(dropped, id)
	}
	rs.Steps = kept
	if len(dropped) > 0 {
		r.rec.Notes = append(r.rec.Notes, fmt.Sprintf(
			"at continue-as-new %d, the answers of %d earlier steps (%s … %s) were dropped to keep the flow's state under Temporal's payload limit; expressions that read them now see only their status",
			r.rec.Runs+1, len(dropped), dropped[len(dropped)-1], dropped[0]))
	}
}

// recordSize is the record's JSON size from the tally, with its base
// measured again (notes and the run count change at continue-as-new).
func (r *runner) recordSize() int {
	b := &r.budget
	steps := r.rec.Steps
	r.rec.Steps = nil
	base := b.measure(r.rec)
	r.rec.Steps = steps
	return b.total - b.base + base
}
