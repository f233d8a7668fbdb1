package flows_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/outflow-dev/outflow/flows"
)

// fuzzConnections gives fuzzed flows something to refer to.
const fuzzConnections = `kind: Connection
name: partner-api
host: api.partner.example
---
kind: Action
name: lookup-customer
inputs: {customer_id: {type: string, required: true}}
steps:
  - {id: get, rest: {connection: partner-api, path: "/c/${{ inputs.customer_id }}"}}
`

// FuzzLoad feeds arbitrary bytes to the loader as one file of a project: it
// must never panic or hang, must report problems with a file, and whatever
// it accepts must compile.
func FuzzLoad(f *testing.F) {
	_ = filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".yaml") {
			if data, err := os.ReadFile(path); err == nil {
				f.Add(data)
			}
		}
		return nil
	})
	wsdlData, err := os.ReadFile("testdata/valid/partner/wsdl/orders.wsdl")
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("a: &a [*a]"))
	f.Add([]byte("<<: {kind: Flow}\nname: x\nsteps: [{id: a, action: lookup-customer, with: {customer_id: 1}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{
			"flow.yaml":        {Data: data},
			"connections.yaml": {Data: []byte(fuzzConnections)},
			"wsdl/orders.wsdl": {Data: wsdlData},
		}
		p, err := flows.LoadFS(fsys, "/project")
		if err != nil {
			var ps flows.Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("LoadFS error is not Problems: %v", err)
			}
			for _, pr := range ps {
				if pr.File == "" || pr.Message == "" {
					t.Fatalf("problem without file or message: %#v", pr)
				}
			}
			return
		}
		names := p.Names()
		for _, name := range append(names.Flows, names.Actions...) {
			plan, err := p.Plan(name)
			if err != nil {
				t.Fatalf("Plan(%q) of a loaded project: %v", name, err)
			}
			for _, st := range plan.Steps {
				if _, err := p.StepPlan(name, st.ID); err != nil {
					t.Fatalf("StepPlan(%q, %q): %v", name, st.ID, err)
				}
			}
		}
		for _, name := range names.Profiles {
			if _, err := p.Profile(name); err != nil {
				t.Fatal(err)
			}
		}
	})
}
