package mock

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"

	"github.com/outflow-dev/outflow/engine"
)

const (
	soap11NS = "http://schemas.xmlsoap.org/soap/envelope/"
	soap12NS = "http://www.w3.org/2003/05/soap-envelope"
	xsiNS    = "http://www.w3.org/2001/XMLSchema-instance"
)

// soap12FaultParts are the elements of a SOAP 1.2 fault that belong to the
// envelope's namespace; what Detail holds belongs to the service.
var soap12FaultParts = map[string]bool{"Code": true, "Subcode": true, "Value": true, "Reason": true, "Text": true, "Node": true, "Role": true, "Detail": true}

var xmlName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]*$`)

// Envelope writes a SOAP envelope ("1.1" or "1.2") whose Body holds body,
// a tree shaped as a soap step reads a response: a mapping of element names
// to values, where a list repeats an element, "@name" keys are attributes,
// "#text" is the text of an element that has attributes, and nil is
// xsi:nil. Elements are written without a namespace, which the step's
// reader accepts for the operation's response element and reads by local
// name below it. A top-level "Fault" is the SOAP fault, in the envelope's
// namespace; its codes may name that namespace with the prefix soap, as in
// {Fault: {faultcode: soap:Client, faultstring: no such order}}.
func Envelope(version string, body any) ([]byte, error) {
	m, ok := body.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the body of a SOAP mock is a mapping of element names to values, or a whole envelope as a string; got %s", kindOf(body))
	}
	ns := soap11NS
	if version == "1.2" {
		ns = soap12NS
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	fmt.Fprintf(&b, `<soap:Envelope xmlns:soap="%s" xmlns:xsi="%s"><soap:Body>`, ns, xsiNS)
	w := &xmlWriter{b: &b, soap12: version == "1.2"}
	for _, k := range sortedKeys(m) {
		name := k
		if k == "Fault" {
			name = "soap:Fault"
		}
		if err := w.element(name, k, m[k], k == "Fault" && w.soap12); err != nil {
			return nil, err
		}
	}
	b.WriteString("</soap:Body></soap:Envelope>\n")
	return b.Bytes(), nil
}

type xmlWriter struct {
	b      *bytes.Buffer
	soap12 bool
}

// element writes the element name holding v; qualify puts the SOAP 1.2
// fault parts among its children in the envelope's namespace.
func (w *xmlWriter) element(name, path string, v any, qualify bool) error {
	local := strings.TrimPrefix(name, "soap:")
	if !xmlName.MatchString(local) {
		return fmt.Errorf("%s: %q is not an XML element name", path, local)
	}
	if list, ok := v.([]any); ok {
		for i, e := range list {
			if err := w.element(name, fmt.Sprintf("%s[%d]", path, i), e, qualify); err != nil {
				return err
			}
		}
		return nil
	}
	w.b.WriteString("<" + name)
	m, isMap := v.(map[string]any)
	if v == nil {
		w.b.WriteString(` xsi:nil="true"/>`)
		return nil
	}
	var text any
	if isMap {
		for _, k := range sortedKeys(m) {
			attr, ok := strings.CutPrefix(k, "@")
			if !ok {
				continue
			}
			if !xmlName.MatchString(attr) {
				return fmt.Errorf("%s: %q is not an XML attribute name", path, attr)
			}
			w.b.WriteString(" " + attr + `="`)
			_ = xml.EscapeText(w.b, []byte(engine.Stringify(m[k])))
			w.b.WriteString(`"`)
		}
		text = m["#text"]
	} else {
		text = v
	}
	w.b.WriteString(">")
	if text != nil {
		_ = xml.EscapeText(w.b, []byte(engine.Stringify(text)))
	}
	if isMap {
		for _, k := range sortedKeys(m) {
			if strings.HasPrefix(k, "@") || k == "#text" {
				continue
			}
			child := k
			inner := false
			if qualify && soap12FaultParts[k] {
				child = "soap:" + k
				inner = k != "Detail"
			}
			if err := w.element(child, path+"."+k, m[k], inner); err != nil {
				return err
			}
		}
	}
	w.b.WriteString("</" + name + ">")
	return nil
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case []any:
		return "a list"
	case bool:
		return "a boolean"
	case float64, int, int64:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}
