package flows_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/outflow-dev/outflow/flows"
)

// FuzzParseInputs reads arbitrary inputs files (outflow run --inputs): the
// inputs it gives are a map, never nil, of JSON values (the workflow gets
// them as JSON); problems are positioned in the file; and a JSON object
// reads as encoding/json reads it, since YAML is a superset of JSON.
func FuzzParseInputs(f *testing.F) {
	for _, s := range []string{
		"customer_id: \"42\"\norder: {id: 7, lines: [{sku: A-1, qty: 2}]}\ndry_run: true\nsince: 2024-01-01T00:00:00Z\nnote: |\n  two\n  lines\n",
		`{"customer_id": "42", "limit": 100, "ratio": 0.25, "tags": ["a", "b"], "nested": {"x": null}, "big": 12345678901234567890}`,
		`{"é": "\u00e9\ud83d\ude00", "esc": "a\"b\\c\/d\n", "neg": -0, "exp": 1E+2}`,
		"defaults: &d {region: eu, tier: 2}\nfirst: {<<: *d, tier: 3}\n",
		"# only a comment\n",
		"",
		"~",
		"- a\n- b\n",
		"a: .inf\nb: .nan\n",
		"a: !!binary aGVsbG8=\n",
		"a: 1\na: 2\n",
		"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
		"a: 1\n---\nb: 2\n",
		"? [a, b]\n: c\n",
		"1: one\ntrue: yes\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inputs, err := flows.ParseInputs("inputs.yaml", data)
		if err != nil {
			var ps flows.Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error that is not Problems: %v", err)
			}
			norm := strings.ReplaceAll(string(data), "\r\n", "\n")
			lines := strings.Count(norm, "\n") + strings.Count(norm, "\r") + 1 // as YAML counts them
			for _, p := range ps {
				if p.File != "inputs.yaml" || p.Message == "" || p.Line < 0 || p.Line > lines {
					t.Fatalf("problem not positioned in the file: %#v", p)
				}
			}
			return
		}
		if inputs == nil {
			t.Fatal("nil inputs")
		}
		b, err := json.Marshal(inputs)
		if err != nil {
			t.Fatalf("inputs are not JSON: %v: %#v", err, inputs)
		}
		var viaJSON map[string]any
		if json.Unmarshal(data, &viaJSON) != nil || viaJSON == nil {
			return
		}
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		// Both as JSON reads them back: integers and floats alike.
		want, _ := json.Marshal(viaJSON)
		var norm map[string]any
		_ = json.Unmarshal(want, &norm)
		if !reflect.DeepEqual(got, norm) {
			t.Fatalf("the JSON object %s reads as %s", want, b)
		}
	})
}

// TestParseInputsNumbers pins what FuzzParseInputs found: the YAML library
// reads a plain 1e-07 (as Python's json.dumps writes it) or 1E+2 as a
// string, and JSON as a number; a value quoted or tagged !!str stays text.
func TestParseInputsNumbers(t *testing.T) {
	in, err := flows.ParseInputs("inputs.yaml", []byte("a: 1e-07\nb: 1E+2\nc: !!str 1e5\nd: '1e5'\ne: 123456789012345678901234567890\nf: [2e3]\n"))
	want := map[string]any{"a": 1e-07, "b": 100.0, "c": "1e5", "d": "1e5", "e": 1.2345678901234568e29, "f": []any{2000.0}}
	if err != nil || !reflect.DeepEqual(in, want) {
		t.Fatalf("%#v, %v; want %#v", in, err, want)
	}
	if _, err := flows.ParseInputs("inputs.yaml", []byte("big: 1e400\n")); err == nil || !strings.Contains(err.Error(), "inputs.yaml:1:6: big: 1e400 is out of range") {
		t.Fatalf("1e400: %v", err)
	}
}
