package flows

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/invopop/jsonschema"

	"github.com/outflow-dev/outflow/engine"
)

func reflectValue[T any](p *T) reflect.Value { return reflect.ValueOf(p).Elem() }

// stepRef is a step a test can name: its path as the execution record
// writes it, with [*] where a foreach writes the item's index.
type stepRef struct {
	path string
	kind string // a step kind's name
}

// stepRefs lists the steps a run of steps records, in order, descending
// into called actions and flows (with their on_failure steps under
// PATH/on_failure/); calling lists the documents being descended, so that a
// cycle (reported elsewhere) stays finite.
func (c *checker) stepRefs(steps []Step, prefix string, calling map[string]bool, out *[]stepRef) {
	for i := range steps {
		st := &steps[i]
		if st.ID == "" {
			continue
		}
		p := prefix + st.ID
		given := givenKinds(st)
		if len(given) == 0 {
			*out = append(*out, stepRef{path: p})
			continue
		}
		k := given[0]
		*out = append(*out, stepRef{path: p, kind: k.name})
		if k.called != nil {
			if name, inner, onFailure := k.called(c.idx, st); name != "" && !calling[name] {
				calling[name] = true
				c.stepRefs(inner, p+"/", calling, out)
				c.stepRefs(onFailure, p+"/on_failure/", calling, out)
				delete(calling, name)
			}
		}
		if k.blocks != nil {
			for _, blk := range k.blocks(st, "") {
				c.stepRefs(blk.steps, p+blk.record, calling, out)
			}
		}
	}
}

var (
	stepPathSyntax = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\[([0-9]+|\*)\])?(/[A-Za-z_][A-Za-z0-9_]*(\[([0-9]+|\*)\])?)*$`)
	foreachIndex   = regexp.MustCompile(`\[[0-9]+\]`)
)

// stepPattern turns a step path as a test writes it into the pattern of
// the steps it names: an index of a foreach item becomes [*].
func stepPattern(path string) string { return foreachIndex.ReplaceAllString(path, "[*]") }

// resolveStepPath finds the step a test's path names, or says why none.
func resolveStepPath(path string, refs []stepRef, wantCall bool, owner string) (stepRef, string) {
	if !stepPathSyntax.MatchString(path) {
		return stepRef{}, fmt.Sprintf("invalid step path %q: write step ids joined by /, with [N] or [*] after a foreach id, such as ack[*]/post", path)
	}
	pat := stepPattern(path)
	for _, r := range refs {
		if r.path == pat {
			return r, ""
		}
	}
	var names []string
	for _, r := range refs {
		if !wantCall || callStep(r.kind) {
			names = append(names, r.path)
		}
	}
	what := "steps"
	if wantCall {
		what = wordList(kindNames(true), "or") + " steps"
	}
	// A foreach step named without its index, or the reverse, is the
	// likely mistake; say so before the list.
	for _, r := range refs {
		if strings.ReplaceAll(r.path, "[*]", "") == strings.ReplaceAll(pat, "[*]", "") {
			return stepRef{}, fmt.Sprintf("%s has no step %q; did you mean %q? (the steps inside a foreach take the item's index or [*] after the foreach id; the foreach step itself takes none)", owner, path, r.path)
		}
	}
	return stepRef{}, fmt.Sprintf("%s has no step %q %s", owner, path, known(path, names, what))
}

func (c *checker) checkTest(doc *document) {
	t := doc.value.(*Test)
	if other := c.idx.flows[t.Name]; other != nil || c.idx.actions[t.Name] != nil {
		if other == nil {
			other = c.idx.actions[t.Name]
		}
		c.errorf(doc, doc.valPos("name"), "name", "test name %q is the name of the %s at %s:%d, so `outflow test %s` would be ambiguous; name the test after what it checks, such as %q",
			t.Name, strings.ToLower(other.kind), other.file, other.at.Line, t.Name, t.Name+"-test")
	}
	var (
		target  *document
		inputs  map[string]Input
		outputs []string
		steps   []Step
	)
	if t.Target != "" {
		target = c.idx.flows[t.Target]
		if target == nil {
			target = c.idx.actions[t.Target]
		}
		if target == nil {
			names := append(sortedKeys(c.idx.flows), sortedKeys(c.idx.actions)...)
			msg := fmt.Sprintf("unknown target %q %s", t.Target, known(t.Target, names, "flows or actions"))
			if c.idx.connections[t.Target] != nil || c.idx.profiles[t.Target] != nil {
				msg = fmt.Sprintf("%q is not a flow or action; a test runs a flow or action %s", t.Target, known(t.Target, names, "flows or actions"))
			}
			c.errorf(doc, doc.valPos("target"), "target", "%s", msg)
		}
	}
	c.checkTestEvents(doc, t.Events)
	owner := ""
	var refs []stepRef
	if target != nil {
		var onFailure []Step
		switch v := target.value.(type) {
		case *Flow:
			inputs, steps, onFailure = v.Inputs, v.Steps, v.OnFailure
			outputs = target.order["outputs"]
			owner = fmt.Sprintf("flow %q", v.Name)
		case *Action:
			inputs, steps, onFailure = v.Inputs, v.Steps, v.OnFailure
			outputs = target.order["outputs"]
			owner = fmt.Sprintf("action %q", v.Name)
		}
		c.stepRefs(steps, "", map[string]bool{target.name: true}, &refs)
		c.stepRefs(onFailure, "on_failure/", map[string]bool{target.name: true}, &refs)
	}

	for _, k := range doc.order["inputs"] {
		kp := joinPath("inputs", k)
		walkStrings(t.Inputs[k], kp, func(sp, s string) {
			if engine.IsTemplate(s) {
				c.errorf(doc, doc.valPos(sp), sp, "test inputs are fixed values; expressions are not evaluated here")
			}
		})
	}
	if target != nil {
		c.checkWith(doc, "inputs", t.Inputs, inputs, owner, doc.keyPos("target"), nil)
	}

	for _, k := range doc.order["mocks"] {
		kp := joinPath("mocks", k)
		if target != nil {
			ref, msg := resolveStepPath(k, refs, true, owner)
			switch {
			case msg != "":
				c.errorf(doc, doc.keyPos(kp), kp, "%s", msg)
			case !callStep(ref.kind):
				c.errorf(doc, doc.keyPos(kp), kp, "step %q is %s step, which sends no request of its own; mock the %s steps it runs%s", k, article(ref.kind), wordList(kindNames(true), "and"), innerExample(ref, refs))
			}
		}
		c.checkMock(doc, kp, t.Mocks[k])
	}

	if t.Expect != nil {
		c.checkExpect(doc, t.Expect, refs, outputs, owner, target != nil)
	}
}

func article(kind string) string {
	if kind == "" {
		return "a"
	}
	if strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}

// innerExample names a mockable step inside a step, for messages.
func innerExample(ref stepRef, refs []stepRef) string {
	for _, r := range refs {
		if callStep(r.kind) && strings.HasPrefix(r.path, ref.path) && len(r.path) > len(ref.path) && strings.ContainsRune("/[", rune(r.path[len(ref.path)])) {
			return fmt.Sprintf(", such as %s", r.path)
		}
	}
	return ""
}

func (c *checker) checkMock(doc *document, kp string, m Mock) {
	for i, r := range m {
		rp := kp
		if _, list := doc.vals[indexPath(kp, 0)]; list {
			rp = indexPath(kp, i)
		}
		if r.Error != "" && (r.Status != 0 || r.Body != nil || len(r.Headers) > 0) {
			c.errorf(doc, doc.keyPos(rp+".error"), rp+".error", "a mock answers with a response or fails with error, not both; remove status, headers and body, or error")
		}
		c.checkHeaderNames(doc, rp+".headers", r.Headers)
		walkStrings(map[string]any(r.Headers), rp+".headers", func(sp, s string) { c.refuseExpression(doc, sp, s, "mocks") })
		walkStrings(r.Body, rp+".body", func(sp, s string) { c.refuseExpression(doc, sp, s, "mocks") })
	}
}

func (c *checker) refuseExpression(doc *document, p, s, what string) {
	if engine.IsTemplate(s) {
		c.errorf(doc, doc.valPos(p), p, "%s are fixed values; expressions are not evaluated here (use assert: for checks that compute)", what)
	}
}

func (c *checker) checkExpect(doc *document, e *Expectation, refs []stepRef, outputs []string, owner string, haveTarget bool) {
	if e.Status == "succeeded" && e.Error != "" {
		c.errorf(doc, doc.keyPos("expect.error"), "expect.error", "error is the error of a failed run, but status is succeeded; remove one")
	}
	for _, k := range doc.order["expect.outputs"] {
		kp := joinPath("expect.outputs", k)
		if haveTarget && !contains(outputs, k) {
			what := "outputs"
			c.errorf(doc, doc.keyPos(kp), kp, "%s has no output %q %s", owner, k, known(k, outputs, what))
		}
		walkStrings(e.Outputs[k], kp, func(sp, s string) { c.refuseExpression(doc, sp, s, "expected outputs") })
	}
	for _, k := range doc.order["expect.steps"] {
		kp := joinPath("expect.steps", k)
		se := e.Steps[k]
		var ref stepRef
		if haveTarget {
			var msg string
			ref, msg = resolveStepPath(k, refs, false, owner)
			if msg != "" {
				c.errorf(doc, doc.keyPos(kp), kp, "%s", msg)
				continue
			}
			if !callStep(ref.kind) {
				for _, f := range []string{"status_code", "calls", "request"} {
					if _, set := doc.keys[kp+"."+f]; set {
						c.errorf(doc, doc.keyPos(kp+"."+f), kp+"."+f, "step %q is %s step; %s applies to %s steps", k, article(ref.kind), f, wordList(kindNames(true), "and"))
					}
				}
			}
			if _, set := doc.keys[kp+".outputs"]; set && ref.kind != "action" {
				c.errorf(doc, doc.keyPos(kp+".outputs"), kp+".outputs", "step %q is %s step; outputs belong to action steps", k, article(ref.kind))
			}
		}
		if se.Request != nil {
			c.checkHeaderNames(doc, kp+".request.headers", se.Request.Headers)
			walkStrings(se.Request.Body, kp+".request.body", func(sp, s string) { c.refuseExpression(doc, sp, s, "expected bodies") })
		}
		walkStrings(se.Outputs, kp+".outputs", func(sp, s string) { c.refuseExpression(doc, sp, s, "expected outputs") })
	}
	for i, a := range e.Assert {
		ap := indexPath("expect.assert", i)
		code, off, err := a.code()
		if err != nil {
			continue // reported while decoding
		}
		if err := engine.CompileAssertCode(code); err != nil {
			msg := firstLine(err.Error())
			msg = strings.TrimSpace(exprLocation.ReplaceAllString(msg, ""))
			c.errorf(doc, exprPos(doc, ap, string(a), off), ap, "invalid assertion %s: %s (assertions read outputs, inputs, steps and record)", quoteExpr(code), msg)
		}
	}
}

func (m *Mock) decodeYAML(dec *decoder, n ast.Node, path string) {
	switch x := n.(type) {
	case *ast.SequenceNode:
		if len(x.Values) == 0 {
			dec.errAt(n, path, "the list of responses is empty; give at least one")
			return
		}
		var list []MockResponse
		dec.decode(n, reflectValue(&list), path)
		*m = list
	case *ast.MappingNode, *ast.MappingValueNode:
		var one MockResponse
		dec.decodeStruct(n, reflectValue(&one), path)
		*m = Mock{one}
	default:
		dec.errAt(n, path, "expected a response (a mapping of status, headers and body) or a list of responses, got %s", describe(n))
	}
}

// JSONSchemaExtend accepts one response as well as a list of them.
func (Mock) JSONSchemaExtend(s *jsonschema.Schema) {
	items := s.Items
	s.Type = ""
	s.Items = nil
	s.OneOf = []*jsonschema.Schema{items, {Type: "array", MinItems: ptr(uint64(1)), Items: items}}
}
