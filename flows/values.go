package flows

import (
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/invopop/jsonschema"

	"github.com/outflow-dev/outflow/engine"
)

// Value types of the YAML contract that read more than one YAML shape or
// check their content as they are decoded. Each states its own JSON Schema.

// Duration is a length of time written with units, such as `30s`, `5m` or
// `1h30m` (units: ns, us, ms, s, m, h).
type Duration time.Duration

const durationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`

func (d *Duration) decodeYAML(dec *decoder, n ast.Node, path string) {
	s, ok := stringValue(n)
	if !ok {
		if _, isInt := n.(*ast.IntegerNode); isInt {
			dec.errAt(n, path, "expected a duration, got %s; add a unit, such as %ss", describe(n), n.GetToken().Value)
			return
		}
		dec.errAt(n, path, "expected a duration such as 30s, 5m or 1h30m, got %s", describe(n))
		return
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		dec.errAt(n, path, "invalid duration %q; write a number with a unit, such as 30s, 5m or 1h30m", s)
		return
	}
	if v <= 0 {
		dec.errAt(n, path, "duration %q must be longer than zero", s)
		return
	}
	*d = Duration(v)
}

// JSONSchema states the duration syntax for editors.
func (Duration) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{Type: "string", Pattern: durationPattern, Examples: []any{"30s", "5m", "1h30m"}}
}

// Condition decides whether a step runs: an expression such as
// `${{ inputs.full_sync }}`, or the constant true or false.
type Condition string

func (c *Condition) decodeYAML(dec *decoder, n ast.Node, path string) {
	if b, ok := n.(*ast.BoolNode); ok {
		*c = Condition(strconv.FormatBool(b.Value))
		return
	}
	s, ok := stringValue(n)
	if !ok {
		dec.errAt(n, path, "expected an expression such as \"${{ inputs.enabled }}\" or true/false, got %s", describe(n))
		return
	}
	if !strings.Contains(s, "${{") && s != "true" && s != "false" {
		dec.errAt(n, path, "%q is plain text, which is always true; write the condition as an expression: \"${{ %s }}\"", s, s)
		return
	}
	*c = Condition(s)
	dec.noteString(n, path, s)
}

// JSONSchema states that a condition is a boolean or a string holding an
// expression.
func (Condition) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{OneOf: []*jsonschema.Schema{
		{Type: "boolean"},
		{Type: "string", Pattern: `\$\{\{`},
	}}
}

// AppliesTo is `all` or a list of agent names.
type AppliesTo []string

func (a *AppliesTo) decodeYAML(dec *decoder, n ast.Node, path string) {
	if s, ok := stringValue(n); ok {
		if s != "all" {
			dec.errAt(n, path, "expected \"all\" or a list of agent names, got %q; for one agent write [%s]", s, s)
		}
		return
	}
	var names []string
	if !dec.decode(n, reflect.ValueOf(&names).Elem(), path) {
		return
	}
	seen := map[string]bool{}
	for i, name := range names {
		p := indexPath(path, i)
		if !namePattern.MatchString(name) {
			dec.errorf(dec.doc.valPos(p), p, "invalid agent name %q: %s", name, patternHelp[namePattern.String()])
		}
		if seen[name] {
			dec.errorf(dec.doc.valPos(p), p, "agent %q is listed twice", name)
		}
		seen[name] = true
	}
	if len(names) == 0 {
		dec.errAt(n, path, "the list of agents is empty; write all, or name the agents")
	}
	*a = names
}

// JSONSchema states the two forms.
func (AppliesTo) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{OneOf: []*jsonschema.Schema{
		{Type: "string", Const: "all"},
		{Type: "array", MinItems: ptr(uint64(1)), Items: &jsonschema.Schema{Type: "string", Pattern: namePattern.String()}},
	}}
}

// ByteSize is a number of bytes, written as an integer or with a unit:
// `512KiB`, `1MiB`, `1MB` (KB, MB, GB are powers of 1000; KiB, MiB, GiB of 1024).
type ByteSize int64

var byteSizeRE = regexp.MustCompile(`^([0-9]+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$`)

var byteUnits = map[string]int64{"": 1, "B": 1, "KB": 1000, "KiB": 1 << 10, "MB": 1000 * 1000, "MiB": 1 << 20, "GB": 1000 * 1000 * 1000, "GiB": 1 << 30}

func (b *ByteSize) decodeYAML(dec *decoder, n ast.Node, path string) {
	if i, ok := intValue(n); ok {
		if i <= 0 {
			dec.errAt(n, path, "size must be more than zero bytes, got %d", i)
			return
		}
		*b = ByteSize(i)
		return
	}
	s, ok := stringValue(n)
	m := byteSizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if !ok || m == nil {
		dec.errAt(n, path, "expected a size such as 262144, 256KiB or 1MB, got %s", describeValue(n))
		return
	}
	x, err := strconv.ParseInt(m[1], 10, 64)
	unit := byteUnits[m[2]]
	if err != nil || x <= 0 || x > (1<<62)/unit {
		dec.errAt(n, path, "size %q is out of range; use more than zero and less than an exabyte", s)
		return
	}
	*b = ByteSize(x * unit)
}

// JSONSchema states the two forms.
func (ByteSize) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{OneOf: []*jsonschema.Schema{
		{Type: "integer", Minimum: "1"},
		{Type: "string", Pattern: byteSizeRE.String()},
	}}
}

// TLSVersion is a TLS protocol version: `1.2` or `1.3`, quoted or not.
type TLSVersion string

var tlsVersions = []string{"1.2", "1.3"}

func (v *TLSVersion) decodeYAML(dec *decoder, n ast.Node, path string) {
	s, ok := stringValue(n)
	if !ok {
		if _, isFloat := n.(*ast.FloatNode); isFloat {
			s, ok = n.GetToken().Value, true
		}
	}
	switch {
	case !ok:
		dec.errAt(n, path, "expected a TLS version, 1.2 or 1.3, got %s", describe(n))
	case s == "1.0" || s == "1.1":
		dec.errAt(n, path, "TLS %s is not supported: it is deprecated and broken (RFC 8996); use 1.2 or 1.3", s)
	case !contains(tlsVersions, s):
		dec.errAt(n, path, "invalid TLS version %q; use 1.2 or 1.3", s)
	default:
		*v = TLSVersion(s)
	}
}

// JSONSchema accepts the versions as strings and as the numbers YAML reads
// from unquoted 1.2 and 1.3.
func (TLSVersion) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{Enum: []any{"1.2", "1.3", 1.2, 1.3}}
}

// Scalars maps names to strings, numbers or booleans, such as headers and
// query parameters. Strings may hold expressions.
type Scalars map[string]any

func (s *Scalars) decodeYAML(dec *decoder, n ast.Node, path string) {
	es, ok := dec.entries(n, path)
	if !ok {
		dec.errAt(n, path, "expected a mapping of names to values, got %s", describe(n))
		return
	}
	m := make(Scalars, len(es))
	order := make([]string, 0, len(es))
	for _, e := range es {
		p := joinPath(path, e.key)
		dec.doc.keys[p] = e.keyAt
		v := dec.resolve(e.value, p)
		switch v.(type) {
		case *ast.StringNode, *ast.LiteralNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
			m[e.key] = dec.generic(v, p)
		case nil, *ast.NullNode:
			dec.errorf(e.keyAt, p, "%q has no value; write \"\" for an empty one", e.key)
			continue
		default:
			dec.errAt(v, p, "expected a string, number or boolean, got %s", describe(v))
			continue
		}
		order = append(order, e.key)
	}
	dec.doc.order[path] = order
	*s = m
}

// JSONSchema states that the values are scalars.
func (Scalars) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		Type: "object",
		AdditionalProperties: &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
			{Type: "string"}, {Type: "number"}, {Type: "boolean"},
		}},
	}
}

// secretForms says how a reference is written, with the providers of
// engine.SecretSchemes.
var secretForms = "a reference is " + engine.SecretForms()

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (r *SecretRef) decodeYAML(dec *decoder, n ast.Node, path string) {
	switch n.(type) {
	case *ast.StringNode, *ast.LiteralNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		// Never echo the value: it is likely the secret itself.
		dec.errAt(n, path, "a secret is given by reference, never written in the project: write {secret: env:NAME}; %s", secretForms)
		return
	}
	before := len(*dec.problems)
	dec.decodeStruct(n, reflect.ValueOf(r).Elem(), path)
	if len(*dec.problems) != before || r.Secret == "" {
		return
	}
	at := dec.doc.valPos(path + ".secret")
	provider, rest, _ := strings.Cut(r.Secret, ":")
	switch {
	case engine.SecretSchemeOf(provider) == nil:
		dec.errorf(at, path+".secret", "unknown secret provider %q in %q; %s", provider, r.Secret, secretForms)
	case strings.TrimSpace(rest) == "":
		dec.errorf(at, path+".secret", "secret reference %q names nothing after the provider; %s", r.Secret, secretForms)
	case provider == "env" && !envName.MatchString(rest):
		dec.errorf(at, path+".secret", "invalid environment variable name %q; use letters, digits and '_', not starting with a digit", rest)
	}
}

// namePattern is the syntax of document, agent and queue names.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// identPattern is the syntax of names expressions refer to: step ids,
// inputs, vars and outputs.
var identPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func ptr[T any](v T) *T { return &v }
