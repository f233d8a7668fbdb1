package flows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	exprast "github.com/expr-lang/expr/ast"
	exprparser "github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"github.com/goccy/go-yaml/ast"
	"github.com/invopop/jsonschema"

	"github.com/outflow-dev/outflow/engine"
)

// Assertions of tests are expressions like those of flows, but they run
// after the run on its execution record, so they read other names: the
// outputs, the step records by path and the record itself. They are
// compiled here rather than by package engine, whose expressions see only
// what a running flow sees.

// AssertEnv is what an assertion reads.
type AssertEnv struct {
	Outputs any `expr:"outputs"`
	Inputs  any `expr:"inputs"`
	Steps   any `expr:"steps"`
	Record  any `expr:"record"`
}

var assertOptions = []expr.Option{
	expr.Env(AssertEnv{}),
	expr.Function("tojson", func(p ...any) (any, error) {
		b, err := json.Marshal(p[0])
		return string(b), err
	}, new(func(any) string)),
	expr.Function("fromjson", func(p ...any) (any, error) {
		var v any
		if err := json.Unmarshal([]byte(engine.Stringify(p[0])), &v); err != nil {
			return nil, fmt.Errorf("fromjson: %w", err)
		}
		return v, nil
	}, new(func(string) any)),
}

var assertCache sync.Map // code → *vm.Program

func compileAssertCode(code string) (*vm.Program, error) {
	if p, ok := assertCache.Load(code); ok {
		return p.(*vm.Program), nil
	}
	p, err := expr.Compile(code, assertOptions...)
	if err != nil {
		return nil, err
	}
	assertCache.Store(code, p)
	return p, nil
}

// code returns the expression inside the assertion's one ${{ ... }} and its
// byte offset in the string.
func (a Assertion) code() (string, int, error) {
	s := string(a)
	spans := exprSpans(s)
	t := strings.TrimSpace(s)
	if len(spans) != 1 || !strings.HasPrefix(t, "${{") || !strings.HasSuffix(t, "}}") {
		return "", 0, errors.New("an assertion is one expression in ${{ }}, such as \"${{ outputs.count == 3 }}\"")
	}
	return spans[0].code, spans[0].codeFrom, nil
}

// Check evaluates the assertion in env. When it is false, detail says what
// the sides of its comparison were, such as `outputs.count is 2`.
func (a Assertion) Check(env AssertEnv) (ok bool, detail string, err error) {
	code, _, err := a.code()
	if err != nil {
		return false, "", err
	}
	prog, err := compileAssertCode(code)
	if err != nil {
		return false, "", err
	}
	v, err := expr.Run(prog, env)
	if err != nil {
		return false, "", fmt.Errorf("evaluating %q: %w", code, err)
	}
	b, isBool := v.(bool)
	if !isBool {
		return false, fmt.Sprintf("it is %s, not true or false", show(v)), nil
	}
	if b {
		return true, "", nil
	}
	return false, sides(code, env), nil
}

// sides evaluates the operands of a comparison that are not literals, so
// that a failed assertion shows the values it compared.
func sides(code string, env AssertEnv) string {
	tree, err := exprparser.Parse(code)
	if err != nil || tree == nil {
		return ""
	}
	bin, ok := tree.Node.(*exprast.BinaryNode)
	if !ok {
		return ""
	}
	switch bin.Operator {
	case "==", "!=", "<", ">", "<=", ">=", "in", "not in", "contains", "startsWith", "endsWith", "matches":
	default:
		return ""
	}
	var parts []string
	for _, n := range []exprast.Node{bin.Left, bin.Right} {
		switch n.(type) {
		case *exprast.IntegerNode, *exprast.FloatNode, *exprast.StringNode, *exprast.BoolNode, *exprast.NilNode, *exprast.ConstantNode:
			continue
		}
		src := n.String()
		prog, err := compileAssertCode(src)
		if err != nil {
			continue
		}
		v, err := expr.Run(prog, env)
		if err != nil {
			parts = append(parts, fmt.Sprintf("%s fails: %v", src, err))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s is %s", src, show(v)))
	}
	return strings.Join(parts, ", ")
}

// show renders a value for messages about tests: strings quoted, the rest
// as compact JSON, long values cut short.
func show(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	// Bodies are often XML: keep <, > and & readable.
	enc.SetEscapeHTML(false)
	s := fmt.Sprint(v)
	if enc.Encode(v) == nil {
		s = strings.TrimSuffix(b.String(), "\n")
	}
	if len(s) > 200 {
		s = s[:197] + "..."
	}
	return s
}

func (a *Assertion) decodeYAML(dec *decoder, n ast.Node, path string) {
	s, ok := stringValue(n)
	if !ok {
		dec.errAt(n, path, "expected an expression such as \"${{ outputs.count == 3 }}\", got %s", describe(n))
		return
	}
	*a = Assertion(s)
	dec.noteString(n, path, s)
	if _, _, err := a.code(); err != nil {
		dec.errAt(n, path, "%v", err)
	}
}

// JSONSchema states that an assertion is a string holding an expression.
func (Assertion) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{Type: "string", Pattern: `^\s*\$\{\{[\s\S]*\}\}\s*$`}
}
