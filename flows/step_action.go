package flows

import (
	"fmt"

	"github.com/outflow-dev/outflow/engine"
)

func actionKind() stepKind {
	return stepKind{
		name:  "action",
		given: func(st *Step) bool { return st.Action != "" },
		owns: []ownedKey{{key: "with", set: func(st *Step) bool { return st.With != nil },
			misplaced: "with: gives the inputs of an action; add action: NAME or remove with:"}},
		check: func(c *checker, s *stepCheck) { c.checkActionCall(s.b, s.path, s.st, s.env) },
		compile: func(c *compiler, doc *document, sp string, st *Step, es *engine.Step) {
			es.Action = &engine.ActionCall{Name: st.Action, With: bindings(doc, sp+".with", st.With)}
		},
		called: func(idx *index, st *Step) (string, []Step, []Step) {
			if ad := idx.actions[st.Action]; ad != nil {
				a := ad.value.(*Action)
				return st.Action, a.Steps, a.OnFailure
			}
			return "", nil, nil
		},
		reach: (*compiler).reachAction,
	}
}

func (c *checker) checkActionCall(b *body, sp string, st *Step, env *exprEnv) {
	doc := b.doc
	ap := sp + ".action"
	target := c.idx.actions[st.Action]
	if target == nil {
		if c.idx.flows[st.Action] != nil {
			c.errorf(doc, doc.valPos(ap), ap, "%q is a flow; action: calls actions only, start a flow with flow: %s %s", st.Action, st.Action, known(st.Action, sortedKeys(c.idx.actions), "actions"))
		} else {
			c.errorf(doc, doc.valPos(ap), ap, "unknown action %q %s", st.Action, known(st.Action, sortedKeys(c.idx.actions), "actions"))
		}
		for _, k := range doc.order[sp+".with"] {
			c.checkValue(doc, joinPath(sp+".with", k), st.With[k], env)
		}
		return
	}
	// Flows are nodes too: an action may start a flow (flow:), so a flow
	// that calls an action that starts it is a cycle.
	c.calls[b.name] = append(c.calls[b.name], actionCall{to: st.Action, doc: doc, path: ap})
	a := target.value.(*Action)
	c.checkWith(doc, sp+".with", st.With, a.Inputs, fmt.Sprintf("action %q", a.Name), doc.keyPos(ap), env)
}

// reachAction compiles the definition of the action a step calls, once
// per plan, and returns its steps.
func (c *compiler) reachAction(st *engine.Step) []engine.Step {
	name := st.Action.Name
	if _, done := c.actions[name]; done {
		return nil
	}
	adoc := c.p.idx.actions[name]
	a := adoc.value.(*Action)
	def := &engine.ActionDef{
		Name:    a.Name,
		Source:  fmt.Sprintf("%s:%d", adoc.file, adoc.at.Line),
		Inputs:  compileInputs(adoc, a.Inputs),
		Outputs: bindings(adoc, "outputs", a.Outputs),
	}
	c.actions[name] = def // before its steps: cycles are refused, but stay finite regardless
	def.Steps = c.steps(adoc, "steps", a.Steps)
	def.OnFailure = c.onFailure(adoc, a.OnFailure)
	return append(append([]engine.Step(nil), def.Steps...), def.OnFailure...)
}
