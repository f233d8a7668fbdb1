package wsdl

import (
	"fmt"
	"sort"
	"strings"
)

// Namespaces this package reads and writes.
const (
	wsdlNS      = "http://schemas.xmlsoap.org/wsdl/"
	wsdl20NS    = "http://www.w3.org/ns/wsdl"
	soap11Bind  = "http://schemas.xmlsoap.org/wsdl/soap/"
	soap12Bind  = "http://schemas.xmlsoap.org/wsdl/soap12/"
	xsdNS       = "http://www.w3.org/2001/XMLSchema"
	xsiNS       = "http://www.w3.org/2001/XMLSchema-instance"
	xmlNS       = "http://www.w3.org/XML/1998/namespace"
	soapEncNS   = "http://schemas.xmlsoap.org/soap/encoding/"
	soap11EnvNS = "http://schemas.xmlsoap.org/soap/envelope/"
	soap12EnvNS = "http://www.w3.org/2003/05/soap-envelope"
)

// SOAP versions as Operation.SOAPVersion names them.
const (
	SOAP11 = "1.1"
	SOAP12 = "1.2"
)

// Definitions is a parsed WSDL 1.1 document with its imports resolved: the
// services, ports, bindings and operations it describes, and the schema
// declarations their messages need. It is plain data that survives a JSON
// round trip, so it can travel inside a workflow plan and a worker can build
// requests and read responses without the WSDL files.
//
// A Definitions is not modified after Parse returns; it is safe for
// concurrent use.
type Definitions struct {
	// Name and TargetNamespace are those of the root document.
	Name            string `json:"name,omitempty"`
	TargetNamespace string `json:"target_namespace,omitempty"`
	// Source is the location the root document was read from.
	Source string `json:"source,omitempty"`
	// Services are in document order. Only SOAP 1.1 and 1.2 ports are kept.
	Services []*Service `json:"services"`
	Schema   *Schema    `json:"schema"`
}

// Service is a wsdl:service.
type Service struct {
	Name  string  `json:"name"`
	Doc   string  `json:"doc,omitempty"`
	Ports []*Port `json:"ports"`
}

// Port is a wsdl:port: a binding at an address.
type Port struct {
	Name    string   `json:"name"`
	Address string   `json:"address,omitempty"`
	Binding *Binding `json:"binding"`
}

// Binding is a SOAP binding of a port type.
type Binding struct {
	Name        string       `json:"name"`
	Namespace   string       `json:"ns,omitempty"`
	PortType    string       `json:"port_type,omitempty"`
	SOAPVersion string       `json:"soap_version"`
	Style       string       `json:"style,omitempty"`
	Transport   string       `json:"transport,omitempty"`
	Operations  []*Operation `json:"operations"`
}

// Operation is one operation of a binding, with everything needed to build
// its request and read its response.
type Operation struct {
	Name        string `json:"name"`
	Doc         string `json:"doc,omitempty"`
	SOAPVersion string `json:"soap_version"`
	SOAPAction  string `json:"soap_action,omitempty"`
	// Style is "document" or "rpc".
	Style string `json:"style"`
	// Use is "literal" or "encoded" (requests are built as literal XML with
	// the SOAP encoding style declared; no xsi:type is written).
	Use string `json:"use"`
	// Namespace is the namespace of the rpc wrapper elements.
	Namespace string   `json:"ns,omitempty"`
	Input     *Message `json:"input,omitempty"`
	// Output is nil for one-way operations.
	Output *Message `json:"output,omitempty"`
	// Faults are the declared faults, named as the port type names them;
	// their parts type the fault detail.
	Faults []*Message `json:"faults,omitempty"`
}

// Message is the input or output of an operation.
type Message struct {
	// Name is the wsdl:message name.
	Name string `json:"name"`
	// Parts go in the SOAP body, in order.
	Parts []*Part `json:"parts,omitempty"`
	// Headers are the header blocks the binding declares.
	Headers []*Part `json:"headers,omitempty"`
}

// Part is a message part: a global element (document style) or a typed
// accessor (rpc style). Element and Type are "{namespace}local".
type Part struct {
	Name    string `json:"name"`
	Element string `json:"element,omitempty"`
	Type    string `json:"type,omitempty"`
}

// Schema holds the XML Schema declarations messages refer to, keyed by
// "{namespace}local".
type Schema struct {
	Elements        map[string]*Element        `json:"elements,omitempty"`
	ComplexTypes    map[string]*ComplexType    `json:"complex_types,omitempty"`
	SimpleTypes     map[string]*SimpleType     `json:"simple_types,omitempty"`
	Groups          map[string]*Particle       `json:"groups,omitempty"`
	AttributeGroups map[string]*AttributeGroup `json:"attribute_groups,omitempty"`
	Attributes      map[string]*Attribute      `json:"attributes,omitempty"`
}

// Element is an element declaration. A reference to a global element has
// only Ref set.
type Element struct {
	Name string `json:"name,omitempty"`
	// Namespace is the namespace the element is written in: the target
	// namespace for global and qualified local elements, "" for unqualified.
	Namespace string       `json:"ns,omitempty"`
	Ref       string       `json:"ref,omitempty"`
	Type      string       `json:"type,omitempty"`
	Nillable  bool         `json:"nillable,omitempty"`
	Complex   *ComplexType `json:"complex,omitempty"`
	Simple    *SimpleType  `json:"simple,omitempty"`
}

// ComplexType is an xs:complexType, named or anonymous.
type ComplexType struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"ns,omitempty"`
	// Base is the type a complexContent extension extends: its content comes
	// first, then Content.
	Base string `json:"base,omitempty"`
	// Content is a sequence, choice, all or group reference; nil when the
	// type has no child elements.
	Content         *Particle    `json:"content,omitempty"`
	Attributes      []*Attribute `json:"attributes,omitempty"`
	AttributeGroups []string     `json:"attribute_groups,omitempty"`
	// Text is the type of the text content of a simpleContent type.
	Text  string `json:"text,omitempty"`
	Mixed bool   `json:"mixed,omitempty"`
	// ArrayOf is the item type of a SOAP-encoded array.
	ArrayOf string `json:"array_of,omitempty"`
}

// SimpleType is an xs:simpleType reduced to what requests and skeletons
// need: its base, enumeration values and whether it is a list.
type SimpleType struct {
	Name      string   `json:"name,omitempty"`
	Namespace string   `json:"ns,omitempty"`
	Base      string   `json:"base,omitempty"`
	Enum      []string `json:"enum,omitempty"`
	List      bool     `json:"list,omitempty"`
}

// Particle kinds.
const (
	KindElement  = "element"
	KindSequence = "sequence"
	KindChoice   = "choice"
	KindAll      = "all"
	KindGroup    = "group"
	KindAny      = "any"
)

// Unbounded is MaxOccurs for maxOccurs="unbounded".
const Unbounded = -1

// Particle is one piece of a content model: an element, a nested
// sequence/choice/all, a reference to a named group or a wildcard.
type Particle struct {
	Kind      string      `json:"kind"`
	Element   *Element    `json:"element,omitempty"`
	Items     []*Particle `json:"items,omitempty"`
	Ref       string      `json:"ref,omitempty"`
	MinOccurs int         `json:"min"`
	MaxOccurs int         `json:"max"`
}

// Repeated reports whether the particle may occur more than once.
func (p *Particle) Repeated() bool { return p.MaxOccurs == Unbounded || p.MaxOccurs > 1 }

// Attribute is an attribute declaration or reference.
type Attribute struct {
	Name      string `json:"name,omitempty"`
	Namespace string `json:"ns,omitempty"`
	Ref       string `json:"ref,omitempty"`
	Type      string `json:"type,omitempty"`
	Required  bool   `json:"required,omitempty"`
	Fixed     string `json:"fixed,omitempty"`
}

// AttributeGroup is a named xs:attributeGroup.
type AttributeGroup struct {
	Attributes []*Attribute `json:"attributes,omitempty"`
	Groups     []string     `json:"groups,omitempty"`
}

// qn writes a qualified name as "{namespace}local".
func qn(ns, local string) string { return "{" + ns + "}" + local }

// splitQN reads "{namespace}local"; a plain name has no namespace.
func splitQN(q string) (ns, local string) {
	if strings.HasPrefix(q, "{") {
		if i := strings.IndexByte(q, '}'); i > 0 {
			return q[1:i], q[i+1:]
		}
	}
	return "", q
}

// localOf returns the local part of "{namespace}local".
func localOf(q string) string { _, l := splitQN(q); return l }

// Lookup finds an operation. Empty service and port names pick the first,
// in document order, that has the operation. Errors list what exists.
func (d *Definitions) Lookup(service, port, operation string) (*Service, *Port, *Operation, error) {
	if d == nil {
		return nil, nil, nil, fmt.Errorf("no WSDL definitions")
	}
	if len(d.Services) == 0 {
		return nil, nil, nil, fmt.Errorf("WSDL %s defines no service with a SOAP port", d.label())
	}
	var services []*Service
	for _, s := range d.Services {
		if service == "" || s.Name == service {
			services = append(services, s)
		}
	}
	if len(services) == 0 {
		return nil, nil, nil, fmt.Errorf("WSDL %s has no service %q (services: %s)", d.label(), service, strings.Join(d.serviceNames(), ", "))
	}
	portSeen := false
	for _, s := range services {
		for _, p := range s.Ports {
			if port != "" && p.Name != port {
				continue
			}
			portSeen = true
			for _, op := range p.Binding.Operations {
				if op.Name == operation {
					return s, p, op, nil
				}
			}
		}
	}
	if port != "" && !portSeen {
		var names []string
		for _, s := range services {
			for _, p := range s.Ports {
				names = append(names, p.Name)
			}
		}
		return nil, nil, nil, fmt.Errorf("WSDL %s has no SOAP port %q (ports: %s)", d.label(), port, strings.Join(names, ", "))
	}
	ops := map[string]bool{}
	for _, s := range services {
		for _, p := range s.Ports {
			if port != "" && p.Name != port {
				continue
			}
			for _, op := range p.Binding.Operations {
				ops[op.Name] = true
			}
		}
	}
	names := make([]string, 0, len(ops))
	hint := ""
	for n := range ops {
		names = append(names, n)
		if strings.EqualFold(n, operation) {
			hint = fmt.Sprintf("; did you mean %q?", n)
		}
	}
	sort.Strings(names)
	return nil, nil, nil, fmt.Errorf("WSDL %s has no operation %q (operations: %s)%s", d.label(), operation, strings.Join(names, ", "), hint)
}

func (d *Definitions) label() string {
	if d.Source != "" {
		return d.Source
	}
	if d.Name != "" {
		return d.Name
	}
	return d.TargetNamespace
}

func (d *Definitions) serviceNames() []string {
	names := make([]string, len(d.Services))
	for i, s := range d.Services {
		names[i] = s.Name
	}
	return names
}

// Subset returns definitions that hold only one operation on one port and
// the schema declarations its messages reach. A plan carries a subset so
// that a large WSDL does not weigh on every workflow history.
func (d *Definitions) Subset(service, port, operation string) (*Definitions, error) {
	s, p, op, err := d.Lookup(service, port, operation)
	if err != nil {
		return nil, err
	}
	b := *p.Binding
	b.Operations = []*Operation{op}
	out := &Definitions{
		Name:            d.Name,
		TargetNamespace: d.TargetNamespace,
		Source:          d.Source,
		Services:        []*Service{{Name: s.Name, Doc: s.Doc, Ports: []*Port{{Name: p.Name, Address: p.Address, Binding: &b}}}},
	}
	c := newCollector(d.Schema)
	c.operation(op)
	out.Schema = c.out
	return out, nil
}
