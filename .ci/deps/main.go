// Command deps checks the package rules of docs' DESIGN (the README's
// layout table): `cmd → worker → steps → engine`, `cmd → flows → engine`,
// engine imports nothing of ours, and the embedded Temporal server is
// linked only into commands and tests.
//
// It reads the direct imports of every package of the module with
// `go list` (test files are exempt: tests may reach across layers) and
// prints each import a rule forbids, unless allow.txt lists it as a known
// violation with its reason. It fails on a new violation, and on an entry of
// allow.txt that no longer happens, so the list only shrinks.
//
// Run it from the module root: go run ./.ci/deps
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

const module = "github.com/outflow-dev/outflow"

// rule forbids packages matching From to import packages matching any of
// Forbid, except importers matching one of Except. A pattern "x/..."
// matches x and every package under it; paths of ours are relative to the
// module ("engine"), others are full ("go.temporal.io/sdk/...").
type rule struct {
	From   []string
	Forbid []string
	Except []string
	Why    string
}

// rules are the package direction of the design, as code.
var rules = []rule{
	{From: []string{"engine/..."}, Forbid: []string{"flows/...", "steps/...", "worker/...", "cmd/...", "examples/...", "bench/..."},
		Why: "engine imports nothing of ours: it is the plan, the workflow and the expressions every layer shares"},
	{From: []string{"flows/..."}, Forbid: []string{"go.temporal.io/sdk/...", "go.temporal.io/server/...", "steps/...", "worker/...", "cmd/...", "examples/...", "bench/..."},
		Why: "flows loads, validates and compiles YAML on the client (cmd → flows → engine): no Temporal SDK, no step activities, no worker"},
	{From: []string{"steps/..."}, Forbid: []string{"go.temporal.io/sdk/workflow", "flows/...", "worker/...", "cmd/...", "bench/..."},
		Why: "steps are activities (cmd → worker → steps → engine): no workflow code, no YAML loading, no worker processes"},
	{From: []string{"steps/soap/...", "steps/telemetry/...", "steps/mock/..."}, Forbid: []string{"steps/rest/..."},
		Why: "the SOAP step, telemetry and the offline mocks share HTTP plumbing with the REST step through steps/httpcall, not by importing the REST activity"},
	{From: []string{"steps/httpcall/..."}, Forbid: []string{"steps/rest/...", "steps/soap/...", "steps/telemetry/...", "steps/mock/..."},
		Why: "steps/httpcall is the shared HTTP plumbing of the partner-calling steps: it imports none of its users"},
	{From: []string{"worker/..."}, Forbid: []string{"cmd/...", "flows/...", "bench/..."},
		Why: "worker runs compiled plans next to Temporal (cmd → worker → steps → engine): it gets plans, it does not load YAML, and it never imports a command"},
	{From: []string{"..."}, Forbid: []string{"worker/devserver/..."}, Except: []string{"cmd/...", "bench", "worker/devserver/..."},
		Why: "the embedded Temporal server links ~200 MB of server code: only commands (cmd, and the bench runner, a program) and tests import it"},
}

// violation is one import a rule forbids.
type violation struct {
	From, Import string
	Rule         *rule
}

func main() {
	allowFile := filepath.Join(".ci", "deps", "allow.txt")
	if len(os.Args) > 1 {
		allowFile = os.Args[1]
	}
	allowed, err := readAllow(allowFile)
	if err != nil {
		fail(err)
	}
	imports, err := listImports()
	if err != nil {
		fail(err)
	}
	found := check(imports)
	problems := 0
	used := map[string]bool{}
	for _, v := range found {
		key := v.From + " " + v.Import
		if _, ok := allowed[key]; ok {
			used[key] = true
			continue
		}
		problems++
		fmt.Fprintf(os.Stderr, "deps: %s imports %s: %s\n", v.From, v.Import, v.Rule.Why)
	}
	stale := make([]string, 0)
	for key := range allowed {
		if !used[key] {
			stale = append(stale, key)
		}
	}
	sort.Strings(stale)
	for _, key := range stale {
		problems++
		fmt.Fprintf(os.Stderr, "deps: %s: %q no longer imports that; remove the entry\n", allowFile, key)
	}
	if problems > 0 {
		fmt.Fprintf(os.Stderr, "deps: %d problem(s); the rules are in .ci/deps/main.go, known violations in %s\n", problems, allowFile)
		os.Exit(1)
	}
	fmt.Printf("deps: %d packages follow the package rules (%d known violation(s) listed in %s)\n", len(imports), len(used), allowFile)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "deps:", err)
	os.Exit(2)
}

// listImports maps each package of the module to its direct non-test
// imports, all by full import path.
func listImports() (map[string][]string, error) {
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing packages: %w\n%s", err, stderr.String())
	}
	pkgs := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkgs[fields[0]] = fields[1:]
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("go list found no packages; run from the module root")
	}
	return pkgs, nil
}

// rel strips the module path from a package of ours; others stay full.
func rel(path string) string {
	if path == module {
		return "."
	}
	if r, ok := strings.CutPrefix(path, module+"/"); ok {
		return r
	}
	return path
}

// check returns every import some rule forbids, sorted.
func check(pkgs map[string][]string) []violation {
	var out []violation
	for from, imps := range pkgs {
		for _, imp := range imps {
			for i := range rules {
				r := &rules[i]
				if matchAny(r.From, from) && matchAny(r.Forbid, imp) && !matchAny(r.Except, from) {
					out = append(out, violation{From: rel(from), Import: rel(imp), Rule: r})
					break
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].Import < out[j].Import
	})
	return out
}

func matchAny(patterns []string, path string) bool {
	for _, p := range patterns {
		if match(p, path) {
			return true
		}
	}
	return false
}

// match reports whether the full import path matches pattern: "..." alone
// matches every package of ours, "x/..." matches x and below, and a pattern
// whose first element has no dot is relative to the module.
func match(pattern, path string) bool {
	if pattern == "..." {
		return path == module || strings.HasPrefix(path, module+"/")
	}
	if first, _, _ := strings.Cut(pattern, "/"); !strings.Contains(first, ".") {
		pattern = module + "/" + pattern
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

// readAllow reads the known violations: one "FROM IMPORT reason..." a
// line, paths as the messages print them; # starts a comment line. Every
// entry needs a reason.
func readAllow(file string) (map[string]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("reading the allow-list: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 3 {
			return nil, fmt.Errorf("%s:%d: want FROM IMPORT REASON, got %q", file, n, line)
		}
		key := fields[0] + " " + fields[1]
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%s:%d: %s listed twice", file, n, key)
		}
		out[key] = strings.Join(fields[2:], " ")
	}
	return out, sc.Err()
}
