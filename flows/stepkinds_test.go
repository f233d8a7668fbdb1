package flows

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/outflow-dev/outflow/engine"
)

// The loader's table and the engine's list the same kinds in the same
// order, and agree on which call partners: a kind the loader compiles is
// one the engine runs.
func TestStepKindsMatchTheEngine(t *testing.T) {
	if err := checkStepKinds(stepKinds()); err != nil {
		t.Fatal(err)
	}
	if got, want := kindNames(false), engine.StepKinds(); !reflect.DeepEqual(got, want) {
		t.Fatalf("flows kinds %v, engine kinds %v", got, want)
	}
	for _, name := range kindNames(false) {
		if callStep(name) != engine.CallsActivity(name) {
			t.Errorf("kind %s: flows says calls %v, engine %v", name, callStep(name), engine.CallsActivity(name))
		}
	}
	if got := wordList(kindNames(true), "and"); got != "rest and soap" {
		t.Errorf("call kinds in words: %q", got)
	}
	if got := wordList([]string{"a", "b", "c"}, "or"); got != "a, b or c" {
		t.Errorf("wordList = %q", got)
	}
}

func TestStepKindsTableRefusesMistakes(t *testing.T) {
	ok := waitKind()
	for _, tc := range []struct {
		kinds []stepKind
		want  string
	}{
		{[]stepKind{ok, ok}, `step kind "wait" is listed twice`},
		{[]stepKind{{given: ok.given, check: ok.check, compile: ok.compile}}, "step kind 0 has no name"},
		{[]stepKind{{name: "x", given: ok.given}}, `step kind "x" lacks given, check or compile`},
	} {
		if err := checkStepKinds(tc.kinds); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkStepKinds = %v, want %q", err, tc.want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("a duplicate kind does not stop the program at start")
		}
	}()
	mustCheckStepKinds([]stepKind{ok, ok})
}

// Each YAML kind compiles to the engine step of the same kind.
func TestEveryKindCompilesToItsEngineKind(t *testing.T) {
	p, err := Load("testdata/valid/paginate")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range p.Names().Flows {
		doc := p.idx.flows[name]
		plan, err := p.Plan(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, st := range doc.value.(*Flow).Steps {
			if got := plan.Steps[i].Kind(); got != stepKindOf(&st) {
				t.Errorf("%s step %s: YAML kind %q, plan kind %q", name, st.ID, stepKindOf(&st), got)
			}
		}
	}
}

// A step of a paginated step's each_page runs once per page: StepPlan
// refuses it the way it refuses a step of a foreach, and says which.
func TestStepPlanRefusesStepsThatRunPerPage(t *testing.T) {
	p, err := Load("testdata/valid/paginate")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.StepPlan("mirror-orders", "progress")
	if err == nil || !strings.Contains(err.Error(), `runs inside rest step "orders", once per page; test step "orders" instead`) {
		t.Fatalf("StepPlan = %v", err)
	}
}

// loadProblems loads a one-file project and returns its problems as text.
func loadProblems(t *testing.T, src string) string {
	t.Helper()
	_, err := LoadFS(fstest.MapFS{"flow.yaml": {Data: []byte(src)}}, "/p")
	var ps Problems
	if err != nil && !errors.As(err, &ps) {
		t.Fatalf("Load = %v", err)
	}
	return ps.Error()
}

// A key that belongs to a kind, on a step of another kind, is reported:
// steps: on a rest step used to be ignored without a word.
func TestKeysOfAnotherKind(t *testing.T) {
	got := loadProblems(t, `kind: Connection
name: api
host: api.example
---
kind: Flow
name: f
steps:
  - id: call
    rest: {connection: api}
    steps: [{id: inner, rest: {connection: api}}]
  - id: only_with
    with: {a: 1}
`)
	for _, want := range []string{
		"flow.yaml:10:5: steps[0].steps: steps: inside a step belongs to a foreach",
		`flow.yaml:11:5: steps[1]: step "only_with" does nothing; give it one of rest, soap, action, foreach, parallel, wait, switch, set, repeat, fail, try or flow`,
		"flow.yaml:12:5: steps[1].with: with: gives the inputs of an action",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
}

// execution.NAME is checked against the fields the engine binds, and
// branch is readable inside parallel branches only.
func TestExecutionAndBranchReferences(t *testing.T) {
	got := loadProblems(t, `kind: Connection
name: api
host: api.example
---
kind: Flow
name: f
vars:
  started: "${{ execution.started_at }}"
steps:
  - id: who
    rest: {connection: api, path: "/${{ execution.id }}/${{ execution.run_id }}/${{ execution.flow }}/${{ execution.attempt }}/${{ execution.run }}"}
  - id: typo
    rest: {connection: api, path: "/${{ execution.workflow_id }}"}
  - id: both
    parallel:
      - id: left
        steps:
          - id: l
            rest: {connection: api, path: "/${{ branch }}"}
          - id: each
            foreach: "${{ [1] }}"
            steps: [{id: li, rest: {connection: api, path: "/${{ branch }}/${{ item }}"}}]
  - id: outside
    rest: {connection: api, path: "/${{ branch }}"}
outputs:
  id: "${{ execution.id }}"
`)
	want := []string{
		`flow.yaml:13:51: steps[1].rest.path: unknown field execution.workflow_id (fields: id, run_id, flow, started_at, attempt, run)`,
		`flow.yaml:24:41: steps[3].rest.path: branch is defined only inside the steps of a parallel branch, where it is the branch's id`,
	}
	if got != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// docs/flows.md lists every field of execution the engine binds.
func TestFlowsDocListsExecutionFields(t *testing.T) {
	doc, err := os.ReadFile("../docs/flows.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range engine.ExecutionFields {
		if !strings.Contains(string(doc), "`execution."+f.Name+"`") {
			t.Errorf("docs/flows.md does not list execution.%s (%s)", f.Name, f.Doc)
		}
	}
}
