package engine

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

func tryKind() stepKind {
	return stepKind{
		name: "try",
		is:   func(s *Step) bool { return s.Try != nil },
		run:  (*runner).runTry,
		blocks: func(s *Step) []Block {
			return []Block{{Steps: s.Try.Steps}, {Steps: s.Try.Catch}, {Steps: s.Try.Finally}}
		},
	}
}

// TryStep runs Steps; when one of them fails (after its retries), Catch
// runs with `error` bound to the failure, and a Catch that ends normally
// means the step succeeded. Finally runs after both, whatever happened,
// also when the flow is canceled. The ids of all three share the scope
// around the step.
type TryStep struct {
	Steps   []Step `json:"steps"`
	Catch   []Step `json:"catch,omitempty"`
	Finally []Step `json:"finally,omitempty"`
}

// Record paths of the steps a try step holds: "ID/try/STEP",
// "ID/catch/STEP", "ID/finally/STEP".
const (
	tryRecord     = "/try/"
	catchRecord   = "/catch/"
	finallyRecord = "/finally/"
)

// StepError is the failure of the step at Path as it travels up through
// the steps that hold it; its text is "step PATH: " and the cause.
type StepError struct {
	Path string
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("step %s: %v", e.Path, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// failedStep is the path of the innermost step that failed in err, or "".
func failedStep(err error) string {
	path := ""
	for err != nil {
		var se *StepError
		if !errors.As(err, &se) {
			break
		}
		path = se.Path
		err = se.Err
	}
	return path
}

// ErrorFields are the fields of `error`, readable in catch and on_failure
// steps, in the order the docs list them.
var ErrorFields = []struct{ Name, Doc string }{
	{"type", "the failure's stable type, such as HTTPStatusClient, ResponseRejected or the type of a fail: step"},
	{"message", "the failure in words: the partner's, where it gave any"},
	{"step", "the path of the step that failed, as in the execution record (\"sync/try/post\", \"each[3]/get\")"},
	{"status_code", "the HTTP status of the failed call's last response; null when there was none"},
}

// IsErrorField reports whether name is a field of `error`.
func IsErrorField(name string) bool {
	for _, f := range ErrorFields {
		if f.Name == name {
			return true
		}
	}
	return false
}

// errorData is what expressions read as `error` after err.
func (r *runner) errorData(err error) map[string]any {
	info := errorInfo(err)
	path := failedStep(err)
	d := map[string]any{"type": info.Type, "message": info.Message, "step": path, "status_code": nil}
	if rec := r.rec.Step(path); rec != nil && rec.Response != nil {
		d["status_code"] = rec.Response.StatusCode
	}
	return d
}

func (r *runner) runTry(ctx workflow.Context, st *Step, sc *scope, path string) (err error) {
	rec := r.newStepRecord(ctx, st, path)
	t := st.Try
	err = r.runSteps(ctx, t.Steps, sc, path+tryRecord)
	canceled := ctx.Err() != nil || temporal.IsCanceledError(err)
	var caught map[string]any
	if err != nil && !canceled && len(t.Catch) > 0 && !isContinueAsNew(err) {
		caught = r.errorData(err)
		rec.Caught = &ErrorInfo{Type: caught["type"].(string), Message: caught["message"].(string)}
		err = r.runSteps(ctx, t.Catch, sc.with("error", caught), path+catchRecord)
	}
	if len(t.Finally) > 0 && !isContinueAsNew(err) {
		// Cleanup runs even when the flow is being canceled: on a context
		// the cancellation does not reach.
		fctx, _ := workflow.NewDisconnectedContext(ctx)
		if ferr := r.runSteps(fctx, t.Finally, sc, path+finallyRecord); ferr != nil {
			err = ferr
		}
	}
	if err != nil {
		if isContinueAsNew(err) {
			return err
		}
		failErr := r.failStep(ctx, st, sc, path, err)
		return failErr
	}
	rec.Status = StatusSucceeded
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	data := map[string]any{"status": StatusSucceeded}
	if caught != nil {
		data["caught"] = caught
	}
	sc.steps[st.ID] = data
	return nil
}

func isContinueAsNew(err error) bool {
	var can *workflow.ContinueAsNewError
	return errors.As(err, &can)
}

// onFailure runs the on_failure steps of a flow or action that failed
// with err, with `error` bound to it, and records them under prefix. The
// failure stands whatever they do; a failure of theirs is in the record.
// A canceled flow runs none.
func (r *runner) onFailure(ctx workflow.Context, steps []Step, sc *scope, prefix string, err error) {
	if len(steps) == 0 || ctx.Err() != nil || temporal.IsCanceledError(err) {
		return
	}
	_ = r.runSteps(ctx, steps, sc.with("error", r.errorData(err)), prefix)
}
