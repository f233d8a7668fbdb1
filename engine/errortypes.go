package engine

// ErrorType describes one stable error type a failed step or flow carries
// (ErrorInfo.Type, the type of the Temporal application error, the
// error_type label of metrics).
type ErrorType struct {
	Name string
	// NeverRetried says a step that failed with it is not retried: the
	// request or the configuration is wrong, and retrying cannot help. Other
	// types follow the step's retry policy, unless the error itself says
	// retrying will not help (a SOAP client fault, an OAuth invalid_client).
	NeverRetried bool
	// ByWorkflow says the workflow itself raises it, not a step's attempt,
	// so there is nothing to retry.
	ByWorkflow bool
	// Meaning says when it happens, for docs: a phrase without final period.
	Meaning string
}

// Error types that the constants of activity.go do not name.
const (
	// ErrPollDeadline is a poll whose condition still did not hold after its
	// max_attempts or deadline.
	ErrPollDeadline = "PollDeadline"
	// ErrCanceled is a step or flow that was canceled.
	ErrCanceled = "Canceled"
)

// ErrorTypes are the stable error types, in the order docs list them. It
// is the one list: the retry policy of steps (NonRetryableErrorTypes) and
// the reference (`go generate ./flows`) read it.
var ErrorTypes = []ErrorType{
	{Name: ErrHTTPStatus, Meaning: "the partner answered a status the step does not expect other than a 4xx (a 5xx, 408 or 429; retried after the partner's Retry-After), or a SOAP call was answered without an envelope"},
	{Name: ErrHTTPClient, NeverRetried: true, Meaning: "the partner answered a 4xx other than 408 and 429 that the step does not expect: the request is wrong"},
	{Name: ErrSOAPFault, Meaning: "the partner answered with a SOAP fault; a client fault is not retried, a server fault is"},
	{Name: ErrTLSHandshake, Meaning: "the TLS handshake failed: the server refused the client certificate, or its own certificate is not trusted, expired or for another name"},
	{Name: ErrCertificate, NeverRetried: true, Meaning: "the client key material is unusable (a keystore that cannot be read or opened, a key that does not match its certificate), or the check before a scheduled run found an expired certificate"},
	{Name: ErrSecret, NeverRetried: true, Meaning: "a secret reference could not be resolved on the worker"},
	{Name: ErrOAuth, Meaning: "the token endpoint refused to issue an access token, or the token cannot be used with this connection's certificate"},
	{Name: ErrConnection, Meaning: "the partner could not be reached, or the connection broke"},
	{Name: ErrTimeout, Meaning: "the step's timeout passed"},
	{Name: ErrConfig, NeverRetried: true, Meaning: "the plan, its inputs or the worker's configuration are wrong for this step, such as an unknown connection or a missing required input"},
	{Name: ErrResponseRejected, Meaning: "the response did not pass the step's fail_when (not retried) or retry_when (retried), or it does not fit the connection's OpenAPI document (validate_response: true; not retried)"},
	{Name: ErrExpression, NeverRetried: true, Meaning: "an expression failed to evaluate, or gave a value of the wrong kind"},
	{Name: ErrPagination, ByWorkflow: true, Meaning: "a paginated step met a page it cannot read on: a next link to another host, a page without its items, the page limit"},
	{Name: ErrPollDeadline, ByWorkflow: true, Meaning: "a poll's condition still did not hold after its max_attempts or deadline"},
	{Name: ErrCanceled, ByWorkflow: true, Meaning: "the step or flow was canceled"},
	{Name: ErrOperatorFailed, ByWorkflow: true, Meaning: "an operator decided to fail a step that held on failure (`outflow executions resume --fail`); the message gives who, why and the step's own error"},
	{Name: ErrFlowFailed, ByWorkflow: true, Meaning: "the type of a failed flow's own error: the record it carries says which step failed and why"},
}

// NonRetryableErrorTypes are the types of ErrorTypes that are never
// retried, for the retry policy of steps.
func NonRetryableErrorTypes() []string {
	var out []string
	for _, t := range ErrorTypes {
		if t.NeverRetried {
			out = append(out, t.Name)
		}
	}
	return out
}
