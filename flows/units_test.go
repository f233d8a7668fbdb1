package flows

import (
	"strings"
	"testing"

	"github.com/goccy/go-yaml/token"
)

func TestCheckCron(t *testing.T) {
	for _, tc := range []struct {
		spec string
		err  string // empty: valid
	}{
		{"0 2 * * *", ""},
		{"*/15 9-17 * * MON-FRI", ""},
		{"0 0 1,15 jan,jul ?", ""},
		{"5 4 * * 7", ""},
		{"@daily", ""},
		{"0 25 * * *", "hour 25 is out of range 0-23"},
		{"0 2 * *", "has 5 fields"},
		{"0 2 * * * 2024", "has 5 fields"},
		{"*/0 * * * *", "step \"0\" must be"},
		{"0 2 ? * *", ""},
		{"? 2 * * *", "minute does not take \"?\""},
		{"10-5 * * * *", "runs backwards"},
		{"0 2 * JANUARY *", "not a number from 1 to 12 or a name"},
		{"0 2 1,,2 * *", "empty list entry"},
		{"@every 1h", "every:"},
		{"@often", "unknown descriptor"},
		{"CRON_TZ=UTC 0 2 * * *", "timezone:"},
	} {
		err := checkCron(tc.spec)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("checkCron(%q) = %v, want nil", tc.spec, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("checkCron(%q) = %v, want %q", tc.spec, err, tc.err)
		}
	}
}

func TestClosest(t *testing.T) {
	names := []string{"timeout", "retry", "rest", "soap", "continue_on_error", "GET", "boolean", "a"}
	for _, tc := range []struct{ in, want string }{
		{"timout", "timeout"},
		{"get", "GET"},
		{"bool", "boolean"},
		{"rset", "rest"},
		{"continue_on_eror", "continue_on_error"},
		{"zzzzzz", ""},
		{"b", ""}, // too short to guess
	} {
		got, ok := closest(tc.in, names)
		if !ok {
			got = ""
		}
		if got != tc.want {
			t.Errorf("closest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestExprRefs(t *testing.T) {
	refs := exprRefs(`steps.get.json.name + inputs["customer_id"] + vars.x + item.id + string(index) + steps?.opt.status`)
	var got []string
	for _, r := range refs {
		got = append(got, r.root+":"+r.name)
	}
	want := "steps:get,inputs:customer_id,vars:x,item:,index:,steps:opt"
	if strings.Join(got, ",") != want {
		t.Errorf("exprRefs = %v, want %s", got, want)
	}
	if refs := exprRefs("steps[inputs.which].json"); len(refs) != 1 || refs[0].root != "inputs" {
		t.Errorf("a computed step name must not be checked: %v", refs)
	}
	if refs := exprRefs("let item = 1; item + 1"); len(refs) != 0 {
		t.Errorf("a name bound by let is not the loop's item: %v", refs)
	}
}

func TestExprSpans(t *testing.T) {
	s := "a ${{  inputs.x }} b ${{y}} ${{ unclosed"
	spans := exprSpans(s)
	if len(spans) != 2 || spans[0].code != "inputs.x" || s[spans[0].codeFrom:spans[0].codeFrom+8] != "inputs.x" || spans[1].code != "y" {
		t.Errorf("exprSpans = %+v", spans)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"timout", "timeout", 1}, {"rset", "rest", 1}} {
		if got := editDistance(tc.a, tc.b); got != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}

// FuzzExpressions drives the loader's own handling of expressions — finding
// them, reading the names they use and pointing into the string — with any
// text, in every kind of YAML scalar. The expression language itself is
// fuzzed by engine's FuzzCompileTemplate.
func FuzzExpressions(f *testing.F) {
	for _, s := range []string{
		"${{ inputs.x }}", "/a/${{ steps.get.json.items[0] }}/${{ item.id }}", "${{ }}", "${{ unclosed",
		"${{ let item = 1; item }}", "é${{ vars.ü }}", "${{ steps?.a?.b }}", "${{ steps['x-y'] }}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, span := range exprSpans(s) {
			if span.codeFrom < 0 || span.codeFrom > len(s) {
				t.Fatalf("span outside the string: %+v", span)
			}
			for _, r := range exprRefs(span.code) {
				switch r.root {
				case "inputs", "vars", "steps", "item", "index":
				default:
					t.Fatalf("unexpected root %q", r.root)
				}
			}
		}
		for _, tt := range []byte{'p', '"', '\'', '|'} {
			doc := newDocument("f.yaml")
			doc.vals["v"] = pos{Line: 3, Col: 7}
			switch tt {
			case '|':
				doc.strs["v"] = strSource{tok: &token.Token{Type: token.StringType, Origin: "  " + s, Position: &token.Position{Line: 4, Column: 3}}, blockLine: 3, blockStyle: "|"}
			default:
				typ := map[byte]token.Type{'p': token.StringType, '"': token.DoubleQuoteType, '\'': token.SingleQuoteType}[tt]
				doc.strs["v"] = strSource{tok: &token.Token{Type: typ, Origin: s, Position: &token.Position{Line: 3, Column: 7}}}
			}
			for off := 0; off <= len(s); off += 1 + len(s)/8 {
				if p := exprPos(doc, "v", s, off); p.Line < 3 || p.Col < 1 {
					t.Fatalf("exprPos(%q, %d) = %v", s, off, p)
				}
			}
		}
	})
}
