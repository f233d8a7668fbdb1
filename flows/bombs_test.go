package flows_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/outflow-dev/outflow/flows"
)

// billionLaughs is the classic alias bomb: nine levels of ten aliases each,
// a billion strings once expanded, in under a kilobyte.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString("kind: Flow\nname: lol\nvars:\n  l0: &l0 \"lol\"\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// mergeBomb grows through merge keys in block mappings instead of lists.
func mergeBomb() string {
	var b strings.Builder
	b.WriteString("kind: Flow\nname: merge\nvars:\n  m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}\n")
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&b, "  m%d: &m%d\n", i, i)
		for j := 0; j < 8; j++ {
			fmt.Fprintf(&b, "    k%d: *m%d\n", j, i-1)
		}
	}
	return b.String()
}

// blockMaps nests depth block mappings, each indented one step more.
func blockMaps(depth int) string {
	var b strings.Builder
	b.WriteString("kind: Flow\nname: deep\nvars:\n")
	for i := 0; i < depth; i++ {
		b.WriteString(strings.Repeat(" ", i+2))
		b.WriteString("k:\n")
	}
	b.WriteString(strings.Repeat(" ", depth+2) + "v\n")
	return b.String()
}

// TestYAMLBombsAreRefused loads documents built to exhaust a YAML loader:
// each is refused with a positioned problem that says what is wrong, and
// none is expanded or parsed in full.
func TestYAMLBombsAreRefused(t *testing.T) {
	manyDocs := strings.Repeat("---\nkind: Connection\nname: c\nhost: h.example\n", flows.MaxFileSize/60)
	wide := "kind: Flow\nname: wide\nvars:\n  list: [" + strings.Repeat("1,", flows.MaxFileSize/2-64) + "1]\n"
	for name, tc := range map[string]struct {
		src  string
		want string
		line int
	}{
		"billion laughs":     {billionLaughs(), "alias bomb", 0},
		"merge key bomb":     {mergeBomb(), "alias bomb", 0},
		"10,000 levels of [": {"kind: Flow\nname: deep\nvars:\n  x: " + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "\n", "values nest deeper than 100 levels", 4},
		"10,000 levels of {": {"kind: Flow\nname: deep\nvars:\n  x: " + strings.Repeat("{a: ", 10000) + "1" + strings.Repeat("}", 10000) + "\n", "values nest deeper than 100 levels", 4},
		// 10,000 indented levels would not fit the size limit.
		"1,500 levels of block maps":   {blockMaps(1500), "values nest deeper than 100 levels", 0},
		"10,000 levels of block lists": {"kind: Flow\nname: deep\nvars:\n  x:\n" + strings.Repeat("  - ", 10000) + "x\n", "values nest deeper than 100 levels", 5},
		"unterminated nesting":         {"kind: Flow\nname: deep\nvars:\n  x: " + strings.Repeat("[", 10000) + "\n", "values nest deeper than 100 levels", 4},
		"a file over the size limit":   {"kind: Flow\nname: big\n# " + strings.Repeat("x", flows.MaxFileSize) + "\n", "file is larger than 2 MiB", 0},
		"thousands of documents":       {manyDocs, "the file holds more than 1000 YAML documents", 4001},
		"a million-item list":          {wide, "the file holds more than 200000 YAML values", 4},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := flows.LoadFS(fstest.MapFS{"bomb.yaml": {Data: []byte(tc.src)}}, "/p")
			var ps flows.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("LoadFS = %v, want Problems", err)
			}
			if tc.want != "" && !strings.Contains(ps[0].String(), tc.want) {
				t.Fatalf("first problem %q, want one containing %q", ps[0], tc.want)
			}
			if ps[0].File != "bomb.yaml" || (name != "a file over the size limit" && ps[0].Line == 0) {
				t.Errorf("problem not positioned in the file: %s", ps[0])
			}
			if tc.line != 0 && ps[0].Line != tc.line {
				t.Errorf("problem at line %d, want %d: %s", ps[0].Line, tc.line, ps[0])
			}
			t.Logf("%d problem(s), first: %s", len(ps), ps[0])
		})
	}
}

// TestRecordLimitSetting reads record_limit from outflow.yaml into the
// plan's settings, and warns, at its position, about one Temporal would
// refuse to carry.
func TestRecordLimitSetting(t *testing.T) {
	flow := "kind: Connection\nname: c\nhost: h.example\n---\nkind: Flow\nname: f\nsteps:\n  - {id: a, rest: {connection: c, path: /a}}\n"
	for limit, want := range map[string]struct {
		bytes   int64
		warning string
	}{
		"512KiB": {512 << 10, ""},
		"3MiB":   {3 << 20, "outflow.yaml:3:15: record_limit: a record limit above 1536KiB"},
	} {
		p, err := flows.LoadFS(fstest.MapFS{
			"outflow.yaml": {Data: []byte("kind: Project\nname: p\nrecord_limit: " + limit + "\n")},
			"flow.yaml":    {Data: []byte(flow)},
		}, "/p")
		if err != nil {
			t.Fatal(err)
		}
		plan, err := p.Plan("f")
		if err != nil {
			t.Fatal(err)
		}
		if plan.Settings.RecordLimit != want.bytes {
			t.Errorf("record_limit %s: plan has %d", limit, plan.Settings.RecordLimit)
		}
		w := p.Warnings()
		if want.warning == "" && len(w) > 0 || want.warning != "" && (len(w) != 1 || !strings.Contains(w[0].String(), want.warning)) {
			t.Errorf("record_limit %s: warnings %v", limit, w)
		}
	}
}
