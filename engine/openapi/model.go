package openapi

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Spec is what Outflow keeps of an API description: its operations, the
// schemas they use, and what is wrong with the document. It is plain data,
// the same whether the document was Swagger 2.0, OpenAPI 3.0 or 3.1.
type Spec struct {
	// Version is the document's swagger or openapi field, such as "2.0" or "3.1.0".
	Version string `json:"version"`
	Title   string `json:"title,omitempty"`
	// Operations are in document order: paths as written, and within a path
	// get, put, post, delete, options, head, patch, trace.
	Operations []*Operation `json:"operations"`
	// Schemas are the named schemas that Schema.Ref refers to.
	Schemas map[string]*Schema `json:"schemas,omitempty"`
	// Defects are what is wrong with the document but does not stop it
	// from being used: broken $refs, missing or duplicate operationIds, ...
	Defects []Defect `json:"defects,omitempty"`
}

// Defect kinds. Each defect of a document is reported as a warning; none
// stops the operations that are not affected from being used.
const (
	DefectMissingOperationID   = "missing-operationId"
	DefectDuplicateOperationID = "duplicate-operationId"
	DefectUnusualOperationID   = "unusual-operationId"
	DefectInvalidRef           = "invalid-ref"
	DefectColonPathParam       = "colon-path-param"
	DefectParamNotInTemplate   = "path-param-not-in-template"
	DefectTemplateUndeclared   = "path-template-undeclared"
	DefectEquivalentPaths      = "equivalent-paths"
	DefectIgnoredHeaderParam   = "ignored-header-param"
	DefectBodyOnDelete         = "body-on-delete"
	DefectInvalid              = "invalid-document"
)

// Defect is one thing wrong with a document.
type Defect struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	// File is the document the defect is in (the root's location unless a
	// referenced document is at fault), Line and Col where, when known.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// Operation is one method of one path.
type Operation struct {
	// ID is the operationId; empty when the document gives none.
	ID string `json:"id,omitempty"`
	// Method is upper case.
	Method string `json:"method"`
	// Path is the key of the Paths object as written, such as /payments/{id}.
	Path       string   `json:"path"`
	Summary    string   `json:"summary,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	Deprecated bool     `json:"deprecated,omitempty"`
	// Params are the path item's and the operation's parameters, the
	// operation's winning on the same name and location. Header parameters
	// that OpenAPI 3 says to ignore (Accept, Content-Type, Authorization)
	// are left out.
	Params []Param `json:"params,omitempty"`
	// Body is the request body; nil when the operation takes none.
	Body *Body `json:"body,omitempty"`
	// Responses are in document order.
	Responses []Response `json:"responses,omitempty"`
	// Line and Col are where the operation is in the root document.
	Line int `json:"line,omitempty"`
	Col  int `json:"col,omitempty"`
}

// Param is one parameter of an operation.
type Param struct {
	Name string `json:"name"`
	// In is path, query, header or cookie.
	In       string  `json:"in"`
	Required bool    `json:"required,omitempty"`
	Schema   *Schema `json:"schema,omitempty"`
	// Description is the first line of the parameter's description.
	Description string `json:"description,omitempty"`
}

// Body is the request body of an operation.
type Body struct {
	Required bool `json:"required,omitempty"`
	// ContentTypes are the media types the operation accepts, in document order.
	ContentTypes []string `json:"content_types,omitempty"`
	// Schema is the schema of the JSON content or, for a form, of its
	// fields; nil when the document gives none.
	Schema *Schema `json:"schema,omitempty"`
}

// Response is one response an operation declares.
type Response struct {
	// Code is a status code ("200"), a range ("2XX") or "default".
	Code        string `json:"code"`
	Description string `json:"description,omitempty"`
	// ContentType is the media type whose schema Schema is (JSON when the
	// response declares several).
	ContentType string  `json:"content_type,omitempty"`
	Schema      *Schema `json:"schema,omitempty"`
}

// Schema is the part of a JSON Schema Outflow checks values against. Named
// schemas are referenced by Ref (a key of Spec.Schemas), which keeps
// recursive schemas finite.
type Schema struct {
	Ref string `json:"ref,omitempty"`
	// Types is empty for any type. "null" among them allows null.
	Types  []string `json:"type,omitempty"`
	Format string   `json:"format,omitempty"`
	Enum   []any    `json:"enum,omitempty"`
	// Properties lists the properties in Order (document order).
	Properties map[string]*Schema `json:"properties,omitempty"`
	Order      []string           `json:"order,omitempty"`
	Required   []string           `json:"required,omitempty"`
	// Additional is the schema of properties not listed; Closed is
	// additionalProperties: false.
	Additional *Schema   `json:"additional,omitempty"`
	Closed     bool      `json:"closed,omitempty"`
	Items      *Schema   `json:"items,omitempty"`
	AllOf      []*Schema `json:"all_of,omitempty"`
	// AnyOf holds anyOf and oneOf alike: partner specs often give oneOf
	// alternatives that overlap, so a value that fits one is accepted.
	AnyOf    []*Schema `json:"any_of,omitempty"`
	OneOf    bool      `json:"one_of,omitempty"`
	Nullable bool      `json:"nullable,omitempty"`
	// Minimum and Maximum bound numbers; the Exclusive ones are strict.
	Minimum          *float64 `json:"minimum,omitempty"`
	Maximum          *float64 `json:"maximum,omitempty"`
	ExclusiveMinimum *float64 `json:"exclusive_minimum,omitempty"`
	ExclusiveMaximum *float64 `json:"exclusive_maximum,omitempty"`
	MinLength        *int     `json:"min_length,omitempty"`
	MaxLength        *int     `json:"max_length,omitempty"`
	Pattern          string   `json:"pattern,omitempty"`
	MinItems         *int     `json:"min_items,omitempty"`
	MaxItems         *int     `json:"max_items,omitempty"`
	ReadOnly         bool     `json:"read_only,omitempty"`
	WriteOnly        bool     `json:"write_only,omitempty"`
	// Default and Example feed skeletons; they never travel in plans.
	Default any `json:"-"`
	Example any `json:"-"`
	// Description is the first line of the schema's description, for skeletons.
	Description string `json:"-"`
}

// Ops returns the operations whose operationId is id: one, none, or
// several when the document gives the same operationId twice.
func (s *Spec) Ops(id string) []*Operation {
	var out []*Operation
	for _, op := range s.Operations {
		if op.ID == id {
			out = append(out, op)
		}
	}
	return out
}

// IDs lists the operationIds, sorted, each once.
func (s *Spec) IDs() []string {
	seen := map[string]bool{}
	var out []string
	for _, op := range s.Operations {
		if op.ID != "" && !seen[op.ID] {
			seen[op.ID] = true
			out = append(out, op.ID)
		}
	}
	sort.Strings(out)
	return out
}

// Resolve follows Ref to the named schema; a schema without Ref is itself.
// A reference to a missing name yields nil.
func (s *Spec) Resolve(sc *Schema) *Schema {
	return resolve(s.Schemas, sc)
}

func resolve(defs map[string]*Schema, sc *Schema) *Schema {
	for i := 0; sc != nil && sc.Ref != "" && i < 64; i++ {
		sc = defs[sc.Ref]
	}
	return sc
}

// Name says which operation op is for messages: its operationId, or its
// method and path.
func (op *Operation) Name() string {
	if op.ID != "" {
		return op.ID
	}
	return op.Method + " " + op.Path
}

// String is "ID (METHOD PATH)".
func (op *Operation) String() string {
	if op.ID != "" {
		return fmt.Sprintf("%s (%s %s)", op.ID, op.Method, op.Path)
	}
	return op.Method + " " + op.Path
}

// Param returns the parameter of op named name, in any location.
func (op *Operation) Param(name string) *Param {
	for i := range op.Params {
		if op.Params[i].Name == name {
			return &op.Params[i]
		}
	}
	for i := range op.Params {
		if strings.EqualFold(op.Params[i].Name, name) && op.Params[i].In == "header" {
			return &op.Params[i]
		}
	}
	return nil
}

// Declares reports whether op declares the status code code: exactly, or
// by its range (2XX). A default response declares nothing in particular.
func (op *Operation) Declares(code int) bool {
	return op.responseFor(code, false) != nil
}

// ResponseFor returns the response op declares for code: exact, else its
// range, else default; nil when none fits.
func (op *Operation) ResponseFor(code int) *Response {
	return op.responseFor(code, true)
}

func (op *Operation) responseFor(code int, withDefault bool) *Response {
	return findResponse(op.Responses, code, withDefault)
}

func findResponse(rs []Response, code int, withDefault bool) *Response {
	exact := strconv.Itoa(code)
	rng := fmt.Sprintf("%dXX", code/100)
	var byRange, def *Response
	for i := range rs {
		r := &rs[i]
		switch {
		case r.Code == exact:
			return r
		case strings.EqualFold(r.Code, rng):
			byRange = r
		case r.Code == "default":
			def = r
		}
	}
	if byRange != nil {
		return byRange
	}
	if withDefault {
		return def
	}
	return nil
}

// Codes lists the codes op declares, as written.
func (op *Operation) Codes() []string {
	out := make([]string, len(op.Responses))
	for i, r := range op.Responses {
		out[i] = r.Code
	}
	return out
}

// SuccessCodes are the codes op declares in 1XX-3XX (numbers only), the
// responses a step expects when it names no expect:.
func (op *Operation) SuccessCodes() []int {
	var out []int
	for _, r := range op.Responses {
		if n, err := strconv.Atoi(r.Code); err == nil && n >= 200 && n < 300 {
			out = append(out, n)
		}
	}
	return out
}

// ParamsIn lists op's parameters in one location.
func (op *Operation) ParamsIn(in string) []Param {
	var out []Param
	for _, p := range op.Params {
		if p.In == in {
			out = append(out, p)
		}
	}
	return out
}

// IsForm reports whether the body is sent as form fields: the operation
// accepts no JSON but a URL-encoded form.
func (b *Body) IsForm() bool {
	if b == nil || b.acceptsJSON() {
		return false
	}
	for _, ct := range b.ContentTypes {
		if strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
			return true
		}
	}
	return false
}

// IsMultipart reports whether the body can only be sent as multipart/form-data.
func (b *Body) IsMultipart() bool {
	if b == nil || b.acceptsJSON() || b.IsFormOnlyURLEncoded() {
		return false
	}
	for _, ct := range b.ContentTypes {
		if strings.HasPrefix(strings.ToLower(ct), "multipart/") {
			return true
		}
	}
	return false
}

// IsFormOnlyURLEncoded reports whether the body accepts a URL-encoded form.
func (b *Body) IsFormOnlyURLEncoded() bool {
	for _, ct := range b.ContentTypes {
		if strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
			return true
		}
	}
	return false
}

func (b *Body) acceptsJSON() bool {
	if len(b.ContentTypes) == 0 {
		return true
	}
	for _, ct := range b.ContentTypes {
		if IsJSONType(ct) {
			return true
		}
	}
	return false
}

// IsJSONType reports whether a media type is JSON (application/json or +json).
func IsJSONType(ct string) bool {
	mt, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(ct)), ";")
	mt = strings.TrimSpace(mt)
	return mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "*/*" || mt == "application/*"
}

// Check checks a response value against sc, a schema of s.
func (s *Spec) Check(sc *Schema, v any) []Mismatch {
	return Check(s.Schemas, sc, v, Options{Dir: ResponseDir})
}
