package engine

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// FuzzNextLink reads arbitrary Link headers: the target it returns is a
// part of the header, the text between a link's < and >, trimmed; and a
// link written rel="next" is always found. Whether the target may be
// followed is steps/rest's FuzzFollowLink.
func FuzzNextLink(f *testing.F) {
	for _, s := range []string{
		`<https://api.partner.example/v2/orders?page=2>; rel="next"`,
		`<https://x/a?page=1>; rel="first", <https://x/a?page=3>; rel="next", <https://x/a?page=9>; rel="last"`,
		`</a?page=2>; title="a, b"; rel="prefetch next"`,
		`<https://x/a?q=a,b>; REL=next`,
		`<https://x/a?page=2>; rel="prev"`,
		`garbage, <unclosed; rel=next`,
		`<a>; title="x, <b>; rel=next", <c>; rel=next`,
		`<  spaced  >; rel = " next "`,
	} {
		f.Add(s, "https://api.partner.example/v2/orders?cursor=abc")
	}
	f.Fuzz(func(t *testing.T, header, target string) {
		got := NextLink(header)
		if got != "" {
			if !strings.Contains(header, got) || strings.Contains(got, ">") || got != strings.TrimSpace(got) {
				t.Fatalf("NextLink(%q) = %q: not a link target of the header", header, got)
			}
			if !betweenBrackets(header, got) {
				t.Fatalf("NextLink(%q) = %q: not between < and >", header, got)
			}
		}
		target = strings.TrimSpace(target)
		if target == "" || strings.ContainsAny(target, "<>") {
			return
		}
		for _, h := range []string{`<` + target + `>; rel="next"`, `<` + target + `>;rel=next`, `<https://x/a>; rel="prev", <` + target + `>; rel="last next"`} {
			if got := NextLink(h); got != target {
				t.Fatalf("NextLink(%q) = %q, want %q", h, got, target)
			}
		}
	})
}

// betweenBrackets reports whether s occurs in h as "<", spaces, s, spaces, ">".
func betweenBrackets(h, s string) bool {
	for i := strings.Index(h, s); i >= 0; {
		if strings.HasSuffix(strings.TrimRightFunc(h[:i], unicode.IsSpace), "<") && strings.HasPrefix(strings.TrimLeftFunc(h[i+len(s):], unicode.IsSpace), ">") {
			return true
		}
		next := strings.Index(h[i+1:], s)
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return false
}

// FuzzCoerceInput converts inputs given as text (--input name=value) or as
// JSON values (--inputs, the API) to their declared types. What it accepts
// has the declared type, is JSON (it goes into history and records, where
// NaN and infinities cannot), an integer is the one written, and coercing
// again changes nothing: a flow's inputs pass through again on
// continue-as-new and into subflows.
func FuzzCoerceInput(f *testing.F) {
	for _, s := range []struct{ typ, text, js string }{
		{"integer", "42", `42`},
		{"integer", "9007199254740993", `9007199254740993`},
		{"integer", "-7", `1.5`},
		{"number", "3.25", `1e308`},
		{"number", "NaN", `"NaN"`},
		{"number", "Inf", `"-Infinity"`},
		{"boolean", "true", `"false"`},
		{"string", "Customer 42", `{"a":1}`},
		{"object", `{"a":[1,2]}`, `"{\"a\":1}"`},
		{"array", `[1,"x"]`, `[]`},
		{"any", "x", `null`},
	} {
		f.Add(s.typ, s.text, []byte(s.js))
	}
	f.Fuzz(func(t *testing.T, typ, text string, js []byte) {
		spec := InputSpec{Name: "in", Type: typ}
		values := []any{text}
		var v any
		if json.Unmarshal(js, &v) == nil {
			values = append(values, v)
		}
		for _, in := range values {
			out, err := coerceInput(spec, in)
			if err != nil {
				continue
			}
			b, err := json.Marshal(out)
			if err != nil {
				t.Fatalf("coerceInput(%s, %#v) = %#v, which is not JSON: %v", typ, in, out, err)
			}
			var back any
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			ok := true
			switch typ {
			case "string":
				_, ok = out.(string)
			case "number", "integer":
				var n float64
				n, ok = out.(float64)
				if typ == "integer" && ok {
					ok = n == math.Trunc(n)
					if s, isText := in.(string); isText {
						want, _ := strconv.ParseInt(s, 10, 64)
						if float64(want) != n || int64(n) != want {
							t.Fatalf("integer input %q became %v", s, n)
						}
					}
				}
			case "boolean":
				_, ok = out.(bool)
			case "object":
				_, ok = out.(map[string]any)
			case "array":
				_, ok = out.([]any)
			}
			if !ok {
				t.Fatalf("coerceInput(%s, %#v) = %#v (%T)", typ, in, out, out)
			}
			again, err := coerceInput(spec, out)
			if err != nil || !reflect.DeepEqual(again, out) {
				t.Fatalf("coercing %#v again as %s: %#v, %v", out, typ, again, err)
			}
		}
	})
}

// TestNonNumberInputsFailTheFlowClearly: "NaN" and "Inf" read as numbers,
// which JSON cannot carry, so the flow failed to record its own inputs
// ("unable to encode") instead of saying what is wrong; an integer past
// 2^53 silently became another one. FuzzCoerceInput found both.
func TestNonNumberInputsFailTheFlowClearly(t *testing.T) {
	for _, tc := range []struct{ typ, value, want string }{
		{"number", "NaN", `input "n" must be a number, got "NaN"`},
		{"number", "-Inf", `input "n" must be a number, got "-Inf"`},
		{"integer", "9007199254740993", `input "n": 9007199254740993 is too large for an integer input`},
	} {
		plan := testPlan(restStep("a", "/x"))
		plan.Inputs = append(plan.Inputs, InputSpec{Name: "n", Type: tc.typ})
		_, err := runPlan(t, plan, map[string]any{"id": "1", "n": tc.value}, &fakePartner{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s input %q: %v, want an error saying %s", tc.typ, tc.value, err, tc.want)
		}
	}
}
