package openapi

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ResponseCheck is what a worker needs to check a step's response against
// the spec: the responses of the codes the step expects, and the named
// schemas they use. It travels in the plan, so it holds no more than that.
type ResponseCheck struct {
	// Operation names the operation for messages: "getPayment (GET /payments/{id})".
	Operation string             `json:"operation"`
	Responses []Response         `json:"responses"`
	Schemas   map[string]*Schema `json:"schemas,omitempty"`
}

// ResponseCheck returns the responses of op that a step expecting the
// status codes expect (any 2xx when empty) may get, with the named schemas
// they reach.
func (s *Spec) ResponseCheck(op *Operation, expect []int) *ResponseCheck {
	rc := &ResponseCheck{Operation: op.String()}
	wanted := func(code string) bool {
		if len(expect) == 0 {
			return strings.HasPrefix(code, "2")
		}
		for _, e := range expect {
			if code == strconv.Itoa(e) || strings.EqualFold(code, fmt.Sprintf("%dXX", e/100)) {
				return true
			}
		}
		return false
	}
	for _, r := range op.Responses {
		if wanted(r.Code) || (r.Code == "default" && !op.declaresAll(expect)) {
			r.Schema = trim(r.Schema)
			rc.Responses = append(rc.Responses, r)
		}
	}
	names := map[string]bool{}
	for _, r := range rc.Responses {
		s.collectRefs(r.Schema, names)
	}
	if len(names) > 0 {
		rc.Schemas = map[string]*Schema{}
		for n := range names {
			rc.Schemas[n] = trim(s.Schemas[n])
		}
	}
	return rc
}

// declaresAll reports whether op declares every code of expect by number
// or range (any 2xx when expect is empty), so that its default response
// is not needed.
func (op *Operation) declaresAll(expect []int) bool {
	if len(expect) == 0 {
		for _, r := range op.Responses {
			if strings.HasPrefix(r.Code, "2") {
				return true
			}
		}
		return false
	}
	for _, e := range expect {
		if !op.Declares(e) {
			return false
		}
	}
	return true
}

// collectRefs adds the names of the named schemas sc reaches.
func (s *Spec) collectRefs(sc *Schema, names map[string]bool) {
	if sc == nil {
		return
	}
	if sc.Ref != "" {
		if names[sc.Ref] {
			return
		}
		names[sc.Ref] = true
		s.collectRefs(s.Schemas[sc.Ref], names)
		return
	}
	for _, k := range sc.Order {
		s.collectRefs(sc.Properties[k], names)
	}
	if len(sc.Order) != len(sc.Properties) {
		keys := make([]string, 0, len(sc.Properties))
		for k := range sc.Properties {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s.collectRefs(sc.Properties[k], names)
		}
	}
	s.collectRefs(sc.Additional, names)
	s.collectRefs(sc.Items, names)
	for _, a := range sc.AllOf {
		s.collectRefs(a, names)
	}
	for _, a := range sc.AnyOf {
		s.collectRefs(a, names)
	}
}

// Check checks a response: its status code picks the declared response
// (exact, range, default); a JSON body is checked against its schema. json
// is the parsed body, or nil with isJSON false when it was not JSON. What
// cannot be checked (no response declared for the code, no schema) passes.
func (rc *ResponseCheck) Check(status int, contentType string, body any, isJSON bool) []Mismatch {
	r := findResponse(rc.Responses, status, true)
	if r == nil || r.Schema == nil {
		return nil
	}
	if r.ContentType != "" && !IsJSONType(r.ContentType) {
		return nil // only JSON bodies are checked
	}
	if !isJSON {
		what := "a body that is not JSON"
		if contentType != "" {
			what += " (" + contentType + ")"
		}
		return []Mismatch{{Message: fmt.Sprintf("the spec gives a JSON schema for %s, but the partner sent %s", r.Code, what)}}
	}
	return Check(rc.Schemas, r.Schema, body, Options{Dir: ResponseDir, Max: 10})
}

// trim copies a schema without what only skeletons use (the order of
// properties), so that plans stay small.
func trim(sc *Schema) *Schema {
	if sc == nil {
		return nil
	}
	out := *sc
	out.Order = nil
	if sc.Properties != nil {
		out.Properties = make(map[string]*Schema, len(sc.Properties))
		for k, v := range sc.Properties {
			out.Properties[k] = trim(v)
		}
	}
	out.Additional, out.Items = trim(sc.Additional), trim(sc.Items)
	out.AllOf = trimAll(sc.AllOf)
	out.AnyOf = trimAll(sc.AnyOf)
	return &out
}

func trimAll(list []*Schema) []*Schema {
	if list == nil {
		return nil
	}
	out := make([]*Schema, len(list))
	for i, s := range list {
		out[i] = trim(s)
	}
	return out
}
