package engine

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
)

func setStep(id string, kv ...string) Step {
	st := Step{ID: id, Set: []Binding{}}
	for i := 0; i+1 < len(kv); i += 2 {
		st.Set = append(st.Set, Binding{Name: kv[i], Value: kv[i+1]})
	}
	return st
}

// A switch runs the first case that holds, in the flow's scope: the
// record names the case, vars set there are seen after the switch, and no
// activity runs for the switch or the sets.
func TestSwitchRunsFirstCaseAndSetsFlowWideVars(t *testing.T) {
	for _, tc := range []struct {
		id, wantCase, wantTier, wantCalls string
	}{
		{"7", "case0", "gold", ""},
		{"42", "case1", "silver", "GET /silver"},
		{"1", "default", "bronze", ""},
	} {
		p := testPlan(
			setStep("init", "tier", "none"),
			Step{ID: "route", Switch: &SwitchStep{
				Cases: []Case{
					{Name: "case0", When: "${{ inputs.id == '7' }}", Steps: []Step{setStep("g", "tier", "gold")}},
					{Name: "case1", When: "${{ inputs.id == '42' }}", Steps: []Step{setStep("s", "tier", "silver"), restStep("call", "/${{ vars.tier }}")}},
				},
				Default: []Step{setStep("b", "tier", "bronze")},
			}},
		)
		p.Outputs = []Binding{{Name: "tier", Value: "${{ vars.tier }}"}, {Name: "case", Value: "${{ steps.route.case }}"}}
		partner := &fakePartner{}
		rec, err := runPlan(t, p, map[string]any{"id": tc.id}, partner)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Outputs["tier"] != tc.wantTier || rec.Outputs["case"] != tc.wantCase {
			t.Errorf("id %s: outputs %v", tc.id, rec.Outputs)
		}
		if got := strings.Join(partner.calls, ";"); got != tc.wantCalls {
			t.Errorf("id %s: calls %q", tc.id, got)
		}
		route := rec.Step("route")
		if route == nil || route.Outputs["case"] != tc.wantCase || route.Status != StatusSucceeded {
			t.Errorf("id %s: route record %+v", tc.id, route)
		}
		if tc.wantCase == "case1" && rec.Step("route/case1/s") == nil {
			t.Errorf("inner step not recorded under the case: %v", stepIDs(rec))
		}
	}
}

func stepIDs(rec *Record) []string {
	var out []string
	for _, s := range rec.Steps {
		out = append(out, s.ID)
	}
	return out
}

// if/then/else compiles to a switch with "then" and "else"; without a
// default, no case runs and the record says none.
func TestSwitchNoCaseAndBadCondition(t *testing.T) {
	p := testPlan(Step{ID: "route", Switch: &SwitchStep{Cases: []Case{{Name: "then", When: "${{ false }}", Steps: []Step{restStep("x", "/x")}}}}})
	partner := &fakePartner{}
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err != nil {
		t.Fatal(err)
	}
	if r := rec.Step("route"); r.Outputs["case"] != NoCase || len(partner.calls) != 0 {
		t.Fatalf("route %+v, calls %v", r, partner.calls)
	}
	p = testPlan(Step{ID: "route", Switch: &SwitchStep{Cases: []Case{{Name: "case0", When: "${{ steps.nope.json.x.y }}", Steps: []Step{restStep("x", "/x")}}}}})
	_, err = runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err == nil || !strings.Contains(err.Error(), "route.case0.when") {
		t.Fatalf("err = %v", err)
	}
}

// A failing step in the chosen case fails the switch, with the inner
// step's error.
func TestSwitchCaseFailure(t *testing.T) {
	p := testPlan(Step{ID: "route", Switch: &SwitchStep{Cases: []Case{{Name: "case0", When: "${{ true }}", Steps: []Step{restStep("x", "/bad")}}}}})
	partner := &fakePartner{fail: map[string]error{"/bad": temporal.NewNonRetryableApplicationError("nope", ErrHTTPClient, nil)}}
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err == nil || rec.Step("route").Status != StatusFailed || rec.Error.Type != ErrHTTPClient {
		t.Fatalf("err %v, record %+v", err, rec)
	}
}

// set assigns in order; a later binding reads an earlier one; foreach
// items and parallel branches keep their sets to themselves; times from
// now() are kept as RFC 3339 text.
func TestSetScopesAndNow(t *testing.T) {
	p := testPlan(
		setStep("a", "n", "${{ 1 }}", "m", "${{ vars.n + 1 }}", "at", "${{ now() }}", "later", "${{ formattime(now() + duration('1h'), 'rfc3339nano') }}"),
		Step{ID: "each", Foreach: &Foreach{Items: "${{ [1,2,3] }}", Concurrency: 3, Steps: []Step{
			setStep("mine", "n", "${{ item * 10 }}"),
			restStep("call", "/item/${{ vars.n }}"),
		}}},
		Step{ID: "par", Parallel: []Branch{
			{ID: "l", Steps: []Step{setStep("ls", "m", "left"), restStep("lc", "/l/${{ vars.m }}")}},
			{ID: "r", Steps: []Step{setStep("rs", "m", "right"), restStep("rc", "/r/${{ vars.m }}")}},
		}},
	)
	p.Outputs = []Binding{{Name: "n", Value: "${{ vars.n }}"}, {Name: "m", Value: "${{ vars.m }}"}, {Name: "at", Value: "${{ vars.at }}"},
		{Name: "later", Value: "${{ vars.later }}"}, {Name: "diff", Value: "${{ (date(vars.later) - date(vars.at)).Hours() }}"}}
	partner := &fakePartner{}
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]bool{}
	for _, c := range partner.calls {
		calls[c] = true
	}
	for _, want := range []string{"GET /item/10", "GET /item/20", "GET /item/30", "GET /l/left", "GET /r/right"} {
		if !calls[want] {
			t.Errorf("missing call %s in %v", want, partner.calls)
		}
	}
	if rec.Outputs["n"] != 1.0 || rec.Outputs["m"] != 2.0 {
		t.Errorf("foreach or parallel sets leaked out: %v", rec.Outputs)
	}
	at, err := time.Parse(time.RFC3339Nano, rec.Outputs["at"].(string))
	if err != nil || at.IsZero() || !at.Equal(rec.Start) {
		t.Errorf("now() = %v (%v), flow started %v", rec.Outputs["at"], err, rec.Start)
	}
	if rec.Outputs["diff"] != 1.0 {
		t.Errorf("time arithmetic: %v", rec.Outputs)
	}
	if a := rec.Step("a"); a == nil || len(a.Outputs["set"].([]any)) != 4 {
		t.Errorf("set record: %+v", a)
	}
}

// A set whose expression fails fails the step with the binding's name.
func TestSetFailure(t *testing.T) {
	p := testPlan(setStep("a", "x", "${{ fromjson('{') }}"))
	_, err := runPlan(t, p, map[string]any{"id": "1"}, &fakePartner{})
	if err == nil || !strings.Contains(err.Error(), "a.set.x") {
		t.Fatalf("err = %v", err)
	}
}

// fail ends the flow with the flow's own message and type.
func TestFailStep(t *testing.T) {
	p := testPlan(
		setStep("a", "code", "LOCKED"),
		Step{ID: "stop", Fail: &FailStep{Message: "partner says ${{ vars.code }}", Type: "PartnerLocked"}},
		restStep("never", "/never"),
	)
	partner := &fakePartner{}
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err == nil || rec.Error == nil || rec.Error.Type != "PartnerLocked" || rec.Error.Message != "partner says LOCKED" {
		t.Fatalf("err %v, record error %+v", err, rec)
	}
	if len(partner.calls) != 0 || rec.Step("stop").Status != StatusFailed {
		t.Fatalf("calls %v, stop %+v", partner.calls, rec.Step("stop"))
	}
	p = testPlan(Step{ID: "stop", Fail: &FailStep{Message: "plain"}})
	rec, _ = runPlan(t, p, map[string]any{"id": "1"}, partner)
	if rec.Error.Type != ErrFail {
		t.Fatalf("default type: %+v", rec.Error)
	}
}

// repeat runs until its condition holds, with iteration bound, sleeping
// the interval between passes; continue_when skips a pass and break_when
// ends the loop.
func TestRepeatUntilIterationAndGuards(t *testing.T) {
	p := testPlan(
		setStep("init", "left", "${{ 3 }}"),
		Step{ID: "drain", Repeat: &Repeat{
			Until:        "${{ vars.left == 0 }}",
			Interval:     Duration(time.Minute),
			ContinueWhen: "${{ iteration == 2 }}",
			Steps: []Step{
				restStep("take", "/take/${{ iteration }}"),
				setStep("dec", "left", "${{ vars.left - 1 }}"),
			},
		}},
	)
	p.Outputs = []Binding{{Name: "left", Value: "${{ vars.left }}"}, {Name: "passes", Value: "${{ steps.drain.iterations }}"}}
	partner := &fakePartner{}
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(partner.calls, ";"); got != "GET /take/1;GET /take/3;GET /take/4" {
		t.Fatalf("calls %q", got)
	}
	if rec.Outputs["left"] != 0.0 || rec.Outputs["passes"] != 4.0 {
		t.Fatalf("outputs %v", rec.Outputs)
	}
	if rec.Step("drain[3]/take") == nil || rec.Step("drain[2]/take") != nil {
		t.Fatalf("pass records: %v", stepIDs(rec))
	}
	if d := rec.Step("drain").Duration.D(); d != 3*time.Minute {
		t.Fatalf("three intervals expected, repeat took %v", d)
	}

	p = testPlan(Step{ID: "loop", Repeat: &Repeat{MaxIterations: 10, BreakWhen: "${{ iteration > 2 }}", Steps: []Step{restStep("t", "/t/${{ iteration }}")}}})
	partner = &fakePartner{}
	rec, err = runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err != nil || len(partner.calls) != 2 || rec.Step("loop").Outputs["iterations"] != 2.0 {
		t.Fatalf("break_when: err %v calls %v", err, partner.calls)
	}
	p = testPlan(Step{ID: "loop", Repeat: &Repeat{MaxIterations: 3, Steps: []Step{restStep("t", "/t")}}})
	partner = &fakePartner{}
	if _, err = runPlan(t, p, map[string]any{"id": "1"}, partner); err != nil || len(partner.calls) != 3 {
		t.Fatalf("max_iterations alone: err %v calls %v", err, partner.calls)
	}
}

// A repeat whose until never holds fails after max_iterations; an inner
// failure fails it too.
func TestRepeatErrors(t *testing.T) {
	p := testPlan(Step{ID: "loop", Repeat: &Repeat{Until: "${{ false }}", MaxIterations: 2, Steps: []Step{setStep("s", "x", "1")}}})
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, &fakePartner{})
	if err == nil || rec.Error.Type != ErrRepeatExhausted {
		t.Fatalf("err %v, rec %+v", err, rec)
	}
	p = testPlan(Step{ID: "loop", Repeat: &Repeat{Until: "${{ false }}", Steps: []Step{{ID: "f", Fail: &FailStep{Message: "pass ${{ iteration }}"}}}}})
	rec, err = runPlan(t, p, map[string]any{"id": "1"}, &fakePartner{})
	if err == nil || rec.Error.Message != "pass 1" {
		t.Fatalf("err %v, rec %+v", err, rec.Error)
	}
	p = testPlan(Step{ID: "loop", Repeat: &Repeat{Until: "${{ nope( }}", Steps: []Step{setStep("s", "x", "1")}}})
	if _, err = runPlan(t, p, map[string]any{"id": "1"}, &fakePartner{}); err == nil || !strings.Contains(err.Error(), "loop.repeat.until") {
		t.Fatalf("err %v", err)
	}
}

// foreach break_when starts no more items; continue_when skips one.
func TestForeachBreakAndContinue(t *testing.T) {
	p := testPlan(Step{ID: "each", Foreach: &Foreach{Items: "${{ [1,2,3,4,5] }}",
		ContinueWhen: "${{ item == 2 }}", BreakWhen: "${{ item == 4 }}",
		Steps: []Step{restStep("c", "/c/${{ item }}")}}})
	partner := &fakePartner{}
	if _, err := runPlan(t, p, map[string]any{"id": "1"}, partner); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(partner.calls, ";"); got != "GET /c/1;GET /c/3" {
		t.Fatalf("calls %q", got)
	}
	p = testPlan(Step{ID: "each", Foreach: &Foreach{Items: "${{ [1] }}", BreakWhen: "${{ item.x.y }}", Steps: []Step{restStep("c", "/c")}}})
	if _, err := runPlan(t, p, map[string]any{"id": "1"}, partner); err == nil || !strings.Contains(err.Error(), "each[0].break_when") {
		t.Fatalf("err %v", err)
	}
}

// A top-level repeat continues as new between passes when the history is
// full, and the next run resumes at the next pass with the vars set so far.
func TestRepeatContinuesAsNew(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	take := func(ctx context.Context, req *RestRequest) (*StepResult, error) {
		mu.Lock()
		calls = append(calls, req.Path)
		mu.Unlock()
		return &StepResult{Attempt: 1, Response: &ResponseSummary{StatusCode: 200, JSON: map[string]any{}}}, nil
	}
	p := testPlan(
		setStep("init", "left", "${{ 5 }}"),
		Step{ID: "drain", Repeat: &Repeat{Until: "${{ vars.left == 0 }}", Steps: []Step{
			restStep("take", "/take/${{ iteration }}"),
			setStep("dec", "left", "${{ vars.left - 1 }}"),
		}}},
	)
	p.Outputs = []Binding{{Name: "left", Value: "${{ vars.left }}"}}
	p.Settings.HistoryLimit = 12
	rec, runs := runContinuing(t, RunInput{Plan: p, Inputs: map[string]any{"id": "1"}}, take, func(next RunInput) {
		if next.Resume == nil || next.Resume.Repeat == nil || next.Resume.NextStep != 1 {
			t.Fatalf("continue-as-new carried no repeat state: %+v", next.Resume)
		}
	})
	if runs < 2 || rec.Runs != runs-1 {
		t.Fatalf("runs %d, record says %d", runs, rec.Runs)
	}
	if got := strings.Join(calls, ","); got != "/take/1,/take/2,/take/3,/take/4,/take/5" {
		t.Fatalf("calls %s", got)
	}
	if rec.Outputs["left"] != 0.0 || rec.Step("drain").Outputs["iterations"] != 5.0 {
		t.Fatalf("outputs %v, drain %+v", rec.Outputs, rec.Step("drain"))
	}
}

// Time helpers: formatting and parsing with layouts, and now() outside a
// flow fails with a clear message.
func TestTimeHelpers(t *testing.T) {
	env := map[string]any{nowKey: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }}
	for expr, want := range map[string]any{
		"${{ formattime(now(), 'date') }}":                                 "2026-01-02",
		"${{ formattime(now(), '02.01.2006 15:04') }}":                     "02.01.2026 03:04",
		"${{ formattime(now(), 'unix') }}":                                 int64(1767323045),
		"${{ formattime('2026-01-02T03:04:05+01:00', 'rfc3339') }}":        "2026-01-02T03:04:05+01:00",
		"${{ formattime(parsetime('02/01/2026', '02/01/2006'), 'date') }}": "2026-01-02",
		"${{ formattime(parsetime(1767323045, 'unix'), 'rfc3339') }}":      "2026-01-02T03:04:05Z",
		"${{ now() - duration('24h') < now() }}":                           true,
		"since=${{ now() - duration('1h') }}":                              "since=2026-01-02T02:04:05Z",
		"${{ string(duration('90m')) }}":                                   "1h30m0s",
		"${{ formattime(now().Add(duration('36h')), 'datetime') }}":        "2026-01-03 15:04:05",
	} {
		got, err := EvalValue(expr, env)
		if err != nil || got != want {
			t.Errorf("%s = %#v (%v), want %#v", expr, got, err, want)
		}
	}
	for expr, want := range map[string]string{
		"${{ now() }}":                           "only available while a flow runs",
		"${{ parsetime('x', 'date') }}":          "does not match layout",
		"${{ formattime('yesterday', 'date') }}": "not an RFC 3339 time",
		"${{ formattime(now(), '') }}":           "empty layout",
		"${{ formattime(1, 'date') }}":           "needs a time",
	} {
		e := env
		if expr == "${{ now() }}" {
			e = map[string]any{}
		}
		if _, err := EvalValue(expr, e); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want %q", expr, err, want)
		}
	}
	long := "${{ formattime(now(), '" + strings.Repeat("2006", 40) + "') }}"
	if _, err := EvalValue(long, env); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("long layout: %v", err)
	}
}

// A set that would make the vars larger than MaxVarsBytes fails with
// ErrLimit instead of growing the continue-as-new input past Temporal's
// payload limit.
func TestSetBoundsVarsSize(t *testing.T) {
	p := testPlan(Step{ID: "grow", Repeat: &Repeat{MaxIterations: 100, Steps: []Step{
		setStep("add", "blob", "${{ default(vars.blob, '') + repeat('x', 100000) }}"),
	}}})
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, &fakePartner{})
	if err == nil || rec.Error.Type != ErrLimit || !strings.Contains(rec.Error.Message, "over the limit of 524288") {
		t.Fatalf("err %v, record error %+v", err, rec.Error)
	}
	if add := rec.Step("grow[6]/add"); add == nil || add.Status != StatusFailed {
		t.Fatalf("the sixth pass should fail: %v", stepIDs(rec))
	}
}

// A plan made by hand with a repeat that cannot end fails instead of
// looping in the workflow task; an endless repeat of skipped steps meets
// the run's step limit.
func TestRepeatThatCannotEnd(t *testing.T) {
	p := testPlan(Step{ID: "loop", Repeat: &Repeat{Steps: []Step{setStep("s", "x", "1")}}})
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, &fakePartner{})
	if err == nil || rec.Error.Type != ErrConfig {
		t.Fatalf("err %v, rec %+v", err, rec)
	}
	p = testPlan(Step{ID: "a", Switch: &SwitchStep{Cases: []Case{{Name: "then", When: "${{ true }}", Steps: []Step{
		{ID: "loop", Repeat: &Repeat{Until: "${{ false }}", Steps: []Step{}}},
	}}}}})
	rec, err = runPlan(t, p, map[string]any{"id": "1"}, &fakePartner{})
	if err == nil || rec.Error.Type != ErrLimit {
		t.Fatalf("err %v, rec %+v", err, rec.Error)
	}
}
