package yamlkit

import (
	"strings"
	"testing"
)

// TestDecodingReportsEveryProblemWithPosition decodes a document of the
// kit's own test type: each mistake is reported at once, at file:line:col,
// with a did-you-mean for a misspelt field, and the positions of values
// are kept by path.
func TestDecodingReportsEveryProblemWithPosition(t *testing.T) {
	type conf struct {
		Name    string   `yaml:"name" jsonschema:"required"`
		Timeout int      `yaml:"timeout"`
		Tags    []string `yaml:"tags"`
	}
	src := "timout: 3\ntags: x\nextra: {a: 1}\n"
	bodies, problems := ParseYAML("c.yaml", []byte(src))
	if len(problems) != 0 || len(bodies) != 1 {
		t.Fatalf("parse: %v, %d documents", problems, len(bodies))
	}
	d := NewDecoding("c.yaml")
	var c conf
	d.DecodeDocument(bodies[0], &c)
	got := d.Problems().Error()
	for _, want := range []string{
		`c.yaml:1:1: timout: unknown field "timout" (did you mean "timeout"?`,
		`c.yaml:2:7: tags: expected a list, got the string "x"; for one value write [x]`,
		`c.yaml:3:1: extra: unknown field "extra"`,
		`missing required field "name"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if p := d.KeyPos("tags"); p != (Position{Line: 2, Col: 1}) {
		t.Errorf("KeyPos(tags) = %v, want 2:1", p)
	}
	if !d.Troubled("tags") || d.Troubled("timeout") {
		t.Errorf("troubled: tags %v (want true), timeout %v (want false)", d.Troubled("tags"), d.Troubled("timeout"))
	}
}

// TestParseYAMLRefusesAliasBomb checks the guards run before decoding.
func TestParseYAMLRefusesAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 8; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	_, problems := ParseYAML("bomb.yaml", []byte(b.String()))
	if len(problems) == 0 || !strings.HasPrefix(problems[0].String(), "bomb.yaml:") {
		t.Fatalf("alias bomb not refused with a position: %v", problems)
	}
}
