package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	exprast "github.com/expr-lang/expr/ast"
	exprparser "github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"

	"github.com/outflow-dev/outflow/engine/yamlkit"
)

// TestCase is a test (a document of kind Test) compiled for a runner, as
// plain data: the plan of its target, its inputs and mocks, its
// expectations, and where each of its values is written, for messages.
// Package flows compiles it; the offline runner runs it and checks the
// record with Verify.
type TestCase struct {
	Name        string
	Description string
	// File is the test's file, relative to the project folder with forward
	// slashes; Line is where its document starts.
	File string
	Line int
	// Target names the flow or action the test runs; Plan is its plan.
	Target string
	Plan   *Plan
	Inputs map[string]any
	// Mocks are in the order the file writes them.
	Mocks []MockRule
	// Events are delivered to the run, each after its delay (events.go).
	Events []TestEvent
	Expect TestExpectation
	// Places maps the path of each value the test writes, such as
	// "expect.outputs.total", to where it is written, "file:line:col"; the
	// path "" is the document itself. Nil for a test not read from a file.
	Places map[string]string
	// Order lists the keys of each mapping of the test, by its path, in
	// the order the file writes them.
	Order map[string][]string
}

// MockRule is the mock of one step path, which may name every item of a
// foreach with [*].
type MockRule struct {
	Step      string         `json:"step"`
	Responses []MockResponse `json:"responses"`
	// At is where the mock is written, "file:line:col".
	At string `json:"at"`
}

// MockResponse is one answer of a mocked partner: an HTTP response, or a
// failure of the network (Error: connection, timeout or tls). Times is how
// many calls it answers before the next one takes over.
type MockResponse struct {
	Status  int
	Headers map[string]any
	Body    any
	Error   string
	Times   int
}

// TestExpectation is what a test run must end with.
type TestExpectation struct {
	Status       string
	Error        string
	Outputs      map[string]any
	OutputsMatch string // subset or exact
	Steps        map[string]TestStepExpectation
	Assert       []Assertion
}

// TestStepExpectation checks the records of the steps of one step path.
type TestStepExpectation struct {
	Status     string
	StatusCode int
	Calls      int
	Request    *TestRequestExpectation
	Error      string
	Outputs    map[string]any
}

// TestRequestExpectation checks what a rest or soap step sent.
type TestRequestExpectation struct {
	Method       string
	URL          string
	Headers      map[string]any
	Body         any
	BodyContains string
}

// Where is the place of the value at path in the test's document, such as
// Where("expect.outputs.total") → "order-sync.test.yaml:31:12", or of its
// nearest written parent; File when the test has no places.
func (tc *TestCase) Where(path string) string {
	if tc.Places == nil {
		return tc.File
	}
	for {
		if at, ok := tc.Places[path]; ok {
			return at
		}
		if path == "" {
			return tc.File
		}
		path = yamlkit.ParentPath(path)
	}
}

// Assertions of tests are expressions like those of flows, but they run
// after the run on its execution record, so they read other names: the
// outputs, the step records by path and the record itself.

// Assertion is an expression that must be true after a test's run, such as
// `${{ len(steps) == 4 }}`: one ${{ ... }}.
type Assertion string

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
		if err := json.Unmarshal([]byte(Stringify(p[0])), &v); err != nil {
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

// Code returns the expression inside the assertion's one ${{ ... }} and
// its byte offset in the string.
func (a Assertion) Code() (string, int, error) {
	s := string(a)
	t := strings.TrimSpace(s)
	spans := ExprSpans(s)
	if len(spans) != 1 || !strings.HasPrefix(t, exprOpen) || !strings.HasSuffix(t, exprClose) {
		return "", 0, errors.New("an assertion is one expression in ${{ }}, such as \"${{ outputs.count == 3 }}\"")
	}
	return spans[0].Code, spans[0].CodeFrom, nil
}

// Check evaluates the assertion in env. When it is false, detail says what
// the sides of its comparison were, such as `outputs.count is 2`.
func (a Assertion) Check(env AssertEnv) (ok bool, detail string, err error) {
	code, _, err := a.Code()
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

var exprLocation = regexp.MustCompile(`\s*\(\d+:\d+\)$`)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// CompileAssertCode compiles the code of an assertion (what Code returns),
// so that a loader reports a bad assertion before any run.
func CompileAssertCode(code string) error {
	_, err := compileAssertCode(code)
	return err
}
