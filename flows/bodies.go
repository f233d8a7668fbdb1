package flows

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/outflow-dev/outflow/engine"
)

// The checks of the bodies of flows and actions: inputs, vars and outputs,
// the scopes of step ids and which steps an expression may read, and the
// inputs given to an action or a scheduled flow.

// body is the context of the steps of one flow or action.
type body struct {
	doc    *document
	what   string // "flow" or "action"
	name   string
	inputs map[string]Input
	vars   map[string]bool // nil for actions, which have no vars until a set
	// setLater lists the vars a set: step anywhere in the body assigns.
	setLater map[string]bool
	decls    map[string][]decl
	scopes   map[string]*scope // foreach step path → the scope of its steps
	top      *scope
}

func (b *body) owner() string { return fmt.Sprintf("%s %q", b.what, b.name) }

// scope is a sequence of steps whose ids are visible to each other: the
// steps of a flow or action, or of a foreach. The steps of parallel branches
// belong to the scope around the parallel step.
type scope struct {
	parent    *scope
	foreach   string // path of the foreach step that opens it; "" for the top
	foreachID string
	pages     bool              // the foreach is a paginated step's each_page
	ids       map[string]string // id → step path
}

type decl struct {
	path   string
	scope  *scope
	branch string // path of the innermost parallel branch it is in, within its scope
}

func (c *checker) checkRunnable(doc *document, what string, inputs map[string]Input, vars map[string]any, steps []Step, outputs map[string]any, onFailure []Step) *body {
	b := &body{
		doc: doc, what: what, name: doc.name, inputs: inputs,
		decls: map[string][]decl{}, scopes: map[string]*scope{},
	}
	if what == "flow" {
		b.vars = map[string]bool{}
		for k := range vars {
			b.vars[k] = true
		}
	}
	b.setLater = setNames(steps, "steps", nil)
	c.checkInputs(b, inputs)

	upTo := map[string]bool{}
	for _, k := range doc.order["vars"] {
		p := joinPath("vars", k)
		c.checkName(doc, p, "var", k)
		env := &exprEnv{b: b, noSteps: "vars are computed before the first step", varsUpTo: copySet(upTo)}
		c.checkValue(doc, p, vars[k], env)
		upTo[k] = true
	}

	b.top = &scope{ids: map[string]string{}}
	c.declare(b, b.top, "steps", steps, "")
	c.checkShadowing(b)
	visible := map[string]string{}
	c.checkSteps(b, b.top, "steps", steps, visible, nil)
	c.checkOnFailure(b, onFailure, visible)

	for _, k := range doc.order["outputs"] {
		p := joinPath("outputs", k)
		c.checkName(doc, p, "output", k)
		c.checkValue(doc, p, outputs[k], &exprEnv{b: b, visible: visible})
	}
	return b
}

func copySet(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// checkName checks a name that expressions refer to (inputs.NAME).
func (c *checker) checkName(doc *document, p, what, name string) {
	if !identPattern.MatchString(name) {
		help := patternHelp[identPattern.String()]
		if sug := identifierLike(name, identPattern); sug != "" {
			help += fmt.Sprintf(", such as %q", sug)
		}
		c.errorf(doc, doc.keyPos(p), p, "invalid %s name %q: %s", what, name, help)
	}
}

func (c *checker) checkInputs(b *body, inputs map[string]Input) {
	doc := b.doc
	for _, k := range doc.order["inputs"] {
		p := joinPath("inputs", k)
		c.checkName(doc, p, "input", k)
		in := inputs[k]
		if in.Default != nil && !typeOK(in.Default, in.Type) {
			c.errorf(doc, doc.valPos(p+".default"), p+".default", "default %s is not of type %s", literal(in.Default), in.Type)
		}
		if in.Required && in.Default != nil {
			c.warnf(doc, doc.keyPos(p+".required"), p+".required", "an input with a default is never missing, so required has no effect")
		}
	}
}

// literal renders a YAML value for a message: strings quoted, the rest as
// JSON, long values cut short.
func literal(v any) string {
	s := engine.Stringify(v)
	if _, ok := v.(string); ok {
		s = strconv.Quote(s)
	}
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// typeOK reports whether a literal value has an input type.
func typeOK(v any, t string) bool {
	if s, ok := v.(string); ok && engine.IsTemplate(s) {
		return true // known only at run time
	}
	switch t {
	case "", "any":
		return true
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		switch v.(type) {
		case int64, float64:
			return true
		}
	case "integer":
		switch x := v.(type) {
		case int64:
			return true
		case float64:
			return x == float64(int64(x))
		}
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	}
	return false
}

// declare records the step ids of a sequence and the scopes of the steps
// they hold, reporting ids used twice in one scope.
func (c *checker) declare(b *body, sc *scope, p string, steps []Step, branch string) {
	for i := range steps {
		st := &steps[i]
		sp := indexPath(p, i)
		if st.ID != "" {
			if prev, dup := sc.ids[st.ID]; dup {
				c.errorf(b.doc, b.doc.valPos(sp+".id"), sp+".id", "duplicate step id %q: %s (line %d) has it already", st.ID, prev, b.doc.valPos(prev).Line)
			} else {
				sc.ids[st.ID] = sp
				b.decls[st.ID] = append(b.decls[st.ID], decl{path: sp, scope: sc, branch: branch})
			}
		}
		for _, blk := range allBlocks(st, sp) {
			if blk.per == "" {
				c.declare(b, sc, blk.path, blk.steps, blk.branch)
				continue
			}
			inner := &scope{parent: sc, foreach: sp, foreachID: st.ID, pages: blk.per == "page", ids: map[string]string{}}
			b.scopes[blk.path] = inner
			c.declare(b, inner, blk.path, blk.steps, "")
		}
	}
}

// allBlocks lists the sequences of steps a step holds, of every kind it
// gives or half gives.
func allBlocks(st *Step, sp string) []block {
	var out []block
	for _, k := range stepKinds() {
		if k.blocks != nil {
			out = append(out, k.blocks(st, sp)...)
		}
	}
	return out
}

// checkShadowing refuses an id inside a foreach that a step around the
// foreach uses too, so that steps.ID means one step wherever it is read.
func (c *checker) checkShadowing(b *body) {
	for _, id := range sortedKeys(b.decls) {
		for _, d := range b.decls[id] {
			for s := d.scope.parent; s != nil; s = s.parent {
				if other, ok := s.ids[id]; ok {
					around := "this foreach"
					if d.scope.pages {
						around = "these each_page steps"
					}
					c.errorf(b.doc, b.doc.valPos(d.path+".id"), d.path+".id", "step id %q is used by %s (line %d) around %s already; choose another id so that steps.%s means one step", id, other, b.doc.valPos(other).Line, around, id)
					break
				}
			}
		}
	}
}

// checkSteps checks a sequence of steps in order; visible holds the steps
// that have ended when each is evaluated, and grows as it goes.
func (c *checker) checkSteps(b *body, sc *scope, p string, steps []Step, visible map[string]string, bound boundNames) {
	for i := range steps {
		sp := indexPath(p, i)
		st := &steps[i]
		c.checkStep(b, sc, sp, st, visible, bound)
		for id, dp := range sharedIDs(steps[i:i+1], p, i) {
			visible[id] = dp
		}
	}
}

// sharedIDs lists the ids steps add to their scope: their own, and those
// of the steps they hold that share it (parallel branches). from is the
// index of steps[0] in the sequence at p.
func sharedIDs(steps []Step, p string, from int) map[string]string {
	out := map[string]string{}
	for i := range steps {
		sp := indexPath(p, from+i)
		if steps[i].ID != "" {
			out[steps[i].ID] = sp
		}
		for _, blk := range allBlocks(&steps[i], sp) {
			if blk.per != "" {
				continue
			}
			for id, dp := range sharedIDs(blk.steps, blk.path, 0) {
				out[id] = dp
			}
		}
	}
	return out
}

// checkWith checks the inputs given to an action or a scheduled flow
// against the inputs it declares, and their expressions in env unless env
// is nil.
func (c *checker) checkWith(doc *document, p string, given map[string]any, inputs map[string]Input, owner string, missingAt pos, env *exprEnv) {
	under := "with:"
	if p == "inputs" || strings.HasSuffix(p, ".inputs") {
		under = "inputs:"
	}
	for _, k := range doc.order[p] {
		kp := joinPath(p, k)
		in, ok := inputs[k]
		if !ok {
			c.errorf(doc, doc.keyPos(kp), kp, "unknown input %q of %s %s", k, owner, known(k, sortedKeys(inputs), "inputs"))
			continue
		}
		if !typeOK(given[k], in.Type) && given[k] != nil {
			c.errorf(doc, doc.valPos(kp), kp, "input %q of %s is of type %s, got %s", k, owner, in.Type, literal(given[k]))
		}
		if env != nil {
			c.checkValue(doc, kp, given[k], env)
		}
	}
	var missing []string
	for _, k := range sortedKeys(inputs) {
		in := inputs[k]
		if _, ok := given[k]; !ok && in.Required && in.Default == nil {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		at, mp := missingAt, p
		if given != nil {
			at = doc.keyPos(p)
		} else {
			mp = parentPath(p)
		}
		noun := "input"
		if len(missing) > 1 {
			noun = "inputs"
		}
		c.errorf(doc, at, mp, "missing required %s %s of %s; add it under %s", noun, quoteList(missing), owner, under)
	}
}

// explainStep says why steps.ID is not readable where an expression is.
func (c *checker) explainStep(env *exprEnv, id string) string {
	b := env.b
	decls := b.decls[id]
	if len(decls) == 0 {
		var ids []string
		for k := range env.visible {
			ids = append(ids, k)
		}
		if len(ids) == 0 {
			return fmt.Sprintf("unknown step %q; no step has run before this point", id)
		}
		return fmt.Sprintf("unknown step %q %s", id, known(id, ids, "steps"))
	}
	d := decls[0]
	line := b.doc.valPos(d.path).Line
	switch {
	case env.stepPath != "" && d.path == env.stepPath:
		return fmt.Sprintf("step %q refers to itself; its results exist only after it ends", id)
	case env.stepPath != "" && strings.HasPrefix(env.stepPath, d.path+"."):
		return fmt.Sprintf("step %q is the step this expression is part of; its results exist only after it ends", id)
	case d.scope.pages && !strings.HasPrefix(env.stepPath, d.scope.foreach+"."):
		return fmt.Sprintf("step %q runs once per page of the paginated step %s (line %d); its results are in the execution record, not in steps", id, d.scope.foreach, b.doc.valPos(d.scope.foreach).Line)
	case d.scope.foreach != "" && !strings.HasPrefix(env.stepPath, d.scope.foreach+"."):
		return fmt.Sprintf("step %q runs inside the foreach %s (line %d), once per item; read its results as steps.%s.results[INDEX].%s", id, d.scope.foreach, b.doc.valPos(d.scope.foreach).Line, d.scope.foreachID, id)
	case d.branch != "" && !strings.HasPrefix(env.stepPath, d.branch+".") && strings.HasPrefix(env.stepPath, parentPath(parentPath(d.branch))+"."):
		return fmt.Sprintf("step %q runs in another parallel branch (line %d) and may not have ended; read it after the parallel step", id, line)
	}
	return fmt.Sprintf("step %q runs later (line %d); an expression can read only the steps that run before it", id, line)
}
