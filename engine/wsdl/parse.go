package wsdl

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// MaxDocumentSize caps each WSDL or XSD document read by Load.
const MaxDocumentSize = 32 << 20

// Resolver returns the content of an imported document. The location is
// already resolved against the importing document: a slash-separated path
// relative to the root document's folder (or absolute), or an absolute URL
// when the root was given as one.
type Resolver func(location string) ([]byte, error)

// Load reads a WSDL file and the documents it imports, resolving relative
// locations against the importing file's folder. Imports over the network
// are not fetched: a project must hold the files it depends on.
func Load(file string) (*Definitions, error) {
	data, err := readFile(file)
	if err != nil {
		return nil, fmt.Errorf("loading WSDL: %w", err)
	}
	resolve := func(loc string) ([]byte, error) {
		if isURL(loc) {
			return nil, errors.New("it is a network location; save the document next to the WSDL and use a relative location")
		}
		return readFile(filepath.FromSlash(loc))
	}
	return ParseLocation(filepath.ToSlash(file), data, resolve)
}

func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > MaxDocumentSize {
		return nil, fmt.Errorf("%s is larger than %d MiB", name, MaxDocumentSize>>20)
	}
	return data, nil
}

// Parse reads a WSDL document held in memory. Imports are passed to resolve
// with their locations resolved against the importing document (relative to
// the root's folder); a nil resolve refuses every import.
func Parse(data []byte, resolve Resolver) (*Definitions, error) {
	return ParseLocation("", data, resolve)
}

// ParseLocation is Parse for a document read from location (a file path or
// URL), against which relative imports are resolved and which errors name.
func ParseLocation(location string, data []byte, resolve Resolver) (*Definitions, error) {
	l := &loader{resolve: resolve, loaded: map[string]bool{}, schema: newSchema()}
	if err := l.loadWSDL(location, data); err != nil {
		return nil, err
	}
	return l.build(location)
}

// MapResolver resolves imports from documents held in memory, keyed by
// their resolved locations (for example, WSDL parts fetched over HTTP).
func MapResolver(docs map[string][]byte) Resolver {
	return func(loc string) ([]byte, error) {
		if b, ok := docs[loc]; ok {
			return b, nil
		}
		if b, ok := docs[path.Clean(loc)]; ok {
			return b, nil
		}
		return nil, fs.ErrNotExist
	}
}

func isURL(loc string) bool {
	u, err := url.Parse(loc)
	return err == nil && len(u.Scheme) > 1 && u.Host != ""
}

// resolveLocation resolves ref against the location of the document that
// names it.
func resolveLocation(base, ref string) string {
	if isURL(ref) {
		return ref
	}
	if isURL(base) {
		b, _ := url.Parse(base)
		r, err := url.Parse(ref)
		if err != nil {
			return ref
		}
		return b.ResolveReference(r).String()
	}
	if path.IsAbs(ref) || base == "" {
		return path.Clean(ref)
	}
	return path.Join(path.Dir(base), ref)
}

func displayName(loc string) string {
	if loc == "" {
		return "WSDL"
	}
	return loc
}

// docError names the document (and line) a problem was found in.
func docError(loc string, n *node, format string, args ...any) error {
	where := displayName(loc)
	if n != nil && n.line > 0 {
		where += ":" + strconv.Itoa(n.line)
	}
	return fmt.Errorf("%s: %s", where, fmt.Sprintf(format, args...))
}

type loader struct {
	resolve Resolver
	loaded  map[string]bool
	docs    []*wsdlDoc
	schema  *Schema
}

type wsdlDoc struct {
	location string
	root     *node
	tns      string
}

func newSchema() *Schema {
	return &Schema{
		Elements: map[string]*Element{}, ComplexTypes: map[string]*ComplexType{}, SimpleTypes: map[string]*SimpleType{},
		Groups: map[string]*Particle{}, AttributeGroups: map[string]*AttributeGroup{}, Attributes: map[string]*Attribute{},
	}
}

func (l *loader) fetch(from string, n *node, what, loc string) ([]byte, string, error) {
	if u, err := url.Parse(strings.TrimSpace(loc)); err == nil && strings.EqualFold(u.Scheme, "file") {
		// Resolved against a path, a file: URL would become a strange path;
		// against a URL, a request for a local file. Neither is meant.
		return nil, loc, docError(from, n, "importing %s %q: file: locations are not read; put the document next to the importing one and import it by a relative path", what, loc)
	}
	resolved := resolveLocation(from, loc)
	if l.resolve == nil {
		return nil, resolved, docError(from, n, "importing %s %q: no resolver for imports", what, loc)
	}
	data, err := l.resolve(resolved)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, resolved, docError(from, n, "importing %s %q: %s does not exist", what, loc, displayName(resolved))
		}
		return nil, resolved, docError(from, n, "importing %s %q from %s: %v", what, loc, displayName(resolved), err)
	}
	return data, resolved, nil
}

func (l *loader) loadWSDL(loc string, data []byte) error {
	l.loaded[loc] = true
	root, err := parseTree(data)
	if err != nil {
		return fmt.Errorf("%s: %w", displayName(loc), err)
	}
	switch {
	case root.is(wsdl20NS, "description"):
		return docError(loc, root, "WSDL 2.0 is not supported; ask the partner for a WSDL 1.1 description")
	case root.is(xsdNS, "schema"):
		return docError(loc, root, "this is an XML Schema, not a WSDL")
	case !root.is(wsdlNS, "definitions"):
		return docError(loc, root, "the root element is <%s> in namespace %q; a WSDL 1.1 document starts with <definitions> in %q", root.name.Local, root.name.Space, wsdlNS)
	}
	doc := &wsdlDoc{location: loc, root: root, tns: root.attr("targetNamespace")}
	l.docs = append(l.docs, doc)
	for _, c := range root.children {
		switch {
		case c.is(wsdlNS, "import"):
			imp := c.attr("location")
			if imp == "" {
				return docError(loc, c, "wsdl:import of namespace %q has no location", c.attr("namespace"))
			}
			data, resolved, err := l.fetch(loc, c, "WSDL", imp)
			if err != nil {
				return err
			}
			if l.loaded[resolved] {
				continue
			}
			// A wsdl:import may also point at a schema document.
			if t, err := parseTree(data); err == nil && t.is(xsdNS, "schema") {
				l.loaded[resolved] = true
				if err := l.loadSchema(resolved, t, ""); err != nil {
					return err
				}
				continue
			}
			if err := l.loadWSDL(resolved, data); err != nil {
				return err
			}
		case c.is(wsdlNS, "types"):
			for _, s := range c.children {
				if s.is(xsdNS, "schema") {
					if err := l.loadSchema(loc, s, ""); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// wellKnown are namespaces whose schemas are never fetched: their types are
// built in or only matter to validators.
var wellKnown = map[string]bool{
	xmlNS: true, xsdNS: true, soapEncNS: true, wsdlNS: true, soap11EnvNS: true, soap12EnvNS: true,
	"http://www.w3.org/2005/05/xmlmime": true,
}

// loadSchema registers the declarations of one xs:schema element. tns, when
// given, is the namespace of an including schema (a schema without a target
// namespace takes the includer's: a "chameleon" include).
func (l *loader) loadSchema(loc string, s *node, tns string) error {
	chameleon := false
	if t := s.attr("targetNamespace"); t != "" || tns == "" {
		tns = t
	} else {
		chameleon = true
	}
	sc := &schemaCtx{loader: l, loc: loc, tns: tns, chameleon: chameleon,
		qualified:     s.attr("elementFormDefault") == "qualified",
		attrQualified: s.attr("attributeFormDefault") == "qualified",
	}
	for _, c := range s.children {
		if c.name.Space != xsdNS {
			continue
		}
		switch c.name.Local {
		case "import", "include", "redefine":
			sl := c.attr("schemaLocation")
			if sl == "" || (c.name.Local == "import" && wellKnown[c.attr("namespace")]) {
				continue
			}
			data, resolved, err := l.fetch(loc, c, "schema", sl)
			if err != nil {
				return err
			}
			key := resolved
			if c.name.Local != "import" {
				key += "#" + tns
			}
			if l.loaded[key] {
				continue
			}
			l.loaded[key] = true
			root, err := parseTree(data)
			if err != nil {
				return fmt.Errorf("%s: %w", displayName(resolved), err)
			}
			if !root.is(xsdNS, "schema") {
				return docError(resolved, root, "imported from %s as a schema, but the root element is <%s>", displayName(loc), root.name.Local)
			}
			inherit := ""
			if c.name.Local != "import" {
				inherit = tns
			}
			if err := l.loadSchema(resolved, root, inherit); err != nil {
				return err
			}
		case "element":
			e, err := sc.element(c, true)
			if err != nil {
				return err
			}
			setOnce(l.schema.Elements, qn(tns, e.Name), e)
		case "complexType":
			ct, err := sc.complexType(c)
			if err != nil {
				return err
			}
			ct.Name, ct.Namespace = c.attr("name"), tns
			setOnce(l.schema.ComplexTypes, qn(tns, ct.Name), ct)
		case "simpleType":
			st, err := sc.simpleType(c)
			if err != nil {
				return err
			}
			st.Name, st.Namespace = c.attr("name"), tns
			setOnce(l.schema.SimpleTypes, qn(tns, st.Name), st)
		case "group":
			for _, g := range c.children {
				if g.name.Space == xsdNS && (g.name.Local == "sequence" || g.name.Local == "choice" || g.name.Local == "all") {
					p, err := sc.group(g)
					if err != nil {
						return err
					}
					setOnce(l.schema.Groups, qn(tns, c.attr("name")), p)
				}
			}
		case "attributeGroup":
			g, err := sc.attributeGroup(c)
			if err != nil {
				return err
			}
			setOnce(l.schema.AttributeGroups, qn(tns, c.attr("name")), g)
		case "attribute":
			a, err := sc.attribute(c, true)
			if err != nil {
				return err
			}
			setOnce(l.schema.Attributes, qn(tns, a.Name), a)
		}
	}
	return nil
}

// setOnce keeps the first declaration of a name: the same schema reached
// through two paths must not replace what is already there.
func setOnce[T any](m map[string]T, k string, v T) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

type schemaCtx struct {
	*loader
	loc                      string
	tns                      string
	qualified, attrQualified bool
	// chameleon is set for a schema without a target namespace included
	// into one with: its references to no namespace mean the includer's.
	chameleon bool
}

func (sc *schemaCtx) err(n *node, format string, args ...any) error {
	return docError(sc.loc, n, format, args...)
}

func (sc *schemaCtx) qname(n *node, attr string) (string, error) {
	v := n.attr(attr)
	if v == "" {
		return "", nil
	}
	ns, local, err := n.resolveQName(v)
	if err != nil {
		return "", sc.err(n, "%s: %v", attr, err)
	}
	if ns == "" && sc.chameleon {
		ns = sc.tns
	}
	return qn(ns, local), nil
}

func (sc *schemaCtx) occurs(n *node) (minOccurs, maxOccurs int, err error) {
	minOccurs, maxOccurs = 1, 1
	if v := strings.TrimSpace(n.attr("minOccurs")); v != "" {
		if minOccurs, err = strconv.Atoi(v); err != nil || minOccurs < 0 {
			return 0, 0, sc.err(n, "minOccurs %q is not a number", v)
		}
	}
	if v := strings.TrimSpace(n.attr("maxOccurs")); v != "" {
		if v == "unbounded" {
			maxOccurs = Unbounded
		} else if maxOccurs, err = strconv.Atoi(v); err != nil || maxOccurs < 0 {
			return 0, 0, sc.err(n, "maxOccurs %q is not a number or unbounded", v)
		}
	}
	return minOccurs, maxOccurs, nil
}

func (sc *schemaCtx) element(n *node, global bool) (*Element, error) {
	e := &Element{Nillable: n.attr("nillable") == "true" || n.attr("nillable") == "1"}
	if ref, err := sc.qname(n, "ref"); err != nil {
		return nil, err
	} else if ref != "" && !global {
		e.Ref = ref
		return e, nil
	}
	e.Name = n.attr("name")
	if e.Name == "" {
		return nil, sc.err(n, "xs:element has neither name nor ref")
	}
	qualified := global
	if !global {
		switch n.attr("form") {
		case "qualified":
			qualified = true
		case "unqualified":
			qualified = false
		default:
			qualified = sc.qualified
		}
	}
	if qualified {
		e.Namespace = sc.tns
	}
	var err error
	if e.Type, err = sc.qname(n, "type"); err != nil {
		return nil, err
	}
	for _, c := range n.children {
		if c.name.Space != xsdNS {
			continue
		}
		switch c.name.Local {
		case "complexType":
			if e.Complex, err = sc.complexType(c); err != nil {
				return nil, err
			}
		case "simpleType":
			if e.Simple, err = sc.simpleType(c); err != nil {
				return nil, err
			}
		}
	}
	return e, nil
}

func (sc *schemaCtx) complexType(n *node) (*ComplexType, error) {
	ct := &ComplexType{Mixed: n.attr("mixed") == "true"}
	if err := sc.complexBody(n, ct); err != nil {
		return nil, err
	}
	return ct, nil
}

// complexBody reads the content model and attributes of a complexType or
// of the extension/restriction inside its complexContent or simpleContent.
func (sc *schemaCtx) complexBody(n *node, ct *ComplexType) error {
	for _, c := range n.children {
		if c.name.Space != xsdNS {
			continue
		}
		switch c.name.Local {
		case "sequence", "choice", "all":
			p, err := sc.group(c)
			if err != nil {
				return err
			}
			ct.Content = p
		case "group":
			p, err := sc.groupRef(c)
			if err != nil {
				return err
			}
			ct.Content = p
		case "attribute":
			a, err := sc.attribute(c, false)
			if err != nil {
				return err
			}
			if a != nil {
				ct.Attributes = append(ct.Attributes, a)
			}
			if at, ok := c.attrNS(wsdlNS, "arrayType"); ok {
				ct.ArrayOf = sc.arrayItemType(c, at)
			}
		case "attributeGroup":
			ref, err := sc.qname(c, "ref")
			if err != nil {
				return err
			}
			if ref != "" {
				ct.AttributeGroups = append(ct.AttributeGroups, ref)
			}
		case "complexContent":
			if c.attr("mixed") == "true" {
				ct.Mixed = true
			}
			for _, d := range c.children {
				if d.name.Space != xsdNS || (d.name.Local != "extension" && d.name.Local != "restriction") {
					continue
				}
				base, err := sc.qname(d, "base")
				if err != nil {
					return err
				}
				// A restriction restates the whole content model; only an
				// extension inherits its base's elements and attributes.
				if d.name.Local == "extension" {
					ct.Base = base
				}
				if err := sc.complexBody(d, ct); err != nil {
					return err
				}
			}
		case "simpleContent":
			for _, d := range c.children {
				if d.name.Space != xsdNS || (d.name.Local != "extension" && d.name.Local != "restriction") {
					continue
				}
				base, err := sc.qname(d, "base")
				if err != nil {
					return err
				}
				ct.Text = base
				if ct.Text == "" {
					ct.Text = qn(xsdNS, "string")
				}
				if err := sc.complexBody(d, ct); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// arrayItemType reads wsdl:arrayType="tns:Item[]" of a SOAP-encoded array.
func (sc *schemaCtx) arrayItemType(n *node, v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '['); i >= 0 {
		v = v[:i]
	}
	ns, local, err := n.resolveQName(v)
	if err != nil {
		return ""
	}
	return qn(ns, local)
}

func (sc *schemaCtx) group(n *node) (*Particle, error) {
	minOccurs, maxOccurs, err := sc.occurs(n)
	if err != nil {
		return nil, err
	}
	p := &Particle{Kind: n.name.Local, MinOccurs: minOccurs, MaxOccurs: maxOccurs}
	for _, c := range n.children {
		if c.name.Space != xsdNS {
			continue
		}
		var item *Particle
		switch c.name.Local {
		case "element":
			e, err := sc.element(c, false)
			if err != nil {
				return nil, err
			}
			lo, hi, err := sc.occurs(c)
			if err != nil {
				return nil, err
			}
			item = &Particle{Kind: KindElement, Element: e, MinOccurs: lo, MaxOccurs: hi}
		case "sequence", "choice", "all":
			if item, err = sc.group(c); err != nil {
				return nil, err
			}
		case "group":
			if item, err = sc.groupRef(c); err != nil {
				return nil, err
			}
		case "any":
			lo, hi, err := sc.occurs(c)
			if err != nil {
				return nil, err
			}
			item = &Particle{Kind: KindAny, MinOccurs: lo, MaxOccurs: hi}
		default:
			continue
		}
		p.Items = append(p.Items, item)
	}
	return p, nil
}

func (sc *schemaCtx) groupRef(n *node) (*Particle, error) {
	ref, err := sc.qname(n, "ref")
	if err != nil {
		return nil, err
	}
	if ref == "" {
		return nil, sc.err(n, "xs:group inside a type needs ref")
	}
	lo, hi, err := sc.occurs(n)
	if err != nil {
		return nil, err
	}
	return &Particle{Kind: KindGroup, Ref: ref, MinOccurs: lo, MaxOccurs: hi}, nil
}

func (sc *schemaCtx) simpleType(n *node) (*SimpleType, error) {
	st := &SimpleType{}
	for _, c := range n.children {
		if c.name.Space != xsdNS {
			continue
		}
		switch c.name.Local {
		case "restriction":
			base, err := sc.qname(c, "base")
			if err != nil {
				return nil, err
			}
			st.Base = base
			for _, f := range c.children {
				switch {
				case f.is(xsdNS, "enumeration"):
					st.Enum = append(st.Enum, f.attr("value"))
				case f.is(xsdNS, "simpleType") && base == "":
					inner, err := sc.simpleType(f)
					if err != nil {
						return nil, err
					}
					st.Base, st.List = inner.Base, inner.List
				}
			}
		case "list":
			st.List = true
			item, err := sc.qname(c, "itemType")
			if err != nil {
				return nil, err
			}
			if item == "" {
				if inner := c.child(xsdNS, "simpleType"); inner != nil {
					it, err := sc.simpleType(inner)
					if err != nil {
						return nil, err
					}
					item = it.Base
				}
			}
			st.Base = item
		case "union":
			// A union's values are written as text; its members do not
			// change how a request is built.
			st.Base = qn(xsdNS, "string")
		}
	}
	return st, nil
}

func (sc *schemaCtx) attribute(n *node, global bool) (*Attribute, error) {
	a := &Attribute{Required: n.attr("use") == "required", Fixed: n.attr("fixed")}
	if n.attr("use") == "prohibited" {
		return nil, nil
	}
	ref, err := sc.qname(n, "ref")
	if err != nil {
		return nil, err
	}
	if ref != "" {
		a.Ref = ref
		return a, nil
	}
	a.Name = n.attr("name")
	if a.Name == "" {
		return nil, sc.err(n, "xs:attribute has neither name nor ref")
	}
	qualified := global
	if !global {
		switch n.attr("form") {
		case "qualified":
			qualified = true
		case "unqualified":
			qualified = false
		default:
			qualified = sc.attrQualified
		}
	}
	if qualified {
		a.Namespace = sc.tns
	}
	if a.Type, err = sc.qname(n, "type"); err != nil {
		return nil, err
	}
	if a.Type == "" {
		if st := n.child(xsdNS, "simpleType"); st != nil {
			inner, err := sc.simpleType(st)
			if err != nil {
				return nil, err
			}
			a.Type = inner.Base
		}
	}
	return a, nil
}

func (sc *schemaCtx) attributeGroup(n *node) (*AttributeGroup, error) {
	g := &AttributeGroup{}
	for _, c := range n.children {
		switch {
		case c.is(xsdNS, "attribute"):
			a, err := sc.attribute(c, false)
			if err != nil {
				return nil, err
			}
			if a != nil {
				g.Attributes = append(g.Attributes, a)
			}
		case c.is(xsdNS, "attributeGroup"):
			ref, err := sc.qname(c, "ref")
			if err != nil {
				return nil, err
			}
			if ref != "" {
				g.Groups = append(g.Groups, ref)
			}
		}
	}
	return g, nil
}
