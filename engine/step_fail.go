package engine

import (
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

func failKind() stepKind {
	return stepKind{
		name: "fail",
		is:   func(s *Step) bool { return s.Fail != nil },
		run:  (*runner).runFail,
	}
}

// ErrFail is the error type of a fail step that names none.
const ErrFail = "Fail"

// FailStep ends the flow, or the enclosing try, with an error of its own.
type FailStep struct {
	// Message is a template: the error's message.
	Message string `json:"message"`
	// Type is the error's type, as catch reads it in error.type; ErrFail
	// when empty.
	Type string `json:"type,omitempty"`
}

// runFail fails the step with the flow's own error, not retryable. The
// message is evaluated in the workflow; a message that cannot be evaluated
// fails the step with the expression's error instead.
func (r *runner) runFail(ctx workflow.Context, st *Step, sc *scope, path string) error {
	r.newStepRecord(ctx, st, path)
	msg, err := evalString(st.Fail.Message, sc.env())
	if err != nil {
		return r.failStep(ctx, st, sc, path, exprError(path+".fail.message", err))
	}
	typ := st.Fail.Type
	if typ == "" {
		typ = ErrFail
	}
	return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(msg, typ, nil))
}
