package console

// The recovery operations (docs/operations.md): retry a failed execution
// from a step, and decide on a held one. Each does what the CLI's
// `outflow executions retry` and `resume` do, signed with the console
// operator's identity, and is recorded in the execution.

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/outflow-dev/outflow/engine"
)

// recoveryOperations are the operations of recovery, after the built-in
// cancel and terminate.
func recoveryOperations() []Operation {
	reason := Field{Name: "reason", Label: "Reason", Kind: FieldText, Help: "recorded in the execution"}
	return []Operation{
		{
			Name: "retry", Label: "Retry from a step",
			Confirm: "Start a new execution, linked to this one, that runs again from the chosen step (empty: the step that failed) " +
				"with this execution's definition of the flow. The steps before it are not called again: their results are carried over.",
			Fields:  []Field{{Name: "from", Label: "From step", Kind: FieldStep, Help: "a top-level step; empty for the step that failed"}, reason},
			Applies: retryable,
			Run:     retryExecution,
		},
		{
			Name: "resume-retry", Label: "Retry the held step",
			Confirm: "Call the held step again. Inputs given here (one NAME=VALUE a line) are what its expressions read as inputs.NAME, for this attempt only.",
			Fields:  []Field{{Name: "inputs", Label: "Inputs", Kind: FieldTextArea, Help: "NAME=VALUE, one a line"}, reason},
			Applies: held,
			Run:     resumeExecution(engine.ResumeRetry),
		},
		{
			Name: "resume-skip", Label: "Skip the held step",
			Confirm: "Go on without the held step. Outputs given here (one NAME=VALUE a line) are what later steps read as steps.ID.outputs.NAME.",
			Fields:  []Field{{Name: "outputs", Label: "Outputs", Kind: FieldTextArea, Help: "NAME=VALUE, one a line"}, reason},
			Applies: held,
			Run:     resumeExecution(engine.ResumeSkip),
		},
		{
			Name: "resume-fail", Label: "Fail the held step", Danger: true,
			Confirm: "Fail the held step with your reason; the flow fails unless a catch handles it.",
			Fields:  []Field{{Name: "reason", Label: "Reason", Kind: FieldText, Required: true}},
			Applies: held,
			Run:     resumeExecution(engine.ResumeFail),
		},
	}
}

func retryable(t Target) bool {
	switch t.Status {
	case engine.StatusFailed, engine.StatusTerminated, engine.StatusCanceled, engine.StatusTimedOut:
		return !t.Running
	}
	return false
}

func held(t Target) bool { return t.Running && t.Status == engine.StatusHeld }

func retryExecution(ctx context.Context, env OpEnv, t Target, form url.Values) (OpResult, error) {
	r, in, err := env.Client.PrepareRetry(ctx, t.ID, engine.RetryOptions{
		From: strings.TrimSpace(form.Get("from")), Identity: env.TemporalIdentity, Reason: form.Get("reason"),
	})
	if err != nil {
		return OpResult{}, err
	}
	if _, err := env.Client.StartRetry(ctx, r, in); err != nil {
		return OpResult{}, err
	}
	return OpResult{Message: fmt.Sprintf("retrying from step %s as %s; carried %d step(s)", r.From, r.WorkflowID, len(r.Carried)), Execution: r.WorkflowID}, nil
}

func resumeExecution(action string) func(ctx context.Context, env OpEnv, t Target, form url.Values) (OpResult, error) {
	return func(ctx context.Context, env OpEnv, t Target, form url.Values) (OpResult, error) {
		d := engine.ResumeDecision{Action: action, Identity: env.TemporalIdentity, Reason: form.Get("reason")}
		var err error
		if d.Inputs, err = formKVs("inputs", form.Get("inputs")); err != nil {
			return OpResult{}, err
		}
		if d.Outputs, err = formKVs("outputs", form.Get("outputs")); err != nil {
			return OpResult{}, err
		}
		out, err := env.Client.Resume(ctx, t.ID, d)
		if err != nil {
			return OpResult{}, err
		}
		return OpResult{Message: out}, nil
	}
}

// formKVs reads NAME=VALUE lines; a value is kept as the text given.
func formKVs(field, text string) (map[string]any, error) {
	var out map[string]any
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%s: %q is not NAME=VALUE", field, line)
		}
		if out == nil {
			out = map[string]any{}
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}
