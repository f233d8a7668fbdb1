package engine

import (
	"time"

	"github.com/outflow-dev/outflow/engine/openapi"
	"github.com/outflow-dev/outflow/engine/wsdl"
)

// Activity names registered by workers.
const (
	RestActivity = "rest"
	SoapActivity = "soap"
)

// Error types carried by step failures. Types listed in NonRetryable are not
// retried by Temporal.
const (
	ErrHTTPStatus   = "HTTPStatus"
	ErrHTTPClient   = "HTTPStatusClient" // a 4xx other than 408/429: the request is wrong, retrying will not help
	ErrConnection   = "Connection"
	ErrTimeout      = "Timeout"
	ErrTLSHandshake = "TLSHandshake"
	ErrCertificate  = "Certificate"
	ErrSecret       = "Secret"
	ErrConfig       = "Config"
	ErrSOAPFault    = "SOAPFault"
	// ErrOAuth is a token endpoint that refused to issue an access token,
	// or a token that cannot be used with this connection's certificate.
	ErrOAuth      = "OAuth"
	ErrExpression = "Expression"
	// ErrResponseRejected is a response that does not fit the OpenAPI
	// document of the connection, for a step with validate_response: true.
	ErrResponseRejected = "ResponseRejected"
	ErrFlowFailed       = "FlowFailed"
)

// KV is one ordered name/value pair of a request (query parameter, header).
type KV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// RestRequest is the input of the rest activity: everything rendered, secrets
// still as references.
type RestRequest struct {
	WorkflowID  string           `json:"workflow_id"`
	StepPath    string           `json:"step"`
	Connection  *Connection      `json:"connection"`
	Profile     *ProtocolProfile `json:"profile,omitempty"`
	ProjectRoot string           `json:"project_root,omitempty"`
	Method      string           `json:"method"`
	Path        string           `json:"path,omitempty"`
	Query       []KV             `json:"query,omitempty"`
	Headers     []KV             `json:"headers,omitempty"`
	Body        any              `json:"body,omitempty"`
	BodyType    string           `json:"body_type,omitempty"`
	Expect      []int            `json:"expect,omitempty"`
	BodyLimit   int64            `json:"body_limit,omitempty"`
	// IdempotencyKey stays the same across retries of the step; it is sent as
	// the Idempotency-Key header on non-idempotent methods.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Link, when set, is the URL to request instead of Path and Query: the
	// next link a partner gave for a paginated step, absolute or relative to
	// LinkBase (the URL of the page that gave it). The activity refuses a
	// link that leaves the connection's scheme, host, port or base path.
	Link     string `json:"link,omitempty"`
	LinkBase string `json:"link_base,omitempty"`
	// Flow names the flow (or action) run, for the worker's metrics.
	Flow string `json:"flow,omitempty"`
	// ValidateResponse and Responses check the response against the
	// connection's OpenAPI document (RestStep).
	ValidateResponse string                 `json:"validate_response,omitempty"`
	Responses        *openapi.ResponseCheck `json:"responses,omitempty"`
}

// StepResult is what a REST or SOAP activity returns, and the details of its
// failure when it fails.
type StepResult struct {
	Request  RequestSummary   `json:"request"`
	Response *ResponseSummary `json:"response,omitempty"`
	// Body is the parsed body exposed to expressions as steps.<id>.body (SOAP
	// body tree); REST bodies are exposed as text and JSON.
	Body any `json:"body,omitempty"`
	// SOAPHeader is a SOAP response's header blocks as a tree, by local
	// name, exposed as steps.<id>.soap_header.
	SOAPHeader map[string]any `json:"soap_header,omitempty"`
	TLS        *TLSFacts      `json:"tls,omitempty"`
	// Auth says how the request was authenticated when that took more than
	// a fixed header: an OAuth 2.0 access token. Never the token itself.
	Auth    *AuthFacts `json:"auth,omitempty"`
	Timings Timings    `json:"timings"`
	Attempt int        `json:"attempt"`
	Worker  string     `json:"worker,omitempty"`
}

// SoapRequest is the input of the soap activity: everything rendered,
// secrets still as references.
type SoapRequest struct {
	WorkflowID  string           `json:"workflow_id"`
	StepPath    string           `json:"step"`
	Connection  *Connection      `json:"connection"`
	Profile     *ProtocolProfile `json:"profile,omitempty"`
	ProjectRoot string           `json:"project_root,omitempty"`
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
	// BodyLimit caps the response read, in bytes. A SOAP response over it
	// fails the step: an envelope cannot be read in part.
	BodyLimit int64 `json:"body_limit,omitempty"`
	// Flow names the flow (or action) run, for the worker's metrics.
	Flow string `json:"flow,omitempty"`
}

// SoapSecurity asks for a WS-Security UsernameToken in the request.
type SoapSecurity struct {
	Username string     `json:"username"`
	Password *SecretRef `json:"password"`
	// PasswordType is "text" (the default) or "digest".
	PasswordType string `json:"password_type,omitempty"`
}

// AuthFacts describe how a request was authorized, for the step's output
// data. They never hold a token or a secret.
type AuthFacts struct {
	// Type is the credential type, such as oauth2_client_credentials.
	Type string `json:"type"`
	// TokenURL is the token endpoint the access token came from.
	TokenURL   string   `json:"token_url,omitempty"`
	ClientAuth string   `json:"client_auth,omitempty"`
	Scopes     []string `json:"scopes,omitempty"`
	// TokenExpiresAt is when the access token expires, when known.
	TokenExpiresAt *time.Time `json:"token_expires_at,omitempty"`
	// TokenCached is true when the token came from this worker's cache
	// rather than from a token request made for this call.
	TokenCached bool `json:"token_cached"`
	// RefreshedAfter401 is true when the partner answered 401, a new token
	// was fetched and the request sent once more.
	RefreshedAfter401 bool `json:"refreshed_after_401,omitempty"`
	// BoundCertificate is the x5t#S256 thumbprint (RFC 8705 §3.1) of the
	// client certificate the token is bound to, when it is bound.
	BoundCertificate string `json:"bound_certificate,omitempty"`
}
