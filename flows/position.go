package flows

import "fmt"

// Position returns where the value at path (as problems name it:
// "keystore.path", "steps[2].rest.path") is written in the document of
// kind and name, as "file:line:col" relative to the project folder. A
// value the document does not have falls back to the nearest enclosing one
// (a missing keystore.password points at keystore). It returns "" when the
// project has no such document.
func (p *Project) Position(kind, name, path string) string {
	var docs map[string]*document
	switch kind {
	case KindFlow:
		docs = p.idx.flows
	case KindAction:
		docs = p.idx.actions
	case KindConnection:
		docs = p.idx.connections
	case KindProtocolProfile:
		docs = p.idx.profiles
	case KindTest:
		docs = p.idx.tests
	}
	d := docs[name]
	if d == nil {
		return ""
	}
	at := d.valPos(path)
	return fmt.Sprintf("%s:%d:%d", d.file, at.Line, at.Col)
}
