package reader

import (
	"encoding/json"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/outflow-dev/outflow/engine/openapi"
)

// corpusSpec is one root document of the shared corpus with what its
// MANIFEST.md says of it.
type corpusSpec struct {
	root       string
	version    string
	operations int
	noID       int
	defects    map[string]int // kind → how many; -1 means at least one
	mentions   []string       // texts some defect must mention
}

// CorpusSpecs lists the corpus with the counts its MANIFEST.md gives. The
// corpus's own expected.json and anomalies.json are not in the folder, so
// the counts are written here and the operations are also counted by an
// independent walk of the raw documents (rawOperations).
var corpusSpecs = []corpusSpec{
	{root: "oai-examples/petstore-separate/spec/swagger.yaml", version: "2.0", operations: 4,
		defects: map[string]int{openapi.DefectUnusualOperationID: 1}, mentions: []string{"find pet by id"}},
	{root: "apis-guru/circleci.com/v1/swagger.yaml", version: "2.0", operations: 22, noID: 22,
		defects: map[string]int{openapi.DefectMissingOperationID: 22}},
	{root: "netlify/swagger.yml", version: "2.0", operations: 174,
		defects: map[string]int{openapi.DefectEquivalentPaths: 1}, mentions: []string{"/sites/{site_id}/database/migrations/{deploy_id}"}},
	{root: "slack/slack_web_openapi_v2_without_examples.json", version: "2.0", operations: 174},
	{root: "spotify/official-spotify-open-api.yml", version: "3.0.3", operations: 96,
		defects: map[string]int{openapi.DefectBodyOnDelete: 6, openapi.DefectInvalidRef: -1}, mentions: []string{"policies.yaml"}},
	{root: "berlin-group/psd2-api_1.3.6_20200327.yaml", version: "3.0.1", operations: 42,
		defects: map[string]int{openapi.DefectIgnoredHeaderParam: 1}, mentions: []string{"Authorization"}},
	{root: "meilisearch/open-api.yaml", version: "3.1.0", operations: 72,
		defects: map[string]int{
			openapi.DefectDuplicateOperationID: 1, openapi.DefectIgnoredHeaderParam: 24, openapi.DefectInvalidRef: -1,
			// The MANIFEST counts GET /tasks/:taskUid's taskUid as not in its
			// template (3); Outflow reads :taskUid as a parameter and reports
			// the colon instead.
			openapi.DefectParamNotInTemplate: 2, openapi.DefectColonPathParam: 1, openapi.DefectTemplateUndeclared: 4,
		},
		mentions: []string{"indexes.documents.remove", "#/components/parameters/total", "#/components/schema/summarizedTask", "/tasks/:taskUid"}},
	{root: "adyen/BinLookupService-v54.json", version: "3.1.0", operations: 2},
	{root: "adyen/ManagementService-v3.json", version: "3.1.0", operations: 134},
}

// CorpusDir finds the shared OpenAPI corpus beside the module root
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

// corpusResolver reads documents of the corpus folder, and nothing outside it.
func corpusResolver(dir string) Resolver {
	return func(loc string) ([]byte, error) {
		clean := path.Clean(loc)
		if strings.HasPrefix(clean, "../") || strings.HasPrefix(clean, "/") || strings.Contains(loc, "://") {
			return nil, errors.New("outside the corpus")
		}
		return os.ReadFile(filepath.Join(dir, filepath.FromSlash(clean)))
	}
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// rawOperations counts the operations of a document by walking its raw
// YAML or JSON, independently of the reader: every method key of every
// path item, with its operationId.
func rawOperations(t *testing.T, file string) (ops []string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if strings.HasSuffix(file, ".json") {
		err = json.Unmarshal(data, &doc)
	} else {
		err = yaml.Unmarshal(data, &doc)
	}
	if err != nil {
		t.Fatalf("raw read of %s: %v", file, err)
	}
	paths, _ := doc["paths"].(map[string]any)
	for p, item := range paths {
		m, _ := item.(map[string]any)
		for _, meth := range httpMethods {
			if op, ok := m[meth].(map[string]any); ok {
				id, _ := op["operationId"].(string)
				ops = append(ops, strings.ToUpper(meth)+" "+p+" "+id)
			}
		}
	}
	return ops
}

func TestCorpusOperationsAndDefects(t *testing.T) {
	dir := corpusDir(t)
	for _, cs := range corpusSpecs {
		t.Run(cs.root, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, cs.root))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			spec, err := Parse(cs.root, data, corpusResolver(dir))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			t.Logf("%d operations, %d named schemas, %d defects in %s", len(spec.Operations), len(spec.Schemas), len(spec.Defects), time.Since(start).Round(time.Millisecond))
			if spec.Version != cs.version {
				t.Errorf("version %q, want %q", spec.Version, cs.version)
			}
			if len(spec.Operations) != cs.operations {
				t.Errorf("%d operations, MANIFEST.md says %d", len(spec.Operations), cs.operations)
			}
			raw := map[string]bool{}
			for _, r := range rawOperations(t, filepath.Join(dir, cs.root)) {
				raw[r] = true
			}
			noID := 0
			for _, op := range spec.Operations {
				key := op.Method + " " + op.Path + " " + op.ID
				if !raw[key] {
					t.Errorf("operation %q is not in the raw document", key)
				}
				delete(raw, key)
				if op.ID == "" {
					noID++
				}
				for _, p := range op.Params {
					if p.In == "path" && !p.Required && contains(openapi.PathParams(op.Path), p.Name) {
						t.Errorf("%s: path parameter %s not required", op, p.Name)
					}
				}
			}
			for r := range raw {
				t.Errorf("operation %q of the raw document was not read", r)
			}
			if noID != cs.noID {
				t.Errorf("%d operations without operationId, MANIFEST.md says %d", noID, cs.noID)
			}
			counts := map[string]int{}
			var all []string
			for _, d := range spec.Defects {
				counts[d.Kind]++
				all = append(all, d.Kind+": "+d.Message)
				if d.Message == "" {
					t.Errorf("defect of kind %s has no message", d.Kind)
				}
			}
			for kind, want := range cs.defects {
				switch {
				case want < 0 && counts[kind] == 0:
					t.Errorf("no %s defect; defects:\n%s", kind, strings.Join(all, "\n"))
				case want >= 0 && counts[kind] != want:
					t.Errorf("%d %s defects, want %d; defects:\n%s", counts[kind], kind, want, strings.Join(all, "\n"))
				}
			}
			for kind, n := range counts {
				if _, expected := cs.defects[kind]; !expected {
					t.Errorf("%d unexpected %s defects:\n%s", n, kind, strings.Join(all, "\n"))
				}
			}
			joined := strings.Join(all, "\n")
			for _, m := range cs.mentions {
				if !strings.Contains(joined, m) {
					t.Errorf("no defect mentions %q; defects:\n%s", m, joined)
				}
			}
		})
	}
}
