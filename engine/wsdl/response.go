package wsdl

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Response is a parsed SOAP response.
type Response struct {
	SOAPVersion string `json:"soap_version"`
	// Header holds the header blocks by local name.
	Header map[string]any `json:"header,omitempty"`
	// Body holds the body's elements by local name: for
	// <GetOrderStatusResponse><Status>…, Body["GetOrderStatusResponse"] is
	// a map with "Status".
	Body map[string]any `json:"body,omitempty"`
	// Fault is set when the body is a fault.
	Fault *Fault `json:"fault,omitempty"`
}

// Fault is a SOAP fault, from SOAP 1.1 (faultcode, faultstring,
// faultactor, detail) or SOAP 1.2 (Code/Value, Subcode, Reason/Text, Node,
// Role, Detail).
type Fault struct {
	SOAPVersion string `json:"soap_version"`
	// Code is the local part of the fault code: Client, Server, Sender,
	// Receiver, VersionMismatch, MustUnderstand, a dotted SOAP 1.1 form
	// such as Client.Authentication, or an application-defined code.
	Code string `json:"code"`
	// CodeNamespace is the namespace of the code; the envelope namespace
	// for the standard codes.
	CodeNamespace string `json:"code_ns,omitempty"`
	// Subcodes are the local parts of SOAP 1.2 subcodes, outermost first.
	Subcodes []string `json:"subcodes,omitempty"`
	// String is the human-readable reason, in English when several
	// languages are given.
	String string `json:"string"`
	Actor  string `json:"actor,omitempty"`
	Node   string `json:"node,omitempty"`
	// Detail is the detail element's content as a tree.
	Detail any `json:"detail,omitempty"`
}

// Error describes the fault with the partner's words.
func (f *Fault) Error() string {
	code := f.Code
	if len(f.Subcodes) > 0 {
		code += "/" + strings.Join(f.Subcodes, "/")
	}
	if f.String == "" {
		return "soap fault " + code
	}
	return "soap fault " + code + ": " + f.String
}

// IsClient reports whether the fault blames the request (SOAP 1.1 Client,
// SOAP 1.2 Sender, the protocol faults VersionMismatch, MustUnderstand and
// DataEncodingUnknown, and the WS-Security codes such as
// wsse:FailedAuthentication that SOAP 1.1 services put in faultcode):
// sending it again will fail again. Any other code, application-defined
// ones included, counts as a server fault that a retry may get past; so
// does wsse:MessageExpired, which a fresh timestamp cures.
func (f *Fault) IsClient() bool {
	if f.CodeNamespace == wsseNS {
		return f.Code != "MessageExpired"
	}
	if f.CodeNamespace != "" && f.CodeNamespace != soap11EnvNS && f.CodeNamespace != soap12EnvNS {
		return false
	}
	base, _, _ := strings.Cut(f.Code, ".")
	switch base {
	case "Client", "Sender", "VersionMismatch", "MustUnderstand", "DataEncodingUnknown":
		return true
	}
	return false
}

// ParseResponse reads a SOAP 1.1 or 1.2 response. Elements are keyed by
// local name; an element that repeats, or that the schema allows to repeat,
// is a list even when it occurs once; xsi:nil is nil; attributes are keyed
// "@name" and the text of an element with attributes "#text". Values of
// boolean, integer and float/double types become booleans and numbers;
// everything else, decimals included (their digits matter), stays a string.
//
// A fault is detected from the envelope whatever the HTTP status: the
// Response then has Fault set and the error is that *Fault. DTDs are
// refused; depth and element count are limited; the caller caps the size.
// op and defs may be nil: the tree is then built without the schema.
func ParseResponse(data []byte, op *Operation, defs *Definitions) (*Response, error) {
	root, err := parseTree(data)
	if err != nil {
		return nil, err
	}
	var version string
	switch {
	case root.is(soap11EnvNS, "Envelope"):
		version = SOAP11
	case root.is(soap12EnvNS, "Envelope"):
		version = SOAP12
	default:
		return nil, fmt.Errorf("the response is not a SOAP envelope: its root element is <%s> in namespace %q", root.name.Local, root.name.Space)
	}
	envNS := root.name.Space
	r := &reader{}
	if defs != nil {
		r.s = defs.Schema
	}
	if r.s == nil {
		r.s = &Schema{}
	}
	res := &Response{SOAPVersion: version}
	if h := root.child(envNS, "Header"); h != nil && len(h.children) > 0 {
		res.Header = r.elements(h.children, func(n *node) *Element { return r.s.element(qn(n.name.Space, n.name.Local)) })
	}
	body := root.child(envNS, "Body")
	if body == nil {
		return nil, errors.New("the SOAP envelope has no Body")
	}
	for _, c := range body.children {
		if c.is(envNS, "Fault") {
			f := r.fault(c, version)
			res.Fault = f
			return res, f
		}
	}
	res.Body = r.elements(body.children, r.bodyDecl(op))
	return res, nil
}

type reader struct {
	s     *Schema
	index map[*ComplexType]map[string]childDecl
}

// bodyDecl finds the declaration of a body child: the output part's
// element for document style, the wrapper of rpc style.
func (r *reader) bodyDecl(op *Operation) func(*node) *Element {
	return func(n *node) *Element {
		if op == nil || op.Output == nil {
			return r.s.element(qn(n.name.Space, n.name.Local))
		}
		if op.Style == "rpc" {
			// The wrapper's children are the parts, typed by the message.
			seq := &Particle{Kind: KindSequence, MinOccurs: 1, MaxOccurs: 1}
			for _, p := range op.Output.Parts {
				el := &Element{Name: p.Name, Type: p.Type}
				if p.Element != "" {
					if g := r.s.element(p.Element); g != nil {
						el = &Element{Name: p.Name, Type: g.Type, Complex: g.Complex, Simple: g.Simple, Nillable: g.Nillable}
					}
				}
				seq.Items = append(seq.Items, &Particle{Kind: KindElement, Element: el, MinOccurs: 1, MaxOccurs: 1})
			}
			return &Element{Name: n.name.Local, Complex: &ComplexType{Content: seq}}
		}
		for _, p := range op.Output.Parts {
			if p.Element == "" {
				if p.Name == n.name.Local {
					return &Element{Name: p.Name, Type: p.Type}
				}
				continue
			}
			ns, local := splitQN(p.Element)
			if local == n.name.Local && (ns == n.name.Space || n.name.Space == "") {
				return r.s.element(p.Element)
			}
		}
		return r.s.element(qn(n.name.Space, n.name.Local))
	}
}

// elements turns sibling elements into a map by local name.
func (r *reader) elements(nodes []*node, decl func(*node) *Element) map[string]any {
	out := map[string]any{}
	for _, c := range nodes {
		v := r.value(c, decl(c))
		add(out, c.name.Local, v, false)
	}
	return out
}

// add puts a value under key, turning the entry into a list when the key
// repeats or the schema says it may. Values themselves are never lists, so
// a list found under key is one add made.
func add(m map[string]any, key string, v any, repeated bool) {
	prev, ok := m[key]
	switch {
	case !ok && repeated:
		m[key] = []any{v}
	case !ok:
		m[key] = v
	default:
		if list, isList := prev.([]any); isList {
			m[key] = append(list, v)
			return
		}
		m[key] = []any{prev, v}
	}
}

func (r *reader) value(n *node, el *Element) any {
	if nilAttr, ok := n.attrNS(xsiNS, "nil"); ok && (nilAttr == "true" || nilAttr == "1") {
		return nil
	}
	el = r.s.resolve(el)
	ti := r.s.typeOfElement(el)
	if el == nil {
		ti = typeInfo{simple: "string"}
	}
	attrs := map[string]any{}
	for _, a := range n.attrs {
		if a.Name.Space == xsiNS {
			continue
		}
		attrs["@"+a.Name.Local] = a.Value
	}
	if len(n.children) == 0 {
		text := n.text
		var scalar any = text
		if ti.complex != nil {
			if tt := r.s.textType(ti.complex); tt != "" {
				scalar = typed(text, tt)
			} else if !ti.complex.Mixed || strings.TrimSpace(text) == "" {
				// An element of a complex type reads as a map even when it
				// arrives empty, so paths into it do not fail on a string.
				return attrs
			}
		} else {
			scalar = typed(text, ti.simple)
		}
		if len(attrs) == 0 {
			return scalar
		}
		attrs["#text"] = scalar
		return attrs
	}
	var kids map[string]childDecl
	if ti.complex != nil {
		if r.index == nil {
			r.index = map[*ComplexType]map[string]childDecl{}
		}
		if kids = r.index[ti.complex]; kids == nil {
			kids, _ = r.s.children(ti.complex)
			r.index[ti.complex] = kids
		}
	}
	out := attrs
	for _, c := range n.children {
		d, known := kids[c.name.Local]
		var cel *Element
		if known {
			cel = d.el
		} else {
			// Wildcard content may still be a global element.
			cel = r.s.element(qn(c.name.Space, c.name.Local))
		}
		add(out, c.name.Local, r.value(c, cel), known && d.repeated)
	}
	if t := strings.TrimSpace(n.text); t != "" {
		out["#text"] = t
	}
	return out
}

// typed converts text of a built-in type into a JSON-friendly value.
func typed(text, builtin string) any {
	t := strings.TrimSpace(text)
	switch {
	case booleanTypes[builtin]:
		switch t {
		case "true", "1":
			return true
		case "false", "0":
			return false
		}
	case integerTypes[builtin]:
		// Beyond 2^53 a JSON number loses digits: keep such values as text.
		if n, err := strconv.ParseInt(t, 10, 64); err == nil && n <= 1<<53 && n >= -(1<<53) {
			return n
		}
	case floatTypes[builtin]:
		if f, err := strconv.ParseFloat(t, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	}
	return text
}

func (r *reader) fault(n *node, version string) *Fault {
	f := &Fault{SOAPVersion: version}
	global := func(c *node) *Element { return r.s.element(qn(c.name.Space, c.name.Local)) }
	if version == SOAP11 {
		if c := n.childLocal("faultcode"); c != nil {
			f.CodeNamespace, f.Code = qnameText(c)
		}
		if c := n.childLocal("faultstring"); c != nil {
			f.String = strings.TrimSpace(c.text)
		}
		if c := n.childLocal("faultactor"); c != nil {
			f.Actor = strings.TrimSpace(c.text)
		}
		if c := n.childLocal("detail"); c != nil {
			f.Detail = r.detail(c, global)
		}
		return f
	}
	if code := n.childLocal("Code"); code != nil {
		if v := code.childLocal("Value"); v != nil {
			f.CodeNamespace, f.Code = qnameText(v)
		}
		sub := code.childLocal("Subcode")
		for i := 0; sub != nil && i < 16; i++ {
			if v := sub.childLocal("Value"); v != nil {
				_, local := qnameText(v)
				f.Subcodes = append(f.Subcodes, local)
			}
			sub = sub.childLocal("Subcode")
		}
	}
	if reason := n.childLocal("Reason"); reason != nil {
		for _, t := range reason.children {
			if t.name.Local != "Text" {
				continue
			}
			lang, _ := t.attrNS(xmlNS, "lang")
			if f.String == "" || strings.HasPrefix(strings.ToLower(lang), "en") {
				f.String = strings.TrimSpace(t.text)
			}
			if strings.HasPrefix(strings.ToLower(lang), "en") {
				break
			}
		}
	}
	if c := n.childLocal("Node"); c != nil {
		f.Node = strings.TrimSpace(c.text)
	}
	if c := n.childLocal("Role"); c != nil {
		f.Actor = strings.TrimSpace(c.text)
	}
	if c := n.childLocal("Detail"); c != nil {
		f.Detail = r.detail(c, global)
	}
	return f
}

func (r *reader) detail(n *node, decl func(*node) *Element) any {
	if len(n.children) == 0 {
		if t := strings.TrimSpace(n.text); t != "" {
			return t
		}
		return nil
	}
	return r.elements(n.children, decl)
}

// qnameText resolves a QName written as element text (faultcode,
// Code/Value). An undeclared prefix leaves the namespace empty.
func qnameText(n *node) (ns, local string) {
	ns, local, err := n.resolveQName(n.text)
	if err != nil {
		return "", local
	}
	return ns, local
}
