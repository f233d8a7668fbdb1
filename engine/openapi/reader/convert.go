package reader

import (
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/pb33f/go-yaml"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v2high "github.com/pb33f/libopenapi/datamodel/high/v2"
	v3high "github.com/pb33f/libopenapi/datamodel/high/v3"
	v2low "github.com/pb33f/libopenapi/datamodel/low/v2"
	"github.com/pb33f/libopenapi/orderedmap"

	"github.com/outflow-dev/outflow/engine/openapi"
)

// maxInlineDepth bounds how deep inline schemas nest; named schemas are
// referenced, so recursion through them costs nothing.
const maxInlineDepth = 64

// ignoredHeaders are the header parameters OpenAPI 3 says SHALL be ignored.
var ignoredHeaders = []string{"accept", "content-type", "authorization"}

type method3 struct {
	name string
	op   *v3high.Operation
}

func (c *converter) openapi3(doc *v3high.Document) {
	if doc.Info != nil {
		c.spec.Title = doc.Info.Title
	}
	if doc.Paths == nil || doc.Paths.PathItems == nil {
		return
	}
	for pair := doc.Paths.PathItems.First(); pair != nil; pair = pair.Next() {
		p, pi := pair.Key(), pair.Value()
		if pi == nil {
			continue
		}
		for _, m := range []method3{{"GET", pi.Get}, {"PUT", pi.Put}, {"POST", pi.Post}, {"DELETE", pi.Delete},
			{"OPTIONS", pi.Options}, {"HEAD", pi.Head}, {"PATCH", pi.Patch}, {"TRACE", pi.Trace}} {
			if m.op == nil {
				continue
			}
			c.spec.Operations = append(c.spec.Operations, c.operation3(p, m.name, pi, m.op))
		}
	}
}

func (c *converter) operation3(p, method string, pi *v3high.PathItem, o *v3high.Operation) *openapi.Operation {
	op := &openapi.Operation{ID: o.OperationId, Method: method, Path: p, Summary: firstLine(o.Summary), Tags: o.Tags}
	if o.Deprecated != nil {
		op.Deprecated = *o.Deprecated
	}
	if low := o.GoLow(); low != nil && low.KeyNode != nil {
		op.Line, op.Col = low.KeyNode.Line, low.KeyNode.Column
	}
	var params []openapi.Param
	add := func(ps []*v3high.Parameter) {
		for _, prm := range ps {
			if prm == nil || prm.Name == "" {
				continue
			}
			if prm.In == "header" && contains(ignoredHeaders, strings.ToLower(prm.Name)) {
				c.defect(openapi.DefectIgnoredHeaderParam, op.Line, op.Col, "%s %s declares the header parameter %s, which OpenAPI 3 says to ignore (Outflow sets it from the body and the connection's credential); it is left out", method, p, prm.Name)
				continue
			}
			q := openapi.Param{Name: prm.Name, In: prm.In, Description: firstLine(prm.Description)}
			if prm.Required != nil {
				q.Required = *prm.Required
			}
			if prm.Schema != nil {
				q.Schema = c.proxy(prm.Schema, 0)
			} else if prm.Content != nil {
				if mt := firstMedia(prm.Content); mt != nil && mt.Schema != nil {
					q.Schema = c.proxy(mt.Schema, 0)
				}
			}
			params = mergeParam(params, q)
		}
	}
	add(pi.Parameters)
	add(o.Parameters)
	op.Params = params
	if rb := o.RequestBody; rb != nil {
		b := &openapi.Body{}
		if rb.Required != nil {
			b.Required = *rb.Required
		}
		var chosen *v3high.MediaType
		if rb.Content != nil {
			for mp := rb.Content.First(); mp != nil; mp = mp.Next() {
				b.ContentTypes = append(b.ContentTypes, mp.Key())
			}
			chosen = pickMedia(rb.Content)
		}
		if chosen != nil && chosen.Schema != nil {
			b.Schema = c.proxy(chosen.Schema, 0)
		}
		op.Body = b
	}
	if o.Responses != nil {
		if o.Responses.Codes != nil {
			for rp := o.Responses.Codes.First(); rp != nil; rp = rp.Next() {
				op.Responses = append(op.Responses, c.response3(rp.Key(), rp.Value()))
			}
		}
		if o.Responses.Default != nil {
			op.Responses = append(op.Responses, c.response3("default", o.Responses.Default))
		}
	}
	return op
}

func (c *converter) response3(code string, r *v3high.Response) openapi.Response {
	out := openapi.Response{Code: strings.ToUpper(code), Description: firstLine(r.Description)}
	if code == "default" {
		out.Code = code
	}
	if r.Content != nil {
		var ct string
		for mp := r.Content.First(); mp != nil; mp = mp.Next() {
			if openapi.IsJSONType(mp.Key()) {
				ct = mp.Key()
				break
			}
		}
		if ct == "" {
			if first := r.Content.First(); first != nil {
				ct = first.Key()
			}
		}
		if ct != "" {
			out.ContentType = ct
			if mt := r.Content.GetOrZero(ct); mt != nil && mt.Schema != nil {
				out.Schema = c.proxy(mt.Schema, 0)
			}
		}
	}
	return out
}

type contentMap = *orderedmap.Map[string, *v3high.MediaType]

func firstMedia(content contentMap) *v3high.MediaType {
	if first := content.First(); first != nil {
		return first.Value()
	}
	return nil
}

// pickMedia chooses the content whose schema a body is checked against:
// JSON first, then a URL-encoded form, then anything.
func pickMedia(content contentMap) *v3high.MediaType {
	var form, any *v3high.MediaType
	for mp := content.First(); mp != nil; mp = mp.Next() {
		k := strings.ToLower(mp.Key())
		switch {
		case openapi.IsJSONType(k):
			return mp.Value()
		case strings.HasPrefix(k, "application/x-www-form-urlencoded") && form == nil:
			form = mp.Value()
		case any == nil:
			any = mp.Value()
		}
	}
	if form != nil {
		return form
	}
	return any
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// mergeParam adds q, replacing a parameter of the same name and location:
// the operation's parameters override the path item's.
func mergeParam(params []openapi.Param, q openapi.Param) []openapi.Param {
	for i := range params {
		if params[i].Name == q.Name && params[i].In == q.In {
			params[i] = q
			return params
		}
	}
	return append(params, q)
}

func (c *converter) swagger(doc *v2high.Swagger) {
	if doc.Info != nil {
		c.spec.Title = doc.Info.Title
	}
	if doc.Paths == nil || doc.Paths.PathItems == nil {
		return
	}
	for pair := doc.Paths.PathItems.First(); pair != nil; pair = pair.Next() {
		p, pi := pair.Key(), pair.Value()
		if pi == nil {
			continue
		}
		for _, m := range []struct {
			name string
			op   *v2high.Operation
		}{{"GET", pi.Get}, {"PUT", pi.Put}, {"POST", pi.Post}, {"DELETE", pi.Delete},
			{"OPTIONS", pi.Options}, {"HEAD", pi.Head}, {"PATCH", pi.Patch}} {
			if m.op == nil {
				continue
			}
			c.spec.Operations = append(c.spec.Operations, c.operation2(doc, p, m.name, pi, m.op))
		}
	}
}

func (c *converter) operation2(doc *v2high.Swagger, p, method string, pi *v2high.PathItem, o *v2high.Operation) *openapi.Operation {
	op := &openapi.Operation{ID: o.OperationId, Method: method, Path: p, Summary: firstLine(o.Summary), Tags: o.Tags, Deprecated: o.Deprecated}
	if low := pi.GoLow(); low != nil {
		if kn := v2KeyNode(low, method); kn != nil {
			op.Line, op.Col = kn.Line, kn.Column
		}
	}
	consumes := o.Consumes
	if len(consumes) == 0 {
		consumes = doc.Consumes
	}
	produces := o.Produces
	if len(produces) == 0 {
		produces = doc.Produces
	}
	var params []openapi.Param
	var body *openapi.Body
	var form *openapi.Schema
	var formRequired, file bool
	for _, prm := range append(append([]*v2high.Parameter(nil), pi.Parameters...), o.Parameters...) {
		if prm == nil || prm.Name == "" {
			continue
		}
		required := prm.Required != nil && *prm.Required
		switch prm.In {
		case "body":
			body = &openapi.Body{Required: required, ContentTypes: consumes}
			if len(body.ContentTypes) == 0 {
				body.ContentTypes = []string{"application/json"}
			}
			if prm.Schema != nil {
				body.Schema = c.proxy(prm.Schema, 0)
			}
		case "formData":
			if form == nil {
				form = &openapi.Schema{Types: []string{"object"}, Properties: map[string]*openapi.Schema{}}
			}
			if _, dup := form.Properties[prm.Name]; !dup {
				form.Order = append(form.Order, prm.Name)
			}
			form.Properties[prm.Name] = c.param2Schema(prm)
			if required && !contains(form.Required, prm.Name) {
				form.Required = append(form.Required, prm.Name)
			}
			formRequired = formRequired || required
			file = file || prm.Type == "file"
		default:
			params = mergeParam(params, openapi.Param{Name: prm.Name, In: prm.In, Required: required, Schema: c.param2Schema(prm), Description: firstLine(prm.Description)})
		}
	}
	if form != nil && body == nil {
		var cts []string
		for _, ct := range consumes {
			l := strings.ToLower(ct)
			if strings.HasPrefix(l, "application/x-www-form-urlencoded") || strings.HasPrefix(l, "multipart/form-data") {
				cts = append(cts, ct)
			}
		}
		if len(cts) == 0 {
			cts = []string{"application/x-www-form-urlencoded"}
			if file {
				cts = []string{"multipart/form-data"}
			}
		}
		body = &openapi.Body{Required: formRequired, ContentTypes: cts, Schema: form}
	}
	op.Params, op.Body = params, body
	ct := ""
	for _, p := range produces {
		if openapi.IsJSONType(p) {
			ct = p
			break
		}
	}
	if ct == "" && len(produces) > 0 {
		ct = produces[0]
	}
	if ct == "" {
		ct = "application/json"
	}
	if o.Responses != nil {
		if o.Responses.Codes != nil {
			for rp := o.Responses.Codes.First(); rp != nil; rp = rp.Next() {
				op.Responses = append(op.Responses, c.response2(strings.ToUpper(rp.Key()), rp.Value(), ct))
			}
		}
		if o.Responses.Default != nil {
			op.Responses = append(op.Responses, c.response2("default", o.Responses.Default, ct))
		}
	}
	return op
}

// v2KeyNode is the method key of a Swagger 2.0 operation in its path item.
func v2KeyNode(pi *v2low.PathItem, method string) *yaml.Node {
	switch method {
	case "GET":
		return pi.Get.KeyNode
	case "PUT":
		return pi.Put.KeyNode
	case "POST":
		return pi.Post.KeyNode
	case "DELETE":
		return pi.Delete.KeyNode
	case "OPTIONS":
		return pi.Options.KeyNode
	case "HEAD":
		return pi.Head.KeyNode
	case "PATCH":
		return pi.Patch.KeyNode
	}
	return nil
}

func (c *converter) response2(code string, r *v2high.Response, ct string) openapi.Response {
	out := openapi.Response{Code: code}
	if r == nil {
		return out
	}
	out.Description = firstLine(r.Description)
	if r.Schema != nil {
		out.ContentType = ct
		out.Schema = c.proxy(r.Schema, 0)
	}
	return out
}

// param2Schema builds the schema of a Swagger 2.0 parameter that is not a
// body, whose type and constraints are written on the parameter itself.
func (c *converter) param2Schema(p *v2high.Parameter) *openapi.Schema {
	if p.Schema != nil {
		return c.proxy(p.Schema, 0)
	}
	s := &openapi.Schema{Format: p.Format, Pattern: p.Pattern, Description: firstLine(p.Description)}
	if p.Type != "" && p.Type != "file" {
		s.Types = []string{p.Type}
	}
	s.Enum = decodeNodes(p.Enum)
	s.Default = decodeNode(p.Default)
	if p.Minimum != nil {
		f := float64(*p.Minimum)
		if p.ExclusiveMinimum != nil && *p.ExclusiveMinimum {
			s.ExclusiveMinimum = &f
		} else {
			s.Minimum = &f
		}
	}
	if p.Maximum != nil {
		f := float64(*p.Maximum)
		if p.ExclusiveMaximum != nil && *p.ExclusiveMaximum {
			s.ExclusiveMaximum = &f
		} else {
			s.Maximum = &f
		}
	}
	s.MinLength, s.MaxLength, s.MinItems, s.MaxItems = p.MinLength, p.MaxLength, p.MinItems, p.MaxItems
	if p.Items != nil {
		s.Items = items2Schema(p.Items, 0)
	}
	return s
}

func items2Schema(it *v2high.Items, depth int) *openapi.Schema {
	if it == nil || depth > maxInlineDepth {
		return nil
	}
	s := &openapi.Schema{Format: it.Format, Pattern: it.Pattern, Enum: decodeNodes(it.Enum)}
	if it.Type != "" {
		s.Types = []string{it.Type}
	}
	s.Items = items2Schema(it.Items, depth+1)
	return s
}

// proxy converts a schema, or refers to the named schema a $ref names,
// converting that once.
func (c *converter) proxy(sp *base.SchemaProxy, depth int) *openapi.Schema {
	if sp == nil {
		return nil
	}
	if depth > maxInlineDepth {
		return &openapi.Schema{}
	}
	if sp.IsReference() {
		key := c.refKey(sp)
		if name, ok := c.names[key]; ok {
			return &openapi.Schema{Ref: name}
		}
		name := c.newName(sp.GetReference())
		c.names[key] = name
		target := &openapi.Schema{}
		c.spec.Schemas[name] = target
		if s := sp.Schema(); s != nil {
			*target = *c.schema(s, 0)
		}
		return &openapi.Schema{Ref: name}
	}
	s := sp.Schema()
	if s == nil {
		return &openapi.Schema{}
	}
	return c.schema(s, depth+1)
}

// refKey identifies the schema a $ref leads to by where it is, so that
// the same name in two files stays two schemas and two $refs to one
// schema share it.
func (c *converter) refKey(sp *base.SchemaProxy) string {
	if low := sp.GoLow(); low != nil {
		if o := low.GetSchemaReferenceLocation(); o != nil && o.AbsoluteLocation != "" {
			return fmt.Sprintf("%s:%d:%d", o.AbsoluteLocation, o.Line, o.Column)
		}
	}
	return "ref:" + sp.GetReference()
}

// newName names a referenced schema after the last part of its $ref
// (Pet for #/components/schemas/Pet or common/Pet.yaml), unique.
func (c *converter) newName(ref string) string {
	name := ref
	if i := strings.LastIndex(ref, "#"); i >= 0 && i < len(ref)-1 {
		frag := ref[i+1:]
		name = frag[strings.LastIndex(frag, "/")+1:]
		name = strings.NewReplacer("~1", "/", "~0", "~").Replace(name)
	} else {
		name = strings.TrimSuffix(path.Base(strings.TrimSuffix(ref, "#")), path.Ext(ref))
	}
	if u, err := url.PathUnescape(name); err == nil {
		name = u
	}
	if name == "" || name == "." || name == "/" {
		name = "schema"
	}
	unique := name
	for i := 2; c.taken[unique]; i++ {
		unique = fmt.Sprintf("%s_%d", name, i)
	}
	c.taken[unique] = true
	return unique
}

func (c *converter) schema(s *base.Schema, depth int) *openapi.Schema {
	out := &openapi.Schema{Format: s.Format, Pattern: s.Pattern, Description: firstLine(s.Description)}
	for _, t := range s.Type {
		if t == "file" {
			continue // Swagger 2.0 uploads: any content
		}
		out.Types = append(out.Types, t)
	}
	if s.Nullable != nil && *s.Nullable {
		out.Nullable = true
	}
	out.Enum = decodeNodes(s.Enum)
	if s.Const != nil {
		out.Enum = []any{decodeNode(s.Const)}
	}
	out.Default = decodeNode(s.Default)
	out.Example = decodeNode(s.Example)
	if out.Example == nil && len(s.Examples) > 0 {
		out.Example = decodeNode(s.Examples[0])
	}
	if s.Properties != nil {
		out.Properties = map[string]*openapi.Schema{}
		for pp := s.Properties.First(); pp != nil; pp = pp.Next() {
			out.Order = append(out.Order, pp.Key())
			out.Properties[pp.Key()] = c.proxy(pp.Value(), depth)
		}
	}
	out.Required = append([]string(nil), s.Required...)
	if ap := s.AdditionalProperties; ap != nil {
		if ap.IsA() {
			if ap.A != nil {
				out.Additional = c.proxy(ap.A, depth)
			}
		} else if !ap.B {
			out.Closed = true
		}
	}
	if it := s.Items; it != nil && it.IsA() && it.A != nil {
		out.Items = c.proxy(it.A, depth)
	}
	for _, a := range s.AllOf {
		out.AllOf = append(out.AllOf, c.proxy(a, depth))
	}
	for _, a := range s.AnyOf {
		out.AnyOf = append(out.AnyOf, c.proxy(a, depth))
	}
	if len(s.OneOf) > 0 {
		out.OneOf = len(s.AnyOf) == 0
		for _, a := range s.OneOf {
			out.AnyOf = append(out.AnyOf, c.proxy(a, depth))
		}
	}
	out.Minimum, out.Maximum = s.Minimum, s.Maximum
	if e := s.ExclusiveMinimum; e != nil {
		if e.IsA() {
			if e.A && out.Minimum != nil {
				out.ExclusiveMinimum, out.Minimum = out.Minimum, nil
			}
		} else {
			v := e.B
			out.ExclusiveMinimum = &v
		}
	}
	if e := s.ExclusiveMaximum; e != nil {
		if e.IsA() {
			if e.A && out.Maximum != nil {
				out.ExclusiveMaximum, out.Maximum = out.Maximum, nil
			}
		} else {
			v := e.B
			out.ExclusiveMaximum = &v
		}
	}
	out.MinLength, out.MaxLength = intPtr(s.MinLength), intPtr(s.MaxLength)
	out.MinItems, out.MaxItems = intPtr(s.MinItems), intPtr(s.MaxItems)
	out.ReadOnly = s.ReadOnly != nil && *s.ReadOnly
	out.WriteOnly = s.WriteOnly != nil && *s.WriteOnly
	return out
}

func intPtr(p *int64) *int {
	if p == nil {
		return nil
	}
	n := int(*p)
	return &n
}

func decodeNodes(ns []*yaml.Node) []any {
	if len(ns) == 0 {
		return nil
	}
	out := make([]any, 0, len(ns))
	for _, n := range ns {
		out = append(out, decodeNode(n))
	}
	return out
}

func decodeNode(n *yaml.Node) any {
	if n == nil {
		return nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil
	}
	return normalize(v)
}

// normalize turns what the YAML decoder gives into JSON-shaped values.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	case int:
		return int64(x)
	}
	return v
}
