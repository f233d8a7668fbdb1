package engine

import (
	"go.temporal.io/sdk/workflow"

	"github.com/outflow-dev/outflow/engine/wsdl"
)

// SoapActivity is the name of the activity that runs soap steps.
const SoapActivity = "soap"

func soapKind() stepKind {
	return stepKind{
		name:       "soap",
		is:         func(s *Step) bool { return s.Soap != nil },
		run:        (*runner).runSoap,
		connection: func(s *Step) string { return s.Soap.Connection },
	}
}

// SoapStep calls a SOAP operation through a connection alias.
type SoapStep struct {
	Connection string `json:"connection"`
	// WSDL is the file (relative to the project) or URL the definitions came from.
	WSDL      string `json:"wsdl"`
	Operation string `json:"operation"`
	Service   string `json:"service,omitempty"`
	Port      string `json:"port,omitempty"`
	// Definitions is the parsed WSDL, narrowed to the operation, so that the
	// worker needs no project files.
	Definitions *wsdl.Definitions `json:"definitions,omitempty"`
	Body        any               `json:"body,omitempty"`
	// SOAPHeaders are header blocks (name → value shaped like a body).
	SOAPHeaders []Binding `json:"soap_headers,omitempty"`
	// Headers are HTTP headers.
	Headers  []Binding     `json:"headers,omitempty"`
	Security *SoapSecurity `json:"security,omitempty"`
}

// SoapRequest is the input of the soap activity: everything rendered,
// secrets still as references.
type SoapRequest struct {
	CallHeader
	// Definitions are the parsed WSDL, usually a Subset holding only the
	// operation, so the worker needs no project files.
	Definitions *wsdl.Definitions `json:"definitions"`
	Service     string            `json:"service,omitempty"`
	Port        string            `json:"port,omitempty"`
	Operation   string            `json:"operation"`
	// Body is the content of the request element, shaped as wsdl.BuildRequest
	// takes it.
	Body any `json:"body,omitempty"`
	// SOAPHeaders are header blocks: a declared header element's local name
	// or "{namespace}Name", and a value shaped like a body.
	SOAPHeaders []Binding `json:"soap_headers,omitempty"`
	// Headers are HTTP headers, added after the connection's.
	Headers  []KV          `json:"headers,omitempty"`
	Security *SoapSecurity `json:"security,omitempty"`
}

// SoapSecurity asks for a WS-Security UsernameToken in the request.
type SoapSecurity struct {
	Username string     `json:"username"`
	Password *SecretRef `json:"password"`
	// PasswordType is "text" (the default) or "digest".
	PasswordType string `json:"password_type,omitempty"`
}

func (r *runner) runSoap(ctx workflow.Context, st *Step, sc *scope, path string) error {
	ss := st.Soap
	return r.runCall(ctx, st, sc, path, ss.Connection, SoapActivity, func(conn *Connection, env map[string]any) (any, error) {
		req := &SoapRequest{
			CallHeader:  r.callHeader(conn, path),
			Definitions: ss.Definitions,
			Service:     ss.Service,
			Port:        ss.Port,
			Operation:   ss.Operation,
			Security:    ss.Security,
		}
		var err error
		if req.Body, err = EvalValue(ss.Body, env); err != nil {
			return nil, exprError(path+".body", err)
		}
		if req.Headers, err = evalKVs(ss.Headers, env); err != nil {
			return nil, exprError(path+".headers", err)
		}
		for _, h := range ss.SOAPHeaders {
			v, err := EvalValue(h.Value, env)
			if err != nil {
				return nil, exprError(path+".soap_headers."+h.Name, err)
			}
			req.SOAPHeaders = append(req.SOAPHeaders, Binding{Name: h.Name, Value: v})
		}
		return req, nil
	})
}
