package yamlkit

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// The decoder turns a YAML document's syntax tree into Go values. It is
// written here rather than taken from the YAML library because the library
// stops at the first problem, while Outflow reports every problem of a file
// at once, each with its position; and because later checks (references,
// expressions) need the position of any value by its path.

// Position is a 1-based line and column in a file.
type Position struct{ Line, Col int }

func (p Position) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// pos is the short name the decoder uses.
type pos = Position

// Document is one decoded YAML document, with the positions of its values.
type Document struct {
	File string   // as problems name it
	At   Position // the document's first key

	Vals  map[string]Position // path → position of the value
	Keys  map[string]Position // path → position of the key that holds the value
	Order map[string][]string // path of a mapping → its keys in document order

	// Troubled holds the paths, and their ancestors, of values that had a
	// problem while decoding, so later checks do not report the same mistake
	// again in other words.
	Troubled map[string]bool
}

// Trouble marks path and its ancestors as troubled.
func (d *Document) Trouble(path string) {
	for {
		d.Troubled[path] = true
		if path == "" {
			return
		}
		path = ParentPath(path)
	}
}

// NewDocument starts the positions of a document of file.
func NewDocument(file string) *Document {
	return &Document{
		File:     file,
		Vals:     map[string]Position{},
		Keys:     map[string]Position{},
		Order:    map[string][]string{},
		Troubled: map[string]bool{},
	}
}

// ValPos is the position of the value at path, falling back to its parents
// when the value is absent (a problem about a missing field points at the
// mapping that lacks it).
func (d *Document) ValPos(path string) Position {
	for {
		if p, ok := d.Vals[path]; ok {
			return p
		}
		if path == "" {
			return d.At
		}
		path = ParentPath(path)
	}
}

// KeyPos is the position of the key that holds the value at path, or of the
// value when it has no key (a list element).
func (d *Document) KeyPos(path string) Position {
	if p, ok := d.Keys[path]; ok {
		return p
	}
	return d.ValPos(path)
}

// ParentPath drops the last element of a path: "a.b[2]" → "a.b" → "a" → "".
func ParentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// JoinPath appends a mapping key to a path as the decoder writes paths:
// "a.b", or a["b c"] for a key that is not a plain word.
func JoinPath(path, key string) string {
	if !PlainKey.MatchString(key) {
		return fmt.Sprintf("%s[%q]", path, key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// PlainKey is a mapping key written in a path without quotes.
var PlainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// IndexPath appends a list index to a path: "a[2]".
func IndexPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// NodePos is where a node starts.
func NodePos(n ast.Node) pos {
	if n == nil {
		return pos{}
	}
	switch x := n.(type) {
	case *ast.MappingNode:
		if len(x.Values) > 0 && x.Values[0] != nil && x.Values[0].Key != nil {
			return NodePos(x.Values[0].Key)
		}
	case *ast.MappingValueNode:
		if x.Key != nil {
			return NodePos(x.Key)
		}
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return pos{}
	}
	return pos{tk.Position.Line, tk.Position.Column}
}

// Decoder decodes one document into Go values by reflection, reporting
// every problem with its position. Decoding is its face for types that
// decode themselves; Decoder's exported fields let a package that owns a
// richer document (the project loader) hook into it.
type Decoder struct {
	Doc      *Document
	Problems *Problems
	// Aliases are what each alias of the document stands for, as the guards
	// of ParseGuarded resolved them.
	Aliases map[*ast.AliasNode]ast.Node
	// Hook, when set, is offered each non-null value first (resolved, with
	// no anchor, alias or tag left); it returns true when it decoded it.
	Hook func(n ast.Node, v reflect.Value, path string) bool
	// OnString, when set, is told of each string value decoded, with its
	// node, so that positions inside strings can be found later.
	OnString func(n ast.Node, path, s string)
	// PatternHelp explains a `jsonschema:"pattern=..."` in words, by the
	// pattern; FieldLabels names fields in messages where the YAML name
	// alone is terse.
	PatternHelp map[string]string
	FieldLabels map[string]string

	public *Decoding // what NodeDecoder hooks are given; nil until one is met
	// strTagged holds the strings written with !!str, which stay strings
	// however they read.
	strTagged map[ast.Node]bool
}

// NewDecoder starts decoding a document whose positions go to doc and
// whose problems are appended to problems.
func NewDecoder(doc *Document, problems *Problems, aliases map[*ast.AliasNode]ast.Node) *Decoder {
	if aliases == nil {
		aliases = map[*ast.AliasNode]ast.Node{}
	}
	return &Decoder{Doc: doc, Problems: problems, Aliases: aliases}
}

// Errorf reports a problem at a position, about the value at path; the
// path and its parents count as troubled from then on.
func (d *Decoder) Errorf(at Position, path, format string, args ...any) {
	d.Doc.Trouble(path)
	*d.Problems = append(*d.Problems, Problem{
		File: d.Doc.File, Line: at.Line, Col: at.Col, Path: path,
		Message: fmt.Sprintf(format, args...),
	})
}

// ErrAt reports a problem at node n.
func (d *Decoder) ErrAt(n ast.Node, path, format string, args ...any) {
	d.Errorf(NodePos(n), path, format, args...)
}

// Resolve follows anchors, aliases and tags to the value they stand for.
// It returns nil for an absent value.
func (d *Decoder) Resolve(n ast.Node, path string) ast.Node {
	// Anchors of anchors and aliases of tagged values are finite chains, but
	// stay bounded whatever the tree holds.
	for range 64 {
		switch x := n.(type) {
		case nil:
			return nil
		case *ast.AnchorNode:
			n = x.Value
		case *ast.AliasNode:
			n = d.Aliases[x]
		case *ast.MappingKeyNode:
			n = x.Value
		case *ast.TagNode:
			n = d.resolveTag(x, path)
		case *ast.CommentGroupNode, *ast.CommentNode:
			return nil
		default:
			return n
		}
	}
	return nil
}

// resolveTag honours the standard tags that only restate or force a type
// and refuses others, whose meaning Outflow does not know.
func (d *Decoder) resolveTag(t *ast.TagNode, path string) ast.Node {
	tag := ""
	if t.Start != nil {
		tag = t.Start.Value
	}
	switch tag {
	case "!!str", "!!binary":
		inner := d.Resolve(t.Value, path)
		if inner == nil {
			return &ast.StringNode{BaseNode: &ast.BaseNode{}, Token: t.Start, Value: ""}
		}
		if _, ok := inner.(ast.ScalarNode); ok && inner.GetToken() != nil {
			tk := inner.GetToken()
			v := tk.Value
			if s, ok := inner.(*ast.StringNode); ok {
				v = s.Value
			} else if l, ok := inner.(*ast.LiteralNode); ok && l.Value != nil {
				v = l.Value.Value
			}
			sn := &ast.StringNode{BaseNode: &ast.BaseNode{}, Token: tk, Value: v}
			if d.strTagged == nil {
				d.strTagged = map[ast.Node]bool{}
			}
			d.strTagged[sn] = true
			return sn
		}
		return inner
	case "!!map", "!!seq", "!!int", "!!float", "!!bool", "!!null", "!!omap", "!!timestamp":
		return t.Value
	}
	// The tag is not repeated: an unquoted password that starts with !
	// reads as one.
	d.ErrAt(t, path, "unsupported tag; Outflow reads plain YAML values only: remove the tag, or quote the value if it is text that starts with !")
	return nil
}

// Describe names the kind of a YAML value for messages ("a mapping", "the
// integer 3"). It never repeats a string's text, which may be a secret.
func Describe(n ast.Node) string {
	switch x := n.(type) {
	case nil, *ast.NullNode:
		return "null"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		return "a string"
	case *ast.IntegerNode:
		return "the integer " + x.GetToken().Value
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "the number " + x.GetToken().Value
	case *ast.BoolNode:
		return "the boolean " + x.GetToken().Value
	}
	return "a " + strings.ToLower(n.Type().String())
}

func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return n == nil || ok
}

// StringValue is the text of a string scalar, and whether n is one.
func StringValue(n ast.Node) (string, bool) {
	switch x := n.(type) {
	case *ast.StringNode:
		return x.Value, true
	case *ast.LiteralNode:
		if x.Value == nil {
			return "", true
		}
		return x.Value.Value, true
	}
	return "", false
}

// DecodeValue decodes n into v, which must be settable. It returns false
// when there is no value (null), which leaves v as it was.
func (d *Decoder) DecodeValue(n ast.Node, v reflect.Value, path string) bool {
	n = d.Resolve(n, path)
	if n != nil {
		d.Doc.Vals[path] = NodePos(n)
	}
	if isNull(n) {
		return false
	}
	if d.Hook != nil && d.Hook(n, v, path) {
		return true
	}
	if v.CanAddr() && v.Addr().Type().Implements(nodeDecoderType) {
		if d.public == nil {
			d.public = &Decoding{d: d}
		}
		v.Addr().Interface().(NodeDecoder).DecodeYAML(d.public, n, path)
		return true
	}
	switch v.Kind() {
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		d.DecodeValue(n, e.Elem(), path)
		v.Set(e)
	case reflect.Struct:
		d.DecodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.ErrAt(n, path, "expected a list, got %s%s", DescribeValue(n), oneValueHint(n))
			return true
		}
		s := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, e := range seq.Values {
			d.DecodeValue(e, s.Index(i), IndexPath(path, i))
		}
		v.Set(s)
	case reflect.String:
		s, ok := StringValue(n)
		if !ok {
			if _, scalar := n.(ast.ScalarNode); scalar {
				d.ErrAt(n, path, "expected a string, got %s; quote it (\"%s\") to make it text", Describe(n), n.GetToken().Value)
			} else {
				d.ErrAt(n, path, "expected a string, got %s", Describe(n))
			}
			return true
		}
		v.SetString(s)
		if d.OnString != nil {
			d.OnString(n, path, s)
		}
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.ErrAt(n, path, "expected true or false, got %s", DescribeValue(n))
			return true
		}
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int64:
		i, ok := IntValue(n)
		if !ok {
			hint := ""
			if _, isStr := n.(*ast.StringNode); isStr {
				hint = "; write it without quotes"
			}
			d.ErrAt(n, path, "expected an integer, got %s%s", DescribeValue(n), hint)
			return true
		}
		v.SetInt(i)
	case reflect.Float64:
		f, ok := floatValue(n)
		if !ok {
			d.ErrAt(n, path, "expected a number, got %s", DescribeValue(n))
			return true
		}
		v.SetFloat(f)
	case reflect.Interface:
		if g := d.Generic(n, path); g != nil {
			v.Set(reflect.ValueOf(g))
		}
	default:
		panic(fmt.Sprintf("yamlkit: no YAML decoding for %s", v.Type()))
	}
	return true
}

// oneValueHint shows how to write a short string as a list of one, for a
// list given as one value.
func oneValueHint(n ast.Node) string {
	if s, ok := StringValue(n); ok && s != "" && len(s) <= 40 && !strings.Contains(s, "\n") {
		return fmt.Sprintf("; for one value write [%s]", s)
	}
	return ""
}

// IntValue is the value of an integer scalar that fits an int64.
func IntValue(n ast.Node) (int64, bool) {
	x, ok := n.(*ast.IntegerNode)
	if !ok {
		return 0, false
	}
	switch i := x.Value.(type) {
	case int64:
		return i, true
	case uint64:
		if i <= math.MaxInt64 {
			return int64(i), true
		}
	}
	return 0, false
}

func floatValue(n ast.Node) (float64, bool) {
	switch x := n.(type) {
	case *ast.FloatNode:
		return x.Value, true
	case *ast.IntegerNode:
		switch i := x.Value.(type) {
		case int64:
			return float64(i), true
		case uint64:
			return float64(i), true
		}
	}
	return 0, false
}

// Entry is one key and value of a mapping, after merge keys are applied.
type Entry struct {
	Key   string
	KeyAt Position
	Value ast.Node
}

// Entries lists the pairs of a mapping in document order, reporting
// duplicate keys and applying merge keys (<<: *base), whose pairs never
// override the mapping's own.
func (d *Decoder) Entries(n ast.Node, path string) ([]Entry, bool) {
	var pairs []*ast.MappingValueNode
	switch x := n.(type) {
	case *ast.MappingNode:
		pairs = x.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{x}
	default:
		return nil, false
	}
	var own, merged []Entry
	seen := map[string]pos{}
	for _, mv := range pairs {
		if mv == nil {
			continue
		}
		if mv.Key != nil && mv.Key.Type() == ast.MergeKeyType {
			merged = append(merged, d.mergeEntries(mv.Value, path, 0)...)
			continue
		}
		k := d.Resolve(mv.Key, path)
		key, ok := ScalarText(k)
		if !ok {
			d.ErrAt(mv.Key, path, "a mapping key must be a plain value, got %s", Describe(k))
			continue
		}
		at := NodePos(mv.Key)
		if first, dup := seen[key]; dup {
			d.Errorf(at, JoinPath(path, key), "duplicate key %q (first at line %d); remove one", key, first.Line)
			continue
		}
		seen[key] = at
		own = append(own, Entry{Key: key, KeyAt: at, Value: mv.Value})
	}
	for _, e := range merged {
		if _, dup := seen[e.Key]; dup {
			continue
		}
		seen[e.Key] = e.KeyAt
		own = append(own, e)
	}
	return own, true
}

func (d *Decoder) mergeEntries(v ast.Node, path string, depth int) []Entry {
	v = d.Resolve(v, path)
	switch x := v.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		es, _ := d.Entries(x, path)
		return es
	case *ast.SequenceNode:
		if depth > 0 {
			break
		}
		var out []Entry
		for _, e := range x.Values {
			out = append(out, d.mergeEntries(e, path, depth+1)...)
		}
		return out
	}
	d.ErrAt(v, path, "a merge key (<<) takes a mapping or a list of mappings, got %s", Describe(v))
	return nil
}

// ScalarText is the text of a scalar used as a mapping key.
func ScalarText(n ast.Node) (string, bool) {
	if s, ok := StringValue(n); ok {
		return s, true
	}
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NullNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

func (d *Decoder) decodeMap(n ast.Node, v reflect.Value, path string) {
	es, ok := d.Entries(n, path)
	if !ok {
		d.ErrAt(n, path, "expected a mapping of names to values, got %s", Describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(es))
	order := make([]string, 0, len(es))
	for _, e := range es {
		p := JoinPath(path, e.Key)
		d.Doc.Keys[p] = e.KeyAt
		ev := reflect.New(v.Type().Elem()).Elem()
		d.DecodeValue(e.Value, ev, p)
		m.SetMapIndex(reflect.ValueOf(e.Key), ev)
		order = append(order, e.Key)
	}
	d.Doc.Order[path] = order
	v.Set(m)
}

// DecodeStruct decodes a mapping into v, a struct, by its fields' yaml
// tags, checking their jsonschema constraints.
func (d *Decoder) DecodeStruct(n ast.Node, v reflect.Value, path string) {
	es, ok := d.Entries(n, path)
	if !ok {
		d.ErrAt(n, path, "expected a mapping, got %s", Describe(n))
		return
	}
	info := structInfo(v.Type())
	present := map[string]bool{}
	meant := map[string]bool{} // fields an unknown key was likely meant to be
	for _, e := range es {
		p := JoinPath(path, e.Key)
		f, ok := info.byName[e.Key]
		if !ok {
			d.Errorf(e.KeyAt, p, "%s", unknownField(e.Key, info.names))
			if c, ok := Closest(e.Key, info.names); ok {
				meant[c] = true
			}
			continue
		}
		d.Doc.Keys[p] = e.KeyAt
		fv := v.Field(f.index)
		before := len(*d.Problems)
		decoded := d.DecodeValue(e.Value, fv, p)
		if len(*d.Problems) != before {
			// A value that did not decode has been reported; neither its
			// constraints nor its absence should repeat the problem.
			present[f.name] = true
			continue
		}
		if decoded {
			present[f.name] = true
			d.checkTags(f, fv, p)
		}
	}
	for _, f := range info.fields {
		if f.required && !present[f.name] && !meant[f.name] {
			d.Errorf(d.Doc.KeyPos(path), path, "missing required field %q", f.name)
		}
	}
}

// unknownField explains an unknown field: the likely intended one, with
// the fields there are when they are few enough to read, or else all the
// fields there are.
func unknownField(key string, names []string) string {
	if c, ok := Closest(key, names); ok {
		if len(names) <= MaxListed {
			return fmt.Sprintf("unknown field %q %s", key, Known(key, names, "fields"))
		}
		return fmt.Sprintf("unknown field %q; did you mean %q?", key, c)
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	return fmt.Sprintf("unknown field %q (fields: %s)", key, strings.Join(sorted, ", "))
}

// field is what the decoder knows of a struct field: its YAML name and the
// constraints its `jsonschema` tag states, which the loader enforces so that
// it accepts what the schema accepts.
type field struct {
	name     string
	index    int
	required bool
	enum     []string
	pattern  *regexp.Regexp
	minimum  *float64
	maximum  *float64
	minItems int
}

type fieldSet struct {
	fields []field
	byName map[string]field
	names  []string
}

var structInfos sync.Map // reflect.Type → *fieldSet

func structInfo(t reflect.Type) *fieldSet {
	if fs, ok := structInfos.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{byName: map[string]field{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !sf.IsExported() {
			continue
		}
		f := field{name: name, index: i}
		for _, tag := range strings.Split(sf.Tag.Get("jsonschema"), ",") {
			k, val, _ := strings.Cut(tag, "=")
			switch k {
			case "required":
				f.required = true
			case "enum":
				f.enum = append(f.enum, val)
			case "pattern":
				f.pattern = regexp.MustCompile(val)
			case "minimum":
				x, _ := strconv.ParseFloat(val, 64)
				f.minimum = &x
			case "maximum":
				x, _ := strconv.ParseFloat(val, 64)
				f.maximum = &x
			case "minItems":
				f.minItems, _ = strconv.Atoi(val)
			}
		}
		fs.fields = append(fs.fields, f)
		fs.byName[name] = f
		fs.names = append(fs.names, name)
	}
	structInfos.Store(t, fs)
	return fs
}

func (d *Decoder) checkTags(f field, v reflect.Value, path string) {
	at := d.Doc.ValPos(path)
	label := f.name
	if l, ok := d.FieldLabels[f.name]; ok {
		label = l
	}
	// An optional number (*int) is checked like a number when given.
	if v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().Kind() != reflect.Struct {
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		if len(f.enum) > 0 && !contains(f.enum, s) {
			if c, ok := Closest(s, f.enum); ok {
				d.Errorf(at, path, "invalid %s %q; did you mean %q? (one of %s)", label, s, c, strings.Join(f.enum, ", "))
			} else {
				d.Errorf(at, path, "invalid %s %q; use one of %s", label, s, strings.Join(f.enum, ", "))
			}
		}
		if f.pattern != nil && !f.pattern.MatchString(s) {
			help := d.PatternHelp[f.pattern.String()]
			if help == "" {
				help = "it must match " + f.pattern.String()
			}
			if sug := IdentifierLike(s, f.pattern); sug != "" {
				help += fmt.Sprintf(", such as %q", sug)
			}
			d.Errorf(at, path, "invalid %s %q: %s", label, s, help)
		}
	case reflect.Int, reflect.Int64, reflect.Float64:
		var x float64
		if v.Kind() == reflect.Float64 {
			x = v.Float()
		} else {
			x = float64(v.Int())
		}
		switch {
		case f.minimum != nil && f.maximum != nil && (x < *f.minimum || x > *f.maximum):
			d.Errorf(at, path, "%s %v is out of range; use %v to %v", label, x, *f.minimum, *f.maximum)
		case f.minimum != nil && x < *f.minimum:
			d.Errorf(at, path, "%s must be at least %v, got %v", label, *f.minimum, x)
		case f.maximum != nil && x > *f.maximum:
			d.Errorf(at, path, "%s must be at most %v, got %v", label, *f.maximum, x)
		}
	case reflect.Slice:
		if v.Len() < f.minItems {
			d.Errorf(at, path, "%s is empty; give at least %d", label, f.minItems)
		}
	}
}

// IdentifierLike suggests a valid spelling of s for a name pattern, such as
// "get_customer" for "get-customer", or "" when none is obvious.
func IdentifierLike(s string, re *regexp.Regexp) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		case r == '-' || r == ' ' || r == '.' || r == '/':
			b.WriteByte('_')
		}
	}
	sug := b.String()
	if sug != "" && sug != s && re.MatchString(sug) {
		return sug
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// jsonNumber is a number as JSON writes it.
var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

// Generic decodes a value of any shape into maps, lists and scalars that
// encode to JSON, recording the position of every part.
func (d *Decoder) Generic(n ast.Node, path string) any {
	n = d.Resolve(n, path)
	if n == nil {
		return nil
	}
	d.Doc.Vals[path] = NodePos(n)
	switch x := n.(type) {
	case *ast.NullNode:
		return nil
	case *ast.BoolNode:
		return x.Value
	case *ast.IntegerNode:
		switch i := x.Value.(type) {
		case int64:
			return i
		case uint64:
			return float64(i)
		}
		return x.GetToken().Value
	case *ast.FloatNode:
		return x.Value
	case *ast.InfinityNode, *ast.NanNode:
		d.ErrAt(n, path, "%s cannot be sent as JSON; quote it to make it a string", x.GetToken().Value)
		return nil
	case *ast.StringNode, *ast.LiteralNode:
		s, _ := StringValue(n)
		if tk := n.GetToken(); !d.strTagged[n] && tk != nil && tk.Type == token.StringType && jsonNumber.MatchString(s) {
			// The YAML library reads an exponent without a fraction (1e-07,
			// 1E+2) and integers past 64 bits as strings; YAML 1.2 and JSON
			// read numbers, and a JSON file must read as JSON does.
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				d.ErrAt(n, path, "%s is out of range for a number; quote it to make it a string", s)
				return nil
			}
			return f
		}
		if d.OnString != nil {
			d.OnString(n, path, s)
		}
		return s
	case *ast.MappingNode, *ast.MappingValueNode:
		es, _ := d.Entries(n, path)
		m := make(map[string]any, len(es))
		order := make([]string, 0, len(es))
		for _, e := range es {
			p := JoinPath(path, e.Key)
			d.Doc.Keys[p] = e.KeyAt
			m[e.Key] = d.Generic(e.Value, p)
			order = append(order, e.Key)
		}
		d.Doc.Order[path] = order
		return m
	case *ast.SequenceNode:
		l := make([]any, len(x.Values))
		for i, e := range x.Values {
			l[i] = d.Generic(e, IndexPath(path, i))
		}
		return l
	}
	d.ErrAt(n, path, "unsupported YAML value (%s)", Describe(n))
	return nil
}

// DescribeValue names a value for messages like Describe, quoting a short
// one-line string.
func DescribeValue(n ast.Node) string {
	if s, ok := StringValue(n); ok && len(s) <= 40 && !strings.Contains(s, "\n") {
		return "the string " + strconv.Quote(s)
	}
	return Describe(n)
}
