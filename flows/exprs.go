package flows

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	exprast "github.com/expr-lang/expr/ast"
	exprparser "github.com/expr-lang/expr/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/outflow-dev/outflow/engine"
)

// exprSpan is one ${{ ... }} of a template string.
type exprSpan = engine.ExprSpan

// exprSpans finds the expressions of a template as engine.CompileTemplate does.
func exprSpans(s string) []exprSpan { return engine.ExprSpans(s) }

// exprRef is a name an expression reads: inputs.X, vars.X, steps.X,
// execution.X, or one of the names bound in some places only (item, index,
// page, branch).
type exprRef struct {
	root string // inputs, vars, steps, execution, item, index, page or branch
	name string // X; empty for item, index, page and branch
	at   int    // byte offset in the expression
}

// exprRefs lists the names an expression reads with a constant name; names
// computed at run time (steps[inputs.which]) cannot be checked.
func exprRefs(code string) []exprRef {
	tree, err := exprparser.Parse(code)
	if err != nil || tree == nil {
		return nil
	}
	// Names bound with let shadow the environment; collect them first, as
	// the walk visits a declaration after its body.
	decls := &declVisitor{declared: map[string]bool{}}
	exprast.Walk(&tree.Node, decls)
	v := &refVisitor{declared: decls.declared}
	exprast.Walk(&tree.Node, v)
	return v.refs
}

type declVisitor struct{ declared map[string]bool }

func (v *declVisitor) Visit(node *exprast.Node) {
	if n, ok := (*node).(*exprast.VariableDeclaratorNode); ok {
		v.declared[n.Name] = true
	}
}

type refVisitor struct {
	refs     []exprRef
	declared map[string]bool
}

func (v *refVisitor) Visit(node *exprast.Node) {
	switch n := (*node).(type) {
	case *exprast.MemberNode:
		id, ok := n.Node.(*exprast.IdentifierNode)
		if !ok || v.declared[id.Value] {
			return
		}
		prop, ok := n.Property.(*exprast.StringNode)
		if !ok {
			return
		}
		if r := exprRoot(id.Value); r != nil && r.Key != "" {
			v.refs = append(v.refs, exprRef{root: id.Value, name: prop.Value, at: n.Property.Location().From})
		}
	case *exprast.IdentifierNode:
		if r := exprRoot(n.Value); r != nil && r.Scope != "" && !v.declared[n.Value] {
			v.refs = append(v.refs, exprRef{root: n.Value, at: n.Location().From})
		}
	}
}

// compileError explains why a template does not compile, in one line, with
// the offset of the expression in the template.
func compileError(err error) (string, int) {
	var ee *engine.ExprError
	if errors.As(err, &ee) {
		msg := firstLine(ee.Err.Error())
		// The expression language appends its own (line:column) within the
		// expression; the problem's position already points at it.
		msg = strings.TrimSpace(exprLocation.ReplaceAllString(msg, ""))
		if strings.Contains(msg, `Operator("=")`) {
			// A single = is the commonest slip in a condition.
			msg += "; did you mean ==? Expressions compare with ==, and a single = is not an operator"
		}
		return "invalid expression " + quoteExpr(ee.Code) + ": " + msg, ee.Offset
	}
	return "invalid expression: " + firstLine(err.Error()), 0
}

var exprLocation = regexp.MustCompile(`\s*\(\d+:\d+\)$`)

func quoteExpr(code string) string {
	if len(code) > 80 {
		code = code[:77] + "..."
	}
	return "\"" + strings.ReplaceAll(code, "\"", "\\\"") + "\""
}

// exprPos is the position of byte offset off of the string value at path.
// It points into the string when the source text maps one to one onto the
// value (a plain or quoted scalar on one line without escapes, or a literal
// block), and at the start of the string otherwise.
func exprPos(doc *document, path, value string, off int) pos {
	at := doc.valPos(path)
	src, ok := doc.strs[path]
	tk := src.tok
	if !ok || tk == nil || tk.Position == nil || off < 0 || off > len(value) {
		return at
	}
	if src.blockLine > 0 {
		return literalPos(src, value, off, at)
	}
	if strings.ContainsAny(value[:off], "\n\r") || strings.ContainsAny(strings.TrimRight(tk.Origin, " \t\r\n"), "\n\r") {
		return at
	}
	col := tk.Position.Column
	switch tk.Type {
	case token.StringType:
		if strings.TrimSpace(tk.Origin) != value {
			return at
		}
	case token.DoubleQuoteType:
		if strings.Contains(tk.Origin, "\\") {
			return at
		}
		col++
	case token.SingleQuoteType:
		if strings.Contains(value[:off], "'") {
			return at
		}
		col++
	default:
		return at
	}
	return pos{Line: at.Line, Col: col + utf8.RuneCountInString(value[:off])}
}

// literalPos maps an offset of a literal block scalar (|) onto its lines,
// which the value keeps one for one below the header, less their
// indentation. Folded blocks (>) join lines, so they point at the header.
func literalPos(src strSource, value string, off int, at pos) pos {
	if !strings.HasPrefix(src.blockStyle, "|") {
		return at
	}
	indent := -1
	for _, line := range strings.Split(src.tok.Origin, "\n") {
		if strings.TrimSpace(line) != "" {
			indent = len(line) - len(strings.TrimLeft(line, " "))
			break
		}
	}
	if indent < 0 {
		return at
	}
	before := value[:off]
	lineStart := strings.LastIndexByte(before, '\n') + 1
	return pos{Line: src.blockLine + 1 + strings.Count(before, "\n"), Col: indent + 1 + utf8.RuneCountInString(before[lineStart:])}
}

// walkStrings calls fn for every string in a YAML-shaped value, with its path.
func walkStrings(v any, p string, fn func(p, s string)) {
	switch x := v.(type) {
	case string:
		fn(p, x)
	case map[string]any:
		for _, k := range sortedKeys(x) {
			walkStrings(x[k], joinPath(p, k), fn)
		}
	case []any:
		for i, e := range x {
			walkStrings(e, indexPath(p, i), fn)
		}
	}
}

// exprEnv says what an expression at one place may read.
type exprEnv struct {
	b        *body
	stepPath string            // the step the expression belongs to, if any
	visible  map[string]string // steps that have ended when it is evaluated
	// bound lists the names bound where it runs: item and index in a
	// foreach, page in paginate.stop_when and each_page, branch in a
	// parallel branch.
	bound    boundNames
	noSteps  string          // why no step is available here, if none is
	varsUpTo map[string]bool // in vars: the vars above; nil elsewhere
	// boundOnly, when set, says why only the bound names may be read here.
	boundOnly string
}

// checkValue checks every expression in a YAML-shaped value.
func (c *checker) checkValue(doc *document, p string, v any, env *exprEnv) {
	walkStrings(v, p, func(sp, s string) { c.checkString(doc, sp, s, env) })
}

// checkString compiles the expressions of a template and checks the names
// they read.
func (c *checker) checkString(doc *document, p, s string, env *exprEnv) {
	if !engine.IsTemplate(s) {
		return
	}
	if _, err := engine.CompileTemplate(s); err != nil {
		msg, off := compileError(err)
		c.errorf(doc, exprPos(doc, p, s, off), p, "%s", msg)
		return
	}
	c.noteCallbacks(doc, p, s)
	for _, span := range exprSpans(s) {
		for _, r := range exprRefs(span.Code) {
			at := exprPos(doc, p, s, span.CodeFrom+r.at)
			if msg, warn := c.checkRef(env, r); msg != "" {
				if warn {
					c.warnf(doc, at, p, "%s", msg)
				} else {
					c.errorf(doc, at, p, "%s", msg)
				}
			}
		}
	}
	c.checkResponseReads(doc, p, s, env)
}

// boundOnlyIn says where the names that are bound only in some places are.
var boundOnlyIn = map[string]string{
	"request":   "request is defined only in a webhook trigger's id and inputs; steps read what the trigger maps into inputs",
	"item":      "item is defined only inside the steps of a foreach",
	"index":     "index is defined only inside the steps of a foreach",
	"page":      "page is defined only in paginate.stop_when and paginate.each_page; after the step, read steps.ID.items and steps.ID.pages",
	"branch":    "branch is defined only inside the steps of a parallel branch, where it is the branch's id",
	"iteration": "iteration is defined only inside a repeat (its steps, until, break_when and continue_when)",
	"error":     "error is defined only in the catch: steps of a try step and in on_failure: steps",
	"response":  "response is defined only in fail_when and retry_when of a rest or soap step, where it is the response being judged",
}

// checkRef returns what is wrong with a name an expression reads, and
// whether it is only a warning.
func (c *checker) checkRef(env *exprEnv, r exprRef) (string, bool) {
	b := env.b
	if env.boundOnly != "" && !env.bound.has(r.root) {
		return fmt.Sprintf("%s cannot be read here: %s", r.root, env.boundOnly), false
	}
	switch r.root {
	case "inputs":
		if _, ok := b.inputs[r.name]; ok {
			return "", false
		}
		if len(b.inputs) == 0 {
			if b.what == "flow" {
				return fmt.Sprintf("inputs.%s is not declared; declare it under inputs: so that runs are checked", r.name), true
			}
			return fmt.Sprintf("unknown input %q: %s declares no inputs; declare it under inputs:", r.name, b.owner()), false
		}
		return fmt.Sprintf("unknown input %q %s", r.name, known(r.name, sortedKeys(b.inputs), "inputs")), false
	case "vars":
		if b.vars == nil && !b.setLater[r.name] {
			return fmt.Sprintf("vars.%s: actions have no vars; pass the value as an input", r.name), false
		}
		if env.varsUpTo != nil && b.vars[r.name] && !env.varsUpTo[r.name] {
			return fmt.Sprintf("vars.%s is defined at or below this var; a var can use only the vars above it", r.name), false
		}
		if !b.vars[r.name] && b.setLater[r.name] {
			return fmt.Sprintf("vars.%s is read before any set: assigns it (or it is set only inside a foreach item or parallel branch, where it stays); set it above, or declare it under vars:", r.name), false
		}
		if !b.vars[r.name] {
			return fmt.Sprintf("unknown var %q %s", r.name, known(r.name, sortedKeys(b.vars), "vars")), false
		}
	case "steps":
		if env.noSteps != "" {
			return fmt.Sprintf("steps.%s cannot be read here: %s", r.name, env.noSteps), false
		}
		if _, ok := env.visible[r.name]; ok {
			return "", false
		}
		return c.explainStep(env, r.name), false
	case "execution":
		if !engine.IsExecutionField(r.name) {
			names := make([]string, len(engine.ExecutionFields))
			for i, f := range engine.ExecutionFields {
				names[i] = f.Name
			}
			return fmt.Sprintf("unknown field execution.%s (fields: %s)", r.name, strings.Join(names, ", ")), false
		}
	case "item", "index", "page", "branch", "iteration", "error", "response", "request":
		if !env.bound.has(r.root) {
			return boundOnlyIn[r.root], false
		}
		if r.root == "error" && r.name != "" && !engine.IsErrorField(r.name) {
			names := make([]string, len(engine.ErrorFields))
			for i, f := range engine.ErrorFields {
				names[i] = f.Name
			}
			return fmt.Sprintf("unknown field error.%s (fields: %s)", r.name, strings.Join(names, ", ")), false
		}
	}
	return "", false
}

// exprRoot returns the root of engine.ExprRoots named name, or nil.
func exprRoot(name string) *engine.ExprRoot {
	for i := range engine.ExprRoots {
		if engine.ExprRoots[i].Name == name {
			return &engine.ExprRoots[i]
		}
	}
	return nil
}
