package rest

import "github.com/outflow-dev/outflow/steps/httpcall"

// The HTTP plumbing the REST, SOAP and mock steps share lives in
// steps/httpcall. These names forward to it so callers that still say
// rest.X keep compiling; new code imports httpcall.

type (
	Authorizer    = httpcall.Authorizer
	Exchange      = httpcall.Exchange
	ExchangeError = httpcall.ExchangeError
	Observation   = httpcall.Observation
	TLSObserver   = httpcall.TLSObserver
	TokenCacher   = httpcall.TokenCacher
	Transports    = httpcall.Transports
)

// Redacted is what a redacted header value reads as.
const Redacted = httpcall.Redacted

var (
	ApplyCredential   = httpcall.ApplyCredential
	BuildURL          = httpcall.BuildURL
	CapString         = httpcall.CapString
	Do                = httpcall.Do
	IsSensitiveHeader = httpcall.IsSensitiveHeader
	KeepAlive         = httpcall.KeepAlive
	PartnerWords      = httpcall.PartnerWords
	RedactFailure     = httpcall.RedactFailure
	RedactHeaders     = httpcall.RedactHeaders
	RedactOutcome     = httpcall.RedactOutcome
	RedactResult      = httpcall.RedactResult
	ResponseHeaders   = httpcall.ResponseHeaders
	StatusError       = httpcall.StatusError
	StepPathFrom      = httpcall.StepPathFrom
	TimedOut          = httpcall.TimedOut
	TokenURL          = httpcall.TokenURL
	WithCallDeadline  = httpcall.WithCallDeadline
	WithStepPath      = httpcall.WithStepPath
)

// Unexported names the REST activity's own code uses, forwarded so its
// body reads as before the split.
var (
	queryCredential     = httpcall.QueryCredential
	dropQueryCredential = httpcall.DropQueryCredential
	sameHostPort        = httpcall.SameHostPort
	isJSON              = httpcall.IsJSON
	newAppError         = httpcall.NewAppError
)
