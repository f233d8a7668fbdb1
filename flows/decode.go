package flows

import (
	"reflect"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/outflow-dev/outflow/engine/yamlkit"
)

// The decoder of project documents is yamlkit's (engine/yamlkit), shared
// with the worker's agent.yaml; this file gives it the project's words
// (pattern help, field labels), its types that decode themselves
// (yamlDecoder), and the positions of strings that hold expressions.

// Position is a 1-based line and column in a file.
type Position = yamlkit.Position

// pos is the short name the loader uses.
type pos = Position

// document is one decoded YAML document, with the positions of its values.
// The position maps are yamlkit's document's, shared.
type document struct {
	kit   *yamlkit.Document
	file  string // relative to the project folder, with forward slashes
	kind  string
	name  string
	at    pos // the document's first key
	value any // *Flow, *Action, *Connection, *ProtocolProfile or *ProjectSettings

	vals  map[string]pos       // path → position of the value
	keys  map[string]pos       // path → position of the key that holds the value
	order map[string][]string  // path of a mapping → its keys in document order
	strs  map[string]strSource // path → source of a string that holds an expression

	// troubled holds the paths, and their ancestors, of values that had a
	// problem while decoding, so later checks do not report the same mistake
	// again in other words.
	troubled map[string]bool
}

func newDocument(file string) *document {
	k := yamlkit.NewDocument(file)
	return &document{
		kit: k, file: file,
		vals: k.Vals, keys: k.Keys, order: k.Order, troubled: k.Troubled,
		strs: map[string]strSource{},
	}
}

// setAt sets the document's first key, where problems of the whole
// document point.
func (d *document) setAt(at pos) {
	d.at = at
	d.kit.At = at
}

// valPos is the position of the value at path, falling back to its parents
// when the value is absent (a problem about a missing field points at the
// mapping that lacks it).
func (d *document) valPos(path string) pos { return d.kit.ValPos(path) }

// keyPos is the position of the key that holds the value at path, or of the
// value when it has no key (a list element).
func (d *document) keyPos(path string) pos { return d.kit.KeyPos(path) }

func parentPath(path string) string         { return yamlkit.ParentPath(path) }
func joinPath(path, key string) string      { return yamlkit.JoinPath(path, key) }
func indexPath(path string, i int) string   { return yamlkit.IndexPath(path, i) }
func nodePos(n ast.Node) pos                { return yamlkit.NodePos(n) }
func describe(n ast.Node) string            { return yamlkit.Describe(n) }
func describeValue(n ast.Node) string       { return yamlkit.DescribeValue(n) }
func stringValue(n ast.Node) (string, bool) { return yamlkit.StringValue(n) }
func intValue(n ast.Node) (int64, bool)     { return yamlkit.IntValue(n) }
func scalarText(n ast.Node) (string, bool)  { return yamlkit.ScalarText(n) }

func identifierLike(s string, re *regexp.Regexp) string { return yamlkit.IdentifierLike(s, re) }

// decoder decodes one document with yamlkit's decoder.
type decoder struct {
	k        *yamlkit.Decoder
	doc      *document
	problems *Problems
	aliases  map[*ast.AliasNode]ast.Node
}

// yamlDecoder is implemented by the project's types that decode
// themselves. n is resolved (no anchor, alias or tag) and not null.
type yamlDecoder interface {
	decodeYAML(d *decoder, n ast.Node, path string)
}

var yamlDecoderType = reflect.TypeFor[yamlDecoder]()

func newDecoder(doc *document, problems *Problems, aliases map[*ast.AliasNode]ast.Node) *decoder {
	k := yamlkit.NewDecoder(doc.kit, problems, aliases)
	d := &decoder{k: k, doc: doc, problems: problems, aliases: k.Aliases}
	k.PatternHelp, k.FieldLabels = patternHelp, fieldLabels
	k.OnString = d.noteString
	k.Hook = func(n ast.Node, v reflect.Value, path string) bool {
		if v.CanAddr() && v.Addr().Type().Implements(yamlDecoderType) {
			v.Addr().Interface().(yamlDecoder).decodeYAML(d, n, path)
			return true
		}
		return false
	}
	return d
}

func (d *decoder) errorf(at pos, path, format string, args ...any) {
	d.k.Errorf(at, path, format, args...)
}

// errAt reports a problem at node n.
func (d *decoder) errAt(n ast.Node, path, format string, args ...any) {
	d.k.ErrAt(n, path, format, args...)
}

func (d *decoder) resolve(n ast.Node, path string) ast.Node { return d.k.Resolve(n, path) }

func (d *decoder) decode(n ast.Node, v reflect.Value, path string) bool {
	return d.k.DecodeValue(n, v, path)
}

func (d *decoder) decodeStruct(n ast.Node, v reflect.Value, path string) {
	d.k.DecodeStruct(n, v, path)
}

func (d *decoder) generic(n ast.Node, path string) any { return d.k.Generic(n, path) }

// entry is one key and value of a mapping, after merge keys are applied.
type entry struct {
	key   string
	keyAt pos
	value ast.Node
}

func (d *decoder) entries(n ast.Node, path string) ([]entry, bool) {
	es, ok := d.k.Entries(n, path)
	out := make([]entry, len(es))
	for i, e := range es {
		out[i] = entry{key: e.Key, keyAt: e.KeyAt, value: e.Value}
	}
	return out, ok
}

// strSource is where a string's text is in the file: its token, and for a
// literal block scalar (|) the line of its header.
type strSource struct {
	tok        *token.Token
	blockLine  int // the line of the | header; 0 when not a literal block
	blockStyle string
}

// noteString remembers where a string that holds an expression is, so that
// an expression problem can point into it.
func (d *decoder) noteString(n ast.Node, path, s string) {
	if !strings.Contains(s, "${{") {
		return
	}
	switch x := n.(type) {
	case *ast.LiteralNode:
		if x.Start != nil && x.Start.Position != nil && x.Value != nil && x.Value.Token != nil {
			d.doc.strs[path] = strSource{tok: x.Value.Token, blockLine: x.Start.Position.Line, blockStyle: x.Start.Value}
		}
	default:
		if tk := n.GetToken(); tk != nil {
			d.doc.strs[path] = strSource{tok: tk}
		}
	}
}

// patternHelp explains the patterns of types.go in words.
var patternHelp = map[string]string{
	`^[A-Za-z0-9][A-Za-z0-9._-]*$`: "use letters, digits, '.', '_' and '-', starting with a letter or digit",
	`^[A-Za-z_][A-Za-z0-9_]*$`:     "use letters, digits and '_', not starting with a digit, so that expressions can name it",
}

// fieldLabels names fields in messages where the YAML name alone is terse.
var fieldLabels = map[string]string{"method": "HTTP method", "in": "api key location"}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
