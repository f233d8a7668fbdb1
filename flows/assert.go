package flows

import (
	"github.com/goccy/go-yaml/ast"
	"github.com/invopop/jsonschema"

	"github.com/outflow-dev/outflow/engine"
)

// Assertions of tests are expressions like those of flows, but they run
// after the run on its execution record, so they read other names: the
// outputs, the step records by path and the record itself. Package engine
// evaluates them (engine.Assertion), apart from the expressions of flows.

// AssertEnv is what an assertion reads.
type AssertEnv = engine.AssertEnv

// code returns the expression inside the assertion's one ${{ ... }} and its
// byte offset in the string.
func (a Assertion) code() (string, int, error) { return engine.Assertion(a).Code() }

// Check evaluates the assertion in env. When it is false, detail says what
// the sides of its comparison were, such as `outputs.count is 2`.
func (a Assertion) Check(env AssertEnv) (ok bool, detail string, err error) {
	return engine.Assertion(a).Check(env)
}

func (a *Assertion) decodeYAML(dec *decoder, n ast.Node, path string) {
	s, ok := stringValue(n)
	if !ok {
		dec.errAt(n, path, "expected an expression such as \"${{ outputs.count == 3 }}\", got %s", describe(n))
		return
	}
	*a = Assertion(s)
	dec.noteString(n, path, s)
	if _, _, err := a.code(); err != nil {
		dec.errAt(n, path, "%v", err)
	}
}

// JSONSchema states that an assertion is a string holding an expression.
func (Assertion) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{Type: "string", Pattern: `^\s*\$\{\{[\s\S]*\}\}\s*$`}
}
