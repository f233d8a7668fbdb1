package flows

import (
	"github.com/outflow-dev/outflow/engine"
)

func foreachKind() stepKind {
	return stepKind{
		name:  "foreach",
		given: func(st *Step) bool { return st.Foreach != "" },
		owns: []ownedKey{
			{key: "concurrency", set: func(st *Step) bool { return st.Concurrency != 0 },
				misplaced: "concurrency belongs to a foreach; add foreach: or remove concurrency:"},
			{key: "break_when", set: func(st *Step) bool { return st.BreakWhen != "" },
				misplaced: "break_when belongs to a foreach (or inside repeat:); add foreach: or remove break_when:"},
			{key: "continue_when", set: func(st *Step) bool { return st.ContinueWhen != "" },
				misplaced: "continue_when belongs to a foreach (or inside repeat:); add foreach: or remove continue_when:"},
			{key: "steps", set: func(st *Step) bool { return len(st.Steps) > 0 }, alone: true,
				misplaced: "steps: inside a step belongs to a foreach; add foreach: to run them for each item, or use parallel: to run branches at the same time"},
		},
		check: checkForeach,
		compile: func(c *compiler, doc *document, sp string, st *Step, es *engine.Step) {
			es.Foreach = &engine.Foreach{Items: st.Foreach, Concurrency: st.Concurrency, Steps: c.steps(doc, sp+".steps", st.Steps),
				BreakWhen: string(st.BreakWhen), ContinueWhen: string(st.ContinueWhen)}
		},
		blocks: func(st *Step, sp string) []block {
			if st.Foreach == "" && len(st.Steps) == 0 {
				return nil
			}
			return []block{{path: sp + ".steps", steps: st.Steps, per: "item", record: "[*]/", binds: []string{"item", "index"}}}
		},
	}
}

func checkForeach(c *checker, s *stepCheck) {
	doc, sp, st := s.b.doc, s.path, s.st
	if !engine.IsTemplate(st.Foreach) {
		c.errorf(doc, doc.valPos(sp+".foreach"), sp+".foreach", "foreach takes a list expression such as \"${{ steps.list.json.items }}\", got plain text")
	} else {
		c.checkString(doc, sp+".foreach", st.Foreach, s.env)
	}
	if len(st.Steps) == 0 {
		c.errorf(doc, doc.keyPos(sp+".foreach"), sp, "foreach needs steps: the steps to run for each item")
	}
	guards := &exprEnv{b: s.b, stepPath: sp, visible: s.visible, bound: s.bound.with("item", "index")}
	c.checkString(doc, sp+".break_when", string(st.BreakWhen), guards)
	c.checkString(doc, sp+".continue_when", string(st.ContinueWhen), guards)
}
