package flows

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/outflow-dev/outflow/engine/openapi"
)

// Skeletons and generated actions are YAML text written here rather than
// marshalled, so that they can carry comments: which parameters are
// required, which optional ones a step could add.

// maxSampleDepth bounds how deep a sample body nests; deeper parts are
// left to an expression.
const maxSampleDepth = 6

// StepSkeleton is a REST step, as YAML, that calls op through the
// connection named connection: the operation (or method and path when it
// has no unique operationId), required parameters with sample values,
// optional ones as comments, and a body with its required fields. Sample
// values fit the schema; where none can be made (a pattern, say), an
// expression reading an input of the same name stands in. The text starts
// with "- id:" at column 0.
func StepSkeleton(spec *openapi.Spec, op *openapi.Operation, connection string) string {
	g := &gen{spec: spec}
	var b strings.Builder
	fmt.Fprintf(&b, "- id: %s\n  rest:\n    connection: %s\n", stepID(op), yamlKey(connection))
	byID := op.ID != "" && len(spec.Ops(op.ID)) == 1
	sample := func(p openapi.Param) string { return g.paramLiteral(p) }
	if byID {
		fmt.Fprintf(&b, "    operation: %s\n", yamlKey(op.ID))
		g.paramSection(&b, "params", op.Params, sample)
	} else {
		fmt.Fprintf(&b, "    method: %s\n", op.Method)
		fmt.Fprintf(&b, "    path: %s\n", yamlString(g.samplePath(op)))
		for _, sec := range []struct{ in, key string }{{"query", "query"}, {"header", "headers"}} {
			g.paramSection(&b, sec.key, op.ParamsIn(sec.in), sample)
		}
	}
	if op.Body != nil && (op.Body.Required || op.Body.Schema != nil) {
		if op.Body.IsForm() {
			b.WriteString("    body_type: form\n")
		}
		b.WriteString("    body:")
		g.block(&b, "      ", op.Body.Schema, "body", 0, "")
	}
	if codes := op.SuccessCodes(); len(codes) > 0 {
		fmt.Fprintf(&b, "    expect: %s\n", intList(codes))
	}
	return b.String()
}

func (g *gen) samplePath(op *openapi.Operation) string {
	return openapi.FillPath(op.Path, func(name string) (string, bool) {
		for _, p := range op.Params {
			if p.In == "path" && p.Name == name {
				var v any
				if err := json.Unmarshal([]byte(g.literal(p.Schema, p.Name, 0)), &v); err != nil {
					return "value", true
				}
				if s, ok := v.(string); ok && strings.HasPrefix(s, "${{") {
					return s, true
				}
				return url.PathEscape(fmt.Sprint(v)), true
			}
		}
		return "value", true
	})
}

// paramSection writes the parameters under key, commented out as a whole
// when none is required.
func (g *gen) paramSection(b *strings.Builder, key string, params []openapi.Param, sample func(openapi.Param) string) {
	if len(params) == 0 {
		return
	}
	required := false
	for _, p := range params {
		required = required || p.Required
	}
	if required {
		fmt.Fprintf(b, "    %s:\n", key)
	} else {
		fmt.Fprintf(b, "    # %s:\n", key)
	}
	for _, p := range params {
		g.paramLine(b, "      ", p, sample(p))
	}
}

// paramLiteral is a sample value of a parameter: one item for a list,
// which a query sends as one value.
func (g *gen) paramLiteral(p openapi.Param) string {
	sc := g.spec.Resolve(p.Schema)
	if sc != nil && firstType(g.spec, sc) == "array" {
		if it := openapi.Items(g.spec.Schemas, sc); it != nil {
			return g.literal(it, p.Name, 1)
		}
		return yamlString("value")
	}
	if sc != nil && (firstType(g.spec, sc) == "object") {
		return yamlString(fmt.Sprintf("${{ inputs.%s }}", inputName(p.Name)))
	}
	return g.literal(p.Schema, p.Name, 0)
}

func (g *gen) paramLine(b *strings.Builder, indent string, p openapi.Param, value string) {
	what := p.In
	if t := typeName(g.spec.Resolve(p.Schema)); t != "" {
		what += ", " + t
	}
	if p.Required {
		fmt.Fprintf(b, "%s%s: %s  # required, %s\n", indent, yamlKey(p.Name), value, what)
	} else {
		fmt.Fprintf(b, "%s# %s: %s  # optional, %s\n", indent, yamlKey(p.Name), value, what)
	}
}

// gen makes sample values and YAML for one document.
type gen struct {
	spec *openapi.Spec
}

// literal is a sample value for sc as YAML (JSON flow syntax, which YAML
// reads), checked against the schema; an expression reading inputs.NAME
// when no literal fits.
func (g *gen) literal(sc *openapi.Schema, name string, depth int) string {
	if v, ok := g.sample(sc, depth); ok {
		if len(openapi.Check(g.spec.Schemas, sc, v, openapi.Options{Dir: openapi.RequestDir, Max: 1})) == 0 {
			return jsonText(v)
		}
	}
	return yamlString(fmt.Sprintf("${{ inputs.%s }}", inputName(name)))
}

// sample makes a value that should fit sc: its example, default or first
// enum value, else one made from its type and format.
func (g *gen) sample(sc *openapi.Schema, depth int) (any, bool) {
	sc = g.spec.Resolve(sc)
	if sc == nil {
		return "value", true
	}
	if depth > maxSampleDepth {
		return nil, false
	}
	for _, v := range []any{sc.Example, sc.Default} {
		if v != nil && len(openapi.Check(g.spec.Schemas, sc, v, openapi.Options{Dir: openapi.RequestDir, Max: 1})) == 0 {
			return v, true
		}
	}
	if len(sc.Enum) > 0 {
		return sc.Enum[0], true
	}
	if len(sc.AnyOf) > 0 && len(sc.Types) == 0 && len(sc.Properties) == 0 {
		return g.sample(sc.AnyOf[0], depth+1)
	}
	t := firstType(g.spec, sc)
	switch t {
	case "object":
		obj := map[string]any{}
		props, _ := openapi.Properties(g.spec.Schemas, sc)
		for _, name := range g.required(sc) {
			v, ok := g.sample(props[name], depth+1)
			if !ok {
				return nil, false
			}
			obj[name] = v
		}
		return obj, true
	case "array":
		n := 0
		if sc.MinItems != nil {
			n = *sc.MinItems
		}
		list := []any{}
		if n > 0 {
			v, ok := g.sample(openapi.Items(g.spec.Schemas, sc), depth+1)
			if !ok {
				return nil, false
			}
			for i := 0; i < n && i < 3; i++ {
				list = append(list, v)
			}
		}
		return list, true
	case "integer", "number":
		switch {
		case sc.Minimum != nil:
			return *sc.Minimum, true
		case sc.ExclusiveMinimum != nil:
			return *sc.ExclusiveMinimum + 1, true
		case sc.Maximum != nil && *sc.Maximum < 0:
			return *sc.Maximum, true
		}
		return 1, true
	case "boolean":
		return false, true
	case "null":
		return nil, true
	}
	s := sampleString(sc.Format)
	if sc.MinLength != nil && len(s) < *sc.MinLength {
		s += strings.Repeat("x", *sc.MinLength-len(s))
	}
	if sc.MaxLength != nil && len(s) > *sc.MaxLength {
		s = s[:*sc.MaxLength]
	}
	return s, true
}

func sampleString(format string) string {
	switch format {
	case "date":
		return "2026-01-02"
	case "date-time":
		return "2026-01-02T15:04:05Z"
	case "uuid":
		return "6f1c2a8e-0d43-4c4e-9a71-2b7d9c1e5f30"
	case "email":
		return "someone@example.com"
	case "uri", "url":
		return "https://example.com/"
	case "ipv4":
		return "192.0.2.1"
	case "ipv6":
		return "2001:db8::1"
	}
	return "string"
}

// firstType is the type a sample takes: the schema's first type that is
// not null, or what its properties or items say.
func firstType(spec *openapi.Spec, sc *openapi.Schema) string {
	for _, t := range sc.Types {
		if t != "null" {
			return t
		}
	}
	if len(sc.Properties) > 0 || sc.Additional != nil || len(sc.Required) > 0 {
		return "object"
	}
	if sc.Items != nil {
		return "array"
	}
	for _, a := range sc.AllOf {
		if t := firstType(spec, spec.Resolve(a)); t != "" && a != nil {
			return t
		}
	}
	return ""
}

// required lists the required properties of an object schema, its allOf
// parts included, in document order.
func (g *gen) required(sc *openapi.Schema) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(s *openapi.Schema, depth int)
	walk = func(s *openapi.Schema, depth int) {
		s = g.spec.Resolve(s)
		if s == nil || depth > 16 {
			return
		}
		for _, r := range s.Required {
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
		for _, a := range s.AllOf {
			walk(a, depth+1)
		}
	}
	walk(sc, 0)
	return out
}

// ordered lists the properties of an object schema in document order, its
// allOf parts' after its own.
func (g *gen) ordered(sc *openapi.Schema) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(s *openapi.Schema, depth int)
	walk = func(s *openapi.Schema, depth int) {
		s = g.spec.Resolve(s)
		if s == nil || depth > 16 {
			return
		}
		for _, a := range s.AllOf {
			walk(a, depth+1)
		}
		names := s.Order
		if len(names) != len(s.Properties) {
			names = sortedKeys(s.Properties)
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	walk(sc, 0)
	return out
}

// block writes a body as a YAML block after "key:", required fields with
// sample values, optional ones as comments; comment, when given, is
// written on the key's line.
func (g *gen) block(b *strings.Builder, indent string, sc *openapi.Schema, name string, depth int, comment string) {
	rs := g.spec.Resolve(sc)
	tail := ""
	if comment != "" {
		tail = "  # " + comment
	}
	if rs == nil || firstType(g.spec, rs) != "object" || depth > maxSampleDepth || len(rs.AnyOf) > 0 {
		fmt.Fprintf(b, " %s%s\n", g.literal(sc, name, depth), tail)
		return
	}
	props, _ := openapi.Properties(g.spec.Schemas, rs)
	required := map[string]bool{}
	names := g.ordered(rs)
	for _, r := range g.required(rs) {
		required[r] = true
		if !contains(names, r) {
			names = append(names, r)
		}
	}
	if len(names) == 0 {
		fmt.Fprintf(b, " %s%s\n", g.literal(sc, name, depth), tail)
		return
	}
	writes := false
	for _, p := range names {
		if ps := g.spec.Resolve(props[p]); required[p] && (ps == nil || !ps.ReadOnly) {
			writes = true
		}
	}
	if writes {
		fmt.Fprintf(b, "%s\n", tail)
	} else {
		fmt.Fprintf(b, " {}%s\n", tail) // no field is required; the optional ones follow as comments
	}
	for _, p := range names {
		ps := g.spec.Resolve(props[p])
		if ps != nil && ps.ReadOnly {
			continue
		}
		what := typeName(ps)
		if !required[p] {
			fmt.Fprintf(b, "%s# %s: %s  # optional%s\n", indent, yamlKey(p), oneLine(g.literal(props[p], p, depth+1)), withComma(what))
			continue
		}
		fmt.Fprintf(b, "%s%s:", indent, yamlKey(p))
		g.block(b, indent+"  ", props[p], p, depth+1, "required"+withComma(what))
	}
}

func withComma(s string) string {
	if s == "" {
		return ""
	}
	return ", " + s
}

func oneLine(s string) string {
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}

// typeName describes a schema in a few words: "string (date)", "list of
// integer", "object".
func typeName(sc *openapi.Schema) string {
	if sc == nil {
		return ""
	}
	var t string
	for _, x := range sc.Types {
		if x != "null" {
			t = x
			break
		}
	}
	if t == "" && len(sc.Properties) > 0 {
		t = "object"
	}
	if sc.Format != "" && t != "" {
		t += " (" + sc.Format + ")"
	}
	if len(sc.Enum) > 0 && len(sc.Enum) <= 6 {
		var vs []string
		for _, e := range sc.Enum {
			vs = append(vs, fmt.Sprint(e))
		}
		t = strings.TrimSpace(t + " " + strings.Join(vs, " | "))
	}
	return t
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return `"value"`
	}
	return string(b)
}

// yamlString quotes a string for YAML (JSON quoting, which YAML reads).
func yamlString(s string) string { return jsonText(s) }

var plainYAMLKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// yamlKey writes a mapping key, quoting it unless it is a plain word.
func yamlKey(s string) string {
	if plainYAMLKey.MatchString(s) && !yamlReserved[strings.ToLower(s)] {
		return s
	}
	return jsonText(s)
}

var yamlReserved = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true, "null": true, "y": true, "n": true}

var notIdent = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// inputName turns a parameter or field name into an input name.
func inputName(s string) string {
	s = camelToSnake(s)
	s = strings.Trim(notIdent.ReplaceAllString(s, "_"), "_")
	if s == "" {
		return "value"
	}
	if s[0] >= '0' && s[0] <= '9' {
		s = "p_" + s
	}
	return strings.ToLower(s)
}

func camelToSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' && i > 0 {
			prev := s[i-1]
			if prev >= 'a' && prev <= 'z' || prev >= '0' && prev <= '9' {
				b.WriteByte('_')
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// stepID names the step of an operation: its operationId as an
// identifier, or its method and path.
func stepID(op *openapi.Operation) string {
	base := op.ID
	if base == "" {
		base = strings.ToLower(op.Method) + "_" + op.Path
	}
	id := strings.Trim(notIdent.ReplaceAllString(base, "_"), "_")
	if id == "" || (id[0] >= '0' && id[0] <= '9') {
		id = "call_" + id
	}
	return id
}

var notName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// ActionName names the action generated for op: the connection's name and
// the operationId (or method and path), as a project name allows.
func ActionName(connection string, op *openapi.Operation, spec *openapi.Spec) string {
	base := op.ID
	if base == "" || len(spec.Ops(op.ID)) > 1 {
		path := strings.NewReplacer("{", "", "}", "", ":", "").Replace(op.Path)
		if op.ID != "" {
			base = op.ID + "-" + strings.ToLower(op.Method)
		} else {
			base = strings.ToLower(op.Method) + "-" + path
		}
	}
	name := strings.Trim(notName.ReplaceAllString(base, "-"), "-.")
	name = strings.ReplaceAll(name, "--", "-")
	return connection + "." + name
}

func intList(codes []int) string {
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = fmt.Sprint(c)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// GeneratedAction is one action `outflow openapi generate` writes.
type GeneratedAction struct {
	Name      string
	File      string // file name, such as bank.getPayment.yaml
	Operation *openapi.Operation
	YAML      string
}

// GenerateOptions select and shape generated actions.
type GenerateOptions struct {
	// Tag keeps only the operations with this tag.
	Tag string
	// Source names the document in the generated files' header comment.
	Source string
	// Given lists parameters the connection itself sends (its headers,
	// an api_key credential), as "header\x00name" or "query\x00name" in
	// lower case; actions do not ask for them.
	Given map[string]bool
}

// GenerateActions makes one kind: Action per operation of spec (with the
// tag, when given), calling it through the connection: an input per
// required parameter, typed by its schema, and one for the body; outputs
// for the status code, the JSON body and the fields of the success
// response. Optional parameters are listed as comments.
func GenerateActions(spec *openapi.Spec, connection string, opts GenerateOptions) []GeneratedAction {
	var out []GeneratedAction
	names := map[string]int{}
	for _, op := range spec.Operations {
		if opts.Tag != "" && !contains(op.Tags, opts.Tag) {
			continue
		}
		name := ActionName(connection, op, spec)
		names[name]++
		if n := names[name]; n > 1 {
			name = fmt.Sprintf("%s-%d", name, n)
		}
		out = append(out, GeneratedAction{Name: name, File: name + ".yaml", Operation: op, YAML: generateAction(spec, op, connection, name, opts)})
	}
	return out
}

type genInput struct {
	name, typ, desc string
	required        bool
	secret          bool
}

var secretish = regexp.MustCompile(`(?i)(token|secret|password|passwd|api[-_]?key|authorization|signature)`)

func generateAction(spec *openapi.Spec, op *openapi.Operation, connection, name string, opts GenerateOptions) string {
	g := &gen{spec: spec}
	var inputs []genInput
	used := map[string]bool{}
	input := func(base, typ, desc string, required bool) string {
		n := inputName(base)
		for i := 2; used[n]; i++ {
			n = fmt.Sprintf("%s_%d", inputName(base), i)
		}
		used[n] = true
		inputs = append(inputs, genInput{name: n, typ: typ, desc: desc, required: required, secret: secretish.MatchString(base)})
		return n
	}
	byID := op.ID != "" && len(spec.Ops(op.ID)) == 1
	type line struct{ key, value string }
	var params, query, headers []line
	var optional []string
	pathValues := map[string]string{}
	for _, p := range op.Params {
		if opts.Given[p.In+"\x00"+strings.ToLower(p.Name)] {
			continue
		}
		sc := spec.Resolve(p.Schema)
		what := p.In + " parameter " + p.Name
		if p.Description != "" {
			what += ": " + p.Description
		}
		if !p.Required {
			optional = append(optional, fmt.Sprintf("%s: %s  # optional, %s%s", yamlKey(p.Name), g.paramLiteral(p), p.In, withComma(typeName(sc))))
			continue
		}
		in := input(p.Name, inputType(spec, sc), what, true)
		l := line{key: yamlKey(p.Name), value: yamlString("${{ inputs." + in + " }}")}
		if p.In == "path" {
			pathValues[p.Name] = "${{ inputs." + in + " }}"
		}
		switch {
		case byID:
			params = append(params, l)
		case p.In == "query":
			query = append(query, l)
		case p.In == "header", p.In == "cookie":
			headers = append(headers, l)
		default:
			params = append(params, l) // path: written into the path below
		}
	}
	bodyInput := ""
	if op.Body != nil && (op.Body.Required || op.Body.Schema != nil) {
		sc := spec.Resolve(op.Body.Schema)
		desc := "the request body"
		if op.Body.Schema != nil && op.Body.Schema.Ref != "" {
			desc += " (" + op.Body.Schema.Ref + ")"
		}
		if req := g.required(sc); len(req) > 0 {
			desc += "; required fields: " + strings.Join(req, ", ")
		}
		bodyInput = input("body", inputType(spec, sc), desc, op.Body.Required)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated by `outflow openapi generate` from %s: %s.\n", opts.Source, op)
	b.WriteString("kind: Action\n")
	fmt.Fprintf(&b, "name: %s\n", name)
	desc := op.Summary
	if desc == "" {
		desc = op.Method + " " + op.Path
	} else {
		desc += " (" + op.Method + " " + op.Path + ")"
	}
	fmt.Fprintf(&b, "description: %s\n", yamlString(desc))
	if len(inputs) > 0 {
		b.WriteString("inputs:\n")
		for _, in := range inputs {
			fmt.Fprintf(&b, "  %s:\n    type: %s\n", in.name, in.typ)
			if in.required {
				b.WriteString("    required: true\n")
			}
			if in.secret {
				b.WriteString("    secret: true\n")
			}
			fmt.Fprintf(&b, "    description: %s\n", yamlString(in.desc))
		}
	}
	b.WriteString("steps:\n  - id: call\n    rest:\n")
	fmt.Fprintf(&b, "      connection: %s\n", yamlKey(connection))
	if byID {
		fmt.Fprintf(&b, "      operation: %s\n", yamlKey(op.ID))
	} else {
		fmt.Fprintf(&b, "      method: %s\n", op.Method)
		p := openapi.FillPath(op.Path, func(name string) (string, bool) {
			v, ok := pathValues[name]
			return v, ok
		})
		fmt.Fprintf(&b, "      path: %s\n", yamlString(p))
		params = nil
	}
	section := func(key string, ls []line, extra []string) {
		if len(ls) == 0 && len(extra) == 0 {
			return
		}
		if len(ls) == 0 {
			fmt.Fprintf(&b, "      # %s:\n", key)
		} else {
			fmt.Fprintf(&b, "      %s:\n", key)
		}
		for _, l := range ls {
			fmt.Fprintf(&b, "        %s: %s\n", l.key, l.value)
		}
		for _, e := range extra {
			fmt.Fprintf(&b, "        # %s\n", e)
		}
	}
	if byID {
		section("params", params, optional)
	} else {
		section("query", query, optional)
		section("headers", headers, nil)
	}
	if bodyInput != "" {
		if op.Body.IsForm() {
			b.WriteString("      body_type: form\n")
		}
		fmt.Fprintf(&b, "      body: %s\n", yamlString("${{ inputs."+bodyInput+" }}"))
	}
	codes := op.SuccessCodes()
	if len(codes) > 0 {
		fmt.Fprintf(&b, "      expect: %s\n", intList(codes))
	}
	b.WriteString("outputs:\n")
	b.WriteString("  status_code: \"${{ steps.call.status_code }}\"  # integer\n")
	b.WriteString("  body: \"${{ steps.call.json }}\"\n")
	for _, f := range successFields(spec, op) {
		fmt.Fprintf(&b, "  %s: %s%s\n", f.output, yamlString("${{ steps.call.json"+f.access+" }}"), f.comment)
	}
	return b.String()
}

// inputType is the input type of a schema's values.
func inputType(spec *openapi.Spec, sc *openapi.Schema) string {
	if sc == nil {
		return "any"
	}
	if t := firstType(spec, sc); t != "" {
		return t
	}
	return "any"
}

type outputField struct {
	output, access, comment string
}

// maxOutputFields caps the outputs made from a response's fields.
const maxOutputFields = 24

// successFields are outputs for the top-level fields of the operation's
// first success response with an object schema.
func successFields(spec *openapi.Spec, op *openapi.Operation) []outputField {
	for _, code := range op.SuccessCodes() {
		r := op.ResponseFor(code)
		if r == nil || r.Schema == nil || (r.ContentType != "" && !openapi.IsJSONType(r.ContentType)) {
			continue
		}
		sc := spec.Resolve(r.Schema)
		if sc == nil || firstType(spec, sc) != "object" {
			return nil
		}
		g := &gen{spec: spec}
		props, _ := openapi.Properties(spec.Schemas, sc)
		var out []outputField
		used := map[string]bool{"status_code": true, "body": true}
		names := g.ordered(sc)
		for _, name := range names {
			if len(out) == maxOutputFields {
				break
			}
			o := inputName(name)
			if used[o] {
				continue
			}
			used[o] = true
			access := "." + name
			if !identPattern.MatchString(name) {
				access = "[" + jsonText(name) + "]"
			}
			comment := ""
			if t := typeName(spec.Resolve(props[name])); t != "" {
				comment = "  # " + t
			}
			out = append(out, outputField{output: o, access: access, comment: comment})
		}
		return out
	}
	return nil
}
