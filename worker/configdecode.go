package worker

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/outflow-dev/outflow/flows"
)

// The agent config is decoded from the YAML syntax tree, not with the YAML
// library's own decoder, for the same reasons package flows does it: every
// problem is reported at once, each at its position, and the checks after
// decoding need the position of any value by its path. The config is small
// and its types are few, so this decoder knows only what they use.

type cfgPos struct{ Line, Col int }

type cfgDecoder struct {
	file               string
	problems, warnings flows.Problems
	vals, keys         map[string]cfgPos
	anchors            map[string]ast.Node
	trouble            map[string]bool
}

// cfgValue is implemented by types that decode themselves from a resolved,
// non-null node.
type cfgValue interface {
	decodeCfg(d *cfgDecoder, n ast.Node, path string)
}

var cfgValueType = reflect.TypeFor[cfgValue]()

func (d *cfgDecoder) errorf(at cfgPos, path, format string, args ...any) {
	if d.trouble == nil {
		d.trouble = map[string]bool{}
	}
	for p := path; ; p = parentOf(p) {
		d.trouble[p] = true
		if p == "" {
			break
		}
	}
	d.problems = append(d.problems, flows.Problem{File: d.file, Line: at.Line, Col: at.Col, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (d *cfgDecoder) warnf(at cfgPos, path, format string, args ...any) {
	d.warnings = append(d.warnings, flows.Problem{File: d.file, Line: at.Line, Col: at.Col, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (d *cfgDecoder) errAt(n ast.Node, path, format string, args ...any) {
	d.errorf(nodePos(n), path, format, args...)
}

// troubled reports whether a problem was already reported at path or
// below it, so later checks do not say the same thing again.
func (d *cfgDecoder) troubled(path string) bool { return d.trouble[path] }

func (d *cfgDecoder) has(path string) bool {
	_, ok := d.vals[path]
	return ok
}

// valPos is the position of the value at path, or of its nearest present
// parent.
func (d *cfgDecoder) valPos(path string) cfgPos {
	for {
		if p, ok := d.vals[path]; ok {
			return p
		}
		if path == "" {
			return cfgPos{1, 1}
		}
		path = parentOf(path)
	}
}

// keyPos is the position of the key holding the value at path.
func (d *cfgDecoder) keyPos(path string) cfgPos {
	if p, ok := d.keys[path]; ok {
		return p
	}
	return d.valPos(path)
}

func nodePos(n ast.Node) cfgPos {
	switch x := n.(type) {
	case nil:
		return cfgPos{}
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
		return cfgPos{}
	}
	return cfgPos{tk.Position.Line, tk.Position.Column}
}

// resolve follows anchors, aliases and tags to the value they stand for;
// nil means no value.
func (d *cfgDecoder) resolve(n ast.Node, path string) ast.Node {
	for range 32 {
		switch x := n.(type) {
		case nil:
			return nil
		case *ast.AnchorNode:
			if x.Name != nil {
				d.anchors[x.Name.GetToken().Value] = x.Value
			}
			n = x.Value
		case *ast.AliasNode:
			name := ""
			if x.Value != nil {
				name = x.Value.GetToken().Value
			}
			v, ok := d.anchors[name]
			if !ok {
				d.errAt(x, path, "alias *%s names no anchor defined before it", name)
				return nil
			}
			n = v
		case *ast.TagNode:
			n = x.Value
		case *ast.MappingKeyNode:
			n = x.Value
		case *ast.CommentGroupNode, *ast.CommentNode:
			return nil
		default:
			return n
		}
	}
	return nil
}

func isNull(n ast.Node) bool {
	_, ok := n.(*ast.NullNode)
	return n == nil || ok
}

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

// describe names a YAML value's kind for messages.
func describe(n ast.Node) string {
	switch x := n.(type) {
	case nil, *ast.NullNode:
		return "null"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		if v, _ := stringValue(n); len(v) <= 40 && !strings.Contains(v, "\n") {
			return fmt.Sprintf("the string %q", v)
		}
		return "a string"
	case *ast.IntegerNode, *ast.FloatNode:
		return "the number " + x.GetToken().Value
	case *ast.BoolNode:
		return "the boolean " + x.GetToken().Value
	}
	return "a " + strings.ToLower(n.Type().String())
}

func (d *cfgDecoder) decode(n ast.Node, v reflect.Value, path string) {
	n = d.resolve(n, path)
	if n != nil {
		d.vals[path] = nodePos(n)
	}
	if isNull(n) {
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(cfgValueType) {
		v.Addr().Interface().(cfgValue).decodeCfg(d, n, path)
		return
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
			hint := ""
			if s, isStr := stringValue(n); isStr {
				hint = fmt.Sprintf("; for one value write [%s]", s)
			}
			d.errAt(n, path, "expected a list, got %s%s", describe(n), hint)
			return
		}
		s := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, e := range seq.Values {
			d.decode(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
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
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.errAt(n, path, "expected true or false, got %s", describe(n))
			return
		}
		v.SetBool(b.Value)
	case reflect.Int:
		var val int64
		i, ok := n.(*ast.IntegerNode)
		if ok {
			switch x := i.GetValue().(type) {
			case int64:
				val = x
			case uint64:
				val, ok = int64(x), x < 1<<62
			default:
				ok = false
			}
		}
		if !ok {
			hint := ""
			if _, isStr := n.(*ast.StringNode); isStr {
				hint = "; write it without quotes"
			}
			d.errAt(n, path, "expected a whole number, got %s%s", describe(n), hint)
			return
		}
		v.SetInt(val)
	default:
		panic(fmt.Sprintf("worker: no YAML decoding for %s", v.Type()))
	}
}

type cfgEntry struct {
	key   string
	at    cfgPos
	value ast.Node
}

// entries lists a mapping's pairs in order, reporting duplicate keys.
func (d *cfgDecoder) entries(n ast.Node, path string) ([]cfgEntry, bool) {
	var pairs []*ast.MappingValueNode
	switch x := n.(type) {
	case *ast.MappingNode:
		pairs = x.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{x}
	default:
		return nil, false
	}
	var out []cfgEntry
	seen := map[string]cfgPos{}
	for _, mv := range pairs {
		if mv == nil {
			continue
		}
		k := d.resolve(mv.Key, path)
		key, ok := stringValue(k)
		if !ok {
			if s, scalar := k.(ast.ScalarNode); scalar && k.GetToken() != nil {
				key, ok = s.GetToken().Value, true
			}
		}
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
		out = append(out, cfgEntry{key: key, at: at, value: mv.Value})
	}
	return out, true
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *cfgDecoder) decodeMap(n ast.Node, v reflect.Value, path string) {
	es, ok := d.entries(n, path)
	if !ok {
		d.errAt(n, path, "expected a mapping of names to values, got %s", describe(n))
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(es))
	for _, e := range es {
		p := joinPath(path, e.key)
		d.keys[p] = e.at
		d.vals[p] = e.at
		ev := reflect.New(v.Type().Elem()).Elem()
		d.decode(e.value, ev, p)
		m.SetMapIndex(reflect.ValueOf(e.key), ev)
	}
	v.Set(m)
}

func (d *cfgDecoder) decodeStruct(n ast.Node, v reflect.Value, path string) {
	es, ok := d.entries(n, path)
	if !ok {
		d.errAt(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	fields := map[string]int{}
	var names []string
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		fields[tag] = i
		names = append(names, tag)
	}
	for _, e := range es {
		p := joinPath(path, e.key)
		d.keys[p] = e.at
		i, ok := fields[e.key]
		if !ok {
			d.errorf(e.at, p, "unknown field %q %s", e.key, knownNames(e.key, names))
			continue
		}
		d.decode(e.value, v.Field(i), p)
	}
}

// knownNames lists the fields a key could have been meant as, naming the
// likeliest first when it is near enough to be a typo.
func knownNames(s string, names []string) string {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	list := strings.Join(sorted, ", ")
	if c, ok := nearest(s, sorted); ok {
		return fmt.Sprintf("(did you mean %q? known: %s)", c, list)
	}
	return fmt.Sprintf("(known: %s)", list)
}

// nearest returns the name closest to s, as the project loader suggests it.
func nearest(s string, names []string) (string, bool) { return flows.Closest(s, names) }

func (s *SecretRef) decodeCfg(d *cfgDecoder, n ast.Node, path string) {
	if str, ok := stringValue(n); ok {
		d.errAt(n, path, "write secrets by reference as {secret: %s}", str)
		return
	}
	type plain SecretRef
	var p plain
	d.decodeStruct(n, reflect.ValueOf(&p).Elem(), path)
	*s = SecretRef(p)
	sp := path + ".secret"
	switch {
	case s.Ref == "" && !d.troubled(sp):
		d.errorf(d.valPos(path), sp, "missing secret: the reference, such as {secret: env:NAME}")
	case s.Ref != "":
		scheme, rest, _ := strings.Cut(s.Ref, ":")
		switch scheme {
		case "env", "file", "vault", "cyberark":
			if rest == "" {
				d.errorf(d.valPos(sp), sp, "%q names nothing after %s:", s.Ref, scheme)
			}
		default:
			d.errorf(d.valPos(sp), sp, "%q has no known provider; write env:NAME, file:PATH, vault:MOUNT/PATH#FIELD or cyberark:SAFE/OBJECT", s.Ref)
		}
	}
}

func (du *Duration) decodeCfg(d *cfgDecoder, n ast.Node, path string) {
	s, ok := stringValue(n)
	if !ok {
		if i, isInt := n.(*ast.IntegerNode); isInt && i.GetToken().Value == "0" {
			*du = 0
			return
		}
		d.errAt(n, path, "expected a duration such as 30s or 5m, got %s", describe(n))
		return
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.errAt(n, path, "%q is not a duration such as 30s or 5m", s)
		return
	}
	*du = Duration(v)
}
