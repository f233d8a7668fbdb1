package wsdl

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// OperationInfo is one row of Operations: an operation as a port offers
// it.
type OperationInfo struct {
	Service     string `json:"service"`
	Port        string `json:"port"`
	Binding     string `json:"binding"`
	Operation   string `json:"operation"`
	SOAPVersion string `json:"soap_version"`
	Style       string `json:"style"`
	Use         string `json:"use"`
	SOAPAction  string `json:"soap_action,omitempty"`
	Address     string `json:"address,omitempty"`
	// Input and Output name the body: "{ns}Element" for document style,
	// "rpc {ns}Operation(part, ...)" for rpc style; Output is empty for
	// one-way operations.
	Input  string `json:"input"`
	Output string `json:"output,omitempty"`
	Doc    string `json:"doc,omitempty"`
}

// Operations lists every operation of every SOAP port, in document order.
func Operations(defs *Definitions) []OperationInfo {
	var out []OperationInfo
	for _, s := range defs.Services {
		for _, p := range s.Ports {
			for _, op := range p.Binding.Operations {
				out = append(out, OperationInfo{
					Service: s.Name, Port: p.Name, Binding: p.Binding.Name, Operation: op.Name,
					SOAPVersion: op.SOAPVersion, Style: op.Style, Use: op.Use, SOAPAction: op.SOAPAction,
					Address: p.Address, Input: describeMessage(op, op.Input, op.Name), Output: describeMessage(op, op.Output, op.Name+"Response"),
					Doc: op.Doc,
				})
			}
		}
	}
	return out
}

func describeMessage(op *Operation, m *Message, wrapper string) string {
	if m == nil {
		return ""
	}
	if op.Style == "rpc" {
		return "rpc " + qn(op.Namespace, wrapper) + "(" + strings.Join(partNames(m.Parts, false), ", ") + ")"
	}
	var names []string
	for _, p := range m.Parts {
		if p.Element != "" {
			names = append(names, p.Element)
		} else {
			names = append(names, p.Name+" "+p.Type)
		}
	}
	if len(names) == 0 {
		return "(empty)"
	}
	return strings.Join(names, ", ")
}

// Skeleton returns a YAML body for an operation's input, ready to paste
// under `body:` of a soap step: fields in schema order, placeholders that
// show each value's XSD type, and comments for optional, repeated and
// alternative fields. The first port with the operation is used.
func Skeleton(defs *Definitions, operation string) (string, error) {
	_, p, op, err := defs.Lookup("", "", operation)
	if err != nil {
		return "", err
	}
	if op.Input == nil {
		return "", fmt.Errorf("operation %q has no input", operation)
	}
	sk := &skeleton{s: defs.Schema}
	if sk.s == nil {
		sk.s = &Schema{}
	}
	comment := func(format string, args ...any) {
		sk.b.WriteString("# " + oneLine(fmt.Sprintf(format, args...)) + "\n")
	}
	head := fmt.Sprintf("%s: %s/%s, SOAP %s", op.Name, op.Style, op.Use, op.SOAPVersion)
	if op.SOAPAction != "" {
		head += fmt.Sprintf(", SOAPAction %q", op.SOAPAction)
	}
	comment("%s", head)
	if p.Address != "" {
		comment("port %s at %s", p.Name, p.Address)
	}
	if op.Doc != "" {
		comment("%s", op.Doc)
	}
	for _, h := range op.Input.Headers {
		name := h.Name
		if h.Element != "" {
			name = localOf(h.Element)
		}
		comment("header block %s may be given under headers", name)
	}
	parts := op.Input.Parts
	switch {
	case op.Style == "rpc":
		comment("rpc wrapper %s", qn(op.Namespace, op.Name))
		if len(parts) == 0 {
			sk.b.WriteString("{}\n")
		}
		for _, pt := range parts {
			el := &Element{Name: pt.Name, Type: pt.Type}
			if pt.Element != "" {
				el = sk.s.element(pt.Element)
			}
			sk.field(el, pt.Name, &Particle{Kind: KindElement, MinOccurs: 1, MaxOccurs: 1}, 0, occurs{})
		}
	case len(parts) == 1 && parts[0].Element != "":
		el := sk.s.element(parts[0].Element)
		comment("body element %s", parts[0].Element)
		sk.top(el)
	case len(parts) == 0:
		sk.b.WriteString("{}\n")
	default:
		for _, pt := range parts {
			el := &Element{Name: pt.Name, Type: pt.Type}
			key := pt.Name
			if pt.Element != "" {
				el, key = sk.s.element(pt.Element), localOf(pt.Element)
			}
			sk.field(el, key, &Particle{Kind: KindElement, MinOccurs: 1, MaxOccurs: 1}, 0, occurs{})
		}
	}
	if sk.cut {
		sk.b.WriteString("# the skeleton stops here: the schema is too large to show in full\n")
	}
	return sk.b.String(), nil
}

type skeleton struct {
	s      *Schema
	b      strings.Builder
	stack  []*ComplexType  // types being expanded, to stop at recursion
	groups map[string]bool // named groups being expanded
	cut    bool            // the skeleton grew too large and stops early
}

// maxSkeletonDepth keeps skeletons of deeply nested schemas readable, and
// maxSkeletonBytes bounds wide ones, whose size grows with every level.
const (
	maxSkeletonDepth = 12
	maxSkeletonBytes = 256 << 10
)

// top writes the content of the body element itself: its fields, or a
// scalar placeholder when its type is simple.
func (sk *skeleton) top(el *Element) {
	el = sk.s.resolve(el)
	ti := sk.s.typeOfElement(el)
	if ti.complex == nil {
		sk.b.WriteString(yamlString(placeholder(ti)) + "\n")
		return
	}
	if !sk.fields(ti.complex, 0) {
		sk.b.WriteString("{}\n")
	}
}

// fields writes the attributes and child elements of a complex type at
// the given indentation and reports whether it wrote any.
func (sk *skeleton) fields(ct *ComplexType, indent int) bool {
	if sk.b.Len() > maxSkeletonBytes {
		sk.cut = true
		return false
	}
	for _, c := range sk.stack {
		if c == ct {
			return false
		}
	}
	sk.stack = append(sk.stack, ct)
	defer func() { sk.stack = sk.stack[:len(sk.stack)-1] }()
	wrote := false
	pad := strings.Repeat("  ", indent)
	for _, a := range sk.s.attributes(ct) {
		comment := "attribute"
		if !a.Required {
			comment += ", optional"
		}
		value := placeholder(sk.s.typeNamed(a.Type))
		if a.Type == "" {
			value = "<string>"
		}
		if a.Fixed != "" {
			value = a.Fixed
		}
		fmt.Fprintf(&sk.b, "%s%s: %s  # %s\n", pad, yamlKey("@"+a.Name), yamlString(value), oneLine(comment))
		wrote = true
	}
	if tt := sk.s.textType(ct); tt != "" {
		fmt.Fprintf(&sk.b, "%s%s: %s\n", pad, yamlKey("#text"), yamlString("<"+tt+">"))
		wrote = true
	}
	for _, c := range sk.s.contents(ct) {
		if sk.particle(c, indent, occurs{}) {
			wrote = true
		}
	}
	return wrote
}

// occurs is what enclosing groups say about an element: a group that may
// be left out or may repeat makes its elements so too.
type occurs struct {
	optional, repeated bool
	note               string
}

// particle writes the elements of a content model particle.
func (sk *skeleton) particle(p *Particle, indent int, in occurs) bool {
	if indent > maxSkeletonDepth {
		return false
	}
	wrote := false
	switch p.Kind {
	case KindElement:
		return sk.field(p.Element, "", p, indent, in)
	case KindSequence, KindAll, KindGroup:
		in.optional = in.optional || p.MinOccurs == 0
		in.repeated = in.repeated || p.Repeated()
		if p.Kind == KindGroup {
			g := sk.s.Groups[p.Ref]
			if g == nil || sk.groups[p.Ref] {
				return false // unknown, or a group that contains itself
			}
			if sk.groups == nil {
				sk.groups = map[string]bool{}
			}
			sk.groups[p.Ref] = true
			defer delete(sk.groups, p.Ref)
			return sk.particle(g, indent, in)
		}
		for _, it := range p.Items {
			if sk.particle(it, indent, in) {
				wrote = true
			}
		}
	case KindChoice:
		in.repeated = in.repeated || p.Repeated()
		var names []string
		for _, it := range p.Items {
			names = append(names, (&builder{s: sk.s}).names(it)...)
		}
		in.note = "choice: keep one of " + strings.Join(names, " | ")
		if in.repeated {
			in.note = "choice of " + strings.Join(names, " | ") + ", repeatable, a list each"
		}
		for _, it := range p.Items {
			if sk.particle(it, indent, in) {
				wrote = true
			}
		}
	case KindAny:
		fmt.Fprintf(&sk.b, "%s# any element may go here (\"{namespace}Name\": value)\n", strings.Repeat("  ", indent))
	}
	return wrote
}

// field writes one element: key, placeholder or nested fields, comments.
func (sk *skeleton) field(el *Element, key string, p *Particle, indent int, in occurs) bool {
	el = sk.s.resolve(el)
	if el == nil {
		return false
	}
	if key == "" {
		key = el.Name
	}
	pad := strings.Repeat("  ", indent)
	var notes []string
	if in.note != "" {
		notes = append(notes, in.note)
	}
	repeated := p.Repeated() || in.repeated
	if p.MinOccurs == 0 || in.optional {
		notes = append(notes, "optional")
	}
	if p.Repeated() {
		bound := "unbounded"
		if p.MaxOccurs > 1 {
			bound = strconv.Itoa(p.MaxOccurs)
		}
		notes = append(notes, fmt.Sprintf("repeated (%d..%s)", p.MinOccurs, bound))
	} else if in.repeated && in.note == "" {
		notes = append(notes, "repeated with its group")
	}
	if el.Nillable {
		notes = append(notes, "nillable")
	}
	comment := ""
	if len(notes) > 0 {
		comment = "  # " + oneLine(strings.Join(notes, ", "))
	}
	ti := sk.s.typeOfElement(el)
	if ti.complex == nil {
		value := yamlString(placeholder(ti))
		if repeated {
			fmt.Fprintf(&sk.b, "%s%s:%s\n%s  - %s\n", pad, yamlKey(key), comment, pad, value)
		} else {
			fmt.Fprintf(&sk.b, "%s%s: %s%s\n", pad, yamlKey(key), value, comment)
		}
		return true
	}
	recursive := false
	for _, c := range sk.stack {
		if c == ti.complex {
			recursive = true
		}
	}
	if recursive || indent >= maxSkeletonDepth || !sk.hasFields(ti.complex) {
		if recursive {
			comment += "  # recursive type " + oneLine(localOf(ti.name)) + ": fill in like its parent"
		}
		fmt.Fprintf(&sk.b, "%s%s: {}%s\n", pad, yamlKey(key), comment)
		return true
	}
	if repeated {
		fmt.Fprintf(&sk.b, "%s%s:%s\n", pad, yamlKey(key), comment)
		// The first field of a list item goes after "- ", the others
		// line up under it.
		start := sk.b.Len()
		sk.fields(ti.complex, indent+2)
		text := sk.b.String()[start:]
		sk.trimTo(start)
		inner := strings.Repeat("  ", indent+2)
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		first := true
		for _, line := range lines {
			trimmed := strings.TrimPrefix(line, inner)
			if first && !strings.HasPrefix(strings.TrimSpace(line), "#") {
				fmt.Fprintf(&sk.b, "%s  - %s\n", pad, trimmed)
				first = false
				continue
			}
			fmt.Fprintf(&sk.b, "%s    %s\n", pad, trimmed)
		}
		return true
	}
	fmt.Fprintf(&sk.b, "%s%s:%s\n", pad, yamlKey(key), comment)
	sk.fields(ti.complex, indent+1)
	return true
}

func (sk *skeleton) trimTo(n int) {
	s := sk.b.String()[:n]
	sk.b.Reset()
	sk.b.WriteString(s)
}

func (sk *skeleton) hasFields(ct *ComplexType) bool {
	return sk.s.hasElementContent(ct) || len(sk.s.attributes(ct)) > 0 || sk.s.textType(ct) != ""
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// yamlReserved are keys YAML would read as something other than a string.
var yamlReserved = map[string]bool{
	"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true, "null": true, "y": true, "n": true,
}

func yamlKey(k string) string {
	if plainKey.MatchString(k) && !yamlReserved[strings.ToLower(k)] {
		return k
	}
	return strconv.Quote(k)
}

func yamlString(s string) string { return strconv.Quote(s) }

// oneLine keeps names and documentation from a WSDL on one comment line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
