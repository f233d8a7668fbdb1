package flows

import (
	"strings"
	"testing"
	"testing/fstest"
)

// local: and idempotent: compile to the plan fields that choose a call's
// path: local: true → Local, local: false → Regular, unset → neither (the
// automatic fast path decides), idempotent: true → Idempotent.
func TestCallPathFieldsCompile(t *testing.T) {
	src := `kind: Connection
name: api
host: api.example
---
kind: Flow
name: f
steps:
  - id: auto
    rest: {connection: api, path: /a}
  - id: forced_local
    local: true
    rest: {connection: api, path: /b}
  - id: forced_regular
    local: false
    rest: {connection: api, path: /c}
  - id: marked
    idempotent: true
    rest: {connection: api, method: POST, path: /d}
`
	p, err := LoadFS(fstest.MapFS{"flow.yaml": {Data: []byte(src)}}, "/p")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan("f")
	if err != nil {
		t.Fatal(err)
	}
	type flags struct{ local, regular, idempotent bool }
	want := []flags{{}, {local: true}, {regular: true}, {idempotent: true}}
	for i, st := range plan.Steps {
		if got := (flags{st.Local, st.Regular, st.Idempotent}); got != want[i] {
			t.Errorf("step %s: local/regular/idempotent = %+v, want %+v", st.ID, got, want[i])
		}
	}
}

// local: (either value) and idempotent: belong to rest and soap calls; a
// local: false on an agent's connection is fine (the step runs there).
func TestCallPathFieldsMisplaced(t *testing.T) {
	got := loadProblems(t, `kind: Connection
name: api
host: api.example
agent: dmz
---
kind: Flow
name: f
steps:
  - id: pause
    local: false
    wait: {duration: 1s}
  - id: pause2
    idempotent: true
    wait: {duration: 1s}
  - id: regular_on_agent
    local: false
    rest: {connection: api, path: /a}
`)
	for _, want := range []string{
		"flow.yaml:10:5: steps[0].local: local runs rest and soap calls only; remove it from this step",
		"flow.yaml:13:5: steps[1].idempotent: idempotent marks rest and soap calls only; remove it from this step",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "steps[2]") {
		t.Errorf("local: false on an agent's connection is refused:\n%s", got)
	}
}
