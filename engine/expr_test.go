package engine

import (
	"reflect"
	"strings"
	"testing"
)

func TestTemplates(t *testing.T) {
	env := map[string]any{
		"inputs": map[string]any{"id": "42", "n": 3.0, "list": []any{1.0, 2.0}},
		"steps":  map[string]any{"get": map[string]any{"body": `{"a":{"b":[10,20]}}`, "json": map[string]any{"name": "Ada"}}},
	}
	cases := []struct {
		in   string
		want any
	}{
		{"plain", "plain"},
		{"${{ inputs.n }}", 3.0},
		{"  ${{ inputs.list }}\n", []any{1.0, 2.0}},
		{"/c/${{ inputs.id }}/x", "/c/42/x"},
		{"${{ inputs.n * 2 }}-${{ inputs.id }}", "6-42"},
		{"${{ jsonpath(steps.get.body, 'a.b.1') }}", 20.0},
		{"${{ steps.get.json.name }}", "Ada"},
		{"${{ steps.missing?.json?.name ?? 'none' }}", "none"},
		{"${{ default(inputs.nothing, 'd') }}", "d"},
		{"${{ urlencode('a b&c') }}", "a+b%26c"},
		{"${{ tojson(inputs.list) }}", "[1,2]"},
	}
	for _, c := range cases {
		tpl, err := CompileTemplate(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		got, err := tpl.Eval(env)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q = %#v, want %#v", c.in, got, c.want)
		}
	}
}

func TestTemplateErrors(t *testing.T) {
	for in, want := range map[string]string{
		"${{ inputs.id":          "missing closing",
		"${{ }}":                 "empty expression",
		"${{ nosuch.x }}":        "unknown name nosuch",
		"a ${{ inputs.id + }} b": "expression",
	} {
		_, err := CompileTemplate(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want it to mention %q", in, err, want)
		}
	}
}

func FuzzCompileTemplate(f *testing.F) {
	for _, s := range []string{"${{ inputs.a }}", "x${{ 1 + 2 }}y", "${{", "}}${{ steps.a.json['b'] }}", "${{ jsonpath(inputs.a, 'b') }}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tpl, err := CompileTemplate(s)
		if err != nil {
			return
		}
		_, _ = tpl.Eval(map[string]any{"inputs": map[string]any{"a": "{}"}})
	})
}

func TestSOAPHeaderInExpressions(t *testing.T) {
	d := stepData(&StepResult{Response: &ResponseSummary{StatusCode: 200}, Body: map[string]any{"R": "ok"},
		SOAPHeader: map[string]any{"Session": map[string]any{"Id": "s-77"}}})
	env := map[string]any{"steps": map[string]any{"status": d}}
	v, err := EvalValue("${{ steps.status.soap_header.Session.Id }}", env)
	if err != nil || v != "s-77" {
		t.Fatalf("soap_header in an expression: %v, %v", v, err)
	}
	if _, ok := stepData(&StepResult{Response: &ResponseSummary{StatusCode: 200}})["soap_header"]; ok {
		t.Fatal("a REST step has a soap_header")
	}
}

// TestExprRootsAreTheEnv keeps ExprRoots, the one list of the names
// expressions read, and the expression environment (exprEnv, which the
// compiler checks names against) in step.
func TestExprRootsAreTheEnv(t *testing.T) {
	// Declared in the environment but bound by nothing: none since
	// execution and branch were bound. Whoever declares a root before
	// binding it lists it here, and not in ExprRoots.
	unbound := map[string]bool{}
	env := map[string]bool{}
	rt := reflect.TypeFor[exprEnv]()
	for i := range rt.NumField() {
		name := rt.Field(i).Tag.Get("expr")
		if name == "" || strings.HasPrefix(name, "outflow__") {
			continue // the bounds' own fields, which flows cannot name
		}
		if rt.Field(i).Type.Kind() == reflect.Func {
			continue // a function bound through the env (now), not a root
		}
		env[name] = true
	}
	seen := map[string]bool{}
	for _, r := range ExprRoots {
		if seen[r.Name] {
			t.Errorf("ExprRoots lists %s twice", r.Name)
		}
		seen[r.Name] = true
		if !env[r.Name] {
			t.Errorf("ExprRoots lists %s, which expressions cannot compile against (exprEnv has no such field)", r.Name)
		}
		if _, err := CompileTemplate("${{ " + r.Name + " }}"); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
	}
	for name := range env {
		if !seen[name] && !unbound[name] {
			t.Errorf("expressions compile against %s, which ExprRoots does not list", name)
		}
		if seen[name] && unbound[name] {
			t.Errorf("%s is in ExprRoots now: remove it from the unbound names of this test", name)
		}
	}
	if _, err := CompileTemplate("${{ nosuchroot.x }}"); err == nil {
		t.Error("an unknown root compiles")
	}
}
