package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestInputsFile pins what flows.FuzzParseInputs found in --inputs files
// read with the YAML library directly: an empty file left a nil map that
// --input then wrote into (a panic), ten lines of aliases expanded
// exponentially, and .inf or a 1e-07 from a JSON tool became values the
// workflow cannot carry or strings.
func TestInputsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bomb := "a: &a [x, x, x, x, x, x, x, x, x]\n"
	for i, c := range "bcdefghijk" {
		prev := string("abcdefghijk"[i])
		bomb += string(c) + ": &" + string(c) + " [" + strings.Repeat("*"+prev+", ", 8) + "*" + prev + "]\n"
	}
	for _, tc := range []struct {
		name, text string
		flags      []string
		want       map[string]any
		err        string
	}{
		{"empty.yaml", "", []string{"customer_id=42"}, map[string]any{"customer_id": "42"}, ""},
		{"comment.yaml", "# nothing yet\n", []string{"a=b"}, map[string]any{"a": "b"}, ""},
		{"json.json", `{"limit": 1e-07, "n": 2, "tags": ["a"]}`, []string{"n=3"}, map[string]any{"limit": 1e-07, "n": "3", "tags": []any{"a"}}, ""},
		{"bomb.yaml", bomb, nil, nil, "bomb.yaml:"},
		{"inf.yaml", "ratio: .inf\n", nil, nil, "inf.yaml:1:8: ratio: .inf cannot be sent as JSON"},
		{"list.yaml", "- a\n", nil, nil, "list.yaml:1:1: expected a mapping"},
	} {
		in, err := parseInputs(&runFlags{inputsFile: write(tc.name, tc.text), inputs: tc.flags})
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %v, %v; want an error with %q", tc.name, in, err, tc.err)
			}
		case err != nil || !reflect.DeepEqual(in, tc.want):
			t.Errorf("%s: %#v, %v; want %#v", tc.name, in, err, tc.want)
		}
	}
}
