package flows

import (
	"github.com/outflow-dev/outflow/engine"
)

func tryKind() stepKind {
	return stepKind{
		name:  "try",
		given: func(st *Step) bool { return st.Try != nil },
		owns: []ownedKey{
			{key: "catch", set: func(st *Step) bool { return st.Catch != nil }, alone: true,
				misplaced: "catch: belongs to a try step; put the steps that may fail under try: in the same step"},
			{key: "finally", set: func(st *Step) bool { return st.Finally != nil }, alone: true,
				misplaced: "finally: belongs to a try step; put the steps it follows under try: in the same step"},
		},
		check: checkTry,
		compile: func(c *compiler, doc *document, sp string, st *Step, es *engine.Step) {
			es.Try = &engine.TryStep{
				Steps:   c.steps(doc, sp+".try", st.Try),
				Catch:   c.steps(doc, sp+".catch", st.Catch),
				Finally: c.steps(doc, sp+".finally", st.Finally),
			}
		},
		blocks: func(st *Step, sp string) []block {
			var out []block
			if len(st.Try) > 0 {
				out = append(out, block{path: sp + ".try", steps: st.Try, record: "/try/"})
			}
			if len(st.Catch) > 0 {
				out = append(out, block{path: sp + ".catch", steps: st.Catch, record: "/catch/", binds: []string{"error"}})
			}
			if len(st.Finally) > 0 {
				out = append(out, block{path: sp + ".finally", steps: st.Finally, record: "/finally/"})
			}
			return out
		},
	}
}

func checkTry(c *checker, s *stepCheck) {
	doc, sp, st := s.b.doc, s.path, s.st
	if len(st.Try) == 0 {
		c.errorf(doc, doc.valPos(sp+".try"), sp+".try", "try needs steps: the steps whose failure catch: handles")
	}
	if st.Catch == nil && st.Finally == nil {
		c.errorf(doc, doc.keyPos(sp+".try"), sp, "a try step needs catch: or finally:; without them it only runs its steps")
	}
	if st.Catch != nil && len(st.Catch) == 0 {
		c.errorf(doc, doc.valPos(sp+".catch"), sp+".catch", "catch: is empty; to ignore a failure, give the failing step continue_on_error: true")
	}
	if st.Finally != nil && len(st.Finally) == 0 {
		c.errorf(doc, doc.valPos(sp+".finally"), sp+".finally", "finally: is empty; give it steps or remove it")
	}
}

// checkOnFailure checks the on_failure steps of a flow or action: they
// see `error` and the steps of the body, whichever of them ran.
func (c *checker) checkOnFailure(b *body, steps []Step, visible map[string]string) {
	if steps == nil {
		return
	}
	if len(steps) == 0 {
		c.errorf(b.doc, b.doc.valPos("on_failure"), "on_failure", "on_failure: is empty; give it steps or remove it")
		return
	}
	c.declare(b, b.top, "on_failure", steps, "")
	c.checkSteps(b, b.top, "on_failure", steps, copyMap(visible), boundNames{"error"})
}
