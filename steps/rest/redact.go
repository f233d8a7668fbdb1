package rest

import (
	"context"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/httpcall"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// Execute runs one REST step. Every secret the attempt resolved, and every
// credential it derived from one (a basic credential's base64, an access
// token), is replaced with "[redacted]" in its result and its failure
// before either leaves the worker: a partner that echoes a credential back
// in its body, headers or error text does not get it into the record,
// Temporal's history or the logs.
func (a *Activity) Execute(ctx context.Context, req *engine.RestRequest) (*engine.StepResult, error) {
	red := a.Secrets.NewRedactor()
	ctx = secrets.WithRedactor(ctx, red)
	res, err := a.execute(ctx, req)
	return httpcall.RedactOutcome(ctx, red, res, err)
}
