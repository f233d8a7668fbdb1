package openapi

import (
	"fmt"
	"regexp"
	"strings"
)

var plainOperationID = regexp.MustCompile(`^[A-Za-z0-9_.:/-]+$`)

// FindDefects adds to s.Defects what is wrong with its operations: missing,
// duplicate and unusual operationIds, colon path parameters, path
// parameters and templates that disagree, paths that differ only in the
// names of their parameters, and request bodies on methods that take none.
// file names the root document in the defects.
func (s *Spec) FindDefects(file string) {
	add := func(kind string, op *Operation, format string, args ...any) {
		d := Defect{Kind: kind, Message: fmt.Sprintf(format, args...), File: file}
		if op != nil {
			d.Line, d.Col = op.Line, op.Col
		}
		s.Defects = append(s.Defects, d)
	}
	byID := map[string][]*Operation{}
	var ids []string
	for _, op := range s.Operations {
		if op.ID == "" {
			add(DefectMissingOperationID, op, "%s %s has no operationId; call it with method: and path:", op.Method, op.Path)
			continue
		}
		if byID[op.ID] == nil {
			ids = append(ids, op.ID)
		}
		byID[op.ID] = append(byID[op.ID], op)
		if !plainOperationID.MatchString(op.ID) {
			add(DefectUnusualOperationID, op, "operationId %q of %s %s is not a plain name (spaces or punctuation); operation: can still name it, quoted", op.ID, op.Method, op.Path)
		}
	}
	for _, id := range ids {
		if ops := byID[id]; len(ops) > 1 {
			var where []string
			for _, op := range ops {
				where = append(where, op.Method+" "+op.Path)
			}
			add(DefectDuplicateOperationID, ops[1], "operationId %q names %d operations (%s); operation: %s is refused as ambiguous: call them with method: and path:", id, len(ops), strings.Join(where, ", "), id)
		}
	}
	seenPath := map[string]bool{}
	shapes := map[string]string{}
	for _, op := range s.Operations {
		if !seenPath[op.Path] {
			seenPath[op.Path] = true
			for _, seg := range splitPath(op.Path) {
				if strings.HasPrefix(seg, ":") && len(seg) > 1 {
					add(DefectColonPathParam, op, "path %s writes the parameter %s with a colon; OpenAPI writes {%s}: Outflow reads it as a parameter all the same", op.Path, seg, seg[1:])
				}
			}
			shape := paramInSegment.ReplaceAllString(op.Path, "{}")
			if other, ok := shapes[shape]; ok {
				add(DefectEquivalentPaths, op, "paths %s and %s differ only in the names of their parameters, which OpenAPI forbids: a call to one may be routed to the other", other, op.Path)
			} else {
				shapes[shape] = op.Path
			}
		}
		inTemplate := map[string]bool{}
		for _, name := range PathParams(op.Path) {
			inTemplate[name] = true
		}
		declared := map[string]bool{}
		for _, p := range op.Params {
			if p.In != "path" {
				continue
			}
			declared[p.Name] = true
			if !inTemplate[p.Name] {
				add(DefectParamNotInTemplate, op, "%s %s declares the path parameter %q, which its path does not hold", op.Method, op.Path, p.Name)
			}
		}
		for _, name := range PathParams(op.Path) {
			if !declared[name] {
				add(DefectTemplateUndeclared, op, "%s %s does not declare the parameter {%s} of its path; Outflow takes it as a required string", op.Method, op.Path, name)
			}
		}
		if op.Body != nil && (op.Method == "DELETE" || op.Method == "GET" || op.Method == "HEAD") {
			add(DefectBodyOnDelete, op, "%s %s takes a request body, which HTTP gives no meaning for %s: some servers and proxies drop it", op.Method, op.Path, op.Method)
		}
	}
}

// Normalize makes the operations usable despite their defects: a parameter
// of a path's template that the operation does not declare becomes a
// required string path parameter, and a declared path parameter the path
// has no place for is no longer required (it cannot be sent).
func (s *Spec) Normalize() {
	for _, op := range s.Operations {
		inTemplate := map[string]bool{}
		for _, name := range PathParams(op.Path) {
			inTemplate[name] = true
		}
		declared := map[string]bool{}
		for i := range op.Params {
			p := &op.Params[i]
			if p.In != "path" {
				continue
			}
			declared[p.Name] = true
			if inTemplate[p.Name] {
				p.Required = true
			} else {
				p.Required = false
			}
		}
		for _, name := range PathParams(op.Path) {
			if !declared[name] {
				op.Params = append(op.Params, Param{Name: name, In: "path", Required: true, Schema: &Schema{Types: []string{"string"}}})
				declared[name] = true
			}
		}
	}
}
