package flows_test

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
)

const testTarget = `kind: Connection
name: api
host: api.example
---
kind: Flow
name: f
inputs: {id: {type: string, required: true}}
steps:
  - id: get
    rest: {connection: api, path: /x}
outputs:
  name: "${{ steps.get.json.name }}"
`

func loadTests(t *testing.T, tests string) (*flows.Project, error) {
	t.Helper()
	return flows.LoadFS(fstest.MapFS{
		"flow.yaml":   {Data: []byte(testTarget)},
		"f.test.yaml": {Data: []byte(tests)},
	}, "/project")
}

func TestTestCaseCompiles(t *testing.T) {
	p, err := loadTests(t, `kind: Test
name: f-works
target: f
inputs: {id: "7"}
mocks:
  get:
    - {status: 503, headers: {Retry-After: 0}}
    - {body: {name: Ada}}
expect:
  outputs: {name: Ada}
  steps:
    get: {calls: 2}
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Tests(), ","); got != "f-works" || !p.IsTest("f-works") || p.IsTest("f") {
		t.Fatalf("Tests() = %s", got)
	}
	tc, err := p.TestCase("f-works")
	if err != nil {
		t.Fatal(err)
	}
	if tc.Plan.Name != "f" || tc.Inputs["id"] != "7" || tc.Expect.Status != engine.StatusSucceeded || tc.Expect.OutputsMatch != "subset" {
		t.Fatalf("test case %+v", tc)
	}
	if len(tc.Mocks) != 1 || len(tc.Mocks[0].Responses) != 2 || tc.Mocks[0].Responses[0].Status != 503 || tc.Mocks[0].At != "f.test.yaml:7:5" {
		t.Fatalf("mocks %+v", tc.Mocks)
	}
	if got := tc.Where("expect.outputs.name"); got != "f.test.yaml:10:19" {
		t.Fatalf("Where = %s", got)
	}
	if _, err := p.TestCase("f-wrks"); err == nil || !strings.Contains(err.Error(), `did you mean "f-works"`) {
		t.Fatalf("unknown test: %v", err)
	}
	// A test is not a flow: Plan refuses it by name.
	if _, err := p.Plan("f-works"); err == nil {
		t.Fatal("Plan of a test succeeded")
	}
}

func TestTestProblemsArePositioned(t *testing.T) {
	_, err := loadTests(t, `kind: Test
name: f-bad
target: f
mocks:
  gett: {status: 200}
`)
	var ps flows.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		`f.test.yaml:3:1: missing required input "id" of flow "f"; add it under inputs:`,
		`f.test.yaml:5:3: mocks.gett: flow "f" has no step "gett" (did you mean "get"? known: get)`,
	}
	if ps.Error() != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", ps.Error(), strings.Join(want, "\n"))
	}
}

func TestAssertionCheckShowsBothSides(t *testing.T) {
	env := flows.AssertEnv{Outputs: map[string]any{"count": 2.0, "name": "Ada"}, Steps: map[string]any{}, Record: map[string]any{}, Inputs: map[string]any{}}
	for _, tc := range []struct {
		a      flows.Assertion
		ok     bool
		detail string
		err    string
	}{
		{"${{ outputs.count == 2 }}", true, "", ""},
		{"${{ outputs.count == 3 }}", false, "outputs.count is 2", ""},
		{"${{ outputs.count + 1 == outputs.count * 2 + 1 }}", false, "outputs.count + 1 is 3, outputs.count * 2 + 1 is 5", ""},
		{"${{ outputs.name startsWith 'B' }}", false, `outputs.name is "Ada"`, ""},
		{"${{ outputs.count }}", false, "it is 2, not true or false", ""},
		{"${{ outputs.missing.deeper == 1 }}", false, "", "cannot fetch deeper"},
		{"outputs.count == 2", false, "", "one expression in ${{ }}"},
	} {
		ok, detail, err := tc.a.Check(env)
		if ok != tc.ok || detail != tc.detail || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: ok=%v detail=%q err=%v", tc.a, ok, detail, err)
		}
	}
}

// Recording rewrites the mocks of one test in its file and keeps every
// other byte: comments, other documents, the order of fields.
func TestWithMocks(t *testing.T) {
	const block = "get:\n  body:\n    name: Ada\n"
	for _, tc := range []struct{ name, src, want string }{
		{
			name: "replaces the mocks",
			src:  "# tests\nkind: Test\nname: f-a\ntarget: f\ninputs: {id: \"1\"}\nmocks:\n  get: {status: 500}   # old\n\n  # a comment inside\nexpect:\n  status: failed\n---\nkind: Test\nname: f-b\ntarget: f\ninputs: {id: \"2\"}\n",
			want: "# tests\nkind: Test\nname: f-a\ntarget: f\ninputs: {id: \"1\"}\nmocks:\n  get:\n    body:\n      name: Ada\nexpect:\n  status: failed\n---\nkind: Test\nname: f-b\ntarget: f\ninputs: {id: \"2\"}\n",
		},
		{
			name: "inserts before expect",
			src:  "kind: Test\nname: f-a\ntarget: f\ninputs: {id: \"1\"}\nexpect:\n  status: failed\n",
			want: "kind: Test\nname: f-a\ntarget: f\ninputs: {id: \"1\"}\nmocks:\n  get:\n    body:\n      name: Ada\nexpect:\n  status: failed\n",
		},
		{
			name: "appends to the document",
			src:  "kind: Test\nname: f-a\ntarget: f\ninputs: {id: \"1\"}\n\n---\nkind: Test\nname: f-b\ntarget: f\ninputs: {id: \"2\"}",
			want: "kind: Test\nname: f-a\ntarget: f\ninputs: {id: \"1\"}\nmocks:\n  get:\n    body:\n      name: Ada\n\n---\nkind: Test\nname: f-b\ntarget: f\ninputs: {id: \"2\"}",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := loadTests(t, tc.src)
			if err != nil {
				t.Fatal(err)
			}
			c, err := p.TestCase("f-a")
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.WithMocks([]byte(tc.src), []byte(block))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			if _, err := loadTests(t, string(got)); err != nil {
				t.Fatalf("the result does not load: %v", err)
			}
		})
	}
	src := `{kind: Test, name: f-a, target: f, inputs: {id: "1"}, mocks: {get: {}}}`
	p, err := loadTests(t, src)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := p.TestCase("f-a")
	if _, err := c.WithMocks([]byte(src), []byte(block)); err == nil || !strings.Contains(err.Error(), "block style") {
		t.Fatalf("flow style: %v", err)
	}
}

// A test may mock and check the on_failure steps of its target
// (on_failure/ID) and of the actions it calls (STEP/on_failure/ID); a
// misspelt one is refused with the known names.
func TestTestCaseNamesOnFailureSteps(t *testing.T) {
	files := fstest.MapFS{
		"flow.yaml": {Data: []byte(`kind: Connection
name: api
host: api.example
---
kind: Action
name: a
steps:
  - id: put
    rest: {connection: api, method: PUT, path: /a}
on_failure:
  - id: undo
    rest: {connection: api, method: DELETE, path: /a}
---
kind: Flow
name: f
steps:
  - id: get
    rest: {connection: api, path: /x}
  - id: call
    action: a
on_failure:
  - id: alert
    rest: {connection: api, method: POST, path: /alerts}
`)},
		"f.test.yaml": {Data: []byte(`kind: Test
name: f-alerts
target: f
mocks:
  get: {status: 200}
  call/put: {status: 500}
  call/on_failure/undo: {status: 204}
  on_failure/alert: {status: 202}
expect:
  status: failed
  steps:
    on_failure/alert: {status: succeeded}
`)},
	}
	p, err := flows.LoadFS(files, "/project")
	if err != nil {
		t.Fatal(err)
	}
	tc, err := p.TestCase("f-alerts")
	if err != nil || len(tc.Mocks) != 4 {
		t.Fatalf("test case: %v %+v", err, tc)
	}
	files["f.test.yaml"] = &fstest.MapFile{Data: []byte(`kind: Test
name: f-alerts
target: f
mocks:
  on_failure/alrt: {status: 202}
`)}
	_, err = flows.LoadFS(files, "/project")
	if err == nil || !strings.Contains(err.Error(), `f.test.yaml:5:3: mocks["on_failure/alrt"]: flow "f" has no step "on_failure/alrt"`) || !strings.Contains(err.Error(), "on_failure/alert") {
		t.Fatalf("misspelt on_failure step: %v", err)
	}
}
