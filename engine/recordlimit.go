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
// every step's details to the end. Sizes are JSON bytes, measured once per
// finished step (deterministically: encoding/json sorts map keys).
type recordBudget struct {
	sizes map[*StepRecord]int
	total int
	// uncounted and kept are indexes into Record.Steps: every step before
	// uncounted is counted in sizes, every step before kept is counted and
	// has its details dropped. They keep each call from rescanning the record.
	uncounted, kept int
	// dropped is the part of total used by steps whose details are dropped.
	dropped int
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

// trimRecord keeps the record under the plan's record limit.
func (r *runner) trimRecord() { r.trimRecordTo(r.recordLimit()) }

// trimRecordTo counts the steps that finished since the last call and,
// while the record is over limit, drops the details of the oldest finished
// steps; the records of steps whose details were dropped may use half the
// limit, past which the oldest are removed whole (counted in
// Record.StepsDropped). Running steps are never touched: the workflow still
// updates them.
func (r *runner) trimRecordTo(limit int) {
	b := &r.budget
	steps := r.rec.Steps
	if b.sizes == nil {
		// The first call of a run (also after continue-as-new): everything
		// but the steps, then every step.
		b.sizes = map[*StepRecord]int{}
		r.rec.Steps = nil
		b.total = jsonSize(r.rec)
		r.rec.Steps = steps
	}
	for i := b.uncounted; i < len(steps); i++ {
		s := steps[i]
		if _, counted := b.sizes[s]; !counted && s.finished() {
			n := jsonSize(s) + 1
			b.sizes[s] = n
			b.total += n
			if s.Dropped {
				b.dropped += n
			}
		}
		if _, counted := b.sizes[s]; counted && i == b.uncounted {
			b.uncounted++
		}
	}
	for b.total > limit {
		switch {
		case b.kept > 0 && b.dropped > limit/2:
			r.removeOldest()
		case r.dropOldestDetails():
		case b.kept > 0:
			r.removeOldest()
		default:
			return // only running steps are left
		}
	}
}

// dropOldestDetails drops the details of the oldest finished step that
// still has them, and reports whether there was one.
func (r *runner) dropOldestDetails() bool {
	b := &r.budget
	steps := r.rec.Steps
	for i := b.kept; i < len(steps); i++ {
		s := steps[i]
		n, counted := b.sizes[s]
		if !counted {
			continue // running
		}
		if i == b.kept {
			b.kept++
		}
		if s.Dropped {
			continue
		}
		s.dropDetails()
		m := jsonSize(s) + 1
		b.sizes[s] = m
		b.total += m - n
		b.dropped += m
		return true
	}
	return false
}

// removeOldest removes the oldest step record, whose details are dropped.
func (r *runner) removeOldest() {
	b := &r.budget
	s := r.rec.Steps[0]
	n := b.sizes[s]
	b.total -= n
	b.dropped -= n
	delete(b.sizes, s)
	r.rec.Steps[0] = nil
	r.rec.Steps = r.rec.Steps[1:]
	r.rec.StepsDropped++
	b.kept--
	b.uncounted--
}

// maxContinueInput bounds the input of a continue-as-new (plan, inputs,
// vars, step data and record), under Temporal's default 2 MB payload limit.
const maxContinueInput = 1536 << 10

// boundResume keeps a continue-as-new input under maxContinueInput: the
// record is trimmed to at most half of it, and the data of the oldest
// top-level steps (what expressions read as steps.<id>) is replaced by its
// status when the rest does not fit. A flow that runs so many steps that
// this happens says so in the record's notes.
func (r *runner) boundResume(in *RunInput, next int) {
	rs := in.Resume
	r.trimRecordTo(min(r.recordLimit(), maxContinueInput/2))
	steps := rs.Steps
	rs.Steps = nil
	budget := maxContinueInput - jsonSize(in)
	rs.Steps = steps
	if jsonSize(steps) <= budget {
		return
	}
	// Every step keeps at least its status; the newest keep their data while
	// it fits.
	stubs := make(map[string]any, len(steps))
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
	}
	budget -= jsonSize(stubs)
	kept := make(map[string]any, len(steps))
	var dropped []string
	for i := min(next, len(r.plan.Steps)) - 1; i >= 0; i-- {
		id := r.plan.Steps[i].ID
		data, ok := steps[id]
		if !ok {
			continue
		}
		if grow := jsonSize(data) - jsonSize(stubs[id]); grow <= budget {
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
