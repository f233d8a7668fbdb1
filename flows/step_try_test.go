package flows

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/outflow-dev/outflow/engine"
)

const tryProject = `kind: Connection
name: api
host: api.example
---
kind: Flow
name: child
inputs: {order: {type: string, required: true}}
steps:
  - id: get
    rest: {connection: api, path: "/orders/${{ inputs.order }}"}
outputs: {status: "${{ steps.get.json.status }}"}
---
kind: Flow
name: parent
steps:
  - id: sync
    try:
      - id: post
        rest: {connection: api, method: POST, path: /orders}
      - id: sub
        flow: child
        with: {order: "${{ steps.post.json.id }}"}
    catch:
      - id: undo
        rest: {connection: api, method: DELETE, path: "/orders/${{ error.step }}/${{ error.status_code }}"}
    finally:
      - id: cleanup
        rest: {connection: api, path: /cleanup}
  - id: after
    rest: {connection: api, path: "/after/${{ steps.sub.outputs.status }}/${{ steps.sub.execution_id }}"}
on_failure:
  - id: alert
    rest: {connection: api, path: "/alert/${{ error.message }}"}
`

func TestTryAndFlowCompile(t *testing.T) {
	p, err := LoadFS(fstest.MapFS{"flow.yaml": {Data: []byte(tryProject)}}, "/p")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan("parent")
	if err != nil {
		t.Fatal(err)
	}
	tr := plan.Steps[0].Try
	if tr == nil || len(tr.Steps) != 2 || len(tr.Catch) != 1 || len(tr.Finally) != 1 {
		t.Fatalf("try = %+v", tr)
	}
	if f := tr.Steps[1].Flow; f == nil || f.Name != "child" || len(f.With) != 1 {
		t.Fatalf("flow step = %+v", f)
	}
	child := plan.Flows["child"]
	if child == nil || child.Name != "child" || child.Connections["api"] == nil || len(child.Inputs) != 1 || child.Flows != nil {
		t.Fatalf("the plan carries the called flow, complete but for Flows: %+v", child)
	}
	if len(plan.OnFailure) != 1 || plan.OnFailure[0].ID != "alert" {
		t.Fatalf("on_failure = %+v", plan.OnFailure)
	}
}

func TestTryAndFlowProblems(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"catch without try", `
  - id: s
    catch: [{id: u, rest: {connection: api}}]`, `flow.yaml:9:5: steps[0].catch: catch: belongs to a try step`},
		{"finally without try", `
  - id: s
    finally: [{id: u, rest: {connection: api}}]`, `flow.yaml:9:5: steps[0].finally: finally: belongs to a try step`},
		{"try alone", `
  - id: s
    try: [{id: u, rest: {connection: api}}]`, `flow.yaml:9:5: steps[0]: a try step needs catch: or finally:`},
		{"error outside catch", `
  - id: s
    rest: {connection: api, path: "/${{ error.message }}"}`, `flow.yaml:9:41: steps[0].rest.path: error is defined only in the catch: steps`},
		{"error in try", `
  - id: s
    try: [{id: u, rest: {connection: api, path: "/${{ error.type }}"}}]
    finally: [{id: f, rest: {connection: api}}]`, `steps[0].try[0].rest.path: error is defined only in the catch: steps`},
		{"unknown error field", `
  - id: s
    try: [{id: u, rest: {connection: api}}]
    catch: [{id: c, rest: {connection: api, path: "/${{ error.kind }}"}}]`, `steps[0].catch[0].rest.path: unknown field error.kind (fields: type, message, step, status_code)`},
		{"unknown flow", `
  - id: s
    flow: chld`, `flow.yaml:9:11: steps[0].flow: unknown flow "chld" (did you mean "child"?`},
		{"action as flow", `
  - id: s
    flow: act`, `flow.yaml:9:11: steps[0].flow: "act" is an action; flow: starts flows only`},
		{"missing input", `
  - id: s
    flow: child`, `flow.yaml:9:5: steps[0]: missing required input "order" of flow "child"`},
		{"unknown input", `
  - id: s
    flow: child
    with: {order: "1", ordr: "2"}`, `steps[0].with.ordr: unknown input "ordr" of flow "child"`},
		{"self cycle", `
  - id: s
    flow: f`, `flow.yaml:9:11: steps[0].flow: flow cycle: f → f`},
		{"cycle through action", `
  - id: s
    action: act`, `flow cycle: act → f → act`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := `kind: Connection
name: api
host: api.example
---
kind: Flow
name: f
steps:` + tc.src + `
---
kind: Flow
name: child
inputs: {order: {type: string, required: true}}
steps: [{id: g, rest: {connection: api}}]
---
kind: Action
name: act
steps:
  - id: back
    flow: f
`
			got := loadProblems(t, src)
			if !strings.Contains(got, tc.want) {
				t.Fatalf("problems lack %q:\n%s", tc.want, got)
			}
		})
	}
}

func TestTryProjectIsValid(t *testing.T) {
	if got := loadProblems(t, tryProject); got != "" {
		t.Fatalf("problems: %s", got)
	}
}

// docs/flows.md lists every field of error, from the engine's table.
func TestFlowsDocListsErrorFields(t *testing.T) {
	doc, err := os.ReadFile("../docs/flows.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range engine.ErrorFields {
		if !strings.Contains(string(doc), "| `error."+f.Name+"` |") {
			t.Errorf("docs/flows.md lacks a row for error.%s", f.Name)
		}
	}
}
