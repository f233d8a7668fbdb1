package flows

import (
	"github.com/outflow-dev/outflow/engine"
)

func setKind() stepKind {
	return stepKind{
		name:  "set",
		given: func(st *Step) bool { return st.Set != nil },
		check: checkSet,
		compile: func(c *compiler, doc *document, sp string, st *Step, es *engine.Step) {
			es.Set = bindings(doc, sp+".set", st.Set)
			if es.Set == nil {
				es.Set = []engine.Binding{}
			}
		},
	}
}

// checkSet checks each value with the vars before it (a value may read the
// ones the same step sets above it), then declares the names for the steps
// after it.
func checkSet(c *checker, s *stepCheck) {
	doc, sp := s.b.doc, s.path+".set"
	if len(s.st.Set) == 0 {
		c.errorf(doc, doc.valPos(sp), sp, "set needs at least one variable: {name: EXPR}")
		return
	}
	b := s.b
	if b.vars == nil {
		b.vars = map[string]bool{}
	}
	for _, k := range doc.order[sp] {
		p := joinPath(sp, k)
		c.checkName(doc, p, "var", k)
		c.checkValue(doc, p, s.st.Set[k], s.env)
		b.vars[k] = true
	}
}

// setNames lists the vars any set of steps assigns, at any depth: reading
// one of them before its set gets a message that says so.
func setNames(steps []Step, p string, out map[string]bool) map[string]bool {
	if out == nil {
		out = map[string]bool{}
	}
	for i := range steps {
		for k := range steps[i].Set {
			out[k] = true
		}
		for _, blk := range allBlocks(&steps[i], indexPath(p, i)) {
			setNames(blk.steps, blk.path, out)
		}
	}
	return out
}
