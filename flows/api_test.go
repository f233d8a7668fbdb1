package flows_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
)

func loadPartner(t *testing.T) *flows.Project {
	t.Helper()
	p, err := flows.Load("testdata/valid/partner")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    flows.Problem
		want string
	}{
		{flows.Problem{File: "f.yaml", Line: 3, Col: 5, Path: "steps[0].id", Message: "bad"}, "f.yaml:3:5: steps[0].id: bad"},
		{flows.Problem{File: "f.yaml", Line: 1, Col: 1, Message: "missing kind"}, "f.yaml:1:1: missing kind"},
		{flows.Problem{File: "big.yaml", Message: "too large"}, "big.yaml: too large"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func TestNamesAndDocuments(t *testing.T) {
	p := loadPartner(t)
	n := p.Names()
	if strings.Join(n.Flows, ",") != "nightly-order-sync" || strings.Join(n.Actions, ",") != "lookup-customer" ||
		strings.Join(n.Connections, ",") != "metrics,partner-api,partner-soap" || strings.Join(n.Profiles, ",") != "partner-mtls" {
		t.Errorf("Names() = %+v", n)
	}
	var inFlows []string
	for _, d := range p.Documents() {
		if d.File == "flows/nightly-order-sync.yaml" {
			inFlows = append(inFlows, d.Kind+" "+d.Name)
		}
		if d.Line == 0 {
			t.Errorf("document %s has no line", d.Name)
		}
	}
	if strings.Join(inFlows, ",") != "Flow nightly-order-sync" {
		t.Errorf("documents of the flow file = %v", inFlows)
	}
	if s := p.Settings(); s.BodyLimit != 512<<10 || s.DefaultTaskQueue != "partner" {
		t.Errorf("Settings() = %+v", s)
	}
}

func TestDefaultSettings(t *testing.T) {
	p, err := flows.Load("testdata/valid/design")
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Settings(); s.BodyLimit != engine.DefaultBodyLimit || s.DefaultTaskQueue != "outflow" {
		t.Errorf("Settings() = %+v, want the defaults", s)
	}
}

func TestPlanOnlyReachable(t *testing.T) {
	p := loadPartner(t)
	plan, err := p.Plan("lookup-customer")
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Connections) != 1 || plan.Connections["partner-api"] == nil {
		t.Errorf("connections = %v, want partner-api only", plan.Connections)
	}
	if len(plan.Profiles) != 1 || plan.Profiles["partner-mtls"] == nil {
		t.Errorf("profiles = %v, want partner-mtls only", plan.Profiles)
	}
	if len(plan.Actions) != 0 {
		t.Errorf("actions = %v, want none", plan.Actions)
	}
	// Plans do not share values: changing one leaves the next alone.
	plan.Steps[0].Rest.Query[0].Value = "changed"
	again, _ := p.Plan("lookup-customer")
	if again.Steps[0].Rest.Query[0].Value == "changed" {
		t.Error("plans share their values")
	}
}

func TestPlanUnknownName(t *testing.T) {
	p := loadPartner(t)
	_, err := p.Plan("nightly-order-snyc")
	if err == nil || !strings.Contains(err.Error(), `did you mean "nightly-order-sync"`) {
		t.Errorf("Plan(typo) error = %v", err)
	}
	_, err = p.Plan("partner-api")
	if err == nil || !strings.Contains(err.Error(), "not a flow or action") {
		t.Errorf("Plan(connection) error = %v", err)
	}
}

func TestStepPlan(t *testing.T) {
	p := loadPartner(t)
	plan, err := p.StepPlan("nightly-order-sync", "status")
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Steps) != 1 || plan.Steps[0].ID != "status" || plan.Steps[0].If != "" {
		t.Errorf("steps = %+v, want status alone without if", plan.Steps)
	}
	if len(plan.Connections) != 1 || plan.Connections["partner-soap"] == nil || len(plan.Actions) != 0 || len(plan.Profiles) != 0 {
		t.Errorf("reachable: connections %v, actions %v, profiles %v", plan.Connections, plan.Actions, plan.Profiles)
	}
	if plan.Outputs != nil || len(plan.Inputs) != 3 || len(plan.Vars) != 3 {
		t.Errorf("outputs %v, inputs %d, vars %d", plan.Outputs, len(plan.Inputs), len(plan.Vars))
	}

	plan, err = p.StepPlan("nightly-order-sync", "customer")
	if err != nil {
		t.Fatal(err)
	}
	if plan.Actions["lookup-customer"] == nil || plan.Connections["partner-api"] == nil || plan.Profiles["partner-mtls"] == nil {
		t.Errorf("an action step's plan lacks what the action reaches: %v %v %v", plan.Actions, plan.Connections, plan.Profiles)
	}

	if plan, err := p.StepPlan("nightly-order-sync", "ping"); err != nil || plan.Steps[0].ID != "ping" {
		t.Errorf("StepPlan of a step in a parallel branch: %v", err)
	}
	if _, err := p.StepPlan("nightly-order-sync", "detail"); err == nil || !strings.Contains(err.Error(), `foreach step "each"`) {
		t.Errorf("StepPlan of a step in a foreach: %v", err)
	}
	_, err = p.StepPlan("nightly-order-sync", "stat")
	if err == nil || !strings.Contains(err.Error(), `did you mean "status"`) || !strings.Contains(err.Error(), "known: audit, both, customer") {
		t.Errorf("StepPlan of an unknown step: %v", err)
	}
}

func TestProfileAndConnection(t *testing.T) {
	p := loadPartner(t)
	pp, err := p.Profile("partner-mtls")
	if err != nil {
		t.Fatal(err)
	}
	if pp.Keystore == nil || pp.Keystore.Password.Ref != "env:PARTNER_KEYSTORE_PASSWORD" || pp.MinVersion != "1.3" || pp.Store != "agent" {
		t.Errorf("Profile() = %+v", pp)
	}
	if _, err := p.Profile("partner"); err == nil || !strings.Contains(err.Error(), "partner-mtls") {
		t.Errorf("Profile(unknown) = %v", err)
	}
	c, err := p.Connection("partner-soap")
	if err != nil {
		t.Fatal(err)
	}
	if c.Scheme != "https" || c.Host != "soap.partner.example" || c.Port != 443 || c.BasePath != "/services" {
		t.Errorf("Connection() = %+v", c)
	}
}

func TestLoadFiles(t *testing.T) {
	root := "testdata/valid/partner"
	p, err := flows.LoadFiles(root, []string{
		filepath.Join(root, "actions/lookup-customer.yaml"),
		filepath.Join(root, "connections.yaml"),
		filepath.Join(root, "profiles.yaml"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Names(); len(n.Flows) != 0 || len(n.Actions) != 1 {
		t.Errorf("Names() = %+v, want the one action", n)
	}
	_, err = flows.LoadFiles(root, []string{"testdata/valid/design/project.yaml"})
	if err == nil || !strings.Contains(err.Error(), "outside the project folder") {
		t.Errorf("LoadFiles(outside) = %v", err)
	}
	// Alone, the action's connection is unknown: problems name the file
	// relative to the project folder.
	_, err = flows.LoadFiles(root, []string{filepath.Join(root, "actions/lookup-customer.yaml")})
	var ps flows.Problems
	if !errors.As(err, &ps) || ps[0].File != "actions/lookup-customer.yaml" {
		t.Errorf("LoadFiles(action alone) = %v", err)
	}
}

func TestLoadSkipsFolders(t *testing.T) {
	fsys := fstest.MapFS{
		"flow.yaml":              {Data: []byte("kind: Connection\nname: c\nhost: h.example\n")},
		".github/workflows.yaml": {Data: []byte("on: push\n")},
		"_drafts/x.yml":          {Data: []byte("nonsense: [\n")},
		"testdata/fixture.yaml":  {Data: []byte("status: 200\n")},
		"notes.txt":              {Data: []byte("not yaml")},
		"sub/more.YML":           {Data: []byte("kind: Connection\nname: d\nhost: d.example\n")},
	}
	p, err := flows.LoadFS(fsys, "/project")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Names().Connections, ","); got != "c,d" {
		t.Errorf("connections = %s, want c,d", got)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := flows.Load("testdata/valid/partner/connections.yaml"); err == nil || !strings.Contains(err.Error(), "give the project folder") {
		t.Errorf("Load(file) = %v", err)
	}
	if _, err := flows.Load("testdata/nowhere"); err == nil {
		t.Error("Load(missing folder) succeeded")
	}
	_, err := flows.LoadFS(fstest.MapFS{"readme.md": {Data: []byte("#")}}, "/empty")
	var ps flows.Problems
	if !errors.As(err, &ps) || !strings.Contains(ps.Error(), "no *.yaml or *.yml files") {
		t.Errorf("LoadFS(empty) = %v", err)
	}
}

// Hostile YAML is refused with a positioned problem, before it can exhaust
// the parser or the decoder.
func TestHostileYAML(t *testing.T) {
	big := "kind: Flow\nname: big\ndescription: \"" + strings.Repeat("x", flows.MaxFileSize) + "\"\n"
	for name, tc := range map[string]struct {
		src  string
		want string
	}{
		"large file":       {big, "big.yaml: file is larger than 2 MiB"},
		"deep brackets":    {"a: " + strings.Repeat("[", 1<<20) + "\n", "values nest deeper than 100 levels"},
		"deep sequences":   {strings.Repeat("- ", 1<<19) + "x\n", "values nest deeper than 100 levels"},
		"deep but quoted":  {"kind: Flow\nname: q\nx: 'it''s [" + "'\ny: " + strings.Repeat("{a: ", 300) + "\n", "values nest deeper than 100 levels"},
		"hidden by quotes": {"kind: Flow\nname: q\nx: a'b\ny: " + strings.Repeat("[", 5000) + "\n", "values nest deeper than 100 levels"},
		"alias bomb": {"kind: Flow\nname: b\nvars:\n  a: &a [x,x,x,x,x,x,x,x,x,x]\n" +
			"  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
			"  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n  e: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n", "alias bomb"},
		"deep through aliases": {"kind: Flow\nname: b\nvars:\n  a: &a " + strings.Repeat("[", 60) + strings.Repeat("]", 60) + "\n  b: " + strings.Repeat("[", 50) + "*a" + strings.Repeat("]", 50) + "\n", "alias *a makes values nest deeper than 100 levels"},
	} {
		t.Run(name, func(t *testing.T) {
			file := "big.yaml"
			_, err := flows.LoadFS(fstest.MapFS{file: {Data: []byte(tc.src)}}, "/p")
			var ps flows.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("LoadFS = %v, want Problems", err)
			}
			if !strings.Contains(ps.Error(), tc.want) {
				t.Errorf("problems:\n%s\nwant one containing %q", ps.Error(), tc.want)
			}
			if name != "large file" && ps[0].Line == 0 {
				t.Errorf("problem has no position: %s", ps[0])
			}
		})
	}
}

// Expression problems point at the expression inside the string.
func TestExpressionPositions(t *testing.T) {
	src := `kind: Action
name: a
inputs: {x: {type: string}}
steps:
  - id: plain
    rest:
      connection: c
      path: /a/${{ inputs.y }}
  - id: double
    rest: {connection: c, path: "/b/${{ inputs.y }}"}
  - id: single
    rest: {connection: c, path: '/c/${{ inputs.y }}'}
  - id: block
    rest:
      connection: c
      body: |
        text ${{ inputs.y }}
---
kind: Connection
name: c
host: c.example
`
	_, err := flows.LoadFS(fstest.MapFS{"a.yaml": {Data: []byte(src)}}, "/p")
	var ps flows.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("LoadFS = %v", err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	want := []string{
		`a.yaml:8:27: steps[0].rest.path: unknown input "y" (known: x)`,
		`a.yaml:10:48: steps[1].rest.path: unknown input "y" (known: x)`,
		`a.yaml:12:48: steps[2].rest.path: unknown input "y" (known: x)`,
		`a.yaml:17:25: steps[3].rest.body: unknown input "y" (known: x)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestWarnings(t *testing.T) {
	p, err := flows.Load("testdata/valid/anchors")
	if err != nil {
		t.Fatal(err)
	}
	w := p.Warnings().Error()
	if !strings.Contains(w, "insecure_skip_verify: server certificates are not verified") {
		t.Errorf("warnings lack the insecure_skip_verify warning:\n%s", w)
	}
}

func TestSchemaEmbedded(t *testing.T) {
	data, err := os.ReadFile("schema/outflow.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if string(flows.Schema()) != string(data) {
		t.Error("Schema() differs from schema/outflow.schema.json")
	}
}
