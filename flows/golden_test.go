package flows_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outflow-dev/outflow/flows"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/ from the current output")

// Each folder of testdata/invalid is a project with mistakes; want.golden
// holds every problem the loader reports, one a line.
func TestInvalidProjects(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/invalid/*")
	if len(dirs) == 0 {
		t.Fatal("no projects in testdata/invalid")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			_, err := flows.Load(dir)
			var ps flows.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Load(%s) = %v, want Problems", dir, err)
			}
			for _, p := range ps {
				if p.File == "" || p.Message == "" {
					t.Errorf("problem without file or message: %#v", p)
				}
			}
			golden(t, filepath.Join(dir, "want.golden"), []byte(ps.Error()+"\n"))
		})
	}
}

// The seven-mistakes file is the loader's promise in one test: seven
// different mistakes give exactly seven problems, each with a position.
func TestSevenMistakes(t *testing.T) {
	_, err := flows.Load("testdata/invalid/seven")
	var ps flows.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Load = %v, want Problems", err)
	}
	if len(ps) != 7 {
		t.Fatalf("got %d problems, want 7:\n%s", len(ps), ps.Error())
	}
	for _, p := range ps {
		if p.File != "flow.yaml" || p.Line == 0 || p.Col == 0 || p.Path == "" {
			t.Errorf("problem not positioned in flow.yaml: %s", p)
		}
	}
}

// Each folder of testdata/valid is a project that loads; plans.golden.json
// holds the plan of every flow and action, and the warnings.
func TestValidProjects(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/valid/*")
	if len(dirs) == 0 {
		t.Fatal("no projects in testdata/valid")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			p, err := flows.Load(dir)
			if err != nil {
				t.Fatalf("Load(%s):\n%v", dir, err)
			}
			abs, _ := filepath.Abs(dir)
			if p.Root() != abs {
				t.Errorf("Root() = %q, want %q", p.Root(), abs)
			}
			out := struct {
				Warnings []string       `json:"warnings"`
				Plans    map[string]any `json:"plans"`
				Tests    map[string]any `json:"tests,omitempty"`
			}{Warnings: []string{}, Plans: map[string]any{}}
			for _, w := range p.Warnings() {
				out.Warnings = append(out.Warnings, w.String())
			}
			names := p.Names()
			for _, name := range append(names.Flows, names.Actions...) {
				plan, err := p.Plan(name)
				if err != nil {
					t.Fatalf("Plan(%q): %v", name, err)
				}
				if plan.ProjectRoot != abs {
					t.Errorf("plan %q: ProjectRoot = %q, want %q", name, plan.ProjectRoot, abs)
				}
				// The folder differs between machines; the golden file must not.
				plan.ProjectRoot = "<root>"
				out.Plans[name] = plan
			}
			for _, name := range names.Tests {
				tc, err := p.TestCase(name)
				if err != nil {
					t.Fatalf("TestCase(%q): %v", name, err)
				}
				if tc.Plan == nil || tc.Plan.Name != tc.Target {
					t.Errorf("test %q: plan of %q, want %q", name, tc.Plan.Name, tc.Target)
				}
				if out.Tests == nil {
					out.Tests = map[string]any{}
				}
				// The plan is the target's, shown above.
				out.Tests[name] = map[string]any{
					"file": tc.File, "line": tc.Line, "target": tc.Target, "inputs": tc.Inputs,
					"mocks": tc.Mocks, "expect": tc.Expect,
				}
			}
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(out); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(dir, "plans.golden.json"), b.Bytes())
		})
	}
}

// golden compares got with the file, or rewrites the file with -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./flows -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test ./flows -update to accept it):\n%s", file, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows where got first departs from want, with a little context.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	from := max(0, i-2)
	var b strings.Builder
	fmt.Fprintf(&b, "first difference at line %d\nwant:\n", i+1)
	for _, l := range w[from:min(len(w), i+3)] {
		b.WriteString("  " + l + "\n")
	}
	b.WriteString("got:\n")
	for _, l := range g[from:min(len(g), i+3)] {
		b.WriteString("  " + l + "\n")
	}
	return b.String()
}
