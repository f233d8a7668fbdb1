package httpcall

import (
	"context"
	"errors"
	"sync"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// RedactOutcome replaces the secrets red holds in what a step attempt hands
// back: its result, and its failure's message and step result (the
// failure's details). It warns once per process about secrets too short to
// be redacted (secrets.MinRedactLength).
func RedactOutcome(ctx context.Context, red *secrets.Redactor, res *engine.StepResult, err error) (*engine.StepResult, error) {
	warnShort(ctx, red)
	if res != nil {
		RedactResult(red, res)
	}
	return res, RedactFailure(red, err)
}

// RedactResult replaces the secrets red holds in res, in place: the request
// and response summaries (URL, headers, bodies, the parsed JSON), the SOAP
// body and header trees, the TLS and auth facts. A body cut at its limit
// loses the start of a secret the cut split.
func RedactResult(red *secrets.Redactor, res *engine.StepResult) {
	if red.Empty() || res == nil {
		return
	}
	if r := res.Response; r != nil && r.BodyTruncated {
		r.Body = red.Cut(r.Body)
	}
	red.Struct(res)
}

// RedactFailure returns err with the secrets red holds replaced in its
// message and in the step result it carries; an activity failure keeps its
// type, retry decision, retry delay and category. err itself is returned
// when nothing was replaced in its message.
func RedactFailure(red *secrets.Redactor, err error) error {
	if err == nil || red.Empty() {
		return err
	}
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return red.Error(err)
	}
	var details any
	if appErr.HasDetails() && appErr.Details(&details) == nil {
		if res, ok := details.(*engine.StepResult); ok {
			RedactResult(red, res)
		} else {
			details = red.Value(details)
		}
	}
	msg := red.String(appErr.Message())
	if msg == appErr.Message() && appErr == err {
		return err
	}
	opts := temporal.ApplicationErrorOptions{
		NonRetryable:   appErr.NonRetryable(),
		NextRetryDelay: appErr.NextRetryDelay(),
		Category:       appErr.Category(),
		Cause:          red.Error(appErr.Unwrap()),
	}
	if details != nil {
		opts.Details = []any{details}
	}
	return temporal.NewApplicationErrorWithOptions(msg, appErr.Type(), opts)
}

// shortWarned holds the references already warned about.
var shortWarned sync.Map

func warnShort(ctx context.Context, red *secrets.Redactor) {
	if !activity.IsActivity(ctx) {
		return
	}
	for _, ref := range red.Short() {
		if _, done := shortWarned.LoadOrStore(ref, true); !done {
			activity.GetLogger(ctx).Warn("a secret of this step is too short to be redacted from what a partner sends back; use a longer one",
				"reference", ref, "min_length", secrets.MinRedactLength)
		}
	}
}
