package flows

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/openapi"
)

// checkRestOpenAPI checks a REST step against its connection's OpenAPI
// document: the operation or the path and method it calls, its
// parameters, its body, the status codes it expects. It records the
// operation, so that expressions reading the step's response can be
// checked against its schema.
func (c *checker) checkRestOpenAPI(b *body, p string, r *RestStep) {
	doc := b.doc
	var cn *Connection
	if cd := c.idx.connections[r.Connection]; cd != nil {
		cn, _ = cd.value.(*Connection)
	}
	uses := r.Operation != "" || r.Params != nil || r.ValidateResponse != ""
	if cn != nil && cn.OpenAPI == "" && uses {
		at := p + ".operation"
		switch {
		case r.Operation == "" && r.Params != nil:
			at = p + ".params"
		case r.Operation == "":
			at = p + ".validate_response"
		}
		c.errorf(doc, doc.keyPos(at), at, "connection %q has no OpenAPI document; add openapi: (a file or URL) to the connection to use %s", r.Connection, lastKey(at))
		return
	}
	if r.Operation == "" && r.Params != nil {
		c.errorf(doc, doc.keyPos(p+".params"), p+".params", "params gives the parameters of operation:; name the operation, or write the parameters into path and query")
	}
	spec := c.l.oas.spec(r.Connection)
	if spec == nil {
		return // no document, or one that did not load (reported at the connection)
	}
	var op *openapi.Operation
	if r.Operation != "" {
		op = c.resolveOperation(doc, p, r, spec)
	} else {
		op = c.matchPath(doc, p, r, spec)
	}
	if op == nil {
		return
	}
	if c.l.oas.steps == nil {
		c.l.oas.steps = map[oasStepKey]*oasStepOp{}
	}
	c.l.oas.steps[oasStepKey{doc, parentPath(p)}] = &oasStepOp{spec: spec, op: op, rest: r}
	strict := cn != nil && cn.OpenAPIStrict
	c.checkOperationParams(doc, p, r, cn, spec, op, strict)
	c.checkOperationBody(doc, p, r, spec, op)
	for i, code := range r.Expect {
		if code >= 100 && code <= 599 && !op.Declares(code) && op.ResponseFor(code) == nil {
			ep := indexPath(p+".expect", i)
			c.warnf(doc, doc.valPos(ep), ep, "operation %s does not declare status %d (it declares %s)", op.Name(), code, declared(op))
		}
	}
	if r.ValidateResponse != "" && !hasJSONSchema(op, r.Expect) {
		vp := p + ".validate_response"
		c.warnf(doc, doc.valPos(vp), vp, "validate_response has nothing to check: operation %s gives no JSON schema for the status codes the step expects", op.Name())
	}
}

func declared(op *openapi.Operation) string {
	if len(op.Responses) == 0 {
		return "no response"
	}
	return strings.Join(op.Codes(), ", ")
}

func hasJSONSchema(op *openapi.Operation, expect []int) bool {
	codes := expect
	if len(codes) == 0 {
		codes = op.SuccessCodes()
		for _, r := range op.Responses {
			if strings.EqualFold(r.Code, "2XX") && r.Schema != nil {
				return true
			}
		}
	}
	for _, code := range codes {
		if r := op.ResponseFor(code); r != nil && r.Schema != nil && (r.ContentType == "" || openapi.IsJSONType(r.ContentType)) {
			return true
		}
	}
	return false
}

// resolveOperation finds the operation a step names.
func (c *checker) resolveOperation(doc *document, p string, r *RestStep, spec *openapi.Spec) *openapi.Operation {
	op, msg := findOperation(spec, r.Operation)
	if msg != "" {
		c.errorf(doc, doc.valPos(p+".operation"), p+".operation", "%s", msg)
		return nil
	}
	if _, set := doc.vals[p+".method"]; set {
		c.errorf(doc, doc.keyPos(p+".method"), p+".method", "operation %s gives the method (%s); remove method:", op.Name(), op.Method)
	}
	if _, set := doc.vals[p+".path"]; set {
		c.errorf(doc, doc.keyPos(p+".path"), p+".path", "operation %s gives the path (%s); remove path: and give its parameters in params", op.Name(), op.Path)
	}
	return op
}

// findOperation returns the operation named id, or why there is none.
func findOperation(spec *openapi.Spec, id string) (*openapi.Operation, string) {
	ops := spec.Ops(id)
	switch len(ops) {
	case 1:
		return ops[0], ""
	case 0:
		ids := spec.IDs()
		if len(ids) == 0 {
			return nil, fmt.Sprintf("unknown operation %q: the OpenAPI document gives no operationIds; call the operation with method: and path:", id)
		}
		return nil, fmt.Sprintf("unknown operation %q %s", id, known(id, ids, "operations"))
	}
	var where []string
	for _, op := range ops {
		where = append(where, op.Method+" "+op.Path)
	}
	return nil, fmt.Sprintf("operation %q is ambiguous: the OpenAPI document gives it to %s; call the one you mean with method: and path:", id, strings.Join(where, " and "))
}

// matchPath finds the operation a hand-written method and path call.
func (c *checker) matchPath(doc *document, p string, r *RestStep, spec *openapi.Spec) *openapi.Operation {
	method := r.Method
	if method == "" {
		method = "GET"
	}
	m := spec.Match(method, r.Path)
	if m.Op != nil {
		return m.Op
	}
	shown := r.Path
	if shown == "" {
		shown = "/"
	}
	if len(m.PathOps) > 0 {
		var methods []string
		for _, op := range m.PathOps {
			methods = append(methods, op.Method)
		}
		at := p + ".method"
		if _, set := doc.vals[at]; !set {
			at = p + ".path"
		}
		c.errorf(doc, doc.valPos(at), at, "%s %s is not in the OpenAPI document: path %s takes %s", method, shown, m.PathOps[0].Path, strings.Join(methods, ", "))
		return nil
	}
	msg := fmt.Sprintf("path %s matches no path of the OpenAPI document", shown)
	if near, ok := closest(openapi.MaskExpressions(r.Path), spec.Paths()); ok {
		msg += fmt.Sprintf(" (did you mean %s?)", near)
	}
	at := p + ".path"
	if _, set := doc.vals[at]; !set {
		at = p
	}
	c.errorf(doc, doc.valPos(at), at, "%s", msg)
	return nil
}

// checkOperationParams checks the parameters a step gives against those
// the operation declares: unknown ones (a warning unless openapi_strict),
// missing required ones, and literal values against their schemas.
func (c *checker) checkOperationParams(doc *document, p string, r *RestStep, cn *Connection, spec *openapi.Spec, op *openapi.Operation, strict bool) {
	report := c.warnf
	if strict {
		report = c.errorf
	}
	var names []string
	for _, prm := range op.Params {
		names = append(names, prm.Name)
	}
	given := map[string]bool{}
	checkValue := func(kp string, prm *openapi.Param, v any) {
		if prm.Schema == nil {
			return
		}
		for _, m := range openapi.Check(spec.Schemas, prm.Schema, placeholder(v), openapi.Options{Dir: openapi.RequestDir, Scalars: true, Max: 3}) {
			c.errorf(doc, doc.valPos(kp), kp, "parameter %q of operation %s: %s", prm.Name, op.Name(), m.Message)
		}
	}
	if r.Operation != "" {
		pathParams := openapi.PathParams(op.Path)
		for _, k := range doc.order[p+".params"] {
			kp := joinPath(p+".params", k)
			prm := op.Param(k)
			if prm == nil {
				report(doc, doc.keyPos(kp), kp, "unknown parameter %q of operation %s %s", k, op.Name(), known(k, names, "parameters"))
				continue
			}
			given[prm.In+"\x00"+strings.ToLower(prm.Name)] = true
			if prm.In == "path" && !contains(pathParams, prm.Name) {
				c.warnf(doc, doc.keyPos(kp), kp, "the OpenAPI document declares path parameter %q, but the path %s has no place for it; it is not sent", prm.Name, op.Path)
				continue
			}
			if prm.In == "path" {
				if s, ok := r.Params[k].(string); ok && !engine.IsTemplate(s) && strings.ContainsAny(s, "/?#") {
					c.errorf(doc, doc.valPos(kp), kp, "path parameter %q is inserted into the path as it is, and %q would change the path; escape it (%s)", prm.Name, s, url.PathEscape(s))
					continue
				}
			}
			checkValue(kp, prm, r.Params[k])
		}
	} else {
		// A hand-written path holds the path parameters; its query and
		// headers hold the others.
		for _, k := range doc.order[p+".query"] {
			kp := joinPath(p+".query", k)
			prm := findParam(op, "query", k)
			if prm == nil {
				report(doc, doc.keyPos(kp), kp, "unknown query parameter %q of operation %s %s", k, op.Name(), known(k, paramNames(op, "query"), "query parameters"))
				continue
			}
			checkValue(kp, prm, r.Query[k])
		}
		for _, prm := range op.ParamsIn("path") {
			given["path\x00"+strings.ToLower(prm.Name)] = true
		}
	}
	for _, k := range doc.order[p+".query"] {
		given["query\x00"+strings.ToLower(k)] = true
	}
	for _, k := range queryNames(r.Path) {
		given["query\x00"+strings.ToLower(k)] = true
	}
	for _, k := range doc.order[p+".headers"] {
		given["header\x00"+strings.ToLower(k)] = true
	}
	if cn != nil {
		for k := range cn.Headers {
			given["header\x00"+strings.ToLower(k)] = true
		}
		if cr := cn.Credential; cr != nil && cr.Type == "api_key" {
			key := cr.Key
			if key == "" {
				key = "X-API-Key"
			}
			in := "header"
			if cr.In == "query" {
				in = "query"
			}
			given[in+"\x00"+strings.ToLower(key)] = true
		}
	}
	missing := map[string][]string{}
	var ins []string
	for _, prm := range op.Params {
		if prm.Required && !given[prm.In+"\x00"+strings.ToLower(prm.Name)] {
			if missing[prm.In] == nil {
				ins = append(ins, prm.In)
			}
			missing[prm.In] = append(missing[prm.In], prm.Name)
		}
	}
	for _, in := range ins {
		names := missing[in]
		noun := "parameter"
		if len(names) > 1 {
			noun = "parameters"
		}
		where, at := "params", p+".params"
		if _, set := doc.keys[at]; !set {
			at = p
		}
		if r.Operation == "" {
			where, at = map[string]string{"query": "query", "header": "headers", "cookie": "headers (Cookie)", "path": "path"}[in], p
		}
		c.errorf(doc, doc.keyPos(at), at, "missing required %s %s %s of operation %s; add it under %s", in, noun, quoteList(names), op.Name(), where)
	}
}

func findParam(op *openapi.Operation, in, name string) *openapi.Param {
	for i := range op.Params {
		if op.Params[i].In == in && (op.Params[i].Name == name || (in == "header" && strings.EqualFold(op.Params[i].Name, name))) {
			return &op.Params[i]
		}
	}
	return nil
}

func paramNames(op *openapi.Operation, in string) []string {
	var out []string
	for _, p := range op.ParamsIn(in) {
		out = append(out, p.Name)
	}
	return out
}

// queryNames lists the query parameters a hand-written path writes itself.
func queryNames(p string) []string {
	masked := openapi.MaskExpressions(p)
	i := strings.IndexByte(masked, '?')
	if i < 0 {
		return nil
	}
	var out []string
	for _, kv := range strings.Split(masked[i+1:], "&") {
		k, _, _ := strings.Cut(kv, "=")
		if k != "" && !strings.Contains(k, "\x00") {
			out = append(out, k)
		}
	}
	return out
}

// checkOperationBody checks a step's body against the operation's request
// body: present when required, and its literal parts against the schema.
func (c *checker) checkOperationBody(doc *document, p string, r *RestStep, spec *openapi.Spec, op *openapi.Operation) {
	bp := p + ".body"
	switch {
	case op.Body == nil && r.Body != nil:
		c.warnf(doc, doc.keyPos(bp), bp, "operation %s declares no request body; it is sent all the same (the document may be missing it)", op.Name())
		return
	case op.Body == nil:
		return
	case r.Body == nil:
		if op.Body.Required {
			at := p
			c.errorf(doc, doc.keyPos(at), at, "operation %s needs a request body; add body:", op.Name())
		}
		return
	}
	if op.Body.IsMultipart() {
		c.warnf(doc, doc.keyPos(bp), bp, "operation %s takes %s, which rest steps do not send (they send json, text or form)", op.Name(), strings.Join(op.Body.ContentTypes, ", "))
		return
	}
	if op.Body.IsForm() && r.BodyType != "" && r.BodyType != "form" {
		tp := p + ".body_type"
		c.warnf(doc, doc.valPos(tp), tp, "operation %s takes a form (%s); body_type %s may be refused", op.Name(), strings.Join(op.Body.ContentTypes, ", "), r.BodyType)
	}
	if op.Body.Schema == nil || r.BodyType == "text" {
		return
	}
	form := r.BodyType == "form" || (r.BodyType == "" && op.Body.IsForm())
	for _, m := range openapi.Check(spec.Schemas, op.Body.Schema, placeholder(r.Body), openapi.Options{Dir: openapi.RequestDir, Scalars: form}) {
		at := bodyPath(bp, m.Path)
		msg := m.Message
		pos := doc.valPos(at)
		if m.Field != "" {
			at = joinPath(at, m.Field)
			pos = doc.keyPos(at)
			msg = fmt.Sprintf("unknown property %q: the schema allows no others %s", m.Field, known(m.Field, m.Known, "properties"))
		} else if strings.HasPrefix(msg, "missing required") {
			pos = doc.keyPos(at)
		}
		c.errorf(doc, pos, at, "the body does not fit operation %s: %s", op.Name(), msg)
	}
}

// bodyPath turns a mismatch's path into the YAML path of the body part.
func bodyPath(bp string, path []any) string {
	for _, seg := range path {
		switch x := seg.(type) {
		case string:
			bp = joinPath(bp, x)
		case int:
			bp = indexPath(bp, x)
		}
	}
	return bp
}

// placeholder copies a value with expressions replaced by openapi.Unknown:
// a string that is one whole expression may be anything, a string with
// text around an expression is a string.
func placeholder(v any) any {
	switch x := v.(type) {
	case string:
		if !engine.IsTemplate(x) {
			return x
		}
		t := strings.TrimSpace(x)
		if strings.HasPrefix(t, "${{") && strings.HasSuffix(t, "}}") && strings.Count(t, "${{") == 1 {
			return openapi.Unknown{}
		}
		return openapi.Unknown{Text: true}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = placeholder(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = placeholder(e)
		}
		return out
	}
	return v
}
