// Package schemagen generates the JSON Schema and the Markdown field reference
// of Outflow's YAML contract from the document types of package flows and
// their doc comments, so that the types stay the one source of both.
package schemagen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"github.com/invopop/jsonschema"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
)

// Command is how to regenerate the outputs; generated files and staleness
// messages name it.
const Command = "go generate ./flows"

// SchemaFile and ReferenceFile are where the outputs live, relative to the
// module root.
const (
	SchemaFile    = "flows/schema/outflow.schema.json"
	ReferenceFile = "docs/reference.md"
)

// SchemaID identifies the schema for editors.
const SchemaID = "https://raw.githubusercontent.com/outflow-dev/outflow/main/flows/schema/outflow.schema.json"

// documents are the kinds in the order the reference presents them, with
// the Go type of each.
var documents = []struct {
	kind string
	typ  reflect.Type
}{
	{flows.KindFlow, reflect.TypeFor[flows.Flow]()},
	{flows.KindAction, reflect.TypeFor[flows.Action]()},
	{flows.KindConnection, reflect.TypeFor[flows.Connection]()},
	{flows.KindProtocolProfile, reflect.TypeFor[flows.ProtocolProfile]()},
	{flows.KindProject, reflect.TypeFor[flows.ProjectSettings]()},
	{flows.KindTest, reflect.TypeFor[flows.Test]()},
}

// Generate returns the JSON Schema and the Markdown reference. flowsDir is
// the source folder of package flows, whose doc comments become the
// descriptions.
func Generate(flowsDir string) (schema, reference []byte, err error) {
	pkg := reflect.TypeFor[flows.Flow]().PkgPath()
	comments, err := readComments(flowsDir, pkg)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range fromTables() {
		comments[pkg+"."+f.typ.Name()+"."+f.field] = f.desc
	}
	s := buildSchema(comments)
	schema, err = json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the schema: %w", err)
	}
	schema = append(schema, '\n')
	return schema, buildReference(comments), nil
}

// tableField is a field whose description and pattern are rendered from a
// table of package engine rather than written in a comment, so that schema,
// reference and the loader's messages cannot drift apart.
type tableField struct {
	typ           reflect.Type
	field         string // Go name
	desc, pattern string
}

func fromTables() []tableField {
	desc := "Where the secret is."
	for _, s := range engine.SecretSchemes {
		desc += fmt.Sprintf(" `%s`: %s.", s.Form, s.Summary)
		if s.Store != "" {
			desc += fmt.Sprintf(" Needs `%s` in the worker's configuration.", s.Store)
		}
	}
	return []tableField{{
		typ: reflect.TypeFor[flows.SecretRef](), field: "Secret",
		desc:    desc,
		pattern: engine.SecretRefPattern(),
	}}
}

// tablePattern is the pattern fromTables gives field f of t, or "".
func tablePattern(t reflect.Type, f string) string {
	for _, tf := range fromTables() {
		if tf.typ == t && tf.field == f {
			return tf.pattern
		}
	}
	return ""
}

// readComments maps "importpath.Type" and "importpath.Type.Field" to their
// doc comments, read from the non-test Go files of dir.
func readComments(dir, pkgPath string) (map[string]string, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the flows sources: %w", err)
	}
	out := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("reading the flows sources: %w", err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				text := ts.Doc.Text()
				if text == "" && len(gd.Specs) == 1 {
					text = gd.Doc.Text()
				}
				out[pkgPath+"."+ts.Name.Name] = clean(text)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, fl := range st.Fields.List {
					text := fl.Doc.Text()
					if text == "" {
						text = fl.Comment.Text()
					}
					for _, n := range fl.Names {
						out[pkgPath+"."+ts.Name.Name+"."+n.Name] = clean(text)
					}
				}
			}
		}
	}
	return out, nil
}

// clean joins a comment's lines into one paragraph.
func clean(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func buildSchema(comments map[string]string) *jsonschema.Schema {
	r := &jsonschema.Reflector{
		FieldNameTag:               "yaml",
		RequiredFromJSONSchemaTags: true,
		CommentMap:                 comments,
		Anonymous:                  true,
	}
	defs := jsonschema.Definitions{}
	root := &jsonschema.Schema{
		Version:     jsonschema.Version,
		ID:          SchemaID,
		Title:       "Outflow project document",
		Description: "One YAML document of an Outflow project; its kind says which of the definitions below applies.",
		Type:        "object",
		Required:    []string{"kind", "name"},
		Properties:  jsonschema.NewProperties(),
		Definitions: defs,
	}
	var kindNames []any
	for _, d := range documents {
		s := r.ReflectFromType(d.typ)
		for name, def := range s.Definitions {
			defs[name] = def
		}
		kindNames = append(kindNames, d.kind)
		kindIs := jsonschema.NewProperties()
		kindIs.Set("kind", &jsonschema.Schema{Const: d.kind})
		root.AllOf = append(root.AllOf, &jsonschema.Schema{
			If:   &jsonschema.Schema{Properties: kindIs, Required: []string{"kind"}},
			Then: &jsonschema.Schema{Ref: "#/$defs/" + d.typ.Name()},
		})
	}
	pkg := reflect.TypeFor[flows.Flow]().PkgPath()
	for name, def := range defs {
		// Types that state their own schema get their doc comment here.
		if def.Description == "" {
			def.Description = comments[pkg+"."+name]
		}
	}
	for _, f := range fromTables() {
		def := defs[f.typ.Name()]
		sf, ok := f.typ.FieldByName(f.field)
		if def == nil || def.Properties == nil || !ok {
			panic(fmt.Sprintf("schemagen: no field %s.%s in the schema", f.typ.Name(), f.field))
		}
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		prop, ok := def.Properties.Get(name)
		if !ok || prop == nil {
			panic(fmt.Sprintf("schemagen: no property %s of %s in the schema", name, f.typ.Name()))
		}
		prop.Pattern = f.pattern
	}
	root.Properties.Set("kind", &jsonschema.Schema{
		Description: "What the document defines.",
		Enum:        kindNames,
	})
	root.Properties.Set("name", &jsonschema.Schema{
		Description: "The document's name, unique among the documents of its kind.",
		Type:        "string",
	})
	return root
}

// buildReference writes the field reference: one section per document kind,
// then one per type those documents use.
func buildReference(comments map[string]string) []byte {
	var b bytes.Buffer
	pkg := reflect.TypeFor[flows.Flow]().PkgPath()
	fmt.Fprintf(&b, "<!-- Code generated by %s from the types of package flows. DO NOT EDIT. -->\n\n", Command)
	b.WriteString("# Outflow YAML reference\n\n")
	b.WriteString("An Outflow project is a folder of YAML files; each document in them has a `kind` and a `name`. ")
	b.WriteString("Editors validate the files with the JSON Schema `flows/schema/outflow.schema.json` ")
	b.WriteString("(add `# yaml-language-server: $schema=" + SchemaID + "` to a file).\n\n")
	b.WriteString("Secret values are never written in a project: a field that takes a secret takes a reference such as `{secret: env:NAME}`.\n\n")
	b.WriteString("Strings may hold expressions, `${{ ... }}`, where a field says so. They read:\n\n")
	for _, r := range engine.ExprRoots {
		name := "`" + r.Name + "`"
		if r.Key != "" {
			name = "`" + r.Name + "." + r.Key + "`"
		}
		where := ""
		switch r.Scope {
		case "foreach":
			where = " (inside a foreach's steps)"
		case "paginate":
			where = " (in `paginate.stop_when` and `paginate.each_page`)"
		}
		fmt.Fprintf(&b, "- %s: %s%s\n", name, r.Doc, where)
	}
	b.WriteString("\n")

	b.WriteString("## Documents\n\n")
	for _, d := range documents {
		fmt.Fprintf(&b, "- [%s](#%s)\n", d.kind, anchor(d.kind))
	}
	b.WriteString("\n")

	seen := map[reflect.Type]bool{}
	var queue []reflect.Type
	enqueue := func(t reflect.Type) {
		if !seen[t] && t.PkgPath() == pkg {
			seen[t] = true
			queue = append(queue, t)
		}
	}
	for _, d := range documents {
		seen[d.typ] = true
		writeStruct(&b, "kind: "+d.kind, d.kind, d.typ, comments, enqueue)
	}
	b.WriteString("## Types\n\n")
	for len(queue) > 0 {
		t := queue[0]
		queue = queue[1:]
		if t.Kind() == reflect.Struct {
			writeStruct(&b, t.Name(), t.Name(), t, comments, enqueue)
			continue
		}
		fmt.Fprintf(&b, "### %s\n\n%s\n\n", t.Name(), comments[pkg+"."+t.Name()])
		if t.Kind() == reflect.Slice && t.Elem().PkgPath() == pkg {
			// A list type that reads one element too (Mock): its
			// element's fields belong in the reference as well.
			fmt.Fprintf(&b, "Elements: %s.\n\n", typeText(t.Elem(), enqueue))
		}
	}
	writeErrorTypes(&b)
	return append(bytes.TrimRight(b.Bytes(), "\n"), '\n')
}

// writeErrorTypes lists engine.ErrorTypes: the stable type a failed step
// or flow carries.
func writeErrorTypes(b *bytes.Buffer) {
	b.WriteString("## Error types\n\n")
	b.WriteString("A failed step or flow carries one of these stable types (in its record's `error.type`, in ")
	b.WriteString("`steps.ID.error.type` of a step with `continue_on_error`, and in metrics). ")
	b.WriteString("A step that fails with a type marked *never* is not retried; the others follow the step's `retry` policy, ")
	b.WriteString("unless the error itself says retrying cannot help. Types the flow raises itself have no attempt to retry.\n\n")
	b.WriteString("| Type | Retried | When |\n|---|---|---|\n")
	for _, e := range engine.ErrorTypes {
		retried := "by policy"
		switch {
		case e.NeverRetried:
			retried = "*never*"
		case e.ByWorkflow:
			retried = "raised by the flow"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s |\n", e.Name, retried, escapeCell(e.Meaning))
	}
	b.WriteString("\n")
}

func writeStruct(b *bytes.Buffer, title, typeName string, t reflect.Type, comments map[string]string, enqueue func(reflect.Type)) {
	pkg := t.PkgPath()
	level := "###"
	if strings.HasPrefix(title, "kind: ") {
		level = "##"
		title = strings.TrimPrefix(title, "kind: ")
	}
	fmt.Fprintf(b, "%s %s\n\n", level, title)
	if text := comments[pkg+"."+t.Name()]; text != "" {
		b.WriteString(text + "\n\n")
	}
	if t.Name() != typeName {
		fmt.Fprintf(b, "Go type: `%s`.\n\n", t.Name())
	}
	b.WriteString("| Field | Type | Description |\n|---|---|---|\n")
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		desc := comments[pkg+"."+t.Name()+"."+f.Name]
		var notes []string
		for _, tag := range strings.Split(f.Tag.Get("jsonschema"), ",") {
			k, v, _ := strings.Cut(tag, "=")
			switch k {
			case "required":
				notes = append(notes, "**Required.**")
			case "minimum":
				notes = append(notes, "At least "+v+".")
			case "maximum":
				notes = append(notes, "At most "+v+".")
			case "pattern":
				notes = append(notes, "Pattern: `"+v+"`.")
			}
		}
		if p := tablePattern(t, f.Name); p != "" {
			notes = append(notes, "Pattern: `"+p+"`.")
		}
		if enum := enumOf(f); len(enum) > 0 {
			notes = append(notes, "One of: `"+strings.Join(enum, "`, `")+"`.")
		}
		if len(notes) > 0 {
			desc = strings.TrimSpace(desc + " " + strings.Join(notes, " "))
		}
		fmt.Fprintf(b, "| `%s` | %s | %s |\n", name, typeText(f.Type, enqueue), escapeCell(desc))
	}
	b.WriteString("\n")
}

func enumOf(f reflect.StructField) []string {
	var out []string
	for _, tag := range strings.Split(f.Tag.Get("jsonschema"), ",") {
		if v, ok := strings.CutPrefix(tag, "enum="); ok {
			out = append(out, v)
		}
	}
	return out
}

// typeText names a field's type for the reference, linking the types of
// package flows.
func typeText(t reflect.Type, enqueue func(reflect.Type)) string {
	pkg := reflect.TypeFor[flows.Flow]().PkgPath()
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.PkgPath() == pkg && t.Name() != "" {
		enqueue(t)
		return fmt.Sprintf("[%s](#%s)", t.Name(), anchor(t.Name()))
	}
	switch t.Kind() {
	case reflect.Slice:
		return "list of " + typeText(t.Elem(), enqueue)
	case reflect.Map:
		return "map of name to " + typeText(t.Elem(), enqueue)
	case reflect.Interface:
		return "any"
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	}
	return t.String()
}

var nonAnchor = regexp.MustCompile(`[^a-z0-9-]`)

func anchor(s string) string { return nonAnchor.ReplaceAllString(strings.ToLower(s), "") }

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
