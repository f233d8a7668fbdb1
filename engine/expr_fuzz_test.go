package engine_test

import (
	"testing"

	"github.com/outflow-dev/outflow/engine"
)

// FuzzCompileTemplate checks that any template either compiles or returns an
// error: no panic, and a compiled template evaluates without panicking on an
// environment of the shape the workflow provides.
func FuzzCompileTemplate(f *testing.F) {
	for _, s := range []string{
		"plain text",
		"${{ inputs.x }}",
		"/customers/${{ inputs.customer_id }}/orders",
		"${{ steps.get.json.items[0].id }}",
		"${{ inputs.limit > 1 ? 'a' : 'b' }}",
		"${{ jsonpath(steps.get.body, 'a.b') }} ${{ tojson(vars) }}",
		"${{ default(inputs.x, 'none') }} ${{ urlencode(item) }} ${{ base64(index) }}",
		"${{ fromjson('{\"a\": 1}').a }}",
		"${{ }}",
		"${{ unclosed",
		"${{ now() }}",
		"  ${{ inputs.x }}\n",
		"${{ let x = 1; x + index }}",
		"${{ map([1, 2], # * 2) }}",
	} {
		f.Add(s)
	}
	env := map[string]any{
		"inputs": map[string]any{"x": "1", "limit": 2.0, "customer_id": "c1"},
		"vars":   map[string]any{"v": []any{1.0, "a"}},
		"steps":  map[string]any{"get": map[string]any{"status": "succeeded", "json": map[string]any{"items": []any{map[string]any{"id": 1.0}}}, "body": `{"a":{"b":2}}`}},
		"item":   map[string]any{"id": 3.0},
		"index":  0,
	}
	f.Fuzz(func(t *testing.T, s string) {
		tpl, err := engine.CompileTemplate(s)
		if err != nil {
			return
		}
		if tpl.Source() != s {
			t.Fatalf("Source() = %q, want %q", tpl.Source(), s)
		}
		_, _ = tpl.Eval(env)
	})
}
