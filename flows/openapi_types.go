package flows

import (
	"github.com/goccy/go-yaml/ast"
	"github.com/invopop/jsonschema"
)

// ValidateMode says whether a REST step checks its response against the
// connection's OpenAPI document: `true` fails the step when the response
// does not fit, `warn` notes the mismatch in the record, `false` (the
// default) does not check.
type ValidateMode string

// Validate modes, as plans carry them.
const (
	ValidateFail = "fail"
	ValidateWarn = "warn"
)

func (m *ValidateMode) decodeYAML(dec *decoder, n ast.Node, path string) {
	if b, ok := n.(*ast.BoolNode); ok {
		if b.Value {
			*m = ValidateFail
		} else {
			*m = ""
		}
		return
	}
	s, ok := stringValue(n)
	switch {
	case ok && s == "warn":
		*m = ValidateWarn
	case ok && (s == "true" || s == "false" || s == "fail" || s == "error"):
		dec.errAt(n, path, "validate_response takes true, false or warn, got %q; write true (without quotes) to fail the step on a mismatch", s)
	case ok:
		dec.errAt(n, path, "validate_response takes true, false or warn, got %q", s)
	default:
		dec.errAt(n, path, "validate_response takes true, false or warn, got %s", describe(n))
	}
}

// JSONSchema states the three values.
func (ValidateMode) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{OneOf: []*jsonschema.Schema{
		{Type: "boolean"},
		{Type: "string", Enum: []any{"warn"}},
	}}
}
