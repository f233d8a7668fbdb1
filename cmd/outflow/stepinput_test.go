package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/outflow-dev/outflow/engine"
)

const stepInputProject = `kind: Connection
name: api
url: http://%s
---
kind: Action
name: lookup
inputs: {name: {type: string}}
steps:
  - id: get
    rest: {connection: api, method: GET, path: "/find/${{ inputs.name }}"}
outputs: {id: "${{ steps.get.json.id }}"}
---
kind: Flow
name: orders-of
inputs:
  name: {type: string, required: true}
  region: {type: string, default: eu}
steps:
  - id: customer
    action: lookup
    with: {name: "${{ inputs.name }}"}
  - id: orders
    rest:
      connection: api
      method: GET
      path: "/customers/${{ steps.customer.outputs.id }}/orders"
      query: {region: "${{ inputs.region }}", vip: "${{ steps.customer.outputs.vip }}"}
`

// pathPartner answers every request with {} and remembers what was asked.
type pathPartner struct {
	mu   sync.Mutex
	seen []string
}

func (p *pathPartner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.seen = append(p.seen, r.URL.RequestURI())
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"orders":[]}`))
}

func (p *pathPartner) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// outflow test FLOW --step ID runs one step for real; what it reads from
// earlier steps comes from --input steps.ID.FIELD=VALUE or --steps FILE.
func TestOneStepWithEarlierStepsData(t *testing.T) {
	p := &pathPartner{}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	writeProjectFile(t, dir, "flow.yaml", fmt.Sprintf(stepInputProject, srv.Listener.Addr().String()))

	// The command: a dotted steps.… input. The flow's required
	// input the step does not read need not be given; its default applies.
	out, errOut, code := cli(t, "test", "orders-of", "--live", "--project", dir, "--step", "orders", "--input", "steps.customer.outputs.id=7", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var rec engine.Record
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(rec.Steps) != 1 || rec.Steps[0].ID != "orders" || rec.Status != engine.StatusSucceeded || rec.Runs != 0 {
		t.Fatalf("record: %s", out)
	}
	if got := p.requests(); len(got) != 1 || got[0] != "/customers/7/orders?region=eu&vip=" {
		t.Fatalf("the partner saw %q", got)
	}

	// A file of earlier steps' data, as expressions see it; --input
	// steps.… wins over it, and a JSON value keeps its type.
	elsewhere := t.TempDir() // not in the project, whose YAML files are documents
	stepsFile := filepath.Join(elsewhere, "earlier.yaml")
	writeProjectFile(t, elsewhere, "earlier.yaml", "customer:\n  outputs: {id: \"8\", vip: false}\n")
	out, errOut, code = cli(t, "test", "orders-of", "--live", "--project", dir, "--step", "orders", "--steps", stepsFile,
		"--input", "steps.customer.outputs.vip=true", "--input", "region=us")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if got := p.requests(); len(got) != 2 || got[1] != "/customers/8/orders?region=us&vip=true" {
		t.Fatalf("the partner saw %q", got)
	}
	if !strings.Contains(out, "orders") || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("record text:\n%s", out)
	}
}

// Mistakes are refused before anything starts, saying what to do.
func TestOneStepDataMistakes(t *testing.T) {
	dir := t.TempDir()
	writeProjectFile(t, dir, "flow.yaml", fmt.Sprintf(stepInputProject, "127.0.0.1:9"))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"test", "orders-of", "--step", "orders", "--input", "steps.custmer.outputs.id=7"}, `flow "orders-of" has no step "custmer" (steps: customer, orders)`},
		{[]string{"test", "orders-of", "--step", "orders", "--input", "steps.customer=7"}, "name a step and what it gave, such as steps.customer.outputs.id"},
		{[]string{"test", "orders-of", "--step", "orders", "--input", "steps.customer..id=7"}, "empty name in the path"},
		{[]string{"test", "orders-of", "--step", "orders", "--input", "steps.customer.outputs=1", "--input", "steps.customer.outputs.id=7"}, "steps.customer.outputs is already given as 1"},
		{[]string{"test", "orders-of", "--step", "orders", "--steps", filepath.Join(dir, "missing.json")}, "missing.json"},
		{[]string{"run", "orders-of", "--input", "steps.customer.outputs.id=7"}, "earlier steps' data is given to one step run alone"},
		{[]string{"test", "orders-of", "--steps", filepath.Join(dir, "x.json")}, "add --step ID"},
	} {
		out, errOut, code := cli(t, append(c.args, "--project", dir)...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, want 1 and %q\n%s%s", strings.Join(c.args, " "), code, c.want, out, errOut)
		}
	}
}
