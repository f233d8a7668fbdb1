package flows

import (
	"fmt"
	"strconv"
	"strings"

	exprast "github.com/expr-lang/expr/ast"
	exprparser "github.com/expr-lang/expr/parser"

	"github.com/outflow-dev/outflow/engine/openapi"
)

// responseRead is an expression's read of a REST step's JSON response,
// such as steps.get.json.customer.tier.
type responseRead struct {
	step string
	segs []readSeg // after json
	code string    // the chain as written, for messages
}

type readSeg struct {
	name  string
	index bool // [0] or [i]: any item of a list
	at    int  // offset in the expression
}

// responseReads lists the reads of steps.ID.json.… an expression makes
// with constant names.
func responseReads(code string) []responseRead {
	tree, err := exprparser.Parse(code)
	if err != nil || tree == nil {
		return nil
	}
	v := &readVisitor{}
	exprast.Walk(&tree.Node, v)
	return v.reads
}

type readVisitor struct {
	reads []responseRead
}

func (v *readVisitor) Visit(node *exprast.Node) {
	m, ok := (*node).(*exprast.MemberNode)
	if !ok {
		return
	}
	chain, ok := memberChain(m)
	if !ok || len(chain) < 4 || chain[0].name != "steps" || chain[2].name != "json" || chain[1].index || chain[2].index {
		return
	}
	var names []string
	for _, s := range chain {
		if s.index {
			names = append(names, "[…]")
		} else {
			names = append(names, s.name)
		}
	}
	v.reads = append(v.reads, responseRead{step: chain[1].name, segs: chain[3:], code: strings.ReplaceAll(strings.Join(names, "."), ".[…]", "[…]")})
}

// memberChain reads a.b[0].c into its parts; ok is false when a part is
// computed at run time or the chain does not start at a name.
func memberChain(n exprast.Node) ([]readSeg, bool) {
	switch x := n.(type) {
	case *exprast.ChainNode:
		return memberChain(x.Node)
	case *exprast.IdentifierNode:
		return []readSeg{{name: x.Value, at: x.Location().From}}, true
	case *exprast.MemberNode:
		base, ok := memberChain(x.Node)
		if !ok {
			return nil, false
		}
		switch p := x.Property.(type) {
		case *exprast.StringNode:
			return append(base, readSeg{name: p.Value, at: p.Location().From}), true
		case *exprast.IntegerNode:
			return append(base, readSeg{index: true, at: p.Location().From}), true
		default:
			// A computed key: [i] into a list reads any item; a computed
			// name cannot be checked.
			return append(base, readSeg{index: true, name: "\x00", at: x.Property.Location().From}), true
		}
	}
	return nil, false
}

// checkResponseReads warns of an expression that reads a field of a REST
// step's JSON response that the schemas of the responses the step expects
// do not have.
func (c *checker) checkResponseReads(doc *document, p, s string, env *exprEnv) {
	if env == nil || env.b == nil || len(c.l.oas.steps) == 0 {
		return
	}
	seen := map[string]bool{}
	for _, span := range exprSpans(s) {
		for _, rd := range responseReads(span.Code) {
			stepPath, ok := env.visible[rd.step]
			if !ok {
				continue
			}
			so := c.l.oas.stepOp(env.b.doc, stepPath)
			if so == nil || so.rest.Paginate != nil {
				continue
			}
			msg, off := so.checkRead(rd)
			if msg == "" || seen[msg] {
				continue
			}
			seen[msg] = true
			c.warnf(doc, exprPos(doc, p, s, span.CodeFrom+off), p, "%s", msg)
		}
	}
}

// expectedResponses are the responses of the status codes a step expects
// (its expect:, else the 2xx the operation declares) that have a schema.
func (so *oasStepOp) expectedResponses() []openapi.Response {
	var out []openapi.Response
	for _, r := range so.op.Responses {
		if r.Schema == nil || (r.ContentType != "" && !openapi.IsJSONType(r.ContentType)) {
			continue
		}
		if len(so.rest.Expect) == 0 {
			if strings.HasPrefix(r.Code, "2") {
				out = append(out, r)
			}
			continue
		}
		for _, e := range so.rest.Expect {
			if r.Code == strconv.Itoa(e) || strings.EqualFold(r.Code, fmt.Sprintf("%dXX", e/100)) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// checkRead follows a read through the response schemas; it returns a
// warning and the offset of the field at fault when no schema has it.
func (so *oasStepOp) checkRead(rd responseRead) (string, int) {
	resps := so.expectedResponses()
	if len(resps) == 0 {
		return "", 0
	}
	defs := so.spec.Schemas
	bestDepth := -1
	var bestMsg string
	var bestAt int
	var codes []string
	for _, r := range resps {
		codes = append(codes, r.Code)
	}
	for _, r := range resps {
		sc := r.Schema
		failed := false
		for i, seg := range rd.segs {
			if seg.index {
				if seg.name == "\x00" && openapi.Items(defs, sc) == nil {
					return "", 0 // a computed name: nothing to check
				}
				it := openapi.Items(defs, sc)
				if it == nil {
					break
				}
				sc = it
				continue
			}
			props, open := openapi.Properties(defs, sc)
			next, ok := props[seg.name]
			if !ok {
				if open {
					break
				}
				if i > bestDepth {
					fields := sortedKeys(props)
					bestDepth = i
					bestAt = seg.at
					bestMsg = fmt.Sprintf("%s: the response of operation %s (%s) has no field %q here %s",
						rd.code, so.op.Name(), strings.Join(codes, ", "), seg.name, known(seg.name, fields, "fields"))
				}
				failed = true
				break
			}
			sc = next
		}
		if !failed {
			return "", 0
		}
	}
	return bestMsg, bestAt
}
