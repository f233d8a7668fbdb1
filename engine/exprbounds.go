package engine

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm/runtime"
)

// Limits of one expression evaluation. Expressions run inside the workflow,
// where a Go out-of-memory is fatal for the whole worker and a long
// computation trips Temporal's deadlock detector, so what an expression may
// build and compute is checked before the memory is taken. Every count is
// deterministic (no clock): the same expression over the same data fails at
// the same point on every replay. docs/flows.md ("Limits of expressions")
// says the same in users' words.
const (
	// MaxExprValueBytes bounds one value an expression builds: a string made
	// by `+`, repeat, replace, join, tojson, a template's joined parts, …, and
	// the JSON size of any list or map it returns. It is Temporal's limit for
	// one payload: a larger value could not be sent to a step, kept in vars or
	// carried across continue-as-new anyway.
	MaxExprValueBytes = 2 << 20
	// MaxExprBytes bounds the bytes one evaluation builds in all (the strings
	// and lists it makes along the way, also those it throws away), so a loop
	// that grows a string cannot allocate gigabytes of garbage.
	MaxExprBytes = 16 << 20
	// MaxExprSteps bounds the work of one evaluation: each loop iteration
	// costs the size of its body, each value an operation reads costs its
	// length (one step per list element or map entry, per 64 bytes of string).
	MaxExprSteps = 1_000_000
	// MaxExprElements is expr's own budget of list and map elements one
	// evaluation may create (ranges, literals, map/filter results); expr's
	// default is four times as many, about 100 MB of memory at worst.
	MaxExprElements = 250_000
	// MaxExprNodes bounds the size of one expression's syntax tree (expr's
	// default), so the work outside loops is bounded too.
	MaxExprNodes = 10_000
	// MaxExprPatternBytes bounds a regular expression computed at run time
	// (the right side of `matches` when it is not a literal).
	MaxExprPatternBytes = 4 << 10
	// MaxRunExprSteps bounds the expression work of one workflow run (all
	// evaluations between two continue-as-new), so thousands of items that
	// each evaluate a costly expression cannot keep one workflow task busy
	// past its timeout.
	MaxRunExprSteps = 10_000_000
)

// exprBytesPerStep is how many bytes of string an operation reads for one
// step of MaxExprSteps.
const exprBytesPerStep = 64

// ExprLimitError is an expression that would build or compute more than the
// limits above allow. It is reported as an Expression error.
type ExprLimitError struct {
	// What did it: "repeat", "+", "the result", "this evaluation".
	What string
	// Size is what it would have needed (bytes or steps), at least; Limit the limit.
	Size, Limit int
	Unit        string
}

func (e *ExprLimitError) Error() string {
	switch e.Unit {
	case "steps":
		return fmt.Sprintf("%s: over the limit of %d steps of work for one expression (loops cost their length times their body)", e.What, e.Limit)
	case "run steps":
		return fmt.Sprintf("%s: over the limit of %d steps of expression work in one run", e.What, e.Limit)
	case "bytes built":
		return fmt.Sprintf("%s: the expression would build more than %s in all (limit of one evaluation)", e.What, limitSize(e.Limit))
	case "pattern":
		return fmt.Sprintf("%s: a pattern of %d bytes is over the limit of %s for a regular expression computed at run time", e.What, e.Size, limitSize(e.Limit))
	}
	return fmt.Sprintf("%s: the value would be %s, over the limit of %s for one value", e.What, byteSizeAtLeast(e.Size, e.Limit), limitSize(e.Limit))
}

func limitSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// byteSizeAtLeast says a size, or "more than" the limit for a walk that
// stopped past it (valueSize returns limit+1 then).
func byteSizeAtLeast(n, limit int) string {
	if n == limit+1 {
		return "more than " + limitSize(limit)
	}
	return fmt.Sprintf("%d bytes", n)
}

// exprBudget is what one evaluation (one EvalValue or Template.Eval call,
// all its expressions together) has spent. It travels to the functions the
// bounds patcher inserts through the expression environment ($env).
type exprBudget struct {
	steps, bytes int
	maxSteps     int
	run          *runBounds
}

func newExprBudget(run *runBounds) *exprBudget {
	b := &exprBudget{maxSteps: MaxExprSteps, run: run}
	if run != nil {
		if left := MaxRunExprSteps - run.exprSteps; left < b.maxSteps {
			b.maxSteps = max(left, 0)
		}
	}
	return b
}

// settle adds what this evaluation spent to its run.
func (b *exprBudget) settle() {
	if b.run != nil {
		b.run.exprSteps += b.steps
		b.steps = 0
	}
}

func (b *exprBudget) step(what string, n int) error {
	if n < 0 || b.steps > b.maxSteps-n {
		b.steps = b.maxSteps + 1
		if b.run != nil && b.maxSteps < MaxExprSteps {
			return &ExprLimitError{What: what, Limit: MaxRunExprSteps, Unit: "run steps"}
		}
		return &ExprLimitError{What: what, Limit: MaxExprSteps, Unit: "steps"}
	}
	b.steps += n
	return nil
}

// build charges a value of n bytes about to be built.
func (b *exprBudget) build(what string, n int) error {
	if n < 0 || n > MaxExprValueBytes {
		return &ExprLimitError{What: what, Size: n, Limit: MaxExprValueBytes, Unit: "bytes"}
	}
	if b.bytes > MaxExprBytes-n {
		return &ExprLimitError{What: what, Size: b.bytes + n, Limit: MaxExprBytes, Unit: "bytes built"}
	}
	b.bytes += n
	return b.step(what, 1+n/exprBytesPerStep)
}

// tick is exprEnv.Tick: it cannot return an error, so it panics with one,
// which expr's VM recovers into the evaluation's error.
func (b *exprBudget) tick(n int) int {
	if err := b.step("a loop", max(n, 1)); err != nil {
		panic(err)
	}
	return 0
}

// budgetOf finds the budget in the environment an inserted function got as
// its first argument.
func budgetOf(env any) *exprBudget {
	if e, ok := env.(exprEnv); ok && e.budget != nil {
		return e.budget
	}
	// Not reachable through the patcher; a fresh budget keeps a stray call
	// bounded all the same.
	return newExprBudget(nil)
}

// Names of the functions the bounds patcher inserts. Users cannot call them:
// compileExpr refuses any name with this prefix.
const (
	exprInternalPrefix = "outflow__"
	fnCharge           = exprInternalPrefix + "charge"  // (env, v, weight): v; costs weight × shallow size of v
	fnLoop             = exprInternalPrefix + "loop"    // (env, list, weight): list; a loop without a body, charged before it runs
	fnTick             = exprInternalPrefix + "tick"    // (weight): 0; one iteration of a loop body (exprEnv.Tick)
	fnChargeDeep       = exprInternalPrefix + "deep"    // (env, v): v; costs the size of v, nested values included
	fnCharged          = exprInternalPrefix + "built"   // (env, v): v; charges the bytes of a function's result
	fnAdd              = exprInternalPrefix + "add"     // (env, a, b): a + b, checked before a string is built
	fnPattern          = exprInternalPrefix + "pattern" // (env, p): p, when short enough
)

// boundedExprOptions are the options that bound evaluation: the functions
// the patcher inserts, builtins replaced by checked versions with the same
// types, and the patcher.
func boundedExprOptions(p *boundsPatcher) []expr.Option {
	sameType := func(args []reflect.Type) (reflect.Type, error) {
		if len(args) < 2 {
			return nil, fmt.Errorf("internal function needs two arguments")
		}
		return args[1], nil
	}
	opts := []expr.Option{
		internalFunction(fnCharge, func(a ...any) (any, error) {
			b := budgetOf(a[0])
			w, _ := a[2].(int)
			return a[1], b.step("reading a value", mulSat(shallowCost(a[1]), max(w, 1)))
		}, sameType),
		internalFunction(fnLoop, func(a ...any) (any, error) {
			b := budgetOf(a[0])
			w, _ := a[2].(int)
			return a[1], b.step("a loop", mulSat(shallowCost(a[1]), max(w, 1)))
		}, sameType),
		internalFunction(fnChargeDeep, func(a ...any) (any, error) {
			b := budgetOf(a[0])
			return a[1], b.step("reading a whole value", deepCost(a[1], b.maxSteps-b.steps+1))
		}, sameType),
		internalFunction(fnCharged, func(a ...any) (any, error) {
			return a[1], budgetOf(a[0]).charge(a[1])
		}, sameType),
		internalFunction(fnAdd, boundedAdd, func(args []reflect.Type) (reflect.Type, error) {
			if len(args) == 3 && args[1] != nil && args[2] != nil && args[1].Kind() == reflect.String && args[2].Kind() == reflect.String {
				return args[1], nil
			}
			return reflect.TypeOf((*any)(nil)).Elem(), nil
		}),
		internalFunction(fnPattern, func(a ...any) (any, error) {
			if s, ok := a[1].(string); ok && len(s) > MaxExprPatternBytes {
				return nil, &ExprLimitError{What: "matches", Size: len(s), Limit: MaxExprPatternBytes, Unit: "pattern"}
			}
			return a[1], nil
		}, sameType),
	}
	for _, o := range checkedBuiltins {
		opts = append(opts, overrideBuiltin(o.name, o.check))
	}
	return append(opts, expr.MaxNodes(MaxExprNodes), expr.Patch(p))
}

func internalFunction(name string, fn func(...any) (any, error), validate func([]reflect.Type) (reflect.Type, error)) expr.Option {
	return func(c *conf.Config) {
		c.Functions[name] = &builtin.Function{Name: name, Func: fn, Validate: validate}
	}
}

// checkedBuiltins are expr builtins that can build a value much larger than
// their arguments (or whose arguments can hide one): each is replaced by a
// function of the same name and types that checks the size first.
var checkedBuiltins = []struct {
	name  string
	check func(args []any) error
}{
	{"repeat", func(a []any) error {
		s, _ := a[0].(string)
		n := runtime.ToInt(a[1])
		if n <= 0 || len(s) == 0 {
			return nil // the builtin reports a negative count
		}
		if n > MaxExprValueBytes/len(s) {
			return &ExprLimitError{What: "repeat", Size: mulSat(len(s), n), Limit: MaxExprValueBytes}
		}
		return nil
	}},
	{"replace", func(a []any) error {
		s, _ := a[0].(string)
		old, _ := a[1].(string)
		repl, _ := a[2].(string)
		if len(repl) <= len(old) {
			return nil // never longer than s
		}
		count := strings.Count(s, old)
		if len(a) == 4 {
			if n := runtime.ToInt(a[3]); n >= 0 && n < count {
				count = n
			}
		}
		if size := addSat(len(s), mulSat(count, len(repl)-len(old))); size > MaxExprValueBytes {
			return &ExprLimitError{What: "replace", Size: size, Limit: MaxExprValueBytes}
		}
		return nil
	}},
	{"join", func(a []any) error {
		sep := ""
		if len(a) == 2 {
			sep, _ = a[1].(string)
		}
		size := 0
		add := func(i int, s string) {
			if i > 0 {
				size = addSat(size, len(sep))
			}
			size = addSat(size, len(s))
		}
		switch l := a[0].(type) {
		case []string:
			for i, s := range l {
				add(i, s)
			}
		case []any:
			for i, e := range l {
				s, _ := e.(string)
				add(i, s)
			}
		}
		if size > MaxExprValueBytes {
			return &ExprLimitError{What: "join", Size: size, Limit: MaxExprValueBytes}
		}
		return nil
	}},
	{"split", checkSplit("split")},
	{"splitAfter", checkSplit("splitAfter")},
	{"toJSON", func(a []any) error { return checkValueSize("toJSON", a[0], true) }},
	{"string", func(a []any) error { return checkValueSize("string", a[0], false) }},
	{"fromJSON", func(a []any) error { return checkInput("fromJSON", a[0]) }},
	{"toBase64", func(a []any) error {
		s, _ := a[0].(string)
		if size := base64.StdEncoding.EncodedLen(len(s)); size > MaxExprValueBytes {
			return &ExprLimitError{What: "toBase64", Size: size, Limit: MaxExprValueBytes}
		}
		return nil
	}},
	{"flatten", func(a []any) error { return checkValueSize("flatten", a[0], false) }},
}

func checkSplit(name string) func([]any) error {
	return func(a []any) error {
		s, _ := a[0].(string)
		sep, _ := a[1].(string)
		var pieces int
		if sep == "" {
			pieces = utf8.RuneCountInString(s)
		} else {
			pieces = strings.Count(s, sep) + 1
		}
		if len(a) == 3 {
			if n := runtime.ToInt(a[2]); n >= 0 && n < pieces {
				pieces = n
			}
		}
		// As JSON each piece costs its quotes and a comma.
		if size := addSat(len(s), mulSat(pieces, 3)); size > MaxExprValueBytes {
			return &ExprLimitError{What: name, Size: size, Limit: MaxExprValueBytes}
		}
		return nil
	}
}

func checkInput(what string, v any) error {
	if s, ok := v.(string); ok && len(s) > MaxExprValueBytes {
		return &ExprLimitError{What: what + " input", Size: len(s), Limit: MaxExprValueBytes}
	}
	return nil
}

// checkValueSize refuses a value whose JSON (indented when indent is set)
// would pass MaxExprValueBytes. Lists that hold the same big value many
// times are small in memory but not once written out.
func checkValueSize(what string, v any, indent bool) error {
	if size := valueSize(v, MaxExprValueBytes, indent); size > MaxExprValueBytes {
		return &ExprLimitError{What: what, Size: size, Limit: MaxExprValueBytes}
	}
	return nil
}

// overrideBuiltin replaces a builtin by a checked version with its types.
func overrideBuiltin(name string, check func([]any) error) expr.Option {
	orig := builtin.Builtins[builtin.Index[name]]
	call := builtinCall(orig)
	return func(c *conf.Config) {
		c.Functions[name] = &builtin.Function{
			Name: name,
			Func: func(args ...any) (any, error) {
				if len(args) > 0 {
					if err := check(args); err != nil {
						return nil, err
					}
				}
				return call(args...)
			},
			Types:    orig.Types,
			Validate: orig.Validate,
			Deref:    orig.Deref,
		}
	}
}

func builtinCall(f *builtin.Function) func(...any) (any, error) {
	switch {
	case f.Func != nil:
		return f.Func
	case f.Safe != nil:
		return func(args ...any) (any, error) {
			v, _, err := f.Safe(args...)
			return v, err
		}
	case f.Fast != nil:
		return func(args ...any) (any, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("invalid number of arguments for %s (expected 1, got %d)", f.Name, len(args))
			}
			return f.Fast(args[0]), nil
		}
	}
	panic("engine: builtin " + f.Name + " has no implementation")
}

// boundedAdd is `+` when either side may be a string.
func boundedAdd(a ...any) (any, error) {
	if x, ok := a[1].(string); ok {
		if y, ok := a[2].(string); ok {
			if err := budgetOf(a[0]).build("+", addSat(len(x), len(y))); err != nil {
				return nil, err
			}
			return x + y, nil
		}
	}
	return runtime.Add(a[1], a[2]), nil
}

// charge counts the bytes of a value a function returned.
func (b *exprBudget) charge(v any) error {
	var n int
	switch x := v.(type) {
	case string:
		n = len(x)
	case []any:
		n = 16 * len(x)
	case []string:
		n = 16 * len(x)
	case map[string]any:
		n = 48 * len(x)
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Slice, reflect.Array, reflect.Map:
			n = 16 * rv.Len()
		}
	}
	if b.bytes > MaxExprBytes-n {
		return &ExprLimitError{What: "this evaluation", Size: b.bytes + n, Limit: MaxExprBytes, Unit: "bytes built"}
	}
	b.bytes += n
	return nil
}

// shallowCost is the steps an operation that reads v once costs: one per
// element of a list or map, one per exprBytesPerStep bytes of a string.
func shallowCost(v any) int {
	switch x := v.(type) {
	case nil, bool, int, float64:
		return 1
	case string:
		return 1 + len(x)/exprBytesPerStep
	case []any:
		return 1 + len(x)
	case map[string]any:
		return 1 + len(x)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return 1 + rv.Len()
	case reflect.String:
		return 1 + rv.Len()/exprBytesPerStep
	}
	return 1
}

// deepCost is the steps an operation that walks all of v (equality, min,
// sort) costs, counting a value held twice twice. A walk that passes limit
// stops and returns limit+1: maps are walked in Go's random order, so only
// a complete sum is the same on every replay.
func deepCost(v any, limit int) int {
	n := 0
	if !walkValue(v, 0, func(x any, depth int) bool {
		n = addSat(n, shallowCost(x))
		return n <= limit
	}) {
		return limit + 1
	}
	return n
}

// valueSize estimates the JSON size of v (indented as toJSON writes it when
// indent is set), counting a value held twice twice, and stops soon after
// passing limit: the walk costs at most about limit. It is -1 for a value
// that holds a function (no flow value can: it would print as an address).
func valueSize(v any, limit int, indent bool) int {
	n := 0
	fn := false
	if !walkValue(v, 0, func(x any, depth int) bool {
		var s int
		switch y := x.(type) {
		case nil:
			s = 4
		case bool:
			s = 5
		case string:
			s = len(y) + 2
		case int, float64, int64, float32, int32, uint, uint64:
			s = 8
		case time.Time:
			s = 32
		default:
			rv := reflect.ValueOf(x)
			switch rv.Kind() {
			case reflect.Slice, reflect.Array, reflect.Map:
				s = 2 + rv.Len() // brackets and commas; entries are walked
			case reflect.String:
				s = rv.Len() + 2
			case reflect.Func, reflect.Chan, reflect.UnsafePointer:
				fn = true
				return false
			default:
				s = 16
			}
		}
		if indent {
			s += 1 + 2*depth
		}
		n = addSat(n, s)
		return n <= limit
	}) {
		if fn {
			return -1
		}
		return limit + 1 // see deepCost
	}
	return n
}

// walkValue calls fn on v and everything it holds (map keys count with their
// values) until fn returns false. It stops descending past walkMaxDepth, which
// JSON decoders and expr's own nesting limits stay under.
func walkValue(v any, depth int, fn func(x any, depth int) bool) bool {
	if !fn(v, depth) {
		return false
	}
	if depth > walkMaxDepth {
		return true
	}
	switch x := v.(type) {
	case nil, bool, int, float64, string:
		return true
	case []any:
		for _, e := range x {
			if !walkValue(e, depth+1, fn) {
				return false
			}
		}
		return true
	case map[string]any:
		for k, e := range x {
			if !fn(k, depth+1) || !walkValue(e, depth+1, fn) {
				return false
			}
		}
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		for i := 0; i < rv.Len(); i++ {
			if !walkValue(rv.Index(i).Interface(), depth+1, fn) {
				return false
			}
		}
	case reflect.Map:
		it := rv.MapRange()
		for it.Next() {
			if !walkValue(it.Key().Interface(), depth+1, fn) || !walkValue(it.Value().Interface(), depth+1, fn) {
				return false
			}
		}
	case reflect.Pointer, reflect.Interface:
		if !rv.IsNil() {
			return walkValue(rv.Elem().Interface(), depth+1, fn)
		}
	}
	return true
}

const walkMaxDepth = 10_000

func addSat(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

func mulSat(a, b int) int {
	if a != 0 && b > math.MaxInt/a {
		return math.MaxInt
	}
	return a * b
}

// Bounded versions of Outflow's own functions: the same results, checked
// before they allocate.

func boundedJSONPath(p ...any) (any, error) {
	if _, ok := p[0].(string); !ok {
		if err := checkValueSize("jsonpath", p[0], false); err != nil {
			return nil, err
		}
	}
	return fnJSONPath(p...)
}

func boundedToJSON(p ...any) (any, error) {
	if err := checkValueSize("tojson", p[0], false); err != nil {
		return nil, err
	}
	return fnToJSON(p...)
}

func boundedFromJSON(p ...any) (any, error) {
	if err := checkInput("fromjson", p[0]); err != nil {
		return nil, err
	}
	return fnFromJSON(p...)
}

func boundedURLEncode(p ...any) (any, error) {
	s, err := boundedStringify("urlencode", p[0])
	if err != nil {
		return nil, err
	}
	if size := escapedLen(s); size > MaxExprValueBytes {
		return nil, &ExprLimitError{What: "urlencode", Size: size, Limit: MaxExprValueBytes}
	}
	return url.QueryEscape(s), nil
}

func boundedBase64(p ...any) (any, error) {
	s, err := boundedStringify("base64", p[0])
	if err != nil {
		return nil, err
	}
	if size := base64.StdEncoding.EncodedLen(len(s)); size > MaxExprValueBytes {
		return nil, &ExprLimitError{What: "base64", Size: size, Limit: MaxExprValueBytes}
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

// boundedStringify is Stringify for a value whose JSON is checked first.
func boundedStringify(what string, v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	if err := checkValueSize(what, v, false); err != nil {
		return "", err
	}
	return Stringify(v), nil
}

// escapedLen is the length of url.QueryEscape(s) without building it.
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || c == ' ') {
			n += 2
		}
	}
	return n
}

// boundsPatcher rewrites a checked expression tree so that evaluating it
// charges its budget: loops charge their length times their body's size up
// front, operations that read whole values charge their size, `+` on strings
// checks the length before concatenating, and function results are counted.
// It runs once, after expr's type check, so it sees the types of nodes and
// keeps them (the inserted functions return their argument's type).
type boundsPatcher struct {
	// internal is a name with the internal prefix the expression used itself.
	internal string
}

// Loop builtins: their first argument is the collection they walk.
var loopBuiltins = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true, "count": true, "sum": true,
	"find": true, "findIndex": true, "findLast": true, "findLastIndex": true, "groupBy": true, "sortBy": true, "reduce": true,
}

// Builtins and functions whose arguments are walked whole (compared, sorted,
// written out), so their cost is the arguments' full size.
var deepArgFunctions = map[string]bool{
	"min": true, "max": true, "mean": true, "median": true, "uniq": true, "sort": true, "flatten": true,
	"string": true, "toJSON": true, "tojson": true, "jsonpath": true, "urlencode": true, "base64": true,
}

func (p *boundsPatcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if strings.HasPrefix(n.Value, exprInternalPrefix) && p.internal == "" {
			p.internal = n.Value
		}
	case *ast.MemberNode:
		if id, ok := n.Node.(*ast.IdentifierNode); ok && id.Value == "$env" {
			if s, ok := n.Property.(*ast.StringNode); ok && strings.HasPrefix(s.Value, exprInternalPrefix) && p.internal == "" {
				p.internal = s.Value
			}
		}
	case *ast.BinaryNode:
		p.binary(node, n)
	case *ast.BuiltinNode:
		if loopBuiltins[n.Name] {
			p.loop(n)
			return
		}
		p.call(node, n.Name, n.Arguments)
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || strings.HasPrefix(id.Value, exprInternalPrefix) {
			return
		}
		p.call(node, id.Value, n.Arguments)
	}
}

// loop makes each iteration of a loop's body charge the body's size, ranges
// included: the body may hold another loop. The body becomes a sequence
// (charge; body), which keeps its type, and the list keeps its own (element
// types included), so the type checks stay as they were. A loop without a
// body (count(list), sum(list)) is charged its length before it runs.
func (p *boundsPatcher) loop(n *ast.BuiltinNode) {
	if len(n.Arguments) > 1 {
		if pr, ok := n.Arguments[1].(*ast.PredicateNode); ok {
			callee := &ast.IdentifierNode{Value: fnTick}
			callee.SetLocation(pr.Node.Location())
			tick := &ast.CallNode{Callee: callee, Arguments: []ast.Node{&ast.IntegerNode{Value: countNodes(pr.Node)}}}
			tick.SetLocation(pr.Node.Location())
			seq := &ast.SequenceNode{Nodes: []ast.Node{tick, pr.Node}}
			seq.SetLocation(pr.Node.Location())
			pr.Node = seq
			return
		}
	}
	if !cheap(n.Arguments[0]) {
		c := internalCall(fnLoop, n.Arguments[0], &ast.IntegerNode{Value: 1})
		c.SetLocation(n.Arguments[0].Location())
		n.Arguments[0] = c
	}
}

func (p *boundsPatcher) binary(node *ast.Node, n *ast.BinaryNode) {
	switch n.Operator {
	case "+":
		if mayBeString(n.Left) && mayBeString(n.Right) {
			call := internalCall(fnAdd, n.Left, n.Right)
			ast.Patch(node, call)
		}
	case "==", "!=", "in":
		n.Left = chargeDeepNode(n.Left)
		n.Right = chargeDeepNode(n.Right)
	case "<", ">", "<=", ">=", "contains", "startsWith", "endsWith":
		n.Left = chargeNode(n.Left, 1)
		n.Right = chargeNode(n.Right, 1)
	case "matches":
		// Matching costs about the text's length times the pattern's.
		weight := MaxExprPatternBytes / exprBytesPerStep
		if s, ok := n.Right.(*ast.StringNode); ok {
			weight = 1 + len(s.Value)/exprBytesPerStep
		} else {
			n.Right = internalCall(fnPattern, n.Right)
		}
		n.Left = chargeNode(n.Left, weight)
	}
}

func (p *boundsPatcher) call(node *ast.Node, name string, args []ast.Node) {
	for i := range args {
		if id, ok := args[i].(*ast.IdentifierNode); ok && id.Value == "$env" {
			continue
		}
		if deepArgFunctions[name] {
			args[i] = chargeDeepNode(args[i])
		} else {
			args[i] = chargeNode(args[i], 1)
		}
	}
	ast.Patch(node, internalCall(fnCharged, *node))
}

// mayBeString says a node's value may be a string (or its type is unknown).
func mayBeString(n ast.Node) bool {
	t := typeOf(n)
	return t == nil || t.Kind() == reflect.Interface || t.Kind() == reflect.String
}

// cheap says reading a node's value needs no charge: literals (bounded by
// the expression's source), numbers, booleans and ranges (expr counts their
// elements itself, and optimises `x in a..b`).
func cheap(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode, *ast.StringNode, *ast.ConstantNode:
		return true
	case *ast.ArrayNode:
		for _, e := range x.Nodes {
			if !literal(e) {
				return false
			}
		}
		return true
	case *ast.BinaryNode:
		if x.Operator == ".." {
			return true
		}
	}
	if t := typeOf(n); t != nil {
		switch t.Kind() {
		case reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
			return true
		}
	}
	return false
}

func literal(n ast.Node) bool {
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode, *ast.StringNode, *ast.ConstantNode:
		return true
	}
	return false
}

func chargeNode(n ast.Node, weight int) ast.Node {
	if cheap(n) && weight <= 1 {
		return n
	}
	c := internalCall(fnCharge, n, &ast.IntegerNode{Value: weight})
	c.SetLocation(n.Location())
	return c
}

func chargeDeepNode(n ast.Node) ast.Node {
	if cheap(n) {
		return n
	}
	c := internalCall(fnChargeDeep, n)
	c.SetLocation(n.Location())
	return c
}

// typeOf is a node's type as the checker found it before the patcher ran:
// the functions the patcher inserts return their argument, whose type they
// have (the inserted node has none until the next check).
func typeOf(n ast.Node) reflect.Type {
	if c, ok := n.(*ast.CallNode); ok {
		if id, ok := c.Callee.(*ast.IdentifierNode); ok && strings.HasPrefix(id.Value, exprInternalPrefix) && len(c.Arguments) > 1 {
			return typeOf(c.Arguments[1])
		}
	}
	return n.Type()
}

func internalCall(name string, args ...ast.Node) *ast.CallNode {
	loc := args[0].Location()
	env := &ast.IdentifierNode{Value: "$env"}
	env.SetLocation(loc)
	callee := &ast.IdentifierNode{Value: name}
	callee.SetLocation(loc)
	c := &ast.CallNode{Callee: callee, Arguments: append([]ast.Node{env}, args...)}
	c.SetLocation(loc)
	return c
}

type nodeCounter struct{ n int }

func (c *nodeCounter) Visit(*ast.Node) { c.n++ }

func countNodes(n ast.Node) int {
	c := &nodeCounter{}
	ast.Walk(&n, c)
	return max(c.n, 1)
}

// passThrough says an expression only reads a value from its environment
// (`steps.get.json`, `item.id`, `vars.list[0]`): its result is data the flow
// already holds, bounded where it came from, so it needs no size check.
func passThrough(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return x.Value != "$env"
	case *ast.MemberNode:
		return passThrough(x.Node) && (cheapKey(x.Property))
	case *ast.ChainNode:
		return passThrough(x.Node)
	}
	return false
}

func cheapKey(n ast.Node) bool {
	switch n.(type) {
	case *ast.StringNode, *ast.IntegerNode:
		return true
	}
	return false
}

// isExprLimit says err is an expression bound that tripped, expr's element
// budget included (lower than expr's default, which applied before).
func isExprLimit(err error) bool {
	var le *ExprLimitError
	return errors.As(err, &le) || strings.Contains(err.Error(), "memory budget exceeded")
}

// explainVMError says which limit expr's own element budget is.
func explainVMError(err error) error {
	if strings.Contains(err.Error(), "memory budget exceeded") {
		return fmt.Errorf("over the limit of %d list and map elements one expression may create: %w", MaxExprElements, err)
	}
	return err
}
