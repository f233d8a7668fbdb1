package flows_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/goccy/go-yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/outflow-dev/outflow/flows"
	"github.com/outflow-dev/outflow/flows/internal/schemagen"
)

// The committed schema and reference must match the types; regenerate them
// after changing types.go.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	schema, reference, err := schemagen.Generate(".")
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string][]byte{schemagen.SchemaFile: schema, schemagen.ReferenceFile: reference} {
		got, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(file)))
		if err != nil {
			t.Fatalf("%v; run %s", err, schemagen.Command)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale; run %s", file, schemagen.Command)
		}
	}
	if !bytes.Equal(flows.Schema(), schema) {
		t.Errorf("flows.Schema() differs from the generated schema; run %s", schemagen.Command)
	}
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(flows.Schema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("outflow.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("outflow.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlDocuments reads every document of a YAML file as JSON values.
func yamlDocuments(t *testing.T, file string) []any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		if err := dec.Decode(&v); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("%s: %v", file, err)
		}
		if v == nil {
			continue
		}
		// Round-trip through JSON so numbers and maps have the types the
		// validator expects.
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, inst)
	}
	return out
}

// Editors must accept what the loader accepts: every document of the valid
// projects passes the schema.
func TestValidProjectsPassSchema(t *testing.T) {
	s := compileSchema(t)
	files, _ := filepath.Glob("testdata/valid/*/*.yaml")
	more, _ := filepath.Glob("testdata/valid/*/*/*.yaml")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no valid YAML files")
	}
	n := 0
	for _, f := range files {
		for i, doc := range yamlDocuments(t, f) {
			n++
			if err := s.Validate(doc); err != nil {
				t.Errorf("%s, document %d: %v", f, i+1, err)
			}
		}
	}
	if n < 10 {
		t.Errorf("validated only %d documents; are the valid projects read?", n)
	}
}

// The schema is as strict as the loader about fields and values.
func TestSchemaRefusesMistakes(t *testing.T) {
	s := compileSchema(t)
	for _, src := range []string{
		"kind: Flow\nname: f\nsteps: [{id: a, timout: 1s, rest: {connection: c}}]",
		"kind: Flow\nname: f\nsteps: [{id: a, rest: {connection: c, method: FETCH}}]",
		"kind: Connection\nname: c\nhost: h\ncredential: {type: basic, username: u, password: hunter2}",
		"kind: Flw\nname: f",
		"kind: ProtocolProfile\nname: p\nmin_version: \"1.1\"",
		"kind: Flow\nname: f\nsteps: [{id: a, timeout: 30, rest: {connection: c}}]",
	} {
		docs := yamlDocumentsFromString(t, src)
		if err := s.Validate(docs[0]); err == nil {
			t.Errorf("schema accepted:\n%s", src)
		}
	}
}

func yamlDocumentsFromString(t *testing.T, src string) []any {
	t.Helper()
	f := filepath.Join(t.TempDir(), "doc.yaml")
	if err := os.WriteFile(f, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return yamlDocuments(t, f)
}
