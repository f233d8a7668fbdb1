package flows

import (
	"net/url"
	"strings"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/openapi"
)

// compileRestOpenAPI resolves a REST step that names an operation of its
// connection's OpenAPI document into the method, path, query and headers
// the workflow sends, so that the workflow runs it as any other REST step;
// and gives a step with validate_response the response schemas it needs.
func (c *compiler) compileRestOpenAPI(r *RestStep, es *engine.RestStep) {
	spec := c.p.oas.spec(r.Connection)
	if spec == nil {
		return
	}
	var op *openapi.Operation
	if r.Operation != "" {
		if op, _ = findOperation(spec, r.Operation); op == nil {
			return // refused by the loader
		}
		es.Operation = op.ID
		es.Method = op.Method
		query, headers := Scalars{}, Scalars{}
		for k, v := range r.Query {
			query[k] = v
		}
		for k, v := range r.Headers {
			headers[k] = v
		}
		byName := map[string]any{}
		var cookies []string
		for _, k := range sortedKeys(r.Params) {
			prm := op.Param(k)
			if prm == nil {
				query[k] = r.Params[k] // not declared: sent as a query parameter, as warned
				continue
			}
			switch prm.In {
			case "path":
				byName[prm.Name] = r.Params[k]
			case "query":
				query[prm.Name] = r.Params[k]
			case "header":
				headers[prm.Name] = r.Params[k]
			case "cookie":
				cookies = append(cookies, prm.Name+"="+engine.Stringify(r.Params[k]))
			}
		}
		if len(cookies) > 0 {
			headers["Cookie"] = strings.Join(cookies, "; ")
		}
		es.Path = openapi.FillPath(op.Path, func(name string) (string, bool) {
			v, ok := byName[name]
			if !ok {
				return "", false
			}
			if s, isStr := v.(string); isStr && engine.IsTemplate(s) {
				return s, true
			}
			return url.PathEscape(engine.Stringify(v)), true
		})
		es.Query = sortedBindings(query)
		es.Headers = sortedBindings(headers)
		if r.BodyType == "" && op.Body.IsForm() {
			es.BodyType = "form"
		}
	} else {
		method := r.Method
		if method == "" {
			method = "GET"
		}
		op = spec.Match(method, r.Path).Op
	}
	if op != nil && r.ValidateResponse != "" {
		es.ValidateResponse = string(r.ValidateResponse)
		es.Responses = spec.ResponseCheck(op, r.Expect)
	}
}
