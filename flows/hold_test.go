package flows

import (
	"strings"
	"testing"
	"testing/fstest"
)

// hold_on_failure compiles from a step, a flow and outflow.yaml, and holds
// rest and soap steps only: on another kind it is reported where it is.
func TestHoldOnFailure(t *testing.T) {
	src := `kind: Connection
name: api
host: api.example
---
kind: Flow
name: f
hold_on_failure: true
steps:
  - id: call
    rest: {connection: api}
  - id: own
    rest: {connection: api}
    hold_on_failure: false
`
	p, err := LoadFS(fstest.MapFS{
		"flow.yaml":    {Data: []byte(src)},
		"outflow.yaml": {Data: []byte("kind: Project\nname: p\nhold_on_failure: true\n")},
	}, "/p")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan("f")
	if err != nil {
		t.Fatal(err)
	}
	if !plan.Settings.HoldOnFailure || plan.HoldOnFailure == nil || !*plan.HoldOnFailure ||
		plan.Steps[0].HoldOnFailure != nil || plan.Steps[1].HoldOnFailure == nil || *plan.Steps[1].HoldOnFailure {
		t.Fatalf("project %v, flow %v, steps %v %v", plan.Settings.HoldOnFailure, plan.HoldOnFailure, plan.Steps[0].HoldOnFailure, plan.Steps[1].HoldOnFailure)
	}

	got := loadProblems(t, `kind: Connection
name: api
host: api.example
---
kind: Flow
name: f
steps:
  - id: each
    foreach: "${{ [1, 2] }}"
    hold_on_failure: true
    steps: [{id: call, rest: {connection: api}, hold_on_failure: true}]
  - id: flag
    hold_on_failure: yes please
    rest: {connection: api}
`)
	for _, want := range []string{
		"flow.yaml:10:5: steps[0].hold_on_failure: hold_on_failure holds rest and soap steps only; a foreach step fails with the step inside it that failed: give that step hold_on_failure",
		"steps[1].hold_on_failure",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "steps[0].steps[0].hold_on_failure") {
		t.Errorf("a rest step inside a foreach may hold:\n%s", got)
	}
}
