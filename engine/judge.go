package engine

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
)

// ErrResponseRejected is the type of a failure that fail_when or retry_when
// gave a response its status code alone would have let through, such as
// 200 {"status":"ERROR","code":"LOCKED"}.
const ErrResponseRejected = "ResponseRejected"

// responseJudgeWords caps how much of the partner's body a rejection
// quotes.
const responseJudgeWords = 400

// JudgeResponse evaluates a call's fail_when and retry_when against the
// response res holds, in the activity that made the call: it returns a
// ResponseRejected failure carrying res when either holds (retried by the
// step's policy only when retry_when holds), and nil otherwise. It is pure:
// the expressions read `response` alone, with the expression bounds.
func JudgeResponse(h *CallHeader, res *StepResult) error {
	if h == nil || res == nil || (h.FailWhen == "" && h.RetryWhen == "") {
		return nil
	}
	data := stepData(res)
	delete(data, "status")
	env := map[string]any{"response": data}
	held := func(field, cond string) (bool, error) {
		if cond == "" {
			return false, nil
		}
		v, err := EvalValue(cond, env)
		if err != nil {
			return false, temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", field, err), ErrExpression, err, res)
		}
		return Truthy(v), nil
	}
	retry, err := held("retry_when", h.RetryWhen)
	if err != nil {
		return err
	}
	fail := retry
	cond, field := h.RetryWhen, "retry_when"
	if !retry {
		if fail, err = held("fail_when", h.FailWhen); err != nil {
			return err
		}
		cond, field = h.FailWhen, "fail_when"
	}
	if !fail {
		return nil
	}
	words := ""
	if b, ok := data["body"].(string); ok {
		words = b
	} else if data["body"] != nil {
		words = Stringify(data["body"])
	}
	if len(words) > responseJudgeWords {
		words = words[:responseJudgeWords] + "…"
	}
	code := 0
	if res.Response != nil {
		code = res.Response.StatusCode
	}
	msg := fmt.Sprintf("response rejected by %s %s: %d %s", field, cond, code, words)
	return temporal.NewApplicationErrorWithOptions(msg, ErrResponseRejected, temporal.ApplicationErrorOptions{
		NonRetryable: !retry,
		Details:      []any{res},
	})
}
