package wsdl

import (
	"sort"
	"strings"
)

// Built-in XML Schema types by how a value is written and read. Types not
// listed are strings.
var (
	booleanTypes = map[string]bool{"boolean": true}
	integerTypes = map[string]bool{
		"int": true, "integer": true, "long": true, "short": true, "byte": true,
		"nonNegativeInteger": true, "positiveInteger": true, "nonPositiveInteger": true, "negativeInteger": true,
		"unsignedLong": true, "unsignedInt": true, "unsignedShort": true, "unsignedByte": true,
	}
	floatTypes = map[string]bool{"float": true, "double": true}
)

// isBuiltinNS reports whether types in ns are built in: XML Schema itself
// and the SOAP encoding types, which mirror it.
func isBuiltinNS(ns string) bool { return ns == xsdNS || ns == soapEncNS }

func (s *Schema) element(q string) *Element {
	if s == nil {
		return nil
	}
	return s.Elements[q]
}

// resolve follows an element reference to its global declaration.
func (s *Schema) resolve(e *Element) *Element {
	for i := 0; e != nil && e.Ref != "" && i < 16; i++ {
		e = s.element(e.Ref)
	}
	return e
}

// typeInfo is what an element's type says about its content.
type typeInfo struct {
	complex *ComplexType
	// simple is the built-in base ("int", "string", "anyType") of a simple
	// type or of a simpleContent type's text.
	simple string
	enum   []string
	list   bool
	// name is the type's QName, for skeleton comments and recursion checks.
	name string
	// known is false when the type could not be found in the schema.
	known bool
}

func (s *Schema) typeOfElement(e *Element) typeInfo {
	switch {
	case e == nil:
		return typeInfo{simple: "anyType", known: true}
	case e.Complex != nil:
		return typeInfo{complex: e.Complex, known: true}
	case e.Simple != nil:
		return s.simpleInfo(e.Simple, "")
	case e.Type == "":
		// An element without a type is xs:anyType.
		return typeInfo{simple: "anyType", known: true}
	}
	return s.typeNamed(e.Type)
}

func (s *Schema) typeNamed(q string) typeInfo {
	ns, local := splitQN(q)
	if isBuiltinNS(ns) {
		if ns == soapEncNS && (local == "Array" || local == "Struct") {
			return typeInfo{simple: "anyType", name: q, known: true}
		}
		return typeInfo{simple: local, name: q, known: true}
	}
	if s != nil {
		if ct := s.ComplexTypes[q]; ct != nil {
			return typeInfo{complex: ct, name: q, known: true}
		}
		if st := s.SimpleTypes[q]; st != nil {
			return s.simpleInfo(st, q)
		}
	}
	return typeInfo{simple: "string", name: q}
}

func (s *Schema) simpleInfo(st *SimpleType, name string) typeInfo {
	ti := typeInfo{name: name, known: true, enum: st.Enum, list: st.List}
	cur := st
	for i := 0; i < 32; i++ {
		if cur.List {
			ti.list = true
		}
		if len(ti.enum) == 0 {
			ti.enum = cur.Enum
		}
		ns, local := splitQN(cur.Base)
		if cur.Base == "" || isBuiltinNS(ns) {
			if cur.Base == "" {
				local = "string"
			}
			ti.simple = local
			return ti
		}
		next := s.SimpleTypes[cur.Base]
		if next == nil {
			ti.simple = "string"
			ti.known = false
			return ti
		}
		cur = next
	}
	ti.simple = "string"
	return ti
}

// contents returns the content particles of a complex type, its base
// types' first, as a complexContent extension orders them.
func (s *Schema) contents(ct *ComplexType) []*Particle {
	var chain []*ComplexType
	seen := map[*ComplexType]bool{}
	for cur := ct; cur != nil && !seen[cur]; {
		seen[cur] = true
		chain = append(chain, cur)
		if cur.Base == "" {
			break
		}
		cur = s.ComplexTypes[cur.Base]
	}
	var out []*Particle
	for i := len(chain) - 1; i >= 0; i-- {
		if chain[i].Content != nil {
			out = append(out, chain[i].Content)
		}
	}
	return out
}

// hasElementContent reports whether a complex type (with its bases) has
// child elements.
func (s *Schema) hasElementContent(ct *ComplexType) bool { return len(s.contents(ct)) > 0 }

// textType returns the built-in type of a simpleContent type's text, or ""
// when the type has no text content.
func (s *Schema) textType(ct *ComplexType) string {
	seen := map[*ComplexType]bool{}
	for cur := ct; cur != nil && !seen[cur]; {
		seen[cur] = true
		if cur.Text != "" {
			ti := s.typeNamed(cur.Text)
			if ti.complex != nil {
				cur = ti.complex
				continue
			}
			return ti.simple
		}
		if cur.Base == "" {
			return ""
		}
		cur = s.ComplexTypes[cur.Base]
	}
	return ""
}

// attributes returns the attributes of a complex type, its bases' and
// attribute groups' included, references resolved.
func (s *Schema) attributes(ct *ComplexType) []*Attribute {
	var out []*Attribute
	seenType := map[*ComplexType]bool{}
	var chain []*ComplexType
	for cur := ct; cur != nil && !seenType[cur]; {
		seenType[cur] = true
		chain = append(chain, cur)
		if cur.Base == "" {
			break
		}
		cur = s.ComplexTypes[cur.Base]
	}
	seenGroup := map[string]bool{}
	var addGroup func(string)
	add := func(a *Attribute) {
		if a.Ref != "" {
			ns, local := splitQN(a.Ref)
			r := &Attribute{Name: local, Namespace: ns, Required: a.Required}
			if g := s.Attributes[a.Ref]; g != nil {
				r.Type, r.Fixed = g.Type, g.Fixed
			}
			a = r
		}
		out = append(out, a)
	}
	addGroup = func(q string) {
		if seenGroup[q] {
			return
		}
		seenGroup[q] = true
		g := s.AttributeGroups[q]
		if g == nil {
			return
		}
		for _, a := range g.Attributes {
			add(a)
		}
		for _, r := range g.Groups {
			addGroup(r)
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		for _, a := range chain[i].Attributes {
			add(a)
		}
		for _, g := range chain[i].AttributeGroups {
			addGroup(g)
		}
	}
	return out
}

// childDecl is a child element a complex type allows, with whether it may
// repeat once all enclosing groups are taken into account.
type childDecl struct {
	el       *Element // resolved
	repeated bool
}

// children indexes the child elements of a complex type by local name, for
// reading responses. The first declaration of a name wins.
func (s *Schema) children(ct *ComplexType) (map[string]childDecl, bool) {
	out := map[string]childDecl{}
	hasAny := false
	seenGroups := map[string]bool{}
	var walk func(p *Particle, repeated bool)
	walk = func(p *Particle, repeated bool) {
		if p == nil {
			return
		}
		rep := repeated || p.Repeated()
		switch p.Kind {
		case KindElement:
			el := s.resolve(p.Element)
			if el == nil {
				return
			}
			if _, ok := out[el.Name]; !ok {
				out[el.Name] = childDecl{el: el, repeated: rep}
			}
		case KindSequence, KindChoice, KindAll:
			for _, it := range p.Items {
				walk(it, rep)
			}
		case KindGroup:
			if seenGroups[p.Ref] {
				return
			}
			seenGroups[p.Ref] = true
			walk(s.Groups[p.Ref], rep)
		case KindAny:
			hasAny = true
		}
	}
	for _, c := range s.contents(ct) {
		walk(c, false)
	}
	return out, hasAny
}

// collector copies the declarations reachable from an operation into a new
// schema, and notes references that lead nowhere.
type collector struct {
	in      *Schema
	out     *Schema
	missing map[string]string // reference -> what refers to it
	seen    map[any]bool
}

func newCollector(in *Schema) *collector {
	if in == nil {
		in = &Schema{}
	}
	return &collector{
		in: in,
		out: &Schema{
			Elements: map[string]*Element{}, ComplexTypes: map[string]*ComplexType{}, SimpleTypes: map[string]*SimpleType{},
			Groups: map[string]*Particle{}, AttributeGroups: map[string]*AttributeGroup{}, Attributes: map[string]*Attribute{},
		},
		missing: map[string]string{},
		seen:    map[any]bool{},
	}
}

func (c *collector) operation(op *Operation) {
	for _, m := range append([]*Message{op.Input, op.Output}, op.Faults...) {
		if m == nil {
			continue
		}
		for _, p := range append(append([]*Part{}, m.Parts...), m.Headers...) {
			what := "part " + p.Name + " of message " + m.Name
			if p.Element != "" {
				c.elementRef(p.Element, what)
			}
			if p.Type != "" {
				c.typeRef(p.Type, what)
			}
		}
	}
}

func (c *collector) elementRef(q, what string) {
	if c.seen["e"+q] {
		return
	}
	c.seen["e"+q] = true
	e := c.in.Elements[q]
	if e == nil {
		c.missing["element "+q] = what
		return
	}
	c.out.Elements[q] = e
	c.element(e, "element "+q)
}

func (c *collector) element(e *Element, what string) {
	if e.Ref != "" {
		c.elementRef(e.Ref, what)
	}
	if e.Type != "" {
		c.typeRef(e.Type, what)
	}
	if e.Complex != nil {
		c.complexType(e.Complex, what)
	}
	if e.Simple != nil {
		c.simpleType(e.Simple, what)
	}
}

func (c *collector) typeRef(q, what string) {
	ns, _ := splitQN(q)
	if isBuiltinNS(ns) || c.seen["t"+q] {
		return
	}
	c.seen["t"+q] = true
	if ct := c.in.ComplexTypes[q]; ct != nil {
		c.out.ComplexTypes[q] = ct
		c.complexType(ct, "type "+q)
		return
	}
	if st := c.in.SimpleTypes[q]; st != nil {
		c.out.SimpleTypes[q] = st
		c.simpleType(st, "type "+q)
		return
	}
	c.missing["type "+q] = what
}

func (c *collector) complexType(ct *ComplexType, what string) {
	if c.seen[ct] {
		return
	}
	c.seen[ct] = true
	if ct.Base != "" {
		c.typeRef(ct.Base, what)
	}
	if ct.Text != "" {
		c.typeRef(ct.Text, what)
	}
	if ct.ArrayOf != "" {
		c.typeRef(ct.ArrayOf, what)
	}
	c.particle(ct.Content, what)
	for _, a := range ct.Attributes {
		c.attribute(a, what)
	}
	for _, g := range ct.AttributeGroups {
		c.attributeGroup(g, what)
	}
}

func (c *collector) simpleType(st *SimpleType, what string) {
	if st.Base != "" {
		c.typeRef(st.Base, what)
	}
}

func (c *collector) particle(p *Particle, what string) {
	if p == nil {
		return
	}
	switch p.Kind {
	case KindElement:
		c.element(p.Element, what)
	case KindGroup:
		if c.seen["g"+p.Ref] {
			return
		}
		c.seen["g"+p.Ref] = true
		g := c.in.Groups[p.Ref]
		if g == nil {
			c.missing["group "+p.Ref] = what
			return
		}
		c.out.Groups[p.Ref] = g
		c.particle(g, "group "+p.Ref)
	default:
		for _, it := range p.Items {
			c.particle(it, what)
		}
	}
}

func (c *collector) attribute(a *Attribute, what string) {
	if a.Ref != "" {
		if g := c.in.Attributes[a.Ref]; g != nil {
			c.out.Attributes[a.Ref] = g
			if g.Type != "" {
				c.typeRef(g.Type, what)
			}
		}
		// An unknown attribute reference (often xml:lang) is harmless:
		// attributes are only written when a body names them.
		return
	}
	if a.Type != "" {
		c.typeRef(a.Type, what)
	}
}

func (c *collector) attributeGroup(q, what string) {
	if c.seen["a"+q] {
		return
	}
	c.seen["a"+q] = true
	g := c.in.AttributeGroups[q]
	if g == nil {
		c.missing["attribute group "+q] = what
		return
	}
	c.out.AttributeGroups[q] = g
	for _, a := range g.Attributes {
		c.attribute(a, what)
	}
	for _, r := range g.Groups {
		c.attributeGroup(r, what)
	}
}

// problems lists the missing references, sorted.
func (c *collector) problems() []string {
	out := make([]string, 0, len(c.missing))
	for ref, what := range c.missing {
		out = append(out, ref+" (used by "+what+")")
	}
	sort.Strings(out)
	return out
}

// placeholder is how a skeleton shows a value of a built-in type.
func placeholder(ti typeInfo) string {
	if len(ti.enum) > 0 {
		vals := ti.enum
		more := ""
		if len(vals) > 6 {
			vals, more = vals[:6], "|…"
		}
		return "<" + strings.Join(vals, "|") + more + ">"
	}
	t := ti.simple
	if t == "" {
		t = "string"
	}
	if ti.list {
		return "<" + t + " list, space separated>"
	}
	return "<" + t + ">"
}
