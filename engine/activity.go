package engine

import (
	"time"
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
	ErrFlowFailed = "FlowFailed"
)

// KV is one ordered name/value pair of a request (query parameter, header).
type KV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// CallHeader is the part of an activity-backed step's input that every such
// kind shares: which step of which run it is, and the connection and
// protocol profile it calls through. Request types embed it, so their JSON
// stays flat: workflow_id, step, flow, connection, profile, project_root and
// body_limit sit next to the kind's own fields.
type CallHeader struct {
	WorkflowID string `json:"workflow_id"`
	// StepPath is the step's path in the execution record: "get", "each[2]/post".
	StepPath string `json:"step"`
	// Flow names the flow (or action) run, for the worker's metrics.
	Flow       string           `json:"flow,omitempty"`
	Connection *Connection      `json:"connection"`
	Profile    *ProtocolProfile `json:"profile,omitempty"`
	// ProjectRoot is where relative keystore and trust store paths are
	// resolved when the worker has no project folder of its own.
	ProjectRoot string `json:"project_root,omitempty"`
	// BodyLimit caps the response body kept, in bytes. A kind whose
	// responses cannot be read in part (SOAP envelopes) fails the step
	// past it.
	BodyLimit int64 `json:"body_limit,omitempty"`
	// FailWhen and RetryWhen are templates the activity evaluates against
	// the response (`response.status_code`, `.json`, `.body`, `.headers`):
	// when one holds, the call fails with type ResponseRejected, retried
	// only for RetryWhen. See JudgeResponse.
	FailWhen  string `json:"fail_when,omitempty"`
	RetryWhen string `json:"retry_when,omitempty"`
	// KnownTLS names the certificates the workflow last saw on the
	// connection (TLSFacts.CertificatesKey); a result with the same ones
	// leaves them out (TLSFacts.WithoutKnown).
	KnownTLS string `json:"known_tls,omitempty"`
}

// Header returns the header, so that code handling any activity-backed
// step (telemetry, the offline runner) reads it through one interface.
func (h *CallHeader) Header() *CallHeader { return h }

// CallRequest is the input of an activity-backed step's activity.
type CallRequest interface{ Header() *CallHeader }

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
