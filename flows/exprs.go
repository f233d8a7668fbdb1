package flows

import (
	"errors"
	"regexp"
	"strings"
	"unicode/utf8"

	exprast "github.com/expr-lang/expr/ast"
	exprparser "github.com/expr-lang/expr/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/outflow-dev/outflow/engine"
)

// exprSpan is one ${{ ... }} of a template string.
type exprSpan struct {
	code     string // trimmed
	codeFrom int    // byte offset of code in the template
}

// exprSpans finds the expressions of a template the way
// engine.CompileTemplate does; it stops at an unclosed one, which the
// compiler reports.
func exprSpans(s string) []exprSpan {
	var out []exprSpan
	off := 0
	for {
		i := strings.Index(s[off:], "${{")
		if i < 0 {
			return out
		}
		start := off + i + 3
		j := strings.Index(s[start:], "}}")
		if j < 0 {
			return out
		}
		raw := s[start : start+j]
		lead := len(raw) - len(strings.TrimLeft(raw, " \t\r\n"))
		out = append(out, exprSpan{code: strings.TrimSpace(raw), codeFrom: start + lead})
		off = start + j + 2
	}
}

// exprRef is a name an expression reads: inputs.X, vars.X, steps.X, or the
// loop variables item and index.
type exprRef struct {
	root string // inputs, vars, steps, item or index
	name string // X; empty for item and index
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
		switch id.Value {
		case "inputs", "vars", "steps":
			v.refs = append(v.refs, exprRef{root: id.Value, name: prop.Value, at: n.Property.Location().From})
		}
	case *exprast.IdentifierNode:
		if (n.Value == "item" || n.Value == "index" || n.Value == "page") && !v.declared[n.Value] {
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
	return pos{at.Line, col + utf8.RuneCountInString(value[:off])}
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
	return pos{src.blockLine + 1 + strings.Count(before, "\n"), indent + 1 + utf8.RuneCountInString(before[lineStart:])}
}
