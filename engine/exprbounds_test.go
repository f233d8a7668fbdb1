package engine

import (
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/expr-lang/expr"
)

// boundsEnv is an environment with a few large values, as a flow that read
// big answers has.
func boundsEnv() map[string]any {
	obj := map[string]any{}
	for i := range 200 {
		obj[fmt.Sprintf("k%03d", i)] = []any{float64(i), "v"}
	}
	return map[string]any{
		"inputs": map[string]any{"s": strings.Repeat("x", 100<<10), "small": "abc", "list": []any{1.0, 2.0, 3.0}, "obj": obj},
		// over: a step's answer larger than an expression may build (a
		// body_limit above 2 MiB).
		"vars":  map[string]any{"mib": strings.Repeat("m", 1<<20), "over": "[" + strings.Repeat(" ", 2<<20) + "]"},
		"steps": map[string]any{"get": map[string]any{"json": map[string]any{"items": []any{map[string]any{"id": "a"}, map[string]any{"id": "b"}}}}},
	}
}

// allocated runs fn and returns the bytes it allocated.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// maxEvalAlloc is what one evaluation may allocate at worst: the bytes it
// may build, expr's element budget (a list element costs a slot, a boxed
// value and a share of the VM stack's growth) and change.
const maxEvalAlloc = MaxExprBytes + MaxExprElements*96 + 8<<20

// TestHostileExpressionsFailClearly evaluates expressions that, unbounded,
// kill a worker (out of memory) or keep a workflow task busy forever; each
// fails with a limit error that names what it tripped, having allocated
// less than one evaluation's worth of memory.
func TestHostileExpressionsFailClearly(t *testing.T) {
	for _, c := range []struct{ expr, want string }{
		// The expression that killed `outflow dev` (issue 13, defect 1).
		{`len(repeat(repeat("a", 999999), 1000000))`, "repeat: the value would be 999999000000 bytes, over the limit of 2 MiB for one value"},
		// Quadratic garbage: 4.5 GB of strings, 300 KB at a time.
		{`len(reduce(1..30000, #acc + "aaaaaaaaaa", ""))`, "+: the expression would build more than 16 MiB in all"},
		{`len(map(1..100, repeat("a", 1000000)))`, "would build more than 16 MiB in all"},
		{`vars.mib + vars.mib + vars.mib`, "+: the value would be 3145728 bytes, over the limit of 2 MiB"},
		// Pure computation: a billion iterations, no allocation.
		{`let r = 1..1000; all(r, all(r, all(r, true)))`, "a loop: over the limit of 1000000 steps"},
		{`let r = 1..1000; count(r, none(r, # > 2000))`, "over the limit of 1000000 steps"},
		{`len(1..1000000)`, "over the limit of 250000 list and map elements"},
		// One big value referenced many times: small in memory, huge written out.
		{`map(1..1000, inputs.s)`, "the result: the value would be more than 2 MiB"},
		{`len(string(map(1..100, inputs.s)))`, "string: the value would be more than 2 MiB"},
		{`len(toJSON(map(1..100, inputs.s)))`, "toJSON: the value would be more than 2 MiB"},
		{`len(tojson(map(1..100, inputs.s)))`, "tojson: the value would be more than 2 MiB"},
		{`len(jsonpath(map(1..100, inputs.s), "0"))`, "jsonpath: the value would be more than 2 MiB"},
		{`len(urlencode(map(1..100, inputs.s)))`, "urlencode: the value would be more than 2 MiB"},
		{`len(base64(vars.mib + vars.mib[:600000]))`, "base64: the value would be 2198104 bytes"},
		{`len(join(map(1..100, inputs.s), ","))`, "join: the value would be 10240099 bytes"},
		{`len(replace(inputs.s, "x", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"))`, "replace: the value would be 3174400 bytes"},
		{`len(split(vars.mib, ""))`, "split: the value would be 4194304 bytes"},
		{`len(splitAfter(vars.mib, "m"))`, "splitAfter: the value would be 4194307 bytes"},
		{`len(toBase64(vars.mib + vars.mib[:600000]))`, "toBase64: the value would be 2198104 bytes"},
		{`let a = map(1..100, inputs.s); len(flatten([a, a]))`, "flatten: the value would be more than 2 MiB"},
		{`len(fromjson(vars.over))`, "fromjson input: the value would be 2097154 bytes"},
		{`len(fromJSON(vars.over))`, "fromJSON input: the value would be 2097154 bytes"},
		// Deep structures compared, sorted or searched cost their whole size.
		{`let a = map(1..500, map(1..500, #)); a == a`, "over the limit of"},
		{`"abc" matches inputs.s`, "matches: a pattern of 102400 bytes is over the limit of 4 KiB"},
		// A template's text is one value too.
		{`x` + strings.Repeat(`${{ inputs.s }}`, 21), "the template's text: the value would be 2150401 bytes"},
	} {
		t.Run(c.expr[:min(len(c.expr), 40)], func(t *testing.T) {
			src := c.expr
			if !IsTemplate(src) {
				src = "${{ " + src + " }}"
			}
			var err error
			n := allocated(func() { _, err = EvalValue(src, boundsEnv()) })
			if err == nil {
				t.Fatal("no error")
			}
			if !isExprLimit(err) {
				t.Errorf("not a limit error: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\ndoes not say %q", err, c.want)
			}
			if n > maxEvalAlloc {
				t.Errorf("allocated %d MiB, over %d MiB", n>>20, maxEvalAlloc>>20)
			}
		})
	}
}

// TestExpressionsWithinBoundsWork: the bounds leave ordinary and large but
// reasonable expressions alone, with their results and types.
func TestExpressionsWithinBoundsWork(t *testing.T) {
	env := boundsEnv()
	for _, c := range []struct {
		expr string
		want any
	}{
		{`len(vars.mib + vars.mib)`, 2 << 20},
		{`len(repeat("ab", 1000000))`, 2000000},
		{`len(reduce(1..1000, #acc + "a", ""))`, 1000},
		{`sum(map(1..100000, # * 2))`, 10000100000},
		{`500000 in 1..1000000`, true},
		{`sum(1..100)`, 5050},
		{`len(filter(1..100000, # % 2 == 0))`, 50000},
		{`let r = 1..300; count(r, any(r, # > 299))`, 300},
		{`join(map(steps.get.json.items, #.id), ",")`, "a,b"},
		{`inputs.small + "-" + string(len(inputs.list))`, "abc-3"},
		{`steps.get.json.items[1].id`, "b"},
		{`len(keys(inputs.obj))`, 200},
		{`len(tojson(inputs.obj)) > 1000`, true},
		{`fromjson(tojson(inputs.list))`, []any{1.0, 2.0, 3.0}},
		{`len(split(inputs.s, "x"))`, 100<<10 + 1},
		{`"abc" matches "^a.c$"`, true},
		{`upper(inputs.small) == "ABC"`, true},
		{`1 + 2 * 3`, 7},
		{`inputs.list[0] + 1`, 2.0},
		{`sort([3, 1, 2])`, []any{1, 2, 3}},
		{`len(vars.mib)`, 1 << 20},
	} {
		v, err := EvalValue("${{ "+c.expr+" }}", env)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		if !reflect.DeepEqual(v, c.want) {
			t.Errorf("%s = %#v, want %#v", c.expr, v, c.want)
		}
	}
}

// TestBoundsKeepCompileChecks: the bounded compiler accepts and refuses the
// same expressions as expr does without the bounds, so `outflow validate`
// reports what it reported.
func TestBoundsKeepCompileChecks(t *testing.T) {
	for _, code := range []string{
		`inputs.a + 1`, `"a" + 1`, `1 + "a"`, `"a" + "b"`, `inputs.a + inputs.b`, `len(inputs.a) + "x"`,
		`filter(inputs.list, # + 1)`, `filter(inputs.list, # > 1)`, `map(1..3, # + "a")`, `map(1..3, "a" + string(#))`,
		`repeat("a")`, `repeat("a", "b")`, `repeat("a", 2)`, `join([1, 2])`, `join(["a"], ",")`, `split("a,b", ",", 1)`,
		`replace("a", "b")`, `replace("aaa", "a", "b", 1)`, `toJSON(1, 2)`, `fromJSON(1)`, `string()`, `flatten(1)`,
		`upper(1)`, `"a" matches 1`, `"a" in ["a"]`, `1 in "abc"`, `now()`, `nosuch(1)`, `inputs.a.b.c == 1`,
		`all(1..3, #)`, `reduce([], #acc + #)`, `sum(["a"])`, `toBase64(1)`, `urlencode(inputs.a)`, `default(1)`,
		`tojson(inputs)`, `jsonpath(1, 2)`, `let x = 1; x + "a"`, `inputs.a ?? "b" + 1`, `date("2024-01-01") + duration("1h")`,
	} {
		_, legacyErr := expr.Compile(code, exprOptions()...)
		_, boundedErr := compileExpr(code)
		if (legacyErr == nil) != (boundedErr == nil) {
			t.Errorf("%s: without bounds %v, with bounds %v", code, legacyErr, boundedErr)
		}
	}
}

// TestInternalNamesAreRefused: the functions the patcher inserts cannot be
// called by a flow.
func TestInternalNamesAreRefused(t *testing.T) {
	for _, name := range []string{fnAdd, fnCharge, fnLoop, fnTick, fnChargeDeep, fnCharged, fnPattern} {
		call := name + `($env, 1, 2)`
		if name == fnTick {
			call = name + `(1)`
		}
		_, err := CompileTemplate(`${{ ` + call + ` }}`)
		if err == nil || !strings.Contains(err.Error(), "unknown name "+name) {
			t.Errorf("%s: %v", call, err)
		}
		if _, err := CompileTemplate(`${{ ` + name + ` }}`); err == nil {
			t.Errorf("%s alone compiles", name)
		}
		if _, err := CompileTemplate(`${{ $env.` + name + ` }}`); err == nil {
			t.Errorf("$env.%s compiles", name)
		}
	}
	// Reached by a computed name, the loop charge is a function, which no
	// result may hold (it would print as an address, different each run).
	for _, code := range []string{`$env["outflow_" + "_tick"]`, `[1, $env["outflow_" + "_tick"]]`} {
		if v, err := EvalValue("${{ "+code+" }}", map[string]any{}); err == nil {
			t.Errorf("%s = %v", code, v)
		}
	}
	if v, err := EvalValue("x${{ $env }}", map[string]any{"inputs": map[string]any{"a": 1}}); err != nil || !strings.Contains(v.(string), `"Inputs":{"a":1}`) {
		t.Errorf("$env in a template: %v, %v", v, err)
	}
}

// TestLimitErrorsAreDeterministic: a limit reached walking a map (read in
// Go's random order) gives the same error every time, as replay needs.
func TestLimitErrorsAreDeterministic(t *testing.T) {
	big := map[string]any{}
	for i := range 2000 {
		big[fmt.Sprint(i)] = strings.Repeat("y", 1000+i)
	}
	env := map[string]any{"inputs": map[string]any{"big": big}}
	var first string
	for i := range 20 {
		_, err := EvalValue(`${{ tojson([inputs.big, 1]) }}`, env)
		if err == nil {
			t.Fatal("no error")
		}
		if i == 0 {
			first = err.Error()
		} else if err.Error() != first {
			t.Fatalf("run %d: %v\nrun 0: %s", i, err, first)
		}
	}
}

// TestRunExpressionBudget: the expression work of a run adds up; once spent,
// every further evaluation of the run fails, others are not affected.
func TestRunExpressionBudget(t *testing.T) {
	run := &runBounds{decided: true, enforce: true}
	env := map[string]any{runBoundsKey: run, "inputs": map[string]any{}}
	const code = `${{ let r = 1..500; count(r, any(r, # > 499)) }}`
	one := newExprBudget(nil)
	tpl, err := CompileTemplate(code)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := tpl.eval(map[string]any{}, one); err != nil || v != 500 {
		t.Fatalf("one evaluation: %v, %v", v, err)
	}
	// A run that has spent all but three evaluations' worth.
	run.exprSteps = MaxRunExprSteps - 3*one.steps - one.steps/2
	fit := 3
	evals := 0
	for ; evals < 200; evals++ {
		if _, err = EvalValue(code, env); err != nil {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("over the limit of %d steps of expression work in one run", MaxRunExprSteps)) {
		t.Fatalf("after %d evaluations: %v", evals, err)
	}
	if evals != fit {
		t.Errorf("%d evaluations of %d steps fit in the run's %d, want %d", evals, one.steps, MaxRunExprSteps, fit)
	}
	if _, err := EvalValue("${{ 1 + 1 }}", env); err == nil {
		t.Error("an evaluation after the run's budget is spent succeeded")
	}
	if v, err := EvalValue(code, map[string]any{}); err != nil || v != 500 {
		t.Errorf("another run: %v, %v", v, err)
	}
}

// TestLegacyRunEvaluatesWithoutBounds: a run replaying a history recorded
// before the bounds evaluates as it did then, so the replay issues the same
// commands.
func TestLegacyRunEvaluatesWithoutBounds(t *testing.T) {
	const code = `${{ len(reduce(1..30, #acc + inputs.s, "")) }}` // 46 MB built, 3 MB kept
	env := boundsEnv()
	if _, err := EvalValue(code, env); err == nil || !isExprLimit(err) {
		t.Fatalf("bounded: %v", err)
	}
	env[runBoundsKey] = &runBounds{decided: true, enforce: false}
	v, err := EvalValue(code, env)
	if err != nil || v != 30*100<<10 {
		t.Fatalf("legacy: %v, %v", v, err)
	}
}

// exprGen generates expressions from the constructs that build or loop,
// nested, with sizes from tiny to hostile, and tracks an upper bound of
// what each costs without limits: the bytes it builds and the iterations it
// runs. It is the property test that would have found defect 1.
type exprGen struct {
	r *rand.Rand
}

type genExpr struct {
	code         string
	bytes, iters float64 // unbounded cost
	str          bool    // a string value
	length       float64 // of the value: string bytes or list length
}

func (g *exprGen) size() int {
	return []int{0, 1, 3, 10, 100, 1000, 30000, 999999, 1000000}[g.r.Intn(9)]
}

func (g *exprGen) gen(depth int) genExpr {
	if depth <= 0 {
		switch g.r.Intn(4) {
		case 0:
			return genExpr{code: `"ab"`, str: true, length: 2}
		case 1:
			return genExpr{code: `inputs.s`, str: true, length: 100 << 10}
		case 2:
			n := g.size()
			return genExpr{code: fmt.Sprintf("1..%d", n), length: float64(n), bytes: 8 * float64(n)}
		default:
			return genExpr{code: `inputs.list`, length: 3}
		}
	}
	a := g.gen(depth - 1)
	switch g.r.Intn(8) {
	case 0: // repeat
		if !a.str {
			a = genExpr{code: fmt.Sprintf("string(%s)", a.code), str: true, length: a.length * 8, bytes: a.bytes + a.length*8}
		}
		n := float64(g.size())
		return genExpr{code: fmt.Sprintf("repeat(%s, %d)", a.code, int(n)), str: true, length: a.length * n, bytes: a.bytes + a.length*n, iters: a.iters}
	case 1: // concatenation
		b := g.gen(depth - 1)
		if !a.str || !b.str {
			return a
		}
		return genExpr{code: fmt.Sprintf("(%s + %s)", a.code, b.code), str: true, length: a.length + b.length, bytes: a.bytes + b.bytes + a.length + b.length, iters: a.iters + b.iters}
	case 2: // map over a range, the body evaluated per item
		n := float64(g.size())
		return genExpr{code: fmt.Sprintf("map(1..%d, %s)", int(n), a.code), length: n, bytes: 8*n + n*a.bytes + 16*n, iters: n * (1 + a.iters)}
	case 3: // reduce that grows a string
		n := float64(g.size())
		if !a.str {
			return a
		}
		return genExpr{code: fmt.Sprintf("reduce(1..%d, #acc + %s, \"\")", int(n), a.code), str: true, length: n * a.length,
			bytes: n*a.bytes + a.length*n*n/2, iters: n * (1 + a.iters)}
	case 4: // join
		if a.str {
			return genExpr{code: fmt.Sprintf("join(split(%s, \"\"), \"-\")", a.code), str: true, length: 2 * a.length, bytes: a.bytes + 19*a.length, iters: a.iters + a.length}
		}
		return genExpr{code: fmt.Sprintf("join(map(%s, string(#)), \",\")", a.code), str: true, length: 10 * a.length, bytes: a.bytes + 40*a.length, iters: a.iters + a.length}
	case 5: // written out
		return genExpr{code: fmt.Sprintf("toJSON(%s)", a.code), str: true, length: a.length * 10, bytes: a.bytes + a.length*10, iters: a.iters + a.length}
	case 6: // nested loops without allocation
		n := float64(g.size())
		if a.str {
			return genExpr{code: fmt.Sprintf("all(1..%d, len(%s) >= 0)", int(n), a.code), bytes: 8*n + n*a.bytes, iters: n * (1 + a.iters)}
		}
		return genExpr{code: fmt.Sprintf("count(1..%d, len(%s) > 0)", int(n), a.code), bytes: 8*n + n*a.bytes, iters: n * (1 + a.iters)}
	default: // compared
		return genExpr{code: fmt.Sprintf("(%s == %s)", a.code, a.code), bytes: 2 * a.bytes, iters: 2*a.iters + 2*a.length}
	}
}

// TestGeneratedExpressionsStayBounded evaluates generated expressions: each
// either succeeds having cost (without limits) little, or fails with a
// limit error; none allocates more than one evaluation may, and one that
// would run more than a few times the step limit's iterations never
// succeeds. It counts work, not time: the same in every run.
func TestGeneratedExpressionsStayBounded(t *testing.T) {
	g := &exprGen{r: rand.New(rand.NewSource(13))}
	env := boundsEnv()
	failed, passed := 0, 0
	for i := range 250 {
		e := g.gen(1 + i%4)
		code := "${{ len(" + e.code + ") }}"
		if !e.str {
			code = "${{ " + e.code + " }}"
		}
		tpl, err := CompileTemplate(code)
		if err != nil {
			continue // a generated expression expr refuses
		}
		b := newExprBudget(nil)
		var evalErr error
		n := allocated(func() { _, evalErr = tpl.eval(env, b) })
		if n > maxEvalAlloc {
			t.Errorf("%s: allocated %d MiB", e.code, n>>20)
		}
		if b.steps > MaxExprSteps+1 || b.bytes > MaxExprBytes {
			t.Errorf("%s: budget overrun: %d steps, %d bytes", e.code, b.steps, b.bytes)
		}
		if evalErr != nil {
			// Limits, and expressions the generator got wrong (a loop over a
			// number): either way an error, not a crash.
			failed++
			continue
		}
		passed++
		if e.iters > 20*MaxExprSteps || e.bytes > 20*(MaxExprBytes+8*MaxExprElements) {
			t.Errorf("%s succeeded though it costs %.3g iterations and %.3g bytes", e.code, e.iters, e.bytes)
		}
	}
	t.Logf("%d generated expressions within the limits, %d stopped by them", passed, failed)
	if passed < 50 || failed < 50 {
		t.Errorf("the generator should produce both: %d passed, %d failed", passed, failed)
	}
}

// FuzzEvalExpression evaluates any expression that compiles, in an
// environment with large values, and checks what one evaluation may cost:
// allocation under maxEvalAlloc, steps and bytes within the budget.
// `go test ./engine -run '^$' -fuzz FuzzEvalExpression -fuzztime 60s -fuzzminimizetime 5s`
func FuzzEvalExpression(f *testing.F) {
	for _, s := range []string{
		`len(repeat(repeat("a", 999999), 1000000))`,
		`len(reduce(1..30000, #acc + "aaaaaaaaaa", ""))`,
		`let r = 1..1000; all(r, all(r, true))`,
		`toJSON(map(1..1000, inputs.s))`,
		`join(split(inputs.s, ""), "--")`,
		`replace(vars.mib, "m", "mm")`,
		`inputs.obj == inputs.obj`,
		`map(inputs.list, # * 2)`,
		`tojson(inputs) + tojson(vars)`,
		`sort(map(1..1000, -#))`,
	} {
		f.Add(s)
	}
	env := boundsEnv()
	f.Fuzz(func(t *testing.T, code string) {
		if strings.Contains(code, "}}") {
			return
		}
		tpl, err := CompileTemplate("${{ " + code + " }}")
		if err != nil {
			return
		}
		b := newExprBudget(nil)
		var evalErr error
		n := allocated(func() { _, evalErr = tpl.eval(env, b) })
		if n > maxEvalAlloc {
			t.Fatalf("%s: allocated %d MiB (error: %v)", code, n>>20, evalErr)
		}
		if b.steps > MaxExprSteps+1 || b.bytes > MaxExprBytes {
			t.Fatalf("%s: %d steps, %d bytes", code, b.steps, b.bytes)
		}
		var le *ExprLimitError
		if errors.As(evalErr, &le) && le.Error() == "" {
			t.Fatal("empty limit message")
		}
	})
}

// BenchmarkExpressionAtStepLimit evaluates expressions that spend about all
// of MaxExprSteps, and reports the time per step: what the step limits
// (per evaluation and per run) mean in time on this machine.
// `go test ./engine -run '^$' -bench ExpressionAtStepLimit`
func BenchmarkExpressionAtStepLimit(b *testing.B) {
	env := boundsEnv()
	for name, code := range map[string]string{
		"nested loops": `${{ let r = 1..990; all(r, all(r, true)) }}`,
		"loop body":    `${{ count(1..85000, # % 7 == 0 || # % 11 == 0) }}`,
		"string scans": `${{ count(1..600, inputs.s contains "y") }}`,
	} {
		tpl, err := CompileTemplate(code)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			steps := 0
			for range b.N {
				budget := newExprBudget(nil)
				if _, err := tpl.eval(env, budget); err != nil {
					b.Fatal(err)
				}
				steps += budget.steps
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(steps), "ns/step")
			b.ReportMetric(float64(steps)/float64(b.N), "steps/op")
		})
	}
}
