package wsdl

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Header is one SOAP header block of a request. Name is the local name of
// a header element the operation declares (or the name of its part), or
// "{namespace}Name" for a block the WSDL does not declare. Value is shaped
// like a body: maps, lists and scalars.
type Header struct {
	Name  string
	Value any
}

// UsernameToken adds a WS-Security UsernameToken (OASIS Username Token
// Profile 1.0) to a request.
type UsernameToken struct {
	Username string
	// Password is the resolved password; it is written as text, or only as
	// a digest when Digest is set.
	Password string
	// Digest sends PasswordDigest = Base64(SHA-1(nonce + created +
	// password)) with its Nonce and Created instead of the password.
	Digest bool
	// Nonce and Created are fixed by tests; when empty, 16 random bytes and
	// the current time are used.
	Nonce   []byte
	Created time.Time
}

// WS-Security names.
const (
	wsseNS            = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	wsuNS             = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	passwordTextType  = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	passwordDigestTyp = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
	nonceEncoding     = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

// PasswordDigest computes a UsernameToken digest: Base64(SHA-1(nonce +
// created + password)), nonce as raw bytes.
func PasswordDigest(nonce []byte, created, password string) string {
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// BuildRequest builds the SOAP envelope of an operation. body is the
// content of the request: for document style the content of the single
// body element (or, with several parts, a map from element name to
// content); for rpc style a map from part name to value. Elements come out
// in the order the schema gives, in the namespaces it gives; lists become
// repeated elements; "@name" keys are attributes and "#text" is the text
// of an element that also has attributes. A nil value omits an element, or
// writes xsi:nil when the element is nillable. Fields the schema does not
// declare are an error that lists the allowed ones.
//
// It returns the envelope, the Content-Type to send (text/xml for SOAP
// 1.1, application/soap+xml with the action for 1.2), the SOAPAction (sent
// as a header with SOAP 1.1) and the port's address.
func BuildRequest(defs *Definitions, service, port, operation string, body any, headers []Header, security *UsernameToken) (envelope []byte, contentType, soapAction, endpoint string, err error) {
	_, p, op, err := defs.Lookup(service, port, operation)
	if err != nil {
		return nil, "", "", "", err
	}
	envelope, err = buildEnvelope(defs.Schema, op, body, headers, security, time.Now)
	if err != nil {
		return nil, "", "", "", fmt.Errorf("building the %s request: %w", op.Name, err)
	}
	contentType = "text/xml; charset=utf-8"
	if op.SOAPVersion == SOAP12 {
		contentType = "application/soap+xml; charset=utf-8"
		if op.SOAPAction != "" {
			contentType += "; action=" + strconv.Quote(op.SOAPAction)
		}
	}
	return envelope, contentType, op.SOAPAction, p.Address, nil
}

// ValidateBody checks a body and header blocks against an operation without
// a password: what BuildRequest would refuse, found while loading a project.
func ValidateBody(defs *Definitions, service, port, operation string, body any, headers []Header) error {
	_, _, op, err := defs.Lookup(service, port, operation)
	if err != nil {
		return err
	}
	_, err = buildEnvelope(defs.Schema, op, body, headers, nil, time.Now)
	return err
}

var passwordElement = regexp.MustCompile(`(<wsse:Password\b[^>]*>)[^<]*(</wsse:Password>)`)

// RedactEnvelope hides the password or digest of a UsernameToken built by
// BuildRequest, for records and logs. A digest is hidden too: with its nonce
// and timestamp it allows guessing the password offline.
func RedactEnvelope(envelope []byte) []byte {
	return passwordElement.ReplaceAll(envelope, []byte("${1}[redacted]${2}"))
}

type builder struct {
	s        *Schema
	buf      bytes.Buffer
	prefixes map[string]string
	order    []string
	depth    int
}

// maxBuildDepth stops runaway recursion through self-referencing types fed
// with a self-referencing value.
const maxBuildDepth = 100

func buildEnvelope(s *Schema, op *Operation, body any, headers []Header, security *UsernameToken, now func() time.Time) ([]byte, error) {
	if s == nil {
		s = &Schema{}
	}
	if op.Input == nil {
		return nil, errors.New("the operation has no input message")
	}
	envNS := soap11EnvNS
	if op.SOAPVersion == SOAP12 {
		envNS = soap12EnvNS
	}
	hb := &builder{s: s, prefixes: map[string]string{}}
	if security != nil {
		if err := hb.usernameToken(security, now); err != nil {
			return nil, err
		}
	}
	if err := hb.headers(op, headers); err != nil {
		return nil, err
	}
	bb := &builder{s: s, prefixes: hb.prefixes, order: hb.order}
	if err := bb.body(op, body); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	out.WriteString(`<soapenv:Envelope xmlns:soapenv="` + envNS + `"`)
	for _, ns := range bb.order {
		out.WriteString(" xmlns:" + bb.prefixes[ns] + `="`)
		xmlEscape(&out, ns)
		out.WriteString(`"`)
	}
	out.WriteString(">")
	if hb.buf.Len() > 0 {
		out.WriteString("<soapenv:Header>")
		out.Write(hb.buf.Bytes())
		out.WriteString("</soapenv:Header>")
	}
	out.WriteString("<soapenv:Body>")
	out.Write(bb.buf.Bytes())
	out.WriteString("</soapenv:Body></soapenv:Envelope>")
	return out.Bytes(), nil
}

// prefix returns the prefix declared on the envelope for ns.
func (b *builder) prefix(ns string) string {
	if p, ok := b.prefixes[ns]; ok {
		return p
	}
	var p string
	switch ns {
	case xsiNS:
		p = "xsi"
	case wsseNS:
		p = "wsse"
	case wsuNS:
		p = "wsu"
	case xmlNS:
		return "xml"
	default:
		n := 1
		for _, q := range b.prefixes {
			if strings.HasPrefix(q, "ns") {
				n++
			}
		}
		p = "ns" + strconv.Itoa(n)
	}
	b.prefixes[ns] = p
	b.order = append(b.order, ns)
	return p
}

func (b *builder) qname(ns, local string) string {
	if ns == "" {
		return local
	}
	return b.prefix(ns) + ":" + local
}

func (b *builder) usernameToken(t *UsernameToken, now func() time.Time) error {
	if t.Username == "" {
		return errors.New("the UsernameToken has no username")
	}
	w := &b.buf
	w.WriteString(`<wsse:Security xmlns:wsse="` + wsseNS + `" xmlns:wsu="` + wsuNS + `" soapenv:mustUnderstand="1"><wsse:UsernameToken>`)
	w.WriteString("<wsse:Username>")
	xmlEscape(w, t.Username)
	w.WriteString("</wsse:Username>")
	if !t.Digest {
		w.WriteString(`<wsse:Password Type="` + passwordTextType + `">`)
		xmlEscape(w, t.Password)
		w.WriteString("</wsse:Password></wsse:UsernameToken></wsse:Security>")
		return nil
	}
	nonce := t.Nonce
	if len(nonce) == 0 {
		nonce = make([]byte, 16)
		if _, err := rand.Read(nonce); err != nil {
			return fmt.Errorf("making a nonce: %w", err)
		}
	}
	created := t.Created
	if created.IsZero() {
		created = now()
	}
	cs := created.UTC().Format("2006-01-02T15:04:05.000Z")
	w.WriteString(`<wsse:Password Type="` + passwordDigestTyp + `">`)
	w.WriteString(PasswordDigest(nonce, cs, t.Password))
	w.WriteString(`</wsse:Password><wsse:Nonce EncodingType="` + nonceEncoding + `">`)
	w.WriteString(base64.StdEncoding.EncodeToString(nonce))
	w.WriteString("</wsse:Nonce><wsu:Created>" + cs + "</wsu:Created></wsse:UsernameToken></wsse:Security>")
	return nil
}

func (b *builder) headers(op *Operation, headers []Header) error {
	declared := op.Input.Headers
	for _, h := range headers {
		var part *Part
		for _, p := range declared {
			if p.Name == h.Name || (p.Element != "" && (localOf(p.Element) == h.Name || p.Element == h.Name)) {
				part = p
				break
			}
		}
		switch {
		case part != nil && part.Element != "":
			el := b.s.element(part.Element)
			if el == nil {
				return fmt.Errorf("header %s: element %s is not declared", h.Name, part.Element)
			}
			if err := b.writeValue(el, h.Value, h.Name, 1); err != nil {
				return err
			}
		case part != nil:
			if err := b.writeValue(&Element{Name: part.Name, Type: part.Type}, h.Value, h.Name, 1); err != nil {
				return err
			}
		case strings.HasPrefix(h.Name, "{"):
			ns, local := splitQN(h.Name)
			if err := b.generic(ns, local, h.Value, h.Name); err != nil {
				return err
			}
		default:
			var names []string
			for _, p := range declared {
				if p.Element != "" {
					names = append(names, localOf(p.Element))
				} else {
					names = append(names, p.Name)
				}
			}
			if len(names) == 0 {
				return fmt.Errorf("header %q: the operation declares no header blocks; name an undeclared block as {namespace}%s", h.Name, h.Name)
			}
			return fmt.Errorf("header %q is not declared by the operation (declared: %s); name an undeclared block as {namespace}%s", h.Name, strings.Join(names, ", "), h.Name)
		}
	}
	return nil
}

func (b *builder) body(op *Operation, body any) error {
	parts := op.Input.Parts
	if op.Style == "rpc" {
		b.buf.WriteString("<" + b.qname(op.Namespace, op.Name))
		if op.Use == "encoded" {
			b.buf.WriteString(` soapenv:encodingStyle="` + soapEncNS + `"`)
		}
		b.buf.WriteString(">")
		m, err := asMap(body, "the body", partNames(parts, false))
		if err != nil {
			return err
		}
		used := map[string]bool{}
		for _, p := range parts {
			v, ok := m[p.Name]
			if !ok {
				continue
			}
			used[p.Name] = true
			el := &Element{Name: p.Name, Type: p.Type}
			if p.Element != "" {
				if el = b.s.element(p.Element); el == nil {
					return fmt.Errorf("part %s: element %s is not declared", p.Name, p.Element)
				}
			}
			if err := b.writeValue(el, v, p.Name, 1); err != nil {
				return err
			}
		}
		if err := unknownKeys(m, used, "the body", partNames(parts, false)); err != nil {
			return err
		}
		b.buf.WriteString("</" + b.qname(op.Namespace, op.Name) + ">")
		return nil
	}
	if len(parts) == 1 {
		return b.writePart(parts[0], body, "")
	}
	if len(parts) == 0 {
		if !isEmpty(body) {
			return errors.New("the operation takes no body, but one was given")
		}
		return nil
	}
	m, err := asMap(body, "the body", partNames(parts, true))
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, p := range parts {
		key := p.Name
		if p.Element != "" {
			key = localOf(p.Element)
		}
		v, ok := m[key]
		if !ok {
			continue
		}
		used[key] = true
		if err := b.writePart(p, v, key); err != nil {
			return err
		}
	}
	return unknownKeys(m, used, "the body", partNames(parts, true))
}

func (b *builder) writePart(p *Part, v any, path string) error {
	if p.Element == "" {
		// A document-style part with a type: the accessor is named after
		// the part, unqualified.
		return b.writeValue(&Element{Name: p.Name, Type: p.Type}, v, pathOr(path, p.Name), 1)
	}
	el := b.s.element(p.Element)
	if el == nil {
		return fmt.Errorf("element %s is not declared", p.Element)
	}
	path = pathOr(path, localOf(p.Element))
	if v == nil {
		// An empty body for an element without required content is the
		// common case of operations that take no arguments.
		v = map[string]any{}
		if ti := b.s.typeOfElement(el); ti.complex == nil {
			v = ""
		}
	}
	return b.writeValue(el, v, path, 1)
}

func pathOr(path, name string) string {
	if path != "" {
		return path
	}
	return name
}

func partNames(parts []*Part, byElement bool) []string {
	names := make([]string, 0, len(parts))
	for _, p := range parts {
		if byElement && p.Element != "" {
			names = append(names, localOf(p.Element))
		} else {
			names = append(names, p.Name)
		}
	}
	return names
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// writeValue writes one occurrence of an element.
func (b *builder) writeValue(el *Element, v any, path string, depth int) error {
	if depth > maxBuildDepth {
		return fmt.Errorf("%s: the value nests deeper than %d levels", path, maxBuildDepth)
	}
	el = b.s.resolve(el)
	if el == nil {
		return fmt.Errorf("%s: element reference cannot be resolved", path)
	}
	name := b.qname(el.Namespace, el.Name)
	if v == nil {
		if el.Nillable {
			b.buf.WriteString("<" + name + " " + b.prefix(xsiNS) + `:nil="true"/>`)
		}
		return nil
	}
	ti := b.s.typeOfElement(el)
	if ti.complex == nil {
		if ti.simple == "anyType" {
			return b.genericValue(el.Namespace, el.Name, name, v, path)
		}
		text, err := scalarText(v, path)
		if err != nil {
			return err
		}
		b.buf.WriteString("<" + name + ">")
		xmlEscape(&b.buf, text)
		b.buf.WriteString("</" + name + ">")
		return nil
	}
	ct := ti.complex
	textType := b.s.textType(ct)
	attrs := b.s.attributes(ct)
	contents := b.s.contents(ct)
	m, isMap := v.(map[string]any)
	if !isMap {
		if textType != "" || ct.Mixed {
			m = map[string]any{"#text": v}
		} else if s, ok := v.(string); ok && s == "" && len(contents) == 0 {
			m = map[string]any{}
		} else {
			return fmt.Errorf("%s: expects fields (%s), got %s", path, strings.Join(b.allowed(contents, attrs, textType != ""), ", "), describe(v))
		}
	}
	b.buf.WriteString("<" + name)
	used := map[string]bool{}
	for _, a := range attrs {
		key := "@" + a.Name
		av, ok := m[key]
		if !ok {
			continue
		}
		used[key] = true
		if av == nil {
			continue
		}
		text, err := scalarText(av, join(path, key))
		if err != nil {
			return err
		}
		b.buf.WriteString(" " + b.qname(a.Namespace, a.Name) + `="`)
		xmlEscape(&b.buf, text)
		b.buf.WriteString(`"`)
	}
	b.buf.WriteString(">")
	if tv, ok := m["#text"]; ok && (textType != "" || ct.Mixed) {
		used["#text"] = true
		if tv != nil {
			text, err := scalarText(tv, join(path, "#text"))
			if err != nil {
				return err
			}
			xmlEscape(&b.buf, text)
		}
	}
	anyAllowed := false
	for _, c := range contents {
		ok, err := b.content(c, m, used, path, depth, false)
		if err != nil {
			return err
		}
		anyAllowed = anyAllowed || ok
	}
	var extra []string
	for k := range m {
		if !used[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	if anyAllowed {
		// A wildcard takes what the schema does not name, in the
		// element's own namespace unless a key says {namespace}Name.
		for _, k := range extra {
			if strings.HasPrefix(k, "@") || k == "#text" {
				return unknownKeys(m, used, path, b.allowed(contents, attrs, textType != ""))
			}
			ns, local := el.Namespace, k
			if strings.HasPrefix(k, "{") {
				ns, local = splitQN(k)
			}
			if err := b.generic(ns, local, m[k], join(path, k)); err != nil {
				return err
			}
		}
	} else if len(extra) > 0 {
		return unknownKeys(m, used, path, b.allowed(contents, attrs, textType != ""))
	}
	b.buf.WriteString("</" + name + ">")
	return nil
}

// content writes the children a particle describes, in schema order,
// taking values from m. inRepeated is set inside a group that may repeat,
// which lets its elements repeat too. It reports whether the particle has
// a wildcard.
func (b *builder) content(p *Particle, m map[string]any, used map[string]bool, path string, depth int, inRepeated bool) (bool, error) {
	inRepeated = inRepeated || p.Repeated()
	switch p.Kind {
	case KindElement:
		el := b.s.resolve(p.Element)
		if el == nil {
			return false, fmt.Errorf("%s: element %s is not declared", path, p.Element.Ref)
		}
		v, ok := m[el.Name]
		if !ok {
			return false, nil
		}
		used[el.Name] = true
		child := join(path, el.Name)
		if list, isList := v.([]any); isList {
			if !inRepeated && len(list) > 1 {
				return false, fmt.Errorf("%s: %d values given, but the schema allows one", child, len(list))
			}
			if p.MaxOccurs > 1 && len(list) > p.MaxOccurs && !(inRepeated && !p.Repeated()) {
				return false, fmt.Errorf("%s: %d values given, but the schema allows at most %d", child, len(list), p.MaxOccurs)
			}
			for i, item := range list {
				if err := b.writeValue(el, item, fmt.Sprintf("%s[%d]", child, i), depth+1); err != nil {
					return false, err
				}
			}
			return false, nil
		}
		return false, b.writeValue(el, v, child, depth+1)
	case KindSequence, KindAll:
		anyAllowed := false
		for _, it := range p.Items {
			ok, err := b.content(it, m, used, path, depth, inRepeated)
			if err != nil {
				return false, err
			}
			anyAllowed = anyAllowed || ok
		}
		return anyAllowed, nil
	case KindChoice:
		var given []string
		anyAllowed := false
		for _, it := range p.Items {
			names := b.names(it)
			for _, n := range names {
				if _, ok := m[n]; ok && !used[n] {
					given = append(given, n)
					break
				}
			}
			if it.Kind == KindAny {
				anyAllowed = true
			}
		}
		if len(given) > 1 && !inRepeated {
			return false, fmt.Errorf("%s: %s are alternatives (xs:choice); give only one", path, strings.Join(given, " and "))
		}
		for _, it := range p.Items {
			if _, err := b.content(it, m, used, path, depth, inRepeated); err != nil {
				return false, err
			}
		}
		return anyAllowed, nil
	case KindGroup:
		g := b.s.Groups[p.Ref]
		if g == nil {
			return false, fmt.Errorf("%s: group %s is not declared", path, p.Ref)
		}
		if depth > maxBuildDepth {
			return false, fmt.Errorf("%s: groups nest deeper than %d levels", path, maxBuildDepth)
		}
		return b.content(g, m, used, path, depth+1, inRepeated)
	case KindAny:
		return true, nil
	}
	return false, nil
}

// names lists the element names a particle may start with (for choices and
// error messages).
func (b *builder) names(p *Particle) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(*Particle, int)
	walk = func(p *Particle, depth int) {
		if p == nil || depth > 32 {
			return
		}
		switch p.Kind {
		case KindElement:
			if el := b.s.resolve(p.Element); el != nil {
				out = append(out, el.Name)
			}
		case KindGroup:
			if !seen[p.Ref] {
				seen[p.Ref] = true
				walk(b.s.Groups[p.Ref], depth+1)
			}
		default:
			for _, it := range p.Items {
				walk(it, depth+1)
			}
		}
	}
	walk(p, 0)
	return out
}

// allowed lists the keys an element accepts, for error messages.
func (b *builder) allowed(contents []*Particle, attrs []*Attribute, text bool) []string {
	var out []string
	for _, c := range contents {
		out = append(out, b.names(c)...)
	}
	for _, a := range attrs {
		out = append(out, "@"+a.Name)
	}
	if text {
		out = append(out, "#text")
	}
	return out
}

// generic writes a value with no schema to follow: map keys become child
// elements in sorted order (so requests are reproducible), in ns.
func (b *builder) generic(ns, local string, v any, path string) error {
	return b.genericValue(ns, local, b.qname(ns, local), v, path)
}

func (b *builder) genericValue(ns, local, name string, v any, path string) error {
	if list, ok := v.([]any); ok {
		for i, item := range list {
			if err := b.genericValue(ns, local, name, item, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	if b.depth++; b.depth > maxBuildDepth {
		return fmt.Errorf("%s: the value nests deeper than %d levels", path, maxBuildDepth)
	}
	defer func() { b.depth-- }()
	if v == nil {
		b.buf.WriteString("<" + name + " " + b.prefix(xsiNS) + `:nil="true"/>`)
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		text, err := scalarText(v, path)
		if err != nil {
			return err
		}
		b.buf.WriteString("<" + name + ">")
		xmlEscape(&b.buf, text)
		b.buf.WriteString("</" + name + ">")
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.buf.WriteString("<" + name)
	for _, k := range keys {
		if !strings.HasPrefix(k, "@") {
			continue
		}
		text, err := scalarText(m[k], join(path, k))
		if err != nil {
			return err
		}
		an := k[1:]
		if strings.HasPrefix(an, "{") {
			ans, al := splitQN(an)
			an = b.qname(ans, al)
		}
		if !validName(strings.TrimPrefix(an, "xml:")) {
			return fmt.Errorf("%s: %q is not a valid attribute name", path, k)
		}
		b.buf.WriteString(" " + an + `="`)
		xmlEscape(&b.buf, text)
		b.buf.WriteString(`"`)
	}
	b.buf.WriteString(">")
	if t, ok := m["#text"]; ok && t != nil {
		text, err := scalarText(t, join(path, "#text"))
		if err != nil {
			return err
		}
		xmlEscape(&b.buf, text)
	}
	for _, k := range keys {
		if strings.HasPrefix(k, "@") || k == "#text" {
			continue
		}
		cns, cl := ns, k
		if strings.HasPrefix(k, "{") {
			cns, cl = splitQN(k)
		}
		if !validName(cl) {
			return fmt.Errorf("%s: %q is not a valid element name", path, k)
		}
		if err := b.generic(cns, cl, m[k], join(path, k)); err != nil {
			return err
		}
	}
	b.buf.WriteString("</" + name + ">")
	return nil
}

var nameRE = regexp.MustCompile(`^[\p{L}_][\p{L}\p{N}._-]*$`)

func validName(s string) bool { return nameRE.MatchString(s) }

func asMap(v any, path string, allowed []string) (map[string]any, error) {
	if v == nil {
		return map[string]any{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: expects fields (%s), got %s", path, strings.Join(allowed, ", "), describe(v))
	}
	return m, nil
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case string:
		return x == ""
	}
	return false
}

func unknownKeys(m map[string]any, used map[string]bool, path string, allowed []string) error {
	var unknown []string
	for k := range m {
		if !used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	list := "none"
	if len(allowed) > 0 {
		list = strings.Join(allowed, ", ")
	}
	what := "field"
	if len(unknown) > 1 {
		what = "fields"
	}
	return fmt.Errorf("%s: unknown %s %s (allowed: %s)", path, what, strings.Join(quoteAll(unknown), ", "), list)
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strconv.Quote(v)
	}
	return out
}

func describe(v any) string {
	switch v.(type) {
	case map[string]any:
		return "fields"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "nothing"
	}
	return "a " + fmt.Sprintf("%T", v)
}

// scalarText writes a scalar as XML Schema expects it: numbers without an
// exponent, booleans as true/false, times in RFC 3339.
func scalarText(v any, path string) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", fmt.Errorf("%s: %v is not a number XML Schema can carry", path, x)
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case uint:
		return strconv.FormatUint(uint64(x), 10), nil
	case json.Number:
		return x.String(), nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	case map[string]any:
		return "", fmt.Errorf("%s: expects a value, got fields", path)
	case []any:
		return "", fmt.Errorf("%s: expects a value, got a list", path)
	}
	return "", fmt.Errorf("%s: cannot write a %T as text", path, v)
}

// xmlEscape escapes text and attribute values alike: EscapeText also
// escapes quotes, tabs and newlines, which attribute values need to survive
// normalization.
func xmlEscape(w *bytes.Buffer, s string) { _ = xml.EscapeText(w, []byte(s)) }
