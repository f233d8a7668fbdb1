package soap

import (
	"context"
	"html"
	"regexp"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/httpcall"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// Execute runs one SOAP step (see execute). Every secret the attempt
// resolved or derived — the WS-Security password and the digest sent for
// it, the HTTP credential, an access token — is replaced with "[redacted]"
// in its result (the body and header trees, a fault's string and detail,
// the raw response) and its failure before either leaves the worker.
func (a *Activity) Execute(ctx context.Context, req *SoapRequest) (*engine.StepResult, error) {
	red := a.Secrets.NewRedactor()
	ctx = secrets.WithRedactor(ctx, red)
	res, err := a.execute(ctx, req)
	return httpcall.RedactOutcome(ctx, red, res, err)
}

// sentPassword finds the password or digest of the UsernameToken an
// envelope carries.
var sentPassword = regexp.MustCompile(`<wsse:Password\b[^>]*>([^<]*)</wsse:Password>`)

// rememberPasswords adds to the attempt's Redactor what the envelope sends
// as a UsernameToken password: the digest, which is new on every request,
// or the password as it was escaped into the envelope.
func rememberPasswords(ctx context.Context, envelope []byte) {
	red := secrets.RedactorFrom(ctx)
	for _, m := range sentPassword.FindAllSubmatch(envelope, -1) {
		red.Add(string(m[1]), html.UnescapeString(string(m[1])))
	}
}
