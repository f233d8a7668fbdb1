package flows

import (
	"fmt"

	"github.com/outflow-dev/outflow/engine"
)

// switchKind covers both branch forms: `switch:` with cases and
// `default:`, and `if:` with `then:` and `else:`. Both compile to the
// engine's switch; the record names the case that ran (case0, case1, …,
// default; then, else).
func switchKind() stepKind {
	return stepKind{
		name:  "switch",
		given: func(st *Step) bool { return st.Switch != nil || st.Then != nil || st.Else != nil },
		owns: []ownedKey{
			{key: "default", set: func(st *Step) bool { return st.Default != nil },
				misplaced: "default belongs to a switch; add switch: with its cases, or remove default:"},
		},
		check:   checkSwitch,
		compile: compileSwitch,
		blocks:  switchBlocks,
	}
}

// Case is one case of a switch: its steps run when `when` holds and no
// case before it did.
type Case struct {
	// The condition, such as `${{ steps.get.json.status == 'open' }}`.
	When Condition `yaml:"when" jsonschema:"required"`
	// The steps to run.
	Steps []Step `yaml:"steps" jsonschema:"required,minItems=1"`
}

func switchBlocks(st *Step, sp string) []block {
	var out []block
	for i := range st.Switch {
		cp := indexPath(sp+".switch", i)
		out = append(out, block{path: cp + ".steps", steps: st.Switch[i].Steps, record: fmt.Sprintf("/case%d/", i)})
	}
	if st.Default != nil {
		out = append(out, block{path: sp + ".default", steps: st.Default, record: "/default/"})
	}
	if st.Then != nil {
		out = append(out, block{path: sp + ".then", steps: st.Then, record: "/then/"})
	}
	if st.Else != nil {
		out = append(out, block{path: sp + ".else", steps: st.Else, record: "/else/"})
	}
	return out
}

func checkSwitch(c *checker, s *stepCheck) {
	doc, sp, st := s.b.doc, s.path, s.st
	if st.Switch != nil && (st.Then != nil || st.Else != nil) {
		key := "then"
		if st.Then == nil {
			key = "else"
		}
		c.errorf(doc, doc.keyPos(sp+"."+key), sp+"."+key, "a step has switch: or if:/then:, not both; put the %s steps in a case or default", key)
		return
	}
	if st.Switch == nil {
		switch {
		case st.Then == nil:
			c.errorf(doc, doc.keyPos(sp+".else"), sp+".else", "else needs then: (and if:) on the same step")
		case st.If == "":
			c.errorf(doc, doc.keyPos(sp+".then"), sp+".then", "then needs if: on the same step: the condition that chooses then or else")
		case len(st.Then) == 0:
			c.errorf(doc, doc.valPos(sp+".then"), sp+".then", "then needs at least one step")
		}
		if st.Else != nil && len(st.Else) == 0 {
			c.errorf(doc, doc.valPos(sp+".else"), sp+".else", "else needs at least one step; remove else: to run nothing")
		}
		return
	}
	if len(st.Switch) == 0 {
		c.errorf(doc, doc.valPos(sp+".switch"), sp+".switch", "switch needs at least one case: {when: EXPR, steps: [...]}")
	}
	for i := range st.Switch {
		cp := indexPath(sp+".switch", i)
		cs := &st.Switch[i]
		if cs.When == "" {
			if !doc.troubled[cp] {
				c.errorf(doc, doc.keyPos(cp), cp, "a case needs when: the condition that chooses it")
			}
		} else {
			c.checkString(doc, cp+".when", string(cs.When), s.env)
		}
		if len(cs.Steps) == 0 && !doc.troubled[cp] {
			c.errorf(doc, doc.keyPos(cp), cp, "a case needs steps: the steps to run when it holds")
		}
	}
	if st.Default != nil && len(st.Default) == 0 {
		c.errorf(doc, doc.valPos(sp+".default"), sp+".default", "default needs at least one step; remove default: to run nothing")
	}
}

func compileSwitch(c *compiler, doc *document, sp string, st *Step, es *engine.Step) {
	if st.Switch == nil {
		// if/then/else: the condition chooses the branch; it no longer skips
		// the step.
		sw := &engine.SwitchStep{Cases: []engine.Case{{Name: "then", When: string(st.If), Steps: c.steps(doc, sp+".then", st.Then)}}}
		if st.Else != nil {
			sw.Default, sw.DefaultName = c.steps(doc, sp+".else", st.Else), "else"
		}
		es.If = ""
		es.Switch = sw
		return
	}
	sw := &engine.SwitchStep{Cases: make([]engine.Case, len(st.Switch))}
	for i := range st.Switch {
		cp := indexPath(sp+".switch", i)
		sw.Cases[i] = engine.Case{Name: fmt.Sprintf("case%d", i), When: string(st.Switch[i].When), Steps: c.steps(doc, cp+".steps", st.Switch[i].Steps)}
	}
	if st.Default != nil {
		sw.Default = c.steps(doc, sp+".default", st.Default)
	}
	es.Switch = sw
}
