package wsdl

import (
	"errors"
	"fmt"
	"strings"
)

// defined is a named WSDL component and the document it came from.
type defined struct {
	doc  *wsdlDoc
	node *node
}

// build turns the loaded documents into Definitions: it indexes messages,
// port types and bindings of every document by QName, then walks the
// services. Ports whose binding is not SOAP (HTTP GET/POST, XML, JMS
// extensions) are left out.
func (l *loader) build(location string) (*Definitions, error) {
	messages, portTypes, bindings := map[string]defined{}, map[string]defined{}, map[string]defined{}
	for _, doc := range l.docs {
		for _, c := range doc.root.children {
			if c.name.Space != wsdlNS {
				continue
			}
			var m map[string]defined
			switch c.name.Local {
			case "message":
				m = messages
			case "portType":
				m = portTypes
			case "binding":
				m = bindings
			default:
				continue
			}
			setOnce(m, qn(doc.tns, c.attr("name")), defined{doc, c})
		}
	}
	root := l.docs[0]
	defs := &Definitions{Name: root.root.attr("name"), TargetNamespace: root.tns, Source: location}
	built := map[string]*Binding{}
	var problems []string
	for _, doc := range l.docs {
		for _, sn := range doc.root.children {
			if !sn.is(wsdlNS, "service") {
				continue
			}
			svc := &Service{Name: sn.attr("name"), Doc: docOf(sn)}
			for _, pn := range sn.children {
				if !pn.is(wsdlNS, "port") {
					continue
				}
				addr, version := "", ""
				if a := pn.child(soap11Bind, "address"); a != nil {
					addr, version = a.attr("location"), SOAP11
				} else if a := pn.child(soap12Bind, "address"); a != nil {
					addr, version = a.attr("location"), SOAP12
				}
				bq, err := qnameAttr(pn, "binding")
				if err != nil {
					return nil, docError(doc.location, pn, "port %q: %v", pn.attr("name"), err)
				}
				b, ok := built[bq]
				if !ok {
					bd, found := bindings[bq]
					if !found {
						return nil, docError(doc.location, pn, "port %q refers to binding %s, which no document defines", pn.attr("name"), bq)
					}
					b, err = l.binding(bd, messages, portTypes)
					if err != nil {
						return nil, err
					}
					built[bq] = b
				}
				if b == nil {
					continue // not a SOAP port
				}
				if version != "" && b.SOAPVersion != version {
					problems = append(problems, fmt.Sprintf("port %q has a SOAP %s address but a SOAP %s binding", pn.attr("name"), version, b.SOAPVersion))
				}
				svc.Ports = append(svc.Ports, &Port{Name: pn.attr("name"), Address: addr, Binding: b})
			}
			if len(svc.Ports) > 0 {
				defs.Services = append(defs.Services, svc)
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", displayName(location), strings.Join(problems, "; "))
	}
	if len(defs.Services) == 0 {
		return nil, fmt.Errorf("%s: no service has a SOAP 1.1 or SOAP 1.2 port", displayName(location))
	}
	// Every declaration an operation reaches must exist: finding out here,
	// while loading the project, beats failing a step at run time.
	c := newCollector(l.schema)
	for _, b := range built {
		if b == nil {
			continue
		}
		for _, op := range b.Operations {
			c.operation(op)
		}
	}
	if p := c.problems(); len(p) > 0 {
		return nil, fmt.Errorf("%s: undefined schema declarations: %s", displayName(location), strings.Join(p, "; "))
	}
	defs.Schema = l.schema
	return defs, nil
}

func qnameAttr(n *node, attr string) (string, error) {
	v := n.attr(attr)
	if v == "" {
		return "", fmt.Errorf("no %s attribute", attr)
	}
	ns, local, err := n.resolveQName(v)
	if err != nil {
		return "", err
	}
	return qn(ns, local), nil
}

func docOf(n *node) string {
	if d := n.child(wsdlNS, "documentation"); d != nil {
		return strings.Join(strings.Fields(d.text), " ")
	}
	return ""
}

// binding builds a SOAP binding, or returns nil for a binding of another
// kind.
func (l *loader) binding(bd defined, messages, portTypes map[string]defined) (*Binding, error) {
	n, doc := bd.node, bd.doc
	var sb *node
	version := ""
	if sb = n.child(soap11Bind, "binding"); sb != nil {
		version = SOAP11
	} else if sb = n.child(soap12Bind, "binding"); sb != nil {
		version = SOAP12
	} else {
		return nil, nil
	}
	bindNS := soap11Bind
	if version == SOAP12 {
		bindNS = soap12Bind
	}
	b := &Binding{Name: n.attr("name"), Namespace: doc.tns, SOAPVersion: version, Style: sb.attr("style"), Transport: sb.attr("transport")}
	ptq, err := qnameAttr(n, "type")
	if err != nil {
		return nil, docError(doc.location, n, "binding %q: %v", b.Name, err)
	}
	b.PortType = ptq
	pt, ok := portTypes[ptq]
	if !ok {
		return nil, docError(doc.location, n, "binding %q refers to port type %s, which no document defines", b.Name, ptq)
	}
	if b.Style == "" {
		b.Style = "document"
	}
	for _, on := range n.children {
		if !on.is(wsdlNS, "operation") {
			continue
		}
		name := on.attr("name")
		var abstract *node
		for _, c := range pt.node.children {
			if c.is(wsdlNS, "operation") && c.attr("name") == name {
				abstract = c
				break
			}
		}
		if abstract == nil {
			return nil, docError(doc.location, on, "binding %q has operation %q, which port type %s does not declare", b.Name, name, ptq)
		}
		op := &Operation{Name: name, Doc: docOf(abstract), SOAPVersion: version, Style: b.Style, Use: "literal"}
		if so := on.child(bindNS, "operation"); so != nil {
			op.SOAPAction = so.attr("soapAction")
			if s := so.attr("style"); s != "" {
				op.Style = s
			}
		}
		if op.Style != "document" && op.Style != "rpc" {
			return nil, docError(doc.location, on, "operation %q has style %q (document or rpc)", name, op.Style)
		}
		for _, dir := range []string{"input", "output"} {
			an := abstract.child(wsdlNS, dir)
			if an == nil {
				continue
			}
			msg, err := l.message(pt.doc, an, on.child(wsdlNS, dir), bindNS, op, messages)
			if err != nil {
				return nil, docError(doc.location, on, "operation %q %s: %v", name, dir, err)
			}
			if dir == "input" {
				op.Input = msg
			} else {
				op.Output = msg
			}
		}
		for _, f := range abstract.children {
			if !f.is(wsdlNS, "fault") {
				continue
			}
			fault := &Message{Name: f.attr("name")}
			if fq, err := qnameAttr(f, "message"); err == nil {
				if md, ok := messages[fq]; ok {
					if fault.Parts, err = partsOf(md.node); err != nil {
						return nil, docError(doc.location, on, "operation %q fault %q: %v", name, fault.Name, err)
					}
				}
			}
			op.Faults = append(op.Faults, fault)
		}
		if op.Style == "rpc" && op.Namespace == "" {
			// WS-I asks rpc bindings to name the wrapper namespace; stacks
			// that omit it use the target namespace of the definitions.
			op.Namespace = doc.tns
		}
		b.Operations = append(b.Operations, op)
	}
	return b, nil
}

// message builds the input or output of an operation from the abstract
// message and the binding's soap:body and soap:header.
func (l *loader) message(ptDoc *wsdlDoc, abstract, bound *node, bindNS string, op *Operation, messages map[string]defined) (*Message, error) {
	mq, err := qnameAttr(abstract, "message")
	if err != nil {
		return nil, err
	}
	md, ok := messages[mq]
	if !ok {
		return nil, fmt.Errorf("message %s is not defined", mq)
	}
	parts, err := partsOf(md.node)
	if err != nil {
		return nil, fmt.Errorf("message %s: %v", mq, err)
	}
	msg := &Message{Name: localOf(mq)}
	var bodyParts []string
	headerParts := map[string]bool{}
	if bound != nil {
		if body := bound.child(bindNS, "body"); body != nil {
			if u := body.attr("use"); u != "" {
				op.Use = u
			}
			if ns := body.attr("namespace"); ns != "" && op.Namespace == "" {
				op.Namespace = ns
			}
			if body.hasAttr("parts") {
				bodyParts = strings.Fields(body.attr("parts"))
				if bodyParts == nil {
					bodyParts = []string{}
				}
			}
		}
		for _, h := range bound.children {
			if !h.is(bindNS, "header") {
				continue
			}
			hq, err := qnameAttr(h, "message")
			if err != nil {
				return nil, fmt.Errorf("soap:header: %v", err)
			}
			hd, ok := messages[hq]
			if !ok {
				return nil, fmt.Errorf("soap:header refers to message %s, which is not defined", hq)
			}
			hparts, err := partsOf(hd.node)
			if err != nil {
				return nil, fmt.Errorf("message %s: %v", hq, err)
			}
			name := h.attr("part")
			var found *Part
			for _, p := range hparts {
				if p.Name == name {
					found = p
				}
			}
			if found == nil {
				return nil, fmt.Errorf("soap:header names part %q, which message %s does not have", name, hq)
			}
			msg.Headers = append(msg.Headers, found)
			if hq == mq {
				headerParts[name] = true
			}
		}
	}
	for _, p := range parts {
		if headerParts[p.Name] {
			continue
		}
		if bodyParts != nil && !contains(bodyParts, p.Name) {
			continue
		}
		if op.Style == "document" && p.Element == "" && p.Type == "" {
			return nil, errors.New("part " + p.Name + " has neither element nor type")
		}
		msg.Parts = append(msg.Parts, p)
	}
	return msg, nil
}

func partsOf(m *node) ([]*Part, error) {
	var parts []*Part
	for _, pn := range m.children {
		if !pn.is(wsdlNS, "part") {
			continue
		}
		p := &Part{Name: pn.attr("name")}
		if pn.attr("element") != "" {
			q, err := qnameAttr(pn, "element")
			if err != nil {
				return nil, fmt.Errorf("part %q: %v", p.Name, err)
			}
			p.Element = q
		}
		if pn.attr("type") != "" {
			q, err := qnameAttr(pn, "type")
			if err != nil {
				return nil, fmt.Errorf("part %q: %v", p.Name, err)
			}
			p.Type = q
		}
		parts = append(parts, p)
	}
	return parts, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
