package flows

import (
	"github.com/outflow-dev/outflow/engine"
)

func failKind() stepKind {
	return stepKind{
		name:  "fail",
		given: func(st *Step) bool { return st.Fail != nil },
		check: func(c *checker, s *stepCheck) {
			doc, sp, f := s.b.doc, s.path+".fail", s.st.Fail
			if f.Message == "" && !doc.troubled[sp] {
				c.errorf(doc, doc.keyPos(sp), sp, "fail needs message: the error's words, such as \"order ${{ inputs.id }} is locked\"")
			}
			c.checkString(doc, sp+".message", f.Message, s.env)
		},
		compile: func(c *compiler, doc *document, sp string, st *Step, es *engine.Step) {
			es.Fail = &engine.FailStep{Message: st.Fail.Message, Type: st.Fail.Type}
		},
	}
}

// Fail ends the flow, or the enclosing try, with an error of the flow's
// own.
type Fail struct {
	// The error's message; may hold expressions.
	Message string `yaml:"message" jsonschema:"required"`
	// The error's type, as a catch reads it in error.type. Default: Fail.
	Type string `yaml:"type,omitempty" jsonschema:"pattern=^[A-Za-z_][A-Za-z0-9_]*$"`
}
