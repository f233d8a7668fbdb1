package gateway

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// maxXMLDepth bounds nesting, so a hostile body cannot exhaust the stack.
const maxXMLDepth = 64

// xmlTree reads an XML document as a map: each element under its local
// name, repeated elements as a list, text as the value of a leaf (or under
// "#text" beside attributes, which are "@name"). The root element is the
// map's one key.
func xmlTree(b []byte) (map[string]any, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	type frame struct {
		name string
		m    map[string]any
		text strings.Builder
	}
	root := map[string]any{}
	stack := []*frame{{m: root}}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) > maxXMLDepth {
				return nil, errors.New("nested deeper than 64 elements")
			}
			f := &frame{name: t.Name.Local, m: map[string]any{}}
			for _, a := range t.Attr {
				f.m["@"+a.Name.Local] = a.Value
			}
			stack = append(stack, f)
		case xml.CharData:
			stack[len(stack)-1].text.Write(t)
		case xml.EndElement:
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			var v any = f.m
			text := strings.TrimSpace(f.text.String())
			if len(f.m) == 0 {
				v = text
			} else if text != "" {
				f.m["#text"] = text
			}
			parent := stack[len(stack)-1].m
			switch prev := parent[f.name].(type) {
			case nil:
				parent[f.name] = v
			case []any:
				parent[f.name] = append(prev, v)
			default:
				parent[f.name] = []any{prev, v}
			}
		}
	}
	if len(root) == 0 {
		return nil, errors.New("no element")
	}
	return root, nil
}
