package flows

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

// The decoder turns a YAML document's syntax tree into the types of types.go.
// It is written here rather than taken from the YAML library because the
// library stops at the first problem, while Outflow reports every problem of
// a project at once, each with its position; and because later checks
// (references, expressions) need the position of any value by its path.

// Position is a 1-based line and column in a file.
type Position struct{ Line, Col int }

func (p Position) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// pos is the short name the loader uses.
type pos = Position

// document is one decoded YAML document, with the positions of its values.
type document struct {
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

func (d *document) trouble(path string) {
	for {
		d.troubled[path] = true
		if path == "" {
			return
		}
		path = parentPath(path)
	}
}

func newDocument(file string) *document {
	return &document{
		file:  file,
		vals:  map[string]pos{},
		keys:  map[string]pos{},
		order: map[string][]string{},
		strs:  map[string]strSource{},

		troubled: map[string]bool{},
	}
}

// valPos is the position of the value at path, falling back to its parents
// when the value is absent (a problem about a missing field points at the
// mapping that lacks it).
func (d *document) valPos(path string) pos {
	for {
		if p, ok := d.vals[path]; ok {
			return p
		}
		if path == "" {
			return d.at
		}
		path = parentPath(path)
	}
}

// keyPos is the position of the key that holds the value at path, or of the
// value when it has no key (a list element).
func (d *document) keyPos(path string) pos {
	if p, ok := d.keys[path]; ok {
		return p
	}
	return d.valPos(path)
}

// parentPath drops the last element of a path: "a.b[2]" → "a.b" → "a" → "".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// joinPath appends a mapping key to a path; keys that are not plain words
// are quoted so the path stays readable.
func joinPath(path, key string) string {
	if !plainKey.MatchString(key) {
		return fmt.Sprintf("%s[%q]", path, key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func indexPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// nodePos is where a node starts.
func nodePos(n ast.Node) pos {
	if n == nil {
		return pos{}
	}
	switch x := n.(type) {
	case *ast.MappingNode:
		if len(x.Values) > 0 && x.Values[0] != nil && x.Values[0].Key != nil {
			return nodePos(x.Values[0].Key)
		}
	case *ast.MappingValueNode:
		if x.Key != nil {
			return nodePos(x.Key)
		}
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return pos{}
	}
	return pos{tk.Position.Line, tk.Position.Column}
}

// decoder decodes one document.
type decoder struct {
	doc      *document
	problems *Problems
	aliases  map[*ast.AliasNode]ast.Node
	public   *Decoding // what NodeDecoder hooks are given; nil until one is met
	// strTagged holds the strings written with !!str, which stay strings
	// however they read.
	strTagged map[ast.Node]bool
}

// yamlDecoder is implemented by types that decode themselves. n is resolved
// (no anchor, alias or tag) and not null.
type yamlDecoder interface {
	decodeYAML(d *decoder, n ast.Node, path string)
}

var yamlDecoderType = reflect.TypeFor[yamlDecoder]()

func (d *decoder) errorf(at pos, path, format string, args ...any) {
	d.doc.trouble(path)
	*d.problems = append(*d.problems, Problem{
		File: d.doc.file, Line: at.Line, Col: at.Col, Path: path,
		Message: fmt.Sprintf(format, args...),
	})
}

// errAt reports a problem at node n.
func (d *decoder) errAt(n ast.Node, path, format string, args ...any) {
	d.errorf(nodePos(n), path, format, args...)
}

// resolve follows anchors, aliases and tags to the value they stand for.
// It returns nil for an absent value.
func (d *decoder) resolve(n ast.Node, path string) ast.Node {
	// Anchors of anchors and aliases of tagged values are finite chains, but
	// stay bounded whatever the tree holds.
	for range 64 {
		switch x := n.(type) {
		case nil:
			return nil
		case *ast.AnchorNode:
			n = x.Value
		case *ast.AliasNode:
			n = d.aliases[x]
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
func (d *decoder) resolveTag(t *ast.TagNode, path string) ast.Node {
	tag := ""
	if t.Start != nil {
		tag = t.Start.Value
	}
	switch tag {
	case "!!str", "!!binary":
		inner := d.resolve(t.Value, path)
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
	d.errAt(t, path, "unsupported tag; Outflow reads plain YAML values only: remove the tag, or quote the value if it is text that starts with !")
	return nil
}

// describe names the kind of a YAML value for messages.
func describe(n ast.Node) string {
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

// stringValue returns the text of a string scalar.
func stringValue(n ast.Node) (string, bool) {
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

// decode decodes n into v, which must be settable. It returns false when
// there is no value (null), which leaves v as it was.
func (d *decoder) decode(n ast.Node, v reflect.Value, path string) bool {
	n = d.resolve(n, path)
	if n != nil {
		d.doc.vals[path] = nodePos(n)
	}
	if isNull(n) {
		return false
	}
	if v.CanAddr() && v.Addr().Type().Implements(yamlDecoderType) {
		v.Addr().Interface().(yamlDecoder).decodeYAML(d, n, path)
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
		d.decode(n, e.Elem(), path)
		v.Set(e)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.errAt(n, path, "expected a list, got %s%s", describeValue(n), oneValueHint(n))
			return true
		}
		s := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, e := range seq.Values {
			d.decode(e, s.Index(i), indexPath(path, i))
		}
		v.Set(s)
	case reflect.String:
		s, ok := stringValue(n)
		if !ok {
			if _, scalar := n.(ast.ScalarNode); scalar {
				d.errAt(n, path, "expected a string, got %s; quote it (\"%s\") to make it text", describe(n), n.GetToken().Value)
			} else {
				d.errAt(n, path, "expected a string, got %s", describe(n))
			}
			return true
		}
		v.SetString(s)
		d.noteString(n, path, s)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.errAt(n, path, "expected true or false, got %s", describeValue(n))
			return true
		}
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int64:
		i, ok := intValue(n)
		if !ok {
			hint := ""
			if _, isStr := n.(*ast.StringNode); isStr {
				hint = "; write it without quotes"
			}
			d.errAt(n, path, "expected an integer, got %s%s", describeValue(n), hint)
			return true
		}
		v.SetInt(i)
	case reflect.Float64:
		f, ok := floatValue(n)
		if !ok {
			d.errAt(n, path, "expected a number, got %s", describeValue(n))
			return true
		}
		v.SetFloat(f)
	case reflect.Interface:
		if g := d.generic(n, path); g != nil {
			v.Set(reflect.ValueOf(g))
		}
	default:
		panic(fmt.Sprintf("flows: no YAML decoding for %s", v.Type()))
	}
	return true
}

// oneValueHint shows how to write a short string as a list of one, for a
// list given as one value.
func oneValueHint(n ast.Node) string {
	if s, ok := stringValue(n); ok && s != "" && len(s) <= 40 && !strings.Contains(s, "\n") {
		return fmt.Sprintf("; for one value write [%s]", s)
	}
	return ""
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

func intValue(n ast.Node) (int64, bool) {
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

// entry is one key and value of a mapping, after merge keys are applied.
type entry struct {
	key   string
	keyAt pos
	value ast.Node
}

// entries lists the pairs of a mapping in document order, reporting
// duplicate keys and applying merge keys (<<: *base), whose pairs never
// override the mapping's own.
func (d *decoder) entries(n ast.Node, path string) ([]entry, bool) {
	var pairs []*ast.MappingValueNode
	switch x := n.(type) {
	case *ast.MappingNode:
		pairs = x.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{x}
	default:
		return nil, false
	}
	var own, merged []entry
	seen := map[string]pos{}
	for _, mv := range pairs {
		if mv == nil {
			continue
		}
		if mv.Key != nil && mv.Key.Type() == ast.MergeKeyType {
			merged = append(merged, d.mergeEntries(mv.Value, path, 0)...)
			continue
		}
		k := d.resolve(mv.Key, path)
		key, ok := scalarText(k)
		if !ok {
			d.errAt(mv.Key, path, "a mapping key must be a plain value, got %s", describe(k))
			continue
		}
		at := nodePos(mv.Key)
		if first, dup := seen[key]; dup {
			d.errorf(at, joinPath(path, key), "duplicate key %q (first at line %d); remove one", key, first.Line)
			continue
		}
		seen[key] = at
		own = append(own, entry{key: key, keyAt: at, value: mv.Value})
	}
	for _, e := range merged {
		if _, dup := seen[e.key]; dup {
			continue
		}
		seen[e.key] = e.keyAt
		own = append(own, e)
	}
	return own, true
}

func (d *decoder) mergeEntries(v ast.Node, path string, depth int) []entry {
	v = d.resolve(v, path)
	switch x := v.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		es, _ := d.entries(x, path)
		return es
	case *ast.SequenceNode:
		if depth > 0 {
			break
		}
		var out []entry
		for _, e := range x.Values {
			out = append(out, d.mergeEntries(e, path, depth+1)...)
		}
		return out
	}
	d.errAt(v, path, "a merge key (<<) takes a mapping or a list of mappings, got %s", describe(v))
	return nil
}

// scalarText is the text of a scalar used as a mapping key.
func scalarText(n ast.Node) (string, bool) {
	if s, ok := stringValue(n); ok {
		return s, true
	}
	switch n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NullNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

func (d *decoder) decodeMap(n ast.Node, v reflect.Value, path string) {
	es, ok := d.entries(n, path)
	if !ok {
		d.errAt(n, path, "expected a mapping of names to values, got %s", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(es))
	order := make([]string, 0, len(es))
	for _, e := range es {
		p := joinPath(path, e.key)
		d.doc.keys[p] = e.keyAt
		ev := reflect.New(v.Type().Elem()).Elem()
		d.decode(e.value, ev, p)
		m.SetMapIndex(reflect.ValueOf(e.key), ev)
		order = append(order, e.key)
	}
	d.doc.order[path] = order
	v.Set(m)
}

func (d *decoder) decodeStruct(n ast.Node, v reflect.Value, path string) {
	es, ok := d.entries(n, path)
	if !ok {
		d.errAt(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	info := structInfo(v.Type())
	present := map[string]bool{}
	meant := map[string]bool{} // fields an unknown key was likely meant to be
	for _, e := range es {
		p := joinPath(path, e.key)
		f, ok := info.byName[e.key]
		if !ok {
			d.errorf(e.keyAt, p, "%s", unknownField(e.key, info.names))
			if c, ok := closest(e.key, info.names); ok {
				meant[c] = true
			}
			continue
		}
		d.doc.keys[p] = e.keyAt
		fv := v.Field(f.index)
		before := len(*d.problems)
		decoded := d.decode(e.value, fv, p)
		if len(*d.problems) != before {
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
			d.errorf(d.doc.keyPos(path), path, "missing required field %q", f.name)
		}
	}
}

// unknownField explains an unknown field: the likely intended one, with
// the fields there are when they are few enough to read, or else all the
// fields there are.
func unknownField(key string, names []string) string {
	if c, ok := closest(key, names); ok {
		if len(names) <= maxListed {
			return fmt.Sprintf("unknown field %q %s", key, known(key, names, "fields"))
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

// patternHelp explains the patterns of types.go in words.
var patternHelp = map[string]string{
	`^[A-Za-z0-9][A-Za-z0-9._-]*$`: "use letters, digits, '.', '_' and '-', starting with a letter or digit",
	`^[A-Za-z_][A-Za-z0-9_]*$`:     "use letters, digits and '_', not starting with a digit, so that expressions can name it",
}

// fieldLabels names fields in messages where the YAML name alone is terse.
var fieldLabels = map[string]string{"method": "HTTP method", "in": "api key location"}

func (d *decoder) checkTags(f field, v reflect.Value, path string) {
	at := d.doc.valPos(path)
	label := f.name
	if l, ok := fieldLabels[f.name]; ok {
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
			if c, ok := closest(s, f.enum); ok {
				d.errorf(at, path, "invalid %s %q; did you mean %q? (one of %s)", label, s, c, strings.Join(f.enum, ", "))
			} else {
				d.errorf(at, path, "invalid %s %q; use one of %s", label, s, strings.Join(f.enum, ", "))
			}
		}
		if f.pattern != nil && !f.pattern.MatchString(s) {
			help := patternHelp[f.pattern.String()]
			if help == "" {
				help = "it must match " + f.pattern.String()
			}
			if sug := identifierLike(s, f.pattern); sug != "" {
				help += fmt.Sprintf(", such as %q", sug)
			}
			d.errorf(at, path, "invalid %s %q: %s", label, s, help)
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
			d.errorf(at, path, "%s %v is out of range; use %v to %v", label, x, *f.minimum, *f.maximum)
		case f.minimum != nil && x < *f.minimum:
			d.errorf(at, path, "%s must be at least %v, got %v", label, *f.minimum, x)
		case f.maximum != nil && x > *f.maximum:
			d.errorf(at, path, "%s must be at most %v, got %v", label, *f.maximum, x)
		}
	case reflect.Slice:
		if v.Len() < f.minItems {
			d.errorf(at, path, "%s is empty; give at least %d", label, f.minItems)
		}
	}
}

// identifierLike suggests a valid spelling of s for a name pattern, such as
// "get_customer" for "get-customer", or "" when none is obvious.
func identifierLike(s string, re *regexp.Regexp) string {
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

// generic decodes a value of any shape into maps, lists and scalars that
// encode to JSON, recording the position of every part.
func (d *decoder) generic(n ast.Node, path string) any {
	n = d.resolve(n, path)
	if n == nil {
		return nil
	}
	d.doc.vals[path] = nodePos(n)
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
		d.errAt(n, path, "%s cannot be sent as JSON; quote it to make it a string", x.GetToken().Value)
		return nil
	case *ast.StringNode, *ast.LiteralNode:
		s, _ := stringValue(n)
		if tk := n.GetToken(); !d.strTagged[n] && tk != nil && tk.Type == token.StringType && jsonNumber.MatchString(s) {
			// The YAML library reads an exponent without a fraction (1e-07,
			// 1E+2) and integers past 64 bits as strings; YAML 1.2 and JSON
			// read numbers, and a JSON file must read as JSON does.
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				d.errAt(n, path, "%s is out of range for a number; quote it to make it a string", s)
				return nil
			}
			return f
		}
		d.noteString(n, path, s)
		return s
	case *ast.MappingNode, *ast.MappingValueNode:
		es, _ := d.entries(n, path)
		m := make(map[string]any, len(es))
		order := make([]string, 0, len(es))
		for _, e := range es {
			p := joinPath(path, e.key)
			d.doc.keys[p] = e.keyAt
			m[e.key] = d.generic(e.value, p)
			order = append(order, e.key)
		}
		d.doc.order[path] = order
		return m
	case *ast.SequenceNode:
		l := make([]any, len(x.Values))
		for i, e := range x.Values {
			l[i] = d.generic(e, indexPath(path, i))
		}
		return l
	}
	d.errAt(n, path, "unsupported YAML value (%s)", describe(n))
	return nil
}
