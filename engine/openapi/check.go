package openapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Unknown stands in for a value known only at run time, such as a string
// that is one whole expression. Checks of a value with an Unknown pass,
// except that Text says the value is a string (text around an expression).
type Unknown struct {
	Text bool
}

// Direction says which way a value travels: requests may leave out readOnly
// properties, responses writeOnly ones.
type Direction int

const (
	RequestDir Direction = iota
	ResponseDir
)

// Options change how Check reads values.
type Options struct {
	Dir Direction
	// Scalars accepts strings that read as the wanted number or boolean,
	// as parameters travel as text.
	Scalars bool
	// Max caps the mismatches reported; 0 means 20.
	Max int
}

// Mismatch is one way a value does not fit a schema.
type Mismatch struct {
	// Path leads from the value checked to the part at fault: property
	// names (string) and list indexes (int).
	Path []any `json:"path,omitempty"`
	// Message says what is wrong, never quoting a value of the partner's
	// that is not in the schema: response values may be confidential.
	Message string `json:"message"`
	// Field is the unknown property's name, and Known the properties the
	// schema declares, for did-you-mean.
	Field string   `json:"-"`
	Known []string `json:"-"`
}

// String is "$.a.b[0]: message".
func (m Mismatch) String() string { return PathString(m.Path) + ": " + m.Message }

// PathString renders a path as $.a.b[0].
func PathString(path []any) string {
	var b strings.Builder
	b.WriteString("$")
	for _, p := range path {
		switch x := p.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", x)
		case string:
			if plainName.MatchString(x) {
				b.WriteString("." + x)
			} else {
				fmt.Fprintf(&b, "[%q]", x)
			}
		}
	}
	return b.String()
}

var plainName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// Check returns how v does not fit sc; named schemas are looked up in
// defs. Values are shaped like decoded JSON or YAML (maps, lists,
// strings, numbers of any Go numeric type, booleans, nil), and may hold
// Unknown.
func Check(defs map[string]*Schema, sc *Schema, v any, opts Options) []Mismatch {
	if opts.Max <= 0 {
		opts.Max = 20
	}
	c := &valueChecker{defs: defs, opts: opts}
	c.check(sc, v, nil, 0)
	return c.out
}

type valueChecker struct {
	defs map[string]*Schema
	opts Options
	out  []Mismatch
}

const maxCheckDepth = 64

func (c *valueChecker) add(path []any, format string, args ...any) {
	if len(c.out) >= c.opts.Max {
		return
	}
	c.out = append(c.out, Mismatch{Path: append([]any(nil), path...), Message: fmt.Sprintf(format, args...)})
}

func (c *valueChecker) full() bool { return len(c.out) >= c.opts.Max }

func (c *valueChecker) check(sc *Schema, v any, path []any, depth int) {
	sc = resolve(c.defs, sc)
	if sc == nil || depth > maxCheckDepth || c.full() {
		return
	}
	for _, a := range sc.AllOf {
		c.check(a, v, path, depth+1)
	}
	if len(sc.AnyOf) > 0 {
		c.checkAlternatives(sc, v, path, depth)
	}
	if u, ok := v.(Unknown); ok {
		if u.Text && len(sc.Types) > 0 && !hasType(sc.Types, "string") && !(c.opts.Scalars && scalarTypes(sc.Types)) {
			c.add(path, "expected %s, got text", typeList(sc.Types))
		}
		return
	}
	if v == nil {
		if sc.Nullable || hasType(sc.Types, "null") || len(sc.Types) == 0 {
			return
		}
		if len(sc.Enum) > 0 && inEnum(sc.Enum, nil) {
			return
		}
		c.add(path, "expected %s, got null", typeList(sc.Types))
		return
	}
	if _, isList := v.([]any); c.opts.Scalars && !isList && hasType(sc.Types, "array") && sc.Items != nil {
		// A parameter that takes a list may be given one value.
		c.check(sc.Items, v, path, depth+1)
		return
	}
	if len(sc.Types) > 0 && !c.fits(sc.Types, v) {
		c.add(path, "expected %s, got %s", typeList(sc.Types), kindOf(v))
		return
	}
	if len(sc.Enum) > 0 && !inEnum(sc.Enum, v) && !(c.opts.Scalars && inEnumAsText(sc.Enum, v)) {
		c.add(path, "not one of %s", enumList(sc.Enum))
		return
	}
	switch x := v.(type) {
	case string:
		c.checkString(sc, x, path)
		if c.opts.Scalars {
			if f, err := strconv.ParseFloat(x, 64); err == nil && (hasType(sc.Types, "number") || hasType(sc.Types, "integer")) {
				c.checkNumber(sc, f, path)
			}
		}
	case map[string]any:
		c.checkObject(sc, x, path, depth)
	case []any:
		c.checkList(sc, x, path, depth)
	case bool:
	default:
		if f, ok := number(v); ok {
			c.checkNumber(sc, f, path)
		}
	}
}

// checkAlternatives accepts a value that fits one of the anyOf/oneOf
// alternatives, and otherwise reports the mismatches of the nearest.
func (c *valueChecker) checkAlternatives(sc *Schema, v any, path []any, depth int) {
	var best []Mismatch
	for _, alt := range sc.AnyOf {
		sub := &valueChecker{defs: c.defs, opts: c.opts}
		sub.check(alt, v, path, depth+1)
		if len(sub.out) == 0 {
			return
		}
		if best == nil || mismatchScore(sub.out) < mismatchScore(best) {
			best = sub.out
		}
	}
	what := "anyOf"
	if sc.OneOf {
		what = "oneOf"
	}
	if len(sc.AnyOf) == 1 {
		c.out = append(c.out, best...)
		return
	}
	c.add(path, "fits none of the %d %s alternatives; the nearest says: %s", len(sc.AnyOf), what, best[0].String())
}

// mismatchScore ranks an alternative's mismatches: a wrong type at the top
// is worse than a wrong field deep inside.
func mismatchScore(ms []Mismatch) int {
	s := 0
	for _, m := range ms {
		s += 10 - min(len(m.Path), 9)
		if strings.HasPrefix(m.Message, "expected ") {
			s += 10 // not even the right type
		}
	}
	return s
}

func (c *valueChecker) checkString(sc *Schema, s string, path []any) {
	n := len([]rune(s))
	if sc.MinLength != nil && n < *sc.MinLength {
		c.add(path, "shorter than %d characters", *sc.MinLength)
	}
	if sc.MaxLength != nil && n > *sc.MaxLength {
		c.add(path, "longer than %d characters", *sc.MaxLength)
	}
	if sc.Pattern != "" {
		if re := compilePattern(sc.Pattern); re != nil && !re.MatchString(s) {
			c.add(path, "does not match the pattern %s", sc.Pattern)
		}
	}
	if sc.Format != "" && hasTypeOrAny(sc.Types, "string") {
		if why := checkFormat(sc.Format, s); why != "" {
			c.add(path, "%s", why)
		}
	}
}

func (c *valueChecker) checkNumber(sc *Schema, f float64, path []any) {
	if sc.Minimum != nil && f < *sc.Minimum {
		c.add(path, "less than the minimum %s", fmtNum(*sc.Minimum))
	}
	if sc.Maximum != nil && f > *sc.Maximum {
		c.add(path, "greater than the maximum %s", fmtNum(*sc.Maximum))
	}
	if sc.ExclusiveMinimum != nil && f <= *sc.ExclusiveMinimum {
		c.add(path, "not greater than %s", fmtNum(*sc.ExclusiveMinimum))
	}
	if sc.ExclusiveMaximum != nil && f >= *sc.ExclusiveMaximum {
		c.add(path, "not less than %s", fmtNum(*sc.ExclusiveMaximum))
	}
	switch sc.Format {
	case "int32":
		if f < math.MinInt32 || f > math.MaxInt32 {
			c.add(path, "out of the range of format int32")
		}
	case "int64":
		if f < -(1<<63) || f >= 1<<63 {
			c.add(path, "out of the range of format int64")
		}
	}
}

func (c *valueChecker) checkObject(sc *Schema, m map[string]any, path []any, depth int) {
	props, _ := c.properties(sc)
	for _, name := range sc.Required {
		if _, ok := m[name]; ok {
			continue
		}
		if p := resolve(c.defs, props[name]); p != nil && ((c.opts.Dir == RequestDir && p.ReadOnly) || (c.opts.Dir == ResponseDir && p.WriteOnly)) {
			continue
		}
		c.add(path, "missing required property %q", name)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if c.full() {
			return
		}
		p := append(path[:len(path):len(path)], k)
		if ps, ok := sc.Properties[k]; ok {
			c.check(ps, m[k], p, depth+1)
			continue
		}
		switch {
		case sc.Additional != nil:
			c.check(sc.Additional, m[k], p, depth+1)
		case sc.Closed:
			if _, viaAllOf := props[k]; viaAllOf {
				continue
			}
			known := make([]string, 0, len(props))
			for name := range props {
				known = append(known, name)
			}
			sort.Strings(known)
			c.out = append(c.out, Mismatch{Path: append([]any(nil), path...), Field: k, Known: known,
				Message: fmt.Sprintf("unknown property %q (additionalProperties is false; the schema has %s)", k, nameList(known))})
		}
	}
}

func (c *valueChecker) checkList(sc *Schema, l []any, path []any, depth int) {
	if sc.MinItems != nil && len(l) < *sc.MinItems {
		c.add(path, "fewer than %d items", *sc.MinItems)
	}
	if sc.MaxItems != nil && len(l) > *sc.MaxItems {
		c.add(path, "more than %d items", *sc.MaxItems)
	}
	if sc.Items == nil {
		return
	}
	for i, e := range l {
		if c.full() {
			return
		}
		c.check(sc.Items, e, append(path[:len(path):len(path)], i), depth+1)
	}
}

// properties collects the properties a schema declares itself and through
// allOf; open is true when it also allows others.
func (c *valueChecker) properties(sc *Schema) (map[string]*Schema, bool) {
	return Properties(c.defs, sc)
}

// Properties collects the properties of an object schema: its own, and
// those of its allOf, anyOf and oneOf parts. open reports whether the
// schema names no properties at all or gives a schema for the others
// (a map), so that any name may appear.
func Properties(defs map[string]*Schema, sc *Schema) (props map[string]*Schema, open bool) {
	props = map[string]*Schema{}
	seen := map[*Schema]bool{}
	var walk func(s *Schema, depth int)
	walk = func(s *Schema, depth int) {
		s = resolve(defs, s)
		if s == nil || seen[s] || depth > maxCheckDepth {
			return
		}
		seen[s] = true
		for k, v := range s.Properties {
			if _, dup := props[k]; !dup {
				props[k] = v
			}
		}
		if s.Additional != nil {
			open = true
		}
		for _, a := range s.AllOf {
			walk(a, depth+1)
		}
		for _, a := range s.AnyOf {
			walk(a, depth+1)
		}
	}
	walk(sc, 0)
	if len(props) == 0 {
		open = true
	}
	return props, open
}

// Items returns the schema of a list's items, looking through allOf,
// anyOf and oneOf; nil when the schema says nothing of them.
func Items(defs map[string]*Schema, sc *Schema) *Schema {
	sc = resolve(defs, sc)
	if sc == nil {
		return nil
	}
	if sc.Items != nil {
		return sc.Items
	}
	for _, a := range append(append([]*Schema(nil), sc.AllOf...), sc.AnyOf...) {
		if it := Items(defs, a); it != nil {
			return it
		}
	}
	return nil
}

func (c *valueChecker) fits(types []string, v any) bool {
	for _, t := range types {
		if typeFits(t, v, c.opts.Scalars) {
			return true
		}
	}
	return false
}

func typeFits(t string, v any, scalars bool) bool {
	switch t {
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		if _, ok := v.(bool); ok {
			return true
		}
		if s, ok := v.(string); ok && scalars {
			return s == "true" || s == "false"
		}
	case "integer":
		if f, ok := number(v); ok {
			return f == math.Trunc(f) && !math.IsInf(f, 0)
		}
		if s, ok := v.(string); ok && scalars {
			_, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			return err == nil
		}
	case "number":
		if _, ok := number(v); ok {
			return true
		}
		if s, ok := v.(string); ok && scalars {
			_, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			return err == nil
		}
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "null":
		return v == nil
	}
	return false
}

func scalarTypes(types []string) bool {
	for _, t := range types {
		if t == "integer" || t == "number" || t == "boolean" {
			return true
		}
	}
	return false
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func kindOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	default:
		if f, ok := number(x); ok {
			if f == math.Trunc(f) {
				return "an integer"
			}
			return "a number"
		}
	}
	return fmt.Sprintf("%T", v)
}

func hasType(types []string, t string) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

func hasTypeOrAny(types []string, t string) bool { return len(types) == 0 || hasType(types, t) }

func typeList(types []string) string {
	var out []string
	for _, t := range types {
		if t != "null" {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return "null"
	}
	return strings.Join(out, " or ")
}

func inEnum(enum []any, v any) bool {
	for _, e := range enum {
		if equalValues(e, v) {
			return true
		}
	}
	return false
}

func inEnumAsText(enum []any, v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	for _, e := range enum {
		if fmt.Sprint(e) == s {
			return true
		}
	}
	return false
}

func equalValues(a, b any) bool {
	if fa, ok := number(a); ok {
		fb, ok := number(b)
		return ok && fa == fb
	}
	switch x := a.(type) {
	case string, bool, nil:
		return a == b
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValues(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if !equalValues(v, y[k]) {
				return false
			}
		}
		return true
	}
	return false
}

func enumList(enum []any) string {
	parts := make([]string, 0, len(enum))
	for i, e := range enum {
		if i == 12 {
			parts = append(parts, fmt.Sprintf("and %d more", len(enum)-12))
			break
		}
		switch x := e.(type) {
		case string:
			parts = append(parts, strconv.Quote(x))
		default:
			b, _ := json.Marshal(x)
			parts = append(parts, string(b))
		}
	}
	return strings.Join(parts, ", ")
}

func nameList(names []string) string {
	if len(names) == 0 {
		return "no properties"
	}
	if len(names) > 12 {
		return strings.Join(names[:12], ", ") + fmt.Sprintf(" and %d more", len(names)-12)
	}
	return strings.Join(names, ", ")
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

var (
	uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	patterns    sync.Map // pattern → *regexp.Regexp, or nil when RE2 cannot read it
)

// compilePattern compiles a schema's pattern once; patterns that RE2
// cannot read (lookaheads, backreferences) are not checked.
func compilePattern(p string) *regexp.Regexp {
	if re, ok := patterns.Load(p); ok {
		r, _ := re.(*regexp.Regexp)
		return r
	}
	var re *regexp.Regexp
	if len(p) <= 1000 {
		re, _ = regexp.Compile(p)
	}
	patterns.Store(p, re)
	return re
}

// checkFormat says why s is not of a format, or "" when it is (or the
// format is one Outflow does not check).
func checkFormat(format, s string) string {
	switch format {
	case "date-time":
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return "not a date-time (RFC 3339, such as 2026-01-02T15:04:05Z)"
		}
	case "date":
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return "not a date (such as 2026-01-02)"
		}
	case "uuid":
		if !uuidPattern.MatchString(s) {
			return "not a uuid"
		}
	case "email":
		at := strings.LastIndexByte(s, '@')
		if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t\r\n") {
			return "not an email address"
		}
	case "ipv4":
		if a, err := netip.ParseAddr(s); err != nil || !a.Is4() {
			return "not an IPv4 address"
		}
	case "ipv6":
		if a, err := netip.ParseAddr(s); err != nil || !a.Is6() {
			return "not an IPv6 address"
		}
	case "uri":
		if u, err := url.Parse(s); err != nil || u.Scheme == "" {
			return "not an absolute URI"
		}
	}
	return ""
}
