package engine

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/tidwall/gjson"
)

// ExprRoot is a name expressions read, and where it is bound.
type ExprRoot struct {
	Name string
	// Key, for a root read as ROOT.KEY (inputs.customer_id), names what KEY
	// is ("NAME", "ID"), and loaders check it; empty for a value of its own
	// (item).
	Key string
	// Scope is where the name is bound: "" everywhere, "foreach" inside a
	// foreach's steps, "paginate" in paginate.stop_when and
	// paginate.each_page, "parallel" inside a parallel branch, "repeat" inside a repeat's steps, "catch" in catch and on_failure,
	// "judge" in fail_when and retry_when.
	Scope string
	// Doc says what it holds, for docs.
	Doc string
}

// ExprRoots are the names visible to expressions, in the order docs list
// them; anything else is a compile error, so typos are reported by
// `outflow validate` rather than at run time. It is the one list: the
// loader's checks and the reference (`go generate ./flows`) read it, and
// TestExprRootsAreTheEnv keeps the expression environment in step.
var ExprRoots = []ExprRoot{
	{Name: "inputs", Key: "NAME", Doc: "the flow's or action's inputs"},
	{Name: "vars", Key: "NAME", Doc: "the flow's vars, evaluated in order at the start"},
	{Name: "steps", Key: "ID", Doc: "the data of the steps that ran before"},
	{Name: "item", Scope: "foreach", Doc: "the current element of a foreach's list"},
	{Name: "index", Scope: "foreach", Doc: "the position of item in the list, from 0"},
	{Name: "page", Scope: "paginate", Doc: "the page a paginated step just read"},
	{Name: "execution", Key: "FIELD", Doc: "the run itself: id, run_id, flow, started_at, attempt, run"},
	{Name: "branch", Scope: "parallel", Doc: "the id of the parallel branch the step runs in"},
	{Name: "iteration", Scope: "repeat", Doc: "the pass of a repeat, from 1"},
	{Name: "error", Key: "FIELD", Scope: "catch", Doc: "the failure a catch or on_failure step handles: type, message, step, status_code"},
	{Name: "request", Scope: "webhook", Doc: "the request a webhook trigger's id and inputs read, in the gateway: json, body, headers, query, form"},
	{Name: "response", Scope: "judge", Doc: "the response fail_when and retry_when judge, in the activity: status_code, json, body, headers"},
}

const (
	exprOpen  = "${{"
	exprClose = "}}"
)

// ExprSpan is one ${{ ... }} of a template string.
type ExprSpan struct {
	Code     string // trimmed
	CodeFrom int    // byte offset of Code in the template
}

// ExprSpans finds the expressions of a template as CompileTemplate does,
// for loaders that point at a name inside one; it stops at an unclosed
// expression, which CompileTemplate reports.
func ExprSpans(s string) []ExprSpan {
	var out []ExprSpan
	off := 0
	for {
		i := strings.Index(s[off:], exprOpen)
		if i < 0 {
			return out
		}
		start := off + i + len(exprOpen)
		j := strings.Index(s[start:], exprClose)
		if j < 0 {
			return out
		}
		raw := s[start : start+j]
		lead := len(raw) - len(strings.TrimLeft(raw, " \t\r\n"))
		out = append(out, ExprSpan{Code: strings.TrimSpace(raw), CodeFrom: start + lead})
		off = start + j + len(exprClose)
	}
}

type exprEnv struct {
	Inputs    any `expr:"inputs"`
	Steps     any `expr:"steps"`
	Vars      any `expr:"vars"`
	Item      any `expr:"item"`
	Index     any `expr:"index"`
	Branch    any `expr:"branch"`
	Execution any `expr:"execution"`
	// Page is the page just read, in a paginated step's stop_when.
	Page any `expr:"page"`
	// Iteration is the pass of a repeat step, from 1.
	Iteration any `expr:"iteration"`
	// Now is now(): the workflow's deterministic time (workflow.Now), bound
	// by the scope; outside a running flow it fails (exprtime.go).
	Now func() (time.Time, error) `expr:"now" json:"-"`
	// CallbackURL is callback_url(NAME): a URL on the gateway that delivers
	// event NAME to this execution (events.go).
	CallbackURL func(string) (string, error) `expr:"callback_url" json:"-"`
	// Error is the failure a catch or on_failure step handles.
	Error any `expr:"error"`
	// Response is the response a fail_when or retry_when judges, in the activity.
	Response any `expr:"response"`
	// Request is the request a webhook trigger reads, in the gateway.
	Request any `expr:"request"`
	// Tick charges one iteration of a loop body of n nodes; the bounds
	// patcher calls it from each body. A flow cannot name it (see
	// exprInternalPrefix). A typed field, not a function, so each call is a
	// direct one without an argument slice.
	Tick func(n int) int `expr:"outflow__tick" json:"-"`
	// budget is what this evaluation may still spend; expressions cannot
	// see it (unexported), the functions the bounds patcher inserts can.
	budget *exprBudget
}

// Template is a string that may contain ${{ ... }} expressions. A template that
// is exactly one expression evaluates to the expression's value with its type;
// otherwise the parts are joined into a string.
type Template struct {
	source string
	parts  []templatePart
	whole  bool
}

type templatePart struct {
	text    string
	code    string
	program *vm.Program
	// passThrough: the expression only reads a value the flow holds, so its
	// result needs no size check.
	passThrough bool
}

// IsTemplate reports whether s contains an expression.
func IsTemplate(s string) bool { return strings.Contains(s, exprOpen) }

// ExprError is a problem in an expression, with its byte offset in the
// template string so that loaders can point at it.
type ExprError struct {
	Offset int
	Code   string
	Err    error
}

func (e *ExprError) Error() string {
	return fmt.Sprintf("expression %q: %v", e.Code, e.Err)
}

func (e *ExprError) Unwrap() error { return e.Err }

// CompileTemplate parses and compiles every expression in s.
func CompileTemplate(s string) (*Template, error) {
	t := &Template{source: s}
	rest := s
	offset := 0
	for {
		i := strings.Index(rest, exprOpen)
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, templatePart{text: rest})
			}
			break
		}
		if i > 0 {
			t.parts = append(t.parts, templatePart{text: rest[:i]})
		}
		j := strings.Index(rest[i+len(exprOpen):], exprClose)
		if j < 0 {
			return nil, &ExprError{Offset: offset + i, Code: rest[i:], Err: fmt.Errorf("missing closing %q", exprClose)}
		}
		code := strings.TrimSpace(rest[i+len(exprOpen) : i+len(exprOpen)+j])
		if code == "" {
			return nil, &ExprError{Offset: offset + i, Code: rest[i : i+len(exprOpen)+j+len(exprClose)], Err: fmt.Errorf("empty expression")}
		}
		prog, err := compileExpr(code)
		if err != nil {
			return nil, &ExprError{Offset: offset + i, Code: code, Err: err}
		}
		t.parts = append(t.parts, templatePart{code: code, program: prog, passThrough: passThrough(prog.Node())})
		adv := i + len(exprOpen) + j + len(exprClose)
		rest = rest[adv:]
		offset += adv
	}
	t.whole = len(t.parts) == 1 && t.parts[0].program != nil && strings.HasPrefix(strings.TrimSpace(s), exprOpen) && strings.HasSuffix(strings.TrimSpace(s), exprClose)
	if len(t.parts) == 3 && t.parts[0].program == nil && t.parts[2].program == nil &&
		strings.TrimSpace(t.parts[0].text) == "" && strings.TrimSpace(t.parts[2].text) == "" && t.parts[1].program != nil {
		// Surrounding blanks (YAML block scalars end in a newline) do not turn
		// a single expression into a string.
		t.parts = t.parts[1:2]
		t.whole = true
	}
	return t, nil
}

// Source returns the template text.
func (t *Template) Source() string { return t.source }

// Eval evaluates the template in env, within the limits of one evaluation
// (see MaxExprSteps).
func (t *Template) Eval(env map[string]any) (any, error) {
	b := newExprBudget(runBoundsOf(env))
	defer b.settle()
	return t.eval(env, b)
}

func (t *Template) eval(env map[string]any, b *exprBudget) (any, error) {
	if t.whole {
		return runExpr(t.parts[0], env, b)
	}
	strs := make([]string, 0, len(t.parts))
	size := 0
	for _, p := range t.parts {
		if p.program == nil {
			strs = append(strs, p.text)
			size = addSat(size, len(p.text))
			continue
		}
		v, err := runExpr(p, env, b)
		if err != nil {
			return nil, err
		}
		s := Stringify(v)
		strs = append(strs, s)
		size = addSat(size, len(s))
	}
	if err := b.build("the template's text", size); err != nil {
		if !b.enforced() {
			return strings.Join(strs, ""), nil
		}
		return nil, fmt.Errorf("evaluating %q: %w", t.source, err)
	}
	return strings.Join(strs, ""), nil
}

func runExpr(p templatePart, env map[string]any, b *exprBudget) (any, error) {
	e := exprEnv{
		Inputs: env["inputs"], Steps: env["steps"], Vars: env["vars"], Item: env["item"],
		Index: env["index"], Branch: env["branch"], Execution: env["execution"], Page: env["page"],
		Iteration: env["iteration"], Now: nowOf(env), CallbackURL: callbackOf(env),
		Error: env["error"], Response: env["response"], Request: env["request"],
		budget: b, Tick: b.tick,
	}
	if b.legacy() {
		return runLegacyExpr(p, e)
	}
	// Every evaluation costs a step, so one whose run has spent its budget
	// fails even if it would charge nothing more.
	err := b.step("this expression", 1)
	var v any
	if err == nil {
		machine := vm.VM{MemoryBudget: MaxExprElements}
		v, err = machine.Run(p.program, e)
	}
	if err == nil && !p.passThrough {
		err = b.checkResult(v)
	}
	if err != nil {
		if isExprLimit(err) && !b.enforced() {
			// A history recorded before these limits evaluated this
			// expression without them: replay it the same way.
			return runLegacyExpr(p, e)
		}
		return nil, fmt.Errorf("evaluating %q: %w", p.code, explainVMError(err))
	}
	return v, nil
}

// Stringify renders a value for string interpolation: strings as they are,
// nil as empty, numbers without exponent when integral, the rest as JSON.
func Stringify(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		if x == float64(int64(x)) && x < 1e15 && x > -1e15 {
			return fmt.Sprintf("%d", int64(x))
		}
		return fmt.Sprint(x)
	case int, int64, int32, bool, uint, uint64:
		return fmt.Sprint(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case time.Duration:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// exprOptions are the options expressions were compiled with before they
// were bounded; runLegacyExpr replays histories recorded then with them.
func exprOptions() []expr.Option {
	return []expr.Option{
		// Fields typed any: names are checked, values are dynamic.
		expr.Env(exprEnv{}),
		// Workflow code must be deterministic: no clock.
		expr.DisableBuiltin("now"),
		expr.Function("jsonpath", fnJSONPath, new(func(any, string) any)),
		expr.Function("tojson", fnToJSON, new(func(any) string)),
		expr.Function("fromjson", fnFromJSON, new(func(string) any)),
		expr.Function("urlencode", func(p ...any) (any, error) { return url.QueryEscape(Stringify(p[0])), nil }, new(func(any) string)),
		expr.Function("base64", func(p ...any) (any, error) { return base64.StdEncoding.EncodeToString([]byte(Stringify(p[0]))), nil }, new(func(any) string)),
		expr.Function("default", func(p ...any) (any, error) {
			if p[0] == nil || p[0] == "" {
				return p[1], nil
			}
			return p[0], nil
		}, new(func(any, any) any)),
	}
}

// boundedOptions are the options expressions are compiled with: Outflow's
// functions in their checked versions, and the bounds (exprbounds.go).
func boundedOptions(p *boundsPatcher) []expr.Option {
	return append([]expr.Option{
		expr.Env(exprEnv{}),
		expr.DisableBuiltin("now"),
		expr.Function("jsonpath", boundedJSONPath, new(func(any, string) any)),
		expr.Function("tojson", boundedToJSON, new(func(any) string)),
		expr.Function("fromjson", boundedFromJSON, new(func(string) any)),
		expr.Function("urlencode", boundedURLEncode, new(func(any) string)),
		expr.Function("base64", boundedBase64, new(func(any) string)),
		expr.Function("default", func(p ...any) (any, error) {
			if p[0] == nil || p[0] == "" {
				return p[1], nil
			}
			return p[0], nil
		}, new(func(any, any) any)),
	}, append(timeOptions(), boundedExprOptions(p)...)...)
}

var (
	compileCache       sync.Map // code -> *vm.Program; programs are immutable and safe to share
	legacyCompileCache sync.Map
)

func compileExpr(code string) (*vm.Program, error) {
	if p, ok := compileCache.Load(code); ok {
		return p.(*vm.Program), nil
	}
	patcher := &boundsPatcher{}
	p, err := expr.Compile(code, boundedOptions(patcher)...)
	if err != nil {
		return nil, err
	}
	if patcher.internal != "" {
		return nil, fmt.Errorf("unknown name %s", patcher.internal)
	}
	compileCache.Store(code, p)
	return p, nil
}

// runLegacyExpr evaluates an expression as Outflow did before expressions
// were bounded.
func runLegacyExpr(p templatePart, e exprEnv) (any, error) {
	prog, ok := legacyCompileCache.Load(p.code)
	if !ok {
		c, err := expr.Compile(p.code, exprOptions()...)
		if err != nil {
			return nil, err
		}
		legacyCompileCache.Store(p.code, c)
		prog = c
	}
	e.budget = nil
	v, err := expr.Run(prog.(*vm.Program), e)
	if err != nil {
		return nil, fmt.Errorf("evaluating %q: %w", p.code, err)
	}
	return v, nil
}

// fnJSONPath reads a gjson path from a JSON string or from any value.
func fnJSONPath(p ...any) (any, error) {
	path, _ := p[1].(string)
	var raw string
	switch x := p[0].(type) {
	case string:
		raw = x
	case []byte:
		raw = string(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, fmt.Errorf("jsonpath: %w", err)
		}
		raw = string(b)
	}
	r := gjson.Get(raw, path)
	if !r.Exists() {
		return nil, nil
	}
	return r.Value(), nil
}

func fnToJSON(p ...any) (any, error) {
	b, err := json.Marshal(p[0])
	if err != nil {
		return nil, fmt.Errorf("tojson: %w", err)
	}
	return string(b), nil
}

func fnFromJSON(p ...any) (any, error) {
	s, _ := p[0].(string)
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("fromjson: %w", err)
	}
	return v, nil
}

// CompileValue compiles every template inside a YAML-shaped value (maps,
// lists, strings) and returns the errors found, each with the path of the
// string that holds it ("body.items[2].id").
func CompileValue(v any) []ValueError {
	var errs []ValueError
	walkStrings(v, "", func(path, s string) {
		if !IsTemplate(s) {
			return
		}
		if _, err := CompileTemplate(s); err != nil {
			errs = append(errs, ValueError{Path: path, Err: err})
		}
	})
	return errs
}

// ValueError is an expression problem inside a structured value.
type ValueError struct {
	Path string
	Err  error
}

func walkStrings(v any, path string, fn func(path, s string)) {
	switch x := v.(type) {
	case string:
		fn(path, x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			walkStrings(x[k], p, fn)
		}
	case []any:
		for i, e := range x {
			walkStrings(e, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}

// EvalValue evaluates every template inside a YAML-shaped value and returns a
// new value; strings without expressions are kept as they are. All its
// templates together are one evaluation for the limits (see MaxExprSteps).
func EvalValue(v any, env map[string]any) (any, error) {
	b := newExprBudget(runBoundsOf(env))
	defer b.settle()
	return evalValue(v, env, b)
}

func evalValue(v any, env map[string]any, b *exprBudget) (any, error) {
	switch x := v.(type) {
	case string:
		if !IsTemplate(x) {
			return x, nil
		}
		t, err := CompileTemplate(x)
		if err != nil {
			return nil, err
		}
		return t.eval(env, b)
	case map[string]any:
		out := make(map[string]any, len(x))
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			e, err := evalValue(x[k], env, b)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = e
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := evalValue(e, env, b)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// Truthy is the truth of an `if:` value: false, nil, 0, "" and "false" are false.
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != "" && x != "false"
	case int:
		return x != 0
	case float64:
		return x != 0
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}
