package flows_test

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine/openapi"
	"github.com/outflow-dev/outflow/engine/openapi/reader"
	"github.com/outflow-dev/outflow/flows"
)

// corpusDir finds the shared OpenAPI corpus beside the module root
// (../shared/corpora/openapi), or skips the test saying why.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the test's folder, so the corpus beside the module cannot be found")
		}
		dir = parent
	}
	corpus := filepath.Join(dir, "..", "shared", "corpora", "openapi")
	if _, err := os.Stat(filepath.Join(corpus, "MANIFEST.md")); err != nil {
		t.Skipf("the OpenAPI corpus is not at %s (a clean clone needs shared/ beside it): %v", corpus, err)
	}
	return corpus
}

// corpusRoots are the root documents of the corpus (MANIFEST.md), with
// texts the warnings of each must hold: one for each defect it has.
var corpusRoots = []struct {
	root     string
	ops      int
	warnings []string
}{
	{"oai-examples/petstore-separate/spec/swagger.yaml", 4, []string{`operationId "find pet by id"`}},
	{"apis-guru/circleci.com/v1/swagger.yaml", 22, []string{"22 operations have no operationId"}},
	{"netlify/swagger.yml", 174, []string{"differ only in the names of their parameters"}},
	{"slack/slack_web_openapi_v2_without_examples.json", 174, nil},
	{"spotify/official-spotify-open-api.yml", 96, []string{`$ref "../policies.yaml" does not resolve`, "DELETE /me/albums takes a request body"}},
	{"berlin-group/psd2-api_1.3.6_20200327.yaml", 42, []string{"declares the header parameter Authorization"}},
	{"meilisearch/open-api.yaml", 72, []string{
		`operationId "indexes.documents.remove" names 2 operations`,
		`$ref "#/components/parameters/total" does not resolve`,
		`$ref "#/components/schema/summarizedTask" does not resolve`,
		"/tasks/:taskUid writes the parameter :taskUid with a colon",
		`declares the path parameter "uidOrKey", which its path does not hold`,
		"does not declare the parameter {uid_or_key} of its path",
		"24 header parameters are Accept, Content-Type or Authorization",
	}},
	{"adyen/BinLookupService-v54.json", 2, nil},
	{"adyen/ManagementService-v3.json", 134, nil},
}

// copyTree copies the corpus into a project folder's specs/.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

var skeletonID = regexp.MustCompile(`^- id: \S+`)

// Every operation of every corpus spec is listed with a step skeleton and
// generated as an action, and a project holding all of them — 720
// skeleton steps and 720 actions over the nine documents, each behind its
// own connection — loads without an error: validate accepts them as they
// are. Each defect of a document is a warning.
func TestOpenAPICorpusSkeletonsAndActionsValidate(t *testing.T) {
	corpus := corpusDir(t)
	project := t.TempDir()
	copyTree(t, corpus, filepath.Join(project, "specs"))
	total := 0
	for i, cr := range corpusRoots {
		conn := fmt.Sprintf("c%d", i)
		data, err := os.ReadFile(filepath.Join(corpus, cr.root))
		if err != nil {
			t.Fatal(err)
		}
		read := func(loc string) ([]byte, error) {
			clean := path.Clean(loc)
			if strings.HasPrefix(clean, "../") {
				return nil, fs.ErrNotExist
			}
			return os.ReadFile(filepath.Join(corpus, filepath.FromSlash(clean)))
		}
		spec, err := reader.Parse(cr.root, data, read)
		if err != nil {
			t.Fatalf("%s: %v", cr.root, err)
		}
		if len(spec.Operations) != cr.ops {
			t.Errorf("%s: %d operations listed, MANIFEST.md says %d", cr.root, len(spec.Operations), cr.ops)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "kind: Connection\nname: %s\nurl: https://partner%d.example/api\nopenapi: specs/%s\n---\n", conn, i, cr.root)
		fmt.Fprintf(&b, "kind: Flow\nname: skeletons-%s\nsteps:\n", conn)
		for j, op := range spec.Operations {
			sk := flows.StepSkeleton(spec, op, conn)
			if !strings.HasPrefix(sk, "- id: ") {
				t.Fatalf("%s %s: skeleton does not start with a step:\n%s", cr.root, op, sk)
			}
			sk = skeletonID.ReplaceAllString(sk, fmt.Sprintf("- id: s%d", j))
			for _, line := range strings.Split(strings.TrimRight(sk, "\n"), "\n") {
				b.WriteString("  " + line + "\n")
			}
		}
		if err := os.WriteFile(filepath.Join(project, conn+".yaml"), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		actions := flows.GenerateActions(spec, conn, flows.GenerateOptions{Source: "specs/" + cr.root})
		if len(actions) != cr.ops {
			t.Errorf("%s: %d actions generated for %d operations", cr.root, len(actions), cr.ops)
		}
		dir := filepath.Join(project, "actions", conn)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, a := range actions {
			if err := os.WriteFile(filepath.Join(dir, a.File), []byte(a.YAML), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		total += len(spec.Operations)
	}
	runtime.GC()
	start := time.Now()
	p, err := flows.Load(project)
	if err != nil {
		t.Fatalf("the project of skeletons and generated actions does not load:\n%v", firstLines(err.Error(), 40))
	}
	t.Logf("loaded %d skeleton steps and %d actions in %s", total, total, time.Since(start).Round(time.Millisecond))
	var warnings []string
	for _, w := range p.Warnings() {
		warnings = append(warnings, w.String())
	}
	all := strings.Join(warnings, "\n")
	for _, cr := range corpusRoots {
		for _, want := range cr.warnings {
			if !strings.Contains(all, want) {
				t.Errorf("%s: no warning says %q", cr.root, want)
			}
		}
	}
	for _, w := range warnings {
		// Warnings of the documents' defects are expected; the skeletons and
		// actions themselves should draw no other than undeclared inputs,
		// and the one for netlify's file upload (multipart/form-data),
		// which a rest step cannot send.
		if strings.Contains(w, "takes multipart/form-data, which rest steps do not send") {
			continue
		}
		if strings.HasPrefix(w, "c") && !strings.Contains(w, "is not declared") {
			t.Errorf("unexpected warning on a skeleton: %s", w)
		}
		if strings.HasPrefix(w, "actions/") {
			t.Errorf("unexpected warning on a generated action: %s", w)
		}
	}
	names := p.Names()
	if len(names.Actions) != total {
		t.Errorf("%d actions loaded, want %d", len(names.Actions), total)
	}
	for _, name := range append(names.Flows, names.Actions...) {
		plan, err := p.Plan(name)
		if err != nil {
			t.Fatalf("Plan(%s): %v", name, err)
		}
		for _, st := range plan.Steps {
			if st.Rest != nil && (st.Rest.Method == "" || strings.Contains(st.Rest.Path, "{")) && !strings.Contains(st.Rest.Path, "${{") {
				t.Errorf("%s: step %s compiled to %s %q", name, st.ID, st.Rest.Method, st.Rest.Path)
			}
		}
	}
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("... and %d more", len(lines)-n))
	}
	return strings.Join(lines, "\n")
}

var _ = openapi.CacheDir
