package flows

import (
	"fmt"

	"github.com/outflow-dev/outflow/engine"
)

func flowKind() stepKind {
	return stepKind{
		name:  "flow",
		given: func(st *Step) bool { return st.Flow != "" },
		owns: []ownedKey{{key: "with", set: func(st *Step) bool { return st.With != nil },
			misplaced: "with: gives the inputs of an action or flow; add action: NAME or flow: NAME, or remove with:"}},
		check: func(c *checker, s *stepCheck) { c.checkFlowCall(s.b, s.path, s.st, s.env) },
		compile: func(c *compiler, doc *document, sp string, st *Step, es *engine.Step) {
			es.Flow = &engine.FlowCall{Name: st.Flow, With: bindings(doc, sp+".with", st.With)}
		},
		called: func(idx *index, st *Step) (string, []Step, []Step) {
			if fd := idx.flows[st.Flow]; fd != nil {
				f := fd.value.(*Flow)
				return st.Flow, f.Steps, f.OnFailure
			}
			return "", nil, nil
		},
		reach: (*compiler).reachFlow,
	}
}

func (c *checker) checkFlowCall(b *body, sp string, st *Step, env *exprEnv) {
	doc := b.doc
	fp := sp + ".flow"
	target := c.idx.flows[st.Flow]
	if target == nil {
		if c.idx.actions[st.Flow] != nil {
			c.errorf(doc, doc.valPos(fp), fp, "%q is an action; flow: starts flows only, call actions with action: %s", st.Flow, st.Flow)
		} else {
			c.errorf(doc, doc.valPos(fp), fp, "unknown flow %q %s", st.Flow, known(st.Flow, sortedKeys(c.idx.flows), "flows"))
		}
		for _, k := range doc.order[sp+".with"] {
			c.checkValue(doc, joinPath(sp+".with", k), st.With[k], env)
		}
		return
	}
	c.calls[b.name] = append(c.calls[b.name], actionCall{to: st.Flow, doc: doc, path: fp})
	f := target.value.(*Flow)
	c.checkWith(doc, sp+".with", st.With, f.Inputs, fmt.Sprintf("flow %q", f.Name), doc.keyPos(fp), env)
}

// reachFlow compiles the plan of the flow a step starts, once per plan,
// into the plan's Flows. It adds no steps to the caller's plan: the
// child's connections travel in its own plan.
func (c *compiler) reachFlow(st *engine.Step) []engine.Step {
	name := st.Flow.Name
	if c.flows == nil {
		c.flows = map[string]*engine.Plan{}
	}
	if _, done := c.flows[name]; done {
		return nil
	}
	doc := c.p.idx.flows[name]
	if doc == nil {
		return nil
	}
	plan := &engine.Plan{}
	c.flows[name] = plan // before its steps: cycles are refused, but stay finite regardless
	sub := &compiler{p: c.p, actions: map[string]*engine.ActionDef{}, flows: c.flows, child: true}
	*plan = *sub.flowPlan(doc, doc.value.(*Flow))
	sub.finish(c.p, doc, plan)
	return nil
}
