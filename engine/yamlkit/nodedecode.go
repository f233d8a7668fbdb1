package yamlkit

import (
	"fmt"
	"reflect"

	"github.com/goccy/go-yaml/ast"
)

// Decoding lends the project decoder to Outflow's other YAML files (an
// agent's config): a document is decoded into Go values with the rules and
// words a project's documents are decoded with — anchors, aliases, merge
// keys and tags; duplicate keys; unknown fields with a did-you-mean; type
// errors — every problem at once, each at its position. After decoding, the
// positions of the values by path serve the file's own checks, whose
// problems join the decoding's with Errorf.
//
// Struct fields are named by their `yaml` tag; fields without one are left
// alone. A type decodes itself by implementing NodeDecoder.
type Decoding struct {
	d *Decoder
}

// NodeDecoder is implemented by types that decode themselves from a YAML
// value: n has no anchor, alias or tag left, and is not null. Problems are
// reported with d.ErrAt or d.Errorf at path.
type NodeDecoder interface {
	DecodeYAML(d *Decoding, n ast.Node, path string)
}

var nodeDecoderType = reflect.TypeFor[NodeDecoder]()

// NewDecoding starts a decoding of a document of file; problems are
// positioned in file as given.
func NewDecoding(file string) *Decoding {
	doc := NewDocument(file)
	doc.At = Position{1, 1}
	var problems Problems
	d := NewDecoder(doc, &problems, nil)
	d.public = &Decoding{d: d}
	return d.public
}

// DecodeDocument decodes a document's body, as ParseYAML returns it, into
// v, a pointer. The body is checked with the loader's guards again (nesting,
// alias expansion) to learn what its aliases stand for, so a body that did
// not come from ParseYAML is safe too.
func (dec *Decoding) DecodeDocument(body ast.Node, v any) {
	d := dec.d
	g := newASTGuard()
	if !g.check(body) {
		p := *g.problem
		p.File = d.Doc.File
		*d.Problems = append(*d.Problems, p)
		return
	}
	for a, target := range g.aliases {
		d.Aliases[a] = target
	}
	if at := NodePos(d.Resolve(body, "")); at != (Position{}) {
		d.Doc.At = at
	}
	dec.Decode(body, v, "")
}

// Decode decodes n, a node of the document being decoded, into v, a
// pointer, at path. A NodeDecoder uses it for the parts of its value, or
// for all of it through a type of the same fields without the method.
func (dec *Decoding) Decode(n ast.Node, v any, path string) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic(fmt.Sprintf("yamlkit: Decode needs a non-nil pointer, got %T", v))
	}
	dec.d.DecodeValue(n, rv.Elem(), path)
}

// Problems are the problems found so far, in the order they were found.
func (dec *Decoding) Problems() Problems { return *dec.d.Problems }

// Errorf reports a problem at a position, about the value at path; the
// path and its parents count as troubled from then on.
func (dec *Decoding) Errorf(at Position, path, format string, args ...any) {
	dec.d.Errorf(at, path, format, args...)
}

// ErrAt reports a problem at the start of node n.
func (dec *Decoding) ErrAt(n ast.Node, path, format string, args ...any) {
	dec.d.ErrAt(n, path, format, args...)
}

// Troubled reports whether a problem was reported at path or below it, so
// that later checks do not report the same mistake again in other words.
func (dec *Decoding) Troubled(path string) bool { return dec.d.Doc.Troubled[path] }

// Has reports whether the document gave a value at path (null included).
func (dec *Decoding) Has(path string) bool {
	_, ok := dec.d.Doc.Vals[path]
	return ok
}

// ValPos is the position of the value at path or, when it is absent, of
// its nearest parent that is present (a missing field is reported at the
// mapping that lacks it).
func (dec *Decoding) ValPos(path string) Position { return dec.d.Doc.ValPos(path) }

// KeyPos is the position of the key that holds the value at path, or of
// the value when it has none (a list element).
func (dec *Decoding) KeyPos(path string) Position { return dec.d.Doc.KeyPos(path) }
