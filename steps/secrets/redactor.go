package secrets

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
)

// RedactedValue is what a secret a partner echoed back reads as in a step's
// record, its errors and its output data.
const RedactedValue = "[redacted]"

// MinRedactLength is the shortest secret a Redactor replaces by value.
//
// A shorter value ("1234", "test") would blank ordinary words, numbers and
// identifiers all over a partner's answer, and the flow reads that answer:
// an order number holding "1234" would change. So a secret shorter than
// this is not searched for in what a partner says. What is derived from
// it still is when it is long enough — base64(user:password) of a basic
// credential, a Bearer header — and headers that carry credentials are
// redacted by name whatever their value. A step that resolves such a short
// secret is logged once per reference on its worker (see Short), because a
// partner that echoes it back is not redacted; use longer secrets.
const MinRedactLength = 6

// minCutPrefix is the shortest start of a secret taken to be a secret cut
// short at the end of a capped text ("…"): a shorter one says little of the
// secret and would often match by chance.
const minCutPrefix = 3

// cutMark ends every text the step's record caps (bodies, the partner's
// words).
const cutMark = "…"

// Redactor holds the secret values one step attempt sent or resolved, with
// every form in which they travel (base64 of user:password, URL, XML and
// JSON escapes), and replaces them with RedactedValue in whatever the
// attempt hands back: the response it keeps, its errors, the partner's
// words. Values are added as the attempt resolves them (a Resolver adds
// what it resolves to the Redactor in its context, see WithRedactor) and
// as it derives credentials from them (access tokens, digests).
//
// Every value added is also added to the worker's log set (a Seen), so the
// worker's logs redact the derived forms too. A nil *Redactor redacts
// nothing; a Redactor is safe for concurrent use.
type Redactor struct {
	log *Seen

	mu    sync.Mutex
	forms map[string]struct{}
	short map[string]struct{} // references of values too short to redact
	list  []string            // forms, longest first; nil after a change
}

// NewRedactor returns an empty Redactor whose values also go to log (which
// may be nil).
func NewRedactor(log *Seen) *Redactor {
	return &Redactor{log: log}
}

// NewRedactor returns a Redactor for one step attempt whose values also go
// to the log set r watches (see Watch). A nil r gives a Redactor too.
func (r *Resolver) NewRedactor() *Redactor {
	if r == nil {
		return NewRedactor(nil)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return NewRedactor(r.seen)
}

type redactorKey struct{}

// WithRedactor returns ctx carrying red: every secret a Resolver resolves
// with that context is added to red.
func WithRedactor(ctx context.Context, red *Redactor) context.Context {
	return context.WithValue(ctx, redactorKey{}, red)
}

// RedactorFrom returns the Redactor ctx carries, or nil (which redacts
// nothing and ignores what is added).
func RedactorFrom(ctx context.Context) *Redactor {
	red, _ := ctx.Value(redactorKey{}).(*Redactor)
	return red
}

// Add adds secret values: each value and its escaped forms (URL query and
// path, XML, JSON). Values shorter than MinRedactLength are not added.
func (red *Redactor) Add(values ...string) {
	for _, v := range values {
		red.add("", v)
	}
}

// add adds v; ref, when set, is the reference v was resolved from, named
// by Short when v is too short to be redacted.
func (red *Redactor) add(ref, v string) {
	if red == nil || v == "" {
		return
	}
	if len(v) < MinRedactLength {
		if ref != "" {
			red.mu.Lock()
			if red.short == nil {
				red.short = map[string]struct{}{}
			}
			red.short[ref] = struct{}{}
			red.mu.Unlock()
		}
		return
	}
	forms := escapedForms(v)
	red.mu.Lock()
	if red.forms == nil {
		red.forms = map[string]struct{}{}
	}
	for _, f := range forms {
		if _, ok := red.forms[f]; !ok {
			red.forms[f] = struct{}{}
			red.list = nil
		}
	}
	red.mu.Unlock()
	for _, f := range forms {
		red.log.Add(f)
	}
}

// AddBasic adds the credential of HTTP basic authentication for user and
// password: base64(user ":" password), as a partner sees it in an
// Authorization header, besides the password itself. It is added even
// when the password is too short to be redacted on its own.
func (red *Redactor) AddBasic(user, password string) {
	red.Add(password, base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
}

// Short returns the references whose values were too short to be
// redacted (see MinRedactLength), sorted.
func (red *Redactor) Short() []string {
	if red == nil {
		return nil
	}
	red.mu.Lock()
	defer red.mu.Unlock()
	out := make([]string, 0, len(red.short))
	for ref := range red.short {
		out = append(out, ref)
	}
	sort.Strings(out)
	return out
}

// escapedForms are the ways v can appear in what a partner sends back or
// what the step keeps: as it is, URL-encoded (a query or a Location
// header; upper- and lower-case hex), XML- and HTML-escaped (a SOAP fault,
// an HTML error page), and JSON-escaped (a body that did not parse, or
// was cut before it could be; Go's escapes and those of encoders that also
// escape "/" and every non-ASCII character).
func escapedForms(v string) []string {
	forms := []string{v, url.QueryEscape(v), url.PathEscape(v), html.EscapeString(v), asciiJSON(v)}
	for _, f := range forms[1:3] {
		forms = append(forms, percentHex.ReplaceAllStringFunc(f, strings.ToLower))
	}
	var xb strings.Builder
	_ = xml.EscapeText(&xb, []byte(v))
	forms = append(forms, xb.String())
	if b, err := json.Marshal(v); err == nil {
		forms = append(forms, string(b[1:len(b)-1]))
	}
	var jb bytes.Buffer
	enc := json.NewEncoder(&jb)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) == nil {
		s := strings.TrimSuffix(jb.String(), "\n")
		forms = append(forms, s[1:len(s)-1])
	}
	return forms
}

var percentHex = regexp.MustCompile(`%[0-9A-F]{2}`)

// asciiJSON is v inside a JSON string as encoders write it that escape
// "/" and every character outside ASCII.
func asciiJSON(v string) string {
	var b strings.Builder
	for _, r := range v {
		switch {
		case r == '"' || r == '\\' || r == '/':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				hi, lo := utf16.EncodeRune(r)
				fmt.Fprintf(&b, "\\u%04x\\u%04x", hi, lo)
			} else {
				fmt.Fprintf(&b, "\\u%04x", r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// sorted returns the forms, longest first, so that where two overlap the
// longer is found first.
func (red *Redactor) sorted() []string {
	red.mu.Lock()
	defer red.mu.Unlock()
	if red.list == nil && len(red.forms) > 0 {
		red.list = make([]string, 0, len(red.forms))
		for f := range red.forms {
			red.list = append(red.list, f)
		}
		sort.Slice(red.list, func(i, j int) bool {
			if len(red.list[i]) != len(red.list[j]) {
				return len(red.list[i]) > len(red.list[j])
			}
			return red.list[i] < red.list[j]
		})
	}
	return red.list
}

// Empty says whether red holds no value to redact.
func (red *Redactor) Empty() bool {
	return red == nil || len(red.sorted()) == 0
}

// Contains says whether s holds a secret.
func (red *Redactor) Contains(s string) bool {
	if red == nil {
		return false
	}
	for _, f := range red.sorted() {
		if strings.Contains(s, f) {
			return true
		}
	}
	return false
}

// String returns s with every secret replaced by RedactedValue. Where
// secrets overlap, the whole stretch they cover is replaced. The start of
// a secret right before "…", the mark of a text cut short, is replaced
// too, so a secret a cap cut in two does not leave its first half.
func (red *Redactor) String(s string) string {
	return red.redact(s, false)
}

// Cut is String for a text that was cut short without a mark, such as a
// body read up to its limit: the start of a secret at its very end is
// replaced too.
func (red *Redactor) Cut(s string) string {
	return red.redact(s, true)
}

type span struct{ from, to int }

func (red *Redactor) redact(s string, cut bool) string {
	if red == nil || s == "" {
		return s
	}
	forms := red.sorted()
	if len(forms) == 0 {
		return s
	}
	var spans []span
	for _, f := range forms {
		for at := 0; at <= len(s)-len(f); {
			i := strings.Index(s[at:], f)
			if i < 0 {
				break
			}
			spans = append(spans, span{at + i, at + i + len(f)})
			at += i + 1
		}
	}
	ends := []int{}
	for at := 0; ; {
		i := strings.Index(s[at:], cutMark)
		if i < 0 {
			break
		}
		ends = append(ends, at+i)
		at += i + len(cutMark)
	}
	if cut {
		ends = append(ends, len(s))
	}
	for _, end := range ends {
		if k := cutPrefix(s[:end], forms); k > 0 {
			spans = append(spans, span{end - k, end})
		}
	}
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for i := 0; i < len(spans); {
		from, to := spans[i].from, spans[i].to
		for i++; i < len(spans) && spans[i].from <= to; i++ {
			to = max(to, spans[i].to)
		}
		b.WriteString(s[last:from])
		b.WriteString(RedactedValue)
		last = to
	}
	b.WriteString(s[last:])
	return b.String()
}

// cutPrefix is the length of the longest start of a form, shorter than the
// form and at least minCutPrefix long, that s ends with; 0 when none.
func cutPrefix(s string, forms []string) int {
	best := 0
	if s == "" {
		return 0
	}
	last := s[len(s)-1]
	for _, f := range forms {
		for k := min(len(f)-1, len(s)); k >= minCutPrefix && k > best; k-- {
			// Cheap byte checks first: the forms can be long (JWTs).
			if f[k-1] == last && s[len(s)-k] == f[0] && s[len(s)-k:] == f[:k] {
				best = k
				break
			}
		}
	}
	return best
}

// Value returns v with every secret replaced in its strings, map keys
// included: the trees a parsed JSON or XML body is made of (maps, slices,
// strings, numbers), pointers to structs (changed in place) and anything
// else that encodes as JSON. A number whose digits hold a secret becomes
// the string RedactedValue. Maps and slices are changed in place.
func (red *Redactor) Value(v any) any {
	if red.Empty() {
		return v
	}
	return red.value(v)
}

func (red *Redactor) value(v any) any {
	switch t := v.(type) {
	case nil, bool:
		return v
	case string:
		return red.String(t)
	case float64:
		if red.Contains(strconv.FormatFloat(t, 'f', -1, 64)) {
			return RedactedValue
		}
		return v
	case json.Number:
		if red.Contains(string(t)) {
			return RedactedValue
		}
		return v
	case map[string]any:
		var renamed []string
		for k, e := range t {
			t[k] = red.value(e)
			if red.Contains(k) {
				renamed = append(renamed, k)
			}
		}
		for _, k := range renamed {
			e := t[k]
			delete(t, k)
			t[red.String(k)] = e
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = red.value(e)
		}
		return t
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32:
		if red.Contains(strconv.FormatFloat(rv.Convert(reflect.TypeFor[float64]()).Float(), 'f', -1, 64)) {
			return RedactedValue
		}
		return v
	case reflect.Pointer:
		if !rv.IsNil() && rv.Elem().Kind() == reflect.Struct {
			red.walk(rv.Elem())
			return v
		}
	case reflect.Map, reflect.Slice:
		if !rv.IsNil() {
			red.walk(rv)
			return v
		}
		return v
	}
	// Anything else is sent on as JSON: redact it as the JSON tree it becomes.
	b, err := json.Marshal(v)
	if err != nil || !red.Contains(string(b)) {
		return v
	}
	var tree any
	if json.Unmarshal(b, &tree) != nil {
		return RedactedValue
	}
	return red.value(tree)
}

// Struct replaces secrets in place in the exported fields of the struct p
// points to, whatever their depth: strings, maps, slices, pointers and
// interface values (trees, as Value does).
func (red *Redactor) Struct(p any) {
	if red.Empty() {
		return
	}
	rv := reflect.ValueOf(p)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		red.walk(rv.Elem())
	}
}

func (red *Redactor) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			red.walk(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Field(i); f.CanSet() {
				red.walk(f)
			}
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString(red.String(v.String()))
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			red.walk(v.Index(i))
		}
	case reflect.Interface:
		if !v.IsNil() && v.CanSet() {
			if nv := red.value(v.Elem().Interface()); nv != nil && reflect.TypeOf(nv).AssignableTo(v.Type()) {
				v.Set(reflect.ValueOf(nv))
			}
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			red.walk(e)
			nk := k
			if k.Kind() == reflect.String && red.Contains(k.String()) {
				nk = reflect.New(k.Type()).Elem()
				nk.SetString(red.String(k.String()))
				v.SetMapIndex(k, reflect.Value{})
			}
			v.SetMapIndex(nk, e)
		}
	}
}

// Error returns err when its message holds no secret, and otherwise an
// error whose message is redacted and which unwraps to err, so that
// errors.As still finds its types. Only the message is redacted: what
// prints the unwrapped errors prints them as they are.
func (red *Redactor) Error(err error) error {
	if err == nil || red.Empty() {
		return err
	}
	msg := err.Error()
	if r := red.String(msg); r != msg {
		return &redactedError{msg: r, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
