package console

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/outflow-dev/outflow/engine"
)

// Operation is something an operator does to one execution: a button on
// the execution page, a confirmation page that says what it will do and
// asks for its fields, and the call that does it. The console lists its
// operations in one table (builtinOperations, then Options.Operations), so
// that a new one — retry from a step, resume a held execution, send an
// event — is one more entry:
//
//	console.Operation{
//		Name: "retry", Label: "Retry from a step",
//		Confirm: "Run the execution again from the chosen step; the steps before it are not called again.",
//		Fields:  []console.Field{{Name: "from", Label: "From step", Kind: console.FieldStep}},
//		Applies: func(e console.Target) bool { return !e.Running },
//		Run: func(ctx context.Context, env console.OpEnv, e console.Target, form url.Values) (console.OpResult, error) {
//			id, err := retry(ctx, env.Client, e.ID, form.Get("from"), env.Identity)
//			return console.OpResult{Message: "retried as " + id, Execution: id}, err
//		},
//	}
type Operation struct {
	// Name is the operation's part of the URL: lowercase letters and -.
	Name string
	// Label is the button's text.
	Label string
	// Confirm says, on the confirmation page, what the operation does.
	Confirm string
	// Danger marks operations that lose work (the button is red).
	Danger bool
	// Fields are asked on the confirmation page.
	Fields []Field
	// Applies says whether the operation is offered for an execution.
	Applies func(Target) bool
	// Run does it. The identity of the operator is in env; Run passes it
	// to Temporal (temporalIdentity) so that the history records who.
	Run func(ctx context.Context, env OpEnv, target Target, form url.Values) (OpResult, error)
}

// Field is one input of an operation's confirmation form.
type Field struct {
	Name     string
	Label    string
	Kind     FieldKind
	Required bool
	Help     string
}

// FieldKind is how a field is asked.
type FieldKind string

// Field kinds.
const (
	FieldText     FieldKind = "text"
	FieldTextArea FieldKind = "textarea"
	// FieldStep offers the execution's step paths.
	FieldStep FieldKind = "step"
)

// Target is the execution an operation applies to.
type Target struct {
	ID, RunID, Flow, Status string
	Running                 bool
	// Steps are the paths of the steps in the record, for FieldStep.
	Steps []string
}

// OpEnv is what an operation may use.
type OpEnv struct {
	Client *engine.Client
	// Identity is the operator; TemporalIdentity is how Temporal's history
	// names them.
	Identity         Identity
	TemporalIdentity string
}

// OpResult is what the operator is told, and where they go next: the
// execution the operation started, when it started one.
type OpResult struct {
	Message   string
	Execution string
}

var opName = regexp.MustCompile(`^[a-z][a-z-]{0,30}$`)

func checkOperations(ops []Operation) error {
	seen := map[string]bool{}
	for _, op := range ops {
		if !opName.MatchString(op.Name) {
			return fmt.Errorf("console: operation name %q: want lowercase letters and -", op.Name)
		}
		if seen[op.Name] {
			return fmt.Errorf("console: operation %q is defined twice", op.Name)
		}
		seen[op.Name] = true
		if op.Run == nil || op.Applies == nil || op.Label == "" {
			return fmt.Errorf("console: operation %q needs Label, Applies and Run", op.Name)
		}
	}
	return nil
}

func running(t Target) bool { return t.Running }

// builtinOperations are the operations Temporal's client gives directly.
func builtinOperations() []Operation {
	return []Operation{
		{
			Name: "cancel", Label: "Cancel",
			Confirm: "Ask the execution to stop: the step that is running is canceled and no further step starts. " +
				"The request, with your name and reason, is recorded in the execution's history.",
			Fields:  []Field{{Name: "reason", Label: "Reason", Kind: FieldText, Help: "recorded with the request"}},
			Applies: running,
			Run:     cancelExecution,
		},
		{
			Name: "terminate", Label: "Terminate", Danger: true,
			Confirm: "End the execution at once, without running anything more, not even cleanup. " +
				"Prefer Cancel; terminate an execution that does not stop. Your name and reason are recorded in its history.",
			Fields:  []Field{{Name: "reason", Label: "Reason", Kind: FieldText, Required: true}},
			Applies: running,
			Run:     terminateExecution,
		},
		sendEventOperation(),
	}
}

func cancelExecution(ctx context.Context, env OpEnv, t Target, form url.Values) (OpResult, error) {
	_, err := env.Client.Temporal.WorkflowService().RequestCancelWorkflowExecution(ctx, &workflowservice.RequestCancelWorkflowExecutionRequest{
		Namespace:         env.Client.Namespace,
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: t.ID, RunId: t.RunID},
		Identity:          env.TemporalIdentity,
		RequestId:         uuid.NewString(),
		Reason:            form.Get("reason"),
	})
	if err != nil {
		return OpResult{}, fmt.Errorf("canceling execution %s: %w", t.ID, err)
	}
	return OpResult{Message: "cancellation requested; the execution stops at its next step boundary"}, nil
}

func terminateExecution(ctx context.Context, env OpEnv, t Target, form url.Values) (OpResult, error) {
	reason := form.Get("reason")
	if reason == "" {
		return OpResult{}, errors.New("terminating needs a reason")
	}
	_, err := env.Client.Temporal.WorkflowService().TerminateWorkflowExecution(ctx, &workflowservice.TerminateWorkflowExecutionRequest{
		Namespace:         env.Client.Namespace,
		WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: t.ID, RunId: t.RunID},
		Identity:          env.TemporalIdentity,
		Reason:            reason,
	})
	if err != nil {
		return OpResult{}, fmt.Errorf("terminating execution %s: %w", t.ID, err)
	}
	return OpResult{Message: "terminated"}, nil
}

func (c *Console) operation(name string) *Operation {
	for i := range c.ops {
		if c.ops[i].Name == name {
			return &c.ops[i]
		}
	}
	return nil
}

func targetOf(ex *execution) Target {
	t := Target{ID: ex.ID, RunID: ex.RunID, Status: ex.Status, Running: ex.Running}
	if ex.Record != nil {
		t.Flow = ex.Record.Flow
		for _, s := range ex.Record.Steps {
			t.Steps = append(t.Steps, s.ID)
		}
	}
	return t
}
