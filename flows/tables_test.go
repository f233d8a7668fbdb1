package flows_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
)

// TestSecretSchemesFromEngine checks that the loader and the JSON Schema
// accept a reference of every scheme of engine.SecretSchemes, refuse any
// other, and name the schemes as the table writes them.
func TestSecretSchemesFromEngine(t *testing.T) {
	s := compileSchema(t)
	conn := "kind: Connection\nname: c\nhost: h\ncredential: {type: basic, username: u, password: {secret: %q}}\n"
	load := func(ref string) error {
		_, err := flows.LoadFS(fstest.MapFS{"c.yaml": {Data: []byte(fmt.Sprintf(conn, ref))}}, "/p")
		return err
	}
	for _, sc := range engine.SecretSchemes {
		ref := sc.Name + ":X_1"
		if err := load(ref); err != nil {
			t.Errorf("loader refuses %s: %v", ref, err)
		}
		if err := s.Validate(yamlDocumentsFromString(t, fmt.Sprintf(conn, ref))[0]); err != nil {
			t.Errorf("schema refuses %s: %v", ref, err)
		}
		if !engine.IsSecretRef(ref) || engine.IsSecretRef(sc.Name+":") {
			t.Errorf("engine.IsSecretRef is wrong about %s", ref)
		}
	}
	for ref, want := range map[string]string{
		"aws:thing": `unknown secret provider "aws" in "aws:thing"; a reference is ` + engine.SecretForms(),
		"vault:":    `secret reference "vault:" names nothing after the provider`,
		"thing":     `unknown secret provider "thing"`,
	} {
		var ps flows.Problems
		if err := load(ref); !errors.As(err, &ps) || !strings.Contains(ps.Error(), "c.yaml:4:") || !strings.Contains(ps.Error(), want) {
			t.Errorf("loading %q: %v, want a positioned problem saying %q", ref, err, want)
		}
		if strings.Contains(ref, ":") {
			if err := s.Validate(yamlDocumentsFromString(t, fmt.Sprintf(conn, ref))[0]); err == nil {
				t.Errorf("schema accepts %q", ref)
			}
		}
	}
	for _, sc := range engine.SecretSchemes {
		if !strings.Contains(engine.SecretForms(), sc.Form) || !strings.HasPrefix(sc.Form, sc.Name+":") {
			t.Errorf("scheme %s: form %q", sc.Name, sc.Form)
		}
	}
}

// TestStatusEnumsAreEngineStatuses keeps the statuses a test may expect
// (struct tags, which cannot name engine's constants) within
// engine.StepStatuses.
func TestStatusEnumsAreEngineStatuses(t *testing.T) {
	n := 0
	for _, typ := range []reflect.Type{reflect.TypeFor[flows.Expectation](), reflect.TypeFor[flows.StepExpectation]()} {
		f, ok := typ.FieldByName("Status")
		if !ok {
			t.Fatalf("%s has no Status", typ.Name())
		}
		for _, tag := range strings.Split(f.Tag.Get("jsonschema"), ",") {
			if v, ok := strings.CutPrefix(tag, "enum="); ok {
				n++
				if !slices.Contains(engine.StepStatuses, v) {
					t.Errorf("%s.Status allows %q, which is not one of engine.StepStatuses %v", typ.Name(), v, engine.StepStatuses)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no status enums found")
	}
}
