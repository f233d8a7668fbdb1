package flows_test

import (
	"strings"
	"testing"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/outflow-dev/outflow/flows"
)

// The types of a small YAML file other than a project's, decoded through
// flows.Decoding as the agent config is.
type nodeFile struct {
	Name    string                 `yaml:"name"`
	Tags    []string               `yaml:"tags"`
	Port    int                    `yaml:"port"`
	On      bool                   `yaml:"on"`
	Server  *nodeServer            `yaml:"server"`
	Servers map[string]*nodeServer `yaml:"servers"`
	Code    *nodeCode              `yaml:"code"`

	Ignored string // no yaml tag: not a field of the file
}

type nodeServer struct {
	Host    string `yaml:"host"`
	Port    int    `yaml:"port"`
	Timeout string `yaml:"timeout"`
}

// nodeCode decodes itself: a mapping {code: X}, where X must be upper case.
type nodeCode struct {
	Code string `yaml:"code"`
}

func (c *nodeCode) DecodeYAML(d *flows.Decoding, n ast.Node, path string) {
	if s, ok := flows.StringValue(n); ok {
		d.ErrAt(n, path, "write {code: %s}", s)
		return
	}
	type plain nodeCode
	d.Decode(n, (*plain)(c), path)
	if c.Code != strings.ToUpper(c.Code) {
		d.Errorf(d.ValPos(path+".code"), path+".code", "%q must be upper case", c.Code)
	}
}

func decodeNodeFile(t *testing.T, text string) (*nodeFile, *flows.Decoding) {
	t.Helper()
	bodies, problems := flows.ParseYAML("file.yaml", []byte(text))
	if len(problems) > 0 || len(bodies) != 1 {
		t.Fatalf("ParseYAML: %d bodies, %v", len(bodies), problems)
	}
	var f nodeFile
	d := flows.NewDecoding("file.yaml")
	d.DecodeDocument(bodies[0], &f)
	return &f, d
}

// A good file decodes whole, with anchors, aliases, merge keys and standard
// tags, and the positions of its values and keys by path.
func TestDecodingDecodesAndPositions(t *testing.T) {
	f, d := decodeNodeFile(t, `name: !!str 42
tags: [a, b]
port: 8443
on: true
server: &base
  host: example.com
  port: 443
servers:
  eu:
    <<: *base
    host: eu.example.com
  "us east": *base
code: {code: ABC}
`)
	if ps := d.Problems(); len(ps) > 0 {
		t.Fatalf("problems: %v", ps)
	}
	if f.Name != "42" || len(f.Tags) != 2 || f.Port != 8443 || !f.On || f.Code.Code != "ABC" {
		t.Fatalf("decoded %+v", f)
	}
	eu, us := f.Servers["eu"], f.Servers["us east"]
	if eu == nil || eu.Host != "eu.example.com" || eu.Port != 443 || us == nil || us.Host != "example.com" {
		t.Fatalf("servers %+v %+v: the merge key gives eu the base's port, not its host", eu, us)
	}
	for _, c := range []struct {
		path     string
		val, key flows.Position
	}{
		{"port", flows.Position{Line: 3, Col: 7}, flows.Position{Line: 3, Col: 1}},
		{"tags[1]", flows.Position{Line: 2, Col: 11}, flows.Position{Line: 2, Col: 11}},
		{"servers.eu.host", flows.Position{Line: 11, Col: 11}, flows.Position{Line: 11, Col: 5}},
		// An alias's value is where the anchored value is.
		{`servers["us east"]`, flows.Position{Line: 6, Col: 3}, flows.Position{Line: 12, Col: 3}},
		// Absent: the nearest parent that is present.
		{"server.timeout", flows.Position{Line: 6, Col: 3}, flows.Position{Line: 6, Col: 3}},
	} {
		if got := d.ValPos(c.path); got != c.val {
			t.Errorf("ValPos(%s) = %v, want %v", c.path, got, c.val)
		}
		if got := d.KeyPos(c.path); got != c.key {
			t.Errorf("KeyPos(%s) = %v, want %v", c.path, got, c.key)
		}
	}
	if !d.Has("servers.eu") || d.Has("server.timeout") || d.Troubled("") {
		t.Errorf("Has/Troubled: servers.eu %v, server.timeout %v, root troubled %v", d.Has("servers.eu"), d.Has("server.timeout"), d.Troubled(""))
	}
	if got := flows.JoinPath("servers", "us east"); got != `servers["us east"]` {
		t.Errorf("JoinPath = %s", got)
	}
}

// Every mistake is reported at once, at its position, in the project
// decoder's words (a mapping's duplicate keys before its fields), and a
// problem marks its path and parents troubled.
func TestDecodingReportsEveryProblem(t *testing.T) {
	_, d := decodeNodeFile(t, `name: [x]
tags: one
port: "80"
on: yes
server:
  hots: a
  prot: 1
  port: 2
  port: 3
servers: {eu: !custom {host: a}}
code: lower
sever: {}
`)
	want := []string{
		`file.yaml:1:7: name: expected a string, got a list`,
		`file.yaml:2:7: tags: expected a list, got the string "one"; for one value write [one]`,
		`file.yaml:3:7: port: expected an integer, got the string "80"; write it without quotes`,
		`file.yaml:4:5: on: expected true or false, got the string "yes"`,
		`file.yaml:9:3: server.port: duplicate key "port" (first at line 8); remove one`,
		`file.yaml:6:3: server.hots: unknown field "hots" (did you mean "host"? known: host, port, timeout)`,
		`file.yaml:7:3: server.prot: unknown field "prot" (did you mean "port"? known: host, port, timeout)`,
		`file.yaml:10:15: servers.eu: unsupported tag; Outflow reads plain YAML values only: remove the tag, or quote the value if it is text that starts with !`,
		`file.yaml:11:7: code: write {code: lower}`,
		`file.yaml:12:1: sever: unknown field "sever" (did you mean "server"? known: code, name, on, port, server, servers, tags)`,
	}
	var got []string
	for _, p := range d.Problems() {
		got = append(got, p.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, p := range []string{"server.port", "server", "", "code"} {
		if !d.Troubled(p) {
			t.Errorf("%q is not troubled", p)
		}
	}
	if d.Troubled("servers.eu.host") {
		t.Error("a value below a refused tag is troubled")
	}

	// A hook's own check reports at the value's position.
	_, d = decodeNodeFile(t, "code:\n  code: abc\n")
	if ps := d.Problems(); len(ps) != 1 || ps[0].String() != `file.yaml:2:9: code.code: "abc" must be upper case` {
		t.Errorf("hook problems: %v", ps)
	}
}

// A body that did not come through ParseYAML is guarded all the same: an
// alias bomb is refused before it is expanded.
func TestDecodingGuardsABodyFromElsewhere(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: a\nx0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 9; i++ {
		b.WriteString("x" + string(rune('0'+i)) + ": &l" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*l" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	file, err := parser.ParseBytes([]byte(b.String()), 0)
	if err != nil {
		t.Fatal(err)
	}
	var f nodeFile
	d := flows.NewDecoding("bomb.yaml")
	d.DecodeDocument(file.Docs[0].Body, &f)
	ps := d.Problems()
	if len(ps) != 1 || ps[0].File != "bomb.yaml" || ps[0].Line == 0 || !strings.Contains(ps[0].Message, "alias bomb") {
		t.Fatalf("problems: %v", ps)
	}
	if f.Name != "" {
		t.Errorf("a refused document was decoded: %+v", f)
	}
}
