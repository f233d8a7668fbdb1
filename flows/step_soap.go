package flows

import (
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/wsdl"
)

func soapKind() stepKind {
	return stepKind{
		name:       "soap",
		given:      func(st *Step) bool { return st.Soap != nil },
		connection: func(st *Step) string { return st.Soap.Connection },
		check:      func(c *checker, s *stepCheck) { c.checkSoap(s.b, s.path+".soap", s.st.Soap, s.env) },
		compile:    compileSoap,
	}
}

// SoapStep calls an operation of a SOAP service through a connection.
type SoapStep struct {
	// The name of the Connection to call through.
	Connection string `yaml:"connection" jsonschema:"required"`
	// The WSDL that describes the service: a file in the project, relative to the project folder,
	// whose imports are in the project too; or an http(s) URL on the connection's host, fetched
	// (with the documents it imports) through the connection's credential and mTLS when the
	// project is loaded, and kept in .outflow/wsdl/ so later loads need no network
	// (`outflow soap fetch` fetches again). Plans carry the parsed operation, so workers need
	// neither project files nor the WSDL.
	WSDL string `yaml:"wsdl" jsonschema:"required"`
	// The operation to call, as the WSDL names it.
	Operation string `yaml:"operation" jsonschema:"required"`
	// The WSDL service to use when it defines several.
	Service string `yaml:"service,omitempty"`
	// The WSDL port to use when the service has several.
	Port string `yaml:"port,omitempty"`
	// The request message, as a tree of element names; strings may hold expressions.
	// The loader checks it against the operation's schema.
	Body any `yaml:"body,omitempty"`
	// SOAP header blocks, by the local name of a header element the operation declares,
	// such as `Trace: {CorrelationId: "${{ inputs.id }}"}`; strings may hold expressions.
	SOAPHeaders map[string]any `yaml:"soap_headers,omitempty"`
	// HTTP headers, added to the connection's headers; values may hold expressions.
	Headers Scalars `yaml:"headers,omitempty"`
	// Add a WS-Security UsernameToken to the request.
	Security *SoapSecurity `yaml:"security,omitempty"`
}

// SoapSecurity adds a WS-Security UsernameToken (OASIS Username Token
// Profile 1.0) to the SOAP header of a request.
type SoapSecurity struct {
	// The user name.
	Username string `yaml:"username" jsonschema:"required"`
	// The password.
	Password *SecretRef `yaml:"password" jsonschema:"required"`
	// How the password is sent: `text` (default) or `digest` (a hash with a nonce and a timestamp).
	PasswordType string `yaml:"password_type,omitempty" jsonschema:"enum=text,enum=digest,default=text"`
}

func (c *checker) checkSoap(b *body, p string, s *SoapStep, env *exprEnv) {
	doc := b.doc
	c.checkConnectionRef(doc, p+".connection", s.Connection)
	for _, k := range doc.order[p+".soap_headers"] {
		c.checkValue(doc, joinPath(p+".soap_headers", k), s.SOAPHeaders[k], env)
	}
	c.checkHeaderNames(doc, p+".headers", s.Headers)
	c.checkScalars(b, p+".headers", s.Headers, env)
	c.checkValue(doc, p+".body", s.Body, env)
	if s.WSDL == "" {
		return
	}
	wp := p + ".wsdl"
	var defs *wsdl.Definitions
	switch {
	case wsdl.IsURL(s.WSDL):
		cd := c.idx.connections[s.Connection]
		if cd == nil {
			return // reported by checkConnectionRef
		}
		conn := (&Project{idx: c.idx}).compileConnection(cd)
		if err := wsdl.CheckFetchURL(s.WSDL, conn.Name, conn.Host, conn.Scheme, conn.Port); err != nil {
			c.errorf(doc, doc.valPos(wp), wp, "%v", err)
			return
		}
		var profile *engine.ProtocolProfile
		if pd := c.idx.profiles[conn.ProtocolProfile]; pd != nil && conn.ProtocolProfile != "" {
			profile = compileProfile(pd)
		}
		var err error
		if defs, err = c.l.remoteWSDL(s.WSDL, conn, profile); err != nil {
			c.errorf(doc, doc.valPos(wp), wp, "reading the WSDL: %v", err)
			return
		}
	case strings.Contains(s.WSDL, "://"):
		c.errorf(doc, doc.valPos(wp), wp, "wsdl must be a file in the project or an http(s) URL fetched through the connection")
		return
	default:
		before := len(c.l.problems)
		c.checkProjectPath(doc, wp, s.WSDL, "give a path relative to the project folder, or an https URL")
		if len(c.l.problems) != before {
			return
		}
		if _, err := fs.Stat(c.l.fsys, path.Clean(s.WSDL)); err != nil {
			c.errorf(doc, doc.valPos(wp), wp, "wsdl file %q is not in the project folder", s.WSDL)
			return
		}
		var err error
		if defs, err = c.l.wsdl(s.WSDL); err != nil {
			c.errorf(doc, doc.valPos(wp), wp, "reading the WSDL: %v", err)
			return
		}
	}
	if s.Operation == "" {
		return // reported as missing
	}
	if _, _, _, err := defs.Lookup(s.Service, s.Port, s.Operation); err != nil {
		at, msg := p+".operation", err.Error()
		switch {
		case strings.Contains(msg, "no service"):
			at = p + ".service"
		case strings.Contains(msg, "no SOAP port"):
			at = p + ".port"
		case !strings.Contains(msg, "did you mean"):
			var ops []string
			for _, op := range wsdl.Operations(defs) {
				ops = append(ops, op.Operation)
			}
			if c, ok := closest(s.Operation, ops); ok {
				msg += fmt.Sprintf("; did you mean %q?", c)
			}
		}
		c.errorf(doc, doc.valPos(at), at, "%s", msg)
		return
	}
	var headers []wsdl.Header
	for _, k := range doc.order[p+".soap_headers"] {
		headers = append(headers, wsdl.Header{Name: k, Value: placeholders(s.SOAPHeaders[k])})
	}
	err := wsdl.ValidateBody(defs, s.Service, s.Port, s.Operation, placeholders(s.Body), headers)
	// An expression stands in as a string; where the schema wants fields, it
	// may yield them at run time, so that is not a mistake yet.
	if err != nil && !strings.Contains(err.Error(), "expects fields") {
		at := p + ".body"
		if strings.HasPrefix(err.Error(), "header") {
			at = p + ".soap_headers"
		}
		c.errorf(doc, doc.keyPos(at), at, "the request does not fit operation %s: %v", s.Operation, err)
	}
}

// placeholders copies a value with every string that is one whole
// expression replaced by a string, since its value is known only at run time.
func placeholders(v any) any {
	switch x := v.(type) {
	case string:
		t := strings.TrimSpace(x)
		if strings.HasPrefix(t, "${{") && strings.HasSuffix(t, "}}") && strings.Count(t, "${{") == 1 {
			return "value"
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = placeholders(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = placeholders(e)
		}
		return out
	}
	return v
}

func compileSoap(c *compiler, doc *document, sp string, st *Step, es *engine.Step) {
	s := st.Soap
	es.Soap = &engine.SoapStep{
		Connection:  s.Connection,
		WSDL:        s.WSDL,
		Operation:   s.Operation,
		Service:     s.Service,
		Port:        s.Port,
		Definitions: c.wsdlSubset(s),
		Body:        deepCopy(s.Body),
		SOAPHeaders: bindings(doc, sp+".soap.soap_headers", s.SOAPHeaders),
		Headers:     sortedBindings(s.Headers),
	}
	if sec := s.Security; sec != nil {
		es.Soap.Security = &engine.SoapSecurity{Username: sec.Username, Password: secretRef(sec.Password), PasswordType: sec.PasswordType}
		if es.Soap.Security.PasswordType == "" {
			es.Soap.Security.PasswordType = "text"
		}
	}
}

// wsdlSubset is the part of a step's WSDL that its operation needs, so that
// a large WSDL does not weigh on every workflow history.
func (c *compiler) wsdlSubset(s *SoapStep) *wsdl.Definitions {
	r, ok := c.p.wsdls[wsdlKey(s.WSDL, s.Connection)]
	if !ok || r.defs == nil {
		return nil
	}
	sub, err := r.defs.Subset(s.Service, s.Port, s.Operation)
	if err != nil {
		return nil // refused by the loader
	}
	return sub
}
