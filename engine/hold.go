package engine

// Holding for an operator (hold_on_failure). A rest or soap step that holds
// on failure and fails after its retries does not fail the flow: the
// execution waits in status held, with the step's error in its record,
// until an operator decides with the resume update (`outflow executions
// resume`): retry the step (optionally with some inputs overridden for that
// attempt), skip it (with the outputs later steps read), or fail it. The
// wait is a workflow.Await on the decision, with no timer, so a held
// execution can wait for days without growing its history.

import (
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ResumeUpdate is the update an operator sends to decide on a held step.
const ResumeUpdate = "resume"

// StatusHeld is the status of a held step, and of an execution with one.
const StatusHeld = "held"

// ErrOperatorFailed is a held step an operator decided to fail.
const ErrOperatorFailed = "OperatorFailed"

// holdVersion gates the commands holding issues (the status upserts).
const holdVersion = "recovery-hold"

// Resume decisions.
const (
	ResumeRetry = "retry"
	ResumeSkip  = "skip"
	ResumeFail  = "fail"
)

// ResumeDecision is what an operator decided for a held step.
type ResumeDecision struct {
	// Step is the held step's path; "" when exactly one step is held.
	Step   string `json:"step,omitempty"`
	Action string `json:"action"`
	// Inputs override what the step's expressions read as inputs.NAME, for
	// the retried attempt only.
	Inputs map[string]any `json:"inputs,omitempty"`
	// Outputs are what later steps read as steps.ID.outputs.NAME of a
	// skipped step.
	Outputs  map[string]any `json:"outputs,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	Identity string         `json:"identity,omitempty"`
}

type heldStep struct {
	path     string
	decision *ResumeDecision
}

// holdsOnFailure says whether a step holds when it fails: its own
// hold_on_failure, else its flow's, else the project's.
func (r *runner) holdsOnFailure(st *Step) bool {
	if st.HoldOnFailure != nil {
		return *st.HoldOnFailure
	}
	if r.plan.HoldOnFailure != nil {
		return *r.plan.HoldOnFailure
	}
	return r.plan.Settings.HoldOnFailure
}

// runHolding runs a step of kind k that holds on failure.
func (r *runner) runHolding(ctx workflow.Context, k *stepKind, st *Step, sc *scope, path string) error {
	run := sc
	for n := 1; ; n++ {
		err := k.run(r, ctx, st, run, path)
		if err == nil || ctx.Err() != nil || temporal.IsCanceledError(err) || isContinueAsNew(err) {
			return err
		}
		if workflow.GetVersion(ctx, holdVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			return err
		}
		d, herr := r.hold(ctx, path)
		if herr != nil {
			return herr
		}
		rec := r.rec.Step(path)
		switch d.Action {
		case ResumeRetry:
			// The held attempt stays in the record, under its own name.
			if rec != nil {
				rec.ID = fmt.Sprintf("%s#held%d", path, n)
				rec.Status = StatusFailed
			}
			run = sc
			if len(d.Inputs) > 0 {
				run = sc.withInputs(d.Inputs)
			}
			continue
		case ResumeSkip:
			if rec != nil {
				rec.Status = StatusSkipped
				rec.Outputs = d.Outputs
			}
			data := map[string]any{"status": StatusSkipped, "outputs": orEmpty(d.Outputs)}
			if e, ok := sc.steps[st.ID].(map[string]any); ok && e["error"] != nil {
				data["error"] = e["error"]
			}
			sc.steps[st.ID] = data
			return nil
		default:
			if rec != nil {
				rec.Status = StatusFailed
			}
			why := d.Reason
			if why == "" {
				why = "no reason given"
			}
			msg := fmt.Sprintf("failed by operator %s: %s", dashIfEmpty(d.Identity), why)
			if rec != nil && rec.Error != nil {
				msg += " (the step had failed with " + rec.Error.Type + ": " + rec.Error.Message + ")"
			}
			ferr := temporal.NewNonRetryableApplicationError(msg, ErrOperatorFailed, nil)
			if rec != nil {
				rec.Error = errorInfo(ferr)
			}
			return &StepError{Path: path, Err: ferr}
		}
	}
}

// withInputs returns a scope that shares sc's steps and vars and reads
// inputs with over laid on them: a held step's retried attempt.
func (sc *scope) withInputs(over map[string]any) *scope {
	c := *sc
	c.inputs = make(map[string]any, len(sc.inputs)+len(over))
	for k, v := range sc.inputs {
		c.inputs[k] = v
	}
	for k, v := range over {
		c.inputs[k] = v
	}
	return &c
}

// hold waits for an operator's decision on the step at path, which failed.
func (r *runner) hold(ctx workflow.Context, path string) (*ResumeDecision, error) {
	if err := r.ensureResumeHandler(ctx); err != nil {
		return nil, err
	}
	h := &heldStep{path: path}
	r.held = append(r.held, h)
	if rec := r.rec.Step(path); rec != nil {
		rec.Status = StatusHeld
	}
	r.setHeld(ctx, true)
	err := workflow.Await(ctx, func() bool { return h.decision != nil })
	for i, x := range r.held {
		if x == h {
			r.held = append(r.held[:i], r.held[i+1:]...)
			break
		}
	}
	if len(r.held) == 0 {
		r.setHeld(ctx, false)
	}
	if err != nil {
		if rec := r.rec.Step(path); rec != nil {
			rec.Status = StatusFailed
		}
		return nil, err
	}
	return h.decision, nil
}

// setHeld says in the record and the status search attribute whether the
// execution waits for an operator.
func (r *runner) setHeld(ctx workflow.Context, held bool) {
	status := StatusRunning
	if held {
		status = StatusHeld
	}
	r.rec.Status = status
	if r.in.SearchAttributes && ctx.Err() == nil {
		_ = workflow.UpsertTypedSearchAttributes(ctx, SearchAttrStatus.ValueSet(status))
	}
}

// ensureResumeHandler registers the resume update the first time a step
// holds.
func (r *runner) ensureResumeHandler(ctx workflow.Context) error {
	if r.resumeHandler {
		return nil
	}
	r.resumeHandler = true
	return workflow.SetUpdateHandlerWithOptions(ctx, ResumeUpdate,
		func(ctx workflow.Context, d ResumeDecision) (string, error) {
			h, err := r.findHeld(d)
			if err != nil {
				return "", err
			}
			detail := "step " + h.path
			if len(d.Inputs) > 0 {
				detail += " with inputs " + strings.Join(sortedKeys(d.Inputs), ", ")
			}
			if len(d.Outputs) > 0 {
				detail += " with outputs " + strings.Join(sortedKeys(d.Outputs), ", ")
			}
			r.rec.Operations = append(r.rec.Operations, OperatorAction{Action: "resume --" + d.Action, Identity: d.Identity,
				At: workflow.Now(ctx), Reason: d.Reason, Detail: detail})
			dd := d
			h.decision = &dd
			return fmt.Sprintf("%s of held step %s", d.Action, h.path), nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, d ResumeDecision) error {
			_, err := r.findHeld(d)
			return err
		}})
}

// findHeld checks a decision and returns the held step it is for.
func (r *runner) findHeld(d ResumeDecision) (*heldStep, error) {
	switch d.Action {
	case ResumeRetry, ResumeSkip, ResumeFail:
	default:
		return nil, fmt.Errorf("resume: unknown decision %q (retry, skip or fail)", d.Action)
	}
	if len(d.Inputs) > 0 && d.Action != ResumeRetry {
		return nil, fmt.Errorf("resume: inputs are given with retry only")
	}
	if len(d.Outputs) > 0 && d.Action != ResumeSkip {
		return nil, fmt.Errorf("resume: outputs are given with skip only")
	}
	var open []string
	for _, h := range r.held {
		if h.decision == nil {
			open = append(open, h.path)
		}
	}
	if len(open) == 0 {
		return nil, fmt.Errorf("resume: the execution holds no step")
	}
	// By path, not by when they were held: concurrent items fail in any
	// order.
	slices.Sort(open)
	for _, h := range r.held {
		if h.decision == nil && (h.path == d.Step || (d.Step == "" && len(open) == 1)) {
			return h, nil
		}
	}
	if d.Step == "" {
		return nil, fmt.Errorf("resume: %d steps are held (%s); name one with --step", len(open), strings.Join(open, ", "))
	}
	return nil, fmt.Errorf("resume: step %q is not held (held: %s)", d.Step, strings.Join(open, ", "))
}
