package wsdl

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Limits of the XML reader. WSDLs and responses come from partners: a
// document that nests deeper or holds more elements than any real service
// needs is refused before it can exhaust memory or the stack.
const (
	// MaxDepth is how deeply elements may nest.
	MaxDepth = 256
	// MaxElements is how many elements one document may hold.
	MaxElements = 2_000_000
)

// node is one element of a parsed document. Names carry namespace URIs, and
// every node knows the prefixes in scope so that QName values
// (type="tns:Order", faultcode "soap:Client") can be resolved.
type node struct {
	name     xml.Name
	attrs    []xml.Attr // without namespace declarations
	scope    *nsScope
	children []*node
	text     string // character data directly inside the element
	line     int
}

// nsScope maps prefixes to namespaces; "" is the default namespace.
type nsScope struct {
	parent *nsScope
	decl   map[string]string
}

func (s *nsScope) lookup(prefix string) (string, bool) {
	for ; s != nil; s = s.parent {
		if ns, ok := s.decl[prefix]; ok {
			return ns, true
		}
	}
	if prefix == "xml" {
		return xmlNS, true
	}
	return "", false
}

// resolveQName turns a QName value ("tns:Order", "string") into its
// namespace and local part. An unprefixed name is in the default namespace,
// as XML Schema resolves QName-valued attributes.
func (n *node) resolveQName(v string) (ns, local string, err error) {
	v = strings.TrimSpace(v)
	prefix, local, ok := strings.Cut(v, ":")
	if !ok {
		ns, _ = n.scope.lookup("")
		return ns, prefix, nil
	}
	ns, found := n.scope.lookup(prefix)
	if !found {
		return "", local, fmt.Errorf("prefix %q of %q is not declared", prefix, v)
	}
	return ns, local, nil
}

// attr returns the value of an unqualified attribute.
func (n *node) attr(local string) string {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

func (n *node) hasAttr(local string) bool {
	for _, a := range n.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return true
		}
	}
	return false
}

// attrNS returns the value of a namespaced attribute.
func (n *node) attrNS(ns, local string) (string, bool) {
	for _, a := range n.attrs {
		if a.Name.Space == ns && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

func (n *node) is(ns, local string) bool { return n.name.Space == ns && n.name.Local == local }

// child returns the first child with the given name.
func (n *node) child(ns, local string) *node {
	for _, c := range n.children {
		if c.is(ns, local) {
			return c
		}
	}
	return nil
}

// childLocal returns the first child with the given local name, whatever
// its namespace: fault children are unqualified in some stacks and
// qualified in others.
func (n *node) childLocal(local string) *node {
	for _, c := range n.children {
		if c.name.Local == local {
			return c
		}
	}
	return nil
}

// parseTree reads one XML document into a tree. It refuses DTDs (so no
// entity can expand), nesting beyond MaxDepth and more than MaxElements
// elements, and never panics on malformed input.
func parseTree(data []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = charsetReader
	var (
		root  *node
		stack []*node
		count int
		text  [][]byte // character data of each open element
	)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			if bytes.HasPrefix(bytes.TrimSpace(t), []byte("DOCTYPE")) {
				return nil, errors.New("reading XML: a DOCTYPE is not accepted (DTDs and entities are refused)")
			}
			return nil, fmt.Errorf("reading XML: directive <!%s> is not accepted", firstWord(t))
		case xml.StartElement:
			count++
			if count > MaxElements {
				return nil, fmt.Errorf("reading XML: more than %d elements", MaxElements)
			}
			if len(stack) >= MaxDepth {
				return nil, fmt.Errorf("reading XML: elements nest deeper than %d levels", MaxDepth)
			}
			line, _ := d.InputPos()
			n := &node{name: t.Name, line: line}
			var decl map[string]string
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns":
					if decl == nil {
						decl = map[string]string{}
					}
					decl[a.Name.Local] = a.Value
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					if decl == nil {
						decl = map[string]string{}
					}
					decl[""] = a.Value
				default:
					n.attrs = append(n.attrs, a)
				}
			}
			var parent *nsScope
			if len(stack) > 0 {
				parent = stack[len(stack)-1].scope
			}
			if decl != nil {
				n.scope = &nsScope{parent: parent, decl: decl}
			} else {
				n.scope = parent
			}
			if n.scope == nil {
				n.scope = &nsScope{}
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("reading XML: more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
			text = append(text, nil)
		case xml.EndElement:
			if len(stack) == 0 {
				return nil, errors.New("reading XML: unexpected end element")
			}
			n := stack[len(stack)-1]
			n.text = string(text[len(text)-1])
			stack = stack[:len(stack)-1]
			text = text[:len(text)-1]
		case xml.CharData:
			if len(stack) > 0 {
				text[len(text)-1] = append(text[len(text)-1], t...)
			} else if len(bytes.TrimSpace(t)) > 0 {
				return nil, errors.New("reading XML: text outside the root element")
			}
		}
	}
	if root == nil {
		return nil, errors.New("reading XML: no root element")
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("reading XML: element <%s> is not closed", stack[len(stack)-1].name.Local)
	}
	return root, nil
}

func firstWord(b []byte) string {
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// charsetReader accepts the encodings SOAP stacks still send besides
// UTF-8: ISO-8859-1 (common in older Java and Delphi services) and ASCII.
func charsetReader(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return r, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1":
		return &latin1Reader{r: bufio.NewReader(r)}, nil
	}
	return nil, fmt.Errorf("encoding %q is not supported (UTF-8, US-ASCII or ISO-8859-1)", label)
}

type latin1Reader struct {
	r       *bufio.Reader
	pending []byte
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(l.pending) > 0 {
			c := copy(p[n:], l.pending)
			n += c
			l.pending = l.pending[c:]
			continue
		}
		b, err := l.r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if b < utf8.RuneSelf {
			p[n] = b
			n++
			continue
		}
		var buf [2]byte
		utf8.EncodeRune(buf[:], rune(b))
		l.pending = append(l.pending[:0], buf[:]...)
	}
	return n, nil
}
