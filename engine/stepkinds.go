package engine

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Step is one node of a plan. Exactly one of its kind fields (Rest, Soap,
// Action, Foreach, Parallel, Wait: one per row of stepKinds) is set.
type Step struct {
	ID     string `json:"id"`
	Name   string `json:"name,omitempty"`
	Source string `json:"source,omitempty"` // file:line:col
	// If is a template; the step runs when it evaluates to a truthy value.
	If string `json:"if,omitempty"`

	// The kinds, in the order of stepKinds; each type lives in its kind's
	// file, step_<kind>.go.
	Rest     *RestStep   `json:"rest,omitempty"`
	Soap     *SoapStep   `json:"soap,omitempty"`
	Action   *ActionCall `json:"action,omitempty"`
	Foreach  *Foreach    `json:"foreach,omitempty"`
	Parallel []Branch    `json:"parallel,omitempty"`
	Wait     *WaitStep   `json:"wait,omitempty"`
	Switch   *SwitchStep `json:"switch,omitempty"`
	// Set assigns vars, in order (step_set.go).
	Set    []Binding `json:"set,omitempty"`
	Repeat *Repeat   `json:"repeat,omitempty"`
	Fail   *FailStep `json:"fail,omitempty"`
	Try    *TryStep  `json:"try,omitempty"`
	Flow   *FlowCall `json:"flow,omitempty"`

	// Poll repeats a rest or soap step until a condition holds.
	Poll *Poll `json:"poll,omitempty"`
	// FailWhen and RetryWhen judge a rest or soap step's response in its
	// activity (CallHeader.FailWhen).
	FailWhen  string `json:"fail_when,omitempty"`
	RetryWhen string `json:"retry_when,omitempty"`

	Retry           *RetryPolicy `json:"retry,omitempty"`
	Timeout         Duration     `json:"timeout,omitempty"`
	ContinueOnError bool         `json:"continue_on_error,omitempty"`
	// Local runs a rest or soap step as a local activity on the flow's worker.
	Local bool `json:"local,omitempty"`
	// HoldOnFailure makes a rest or soap step that fails after its retries
	// wait for an operator instead of failing the flow (hold.go); nil
	// follows the flow's and the project's setting.
	HoldOnFailure *bool `json:"hold_on_failure,omitempty"`
	// Regular (local: false) runs a rest or soap step as a regular
	// activity, never on the automatic fast path (fastpath.go).
	Regular bool `json:"regular,omitempty"`
	// Idempotent marks a call safe to repeat whatever its method, which
	// lets it take the automatic fast path.
	Idempotent bool `json:"idempotent,omitempty"`
}

// stepKind is one row of the table of step kinds: everything the
// interpreter knows about a kind. The kind's own code lives in
// step_<name>.go; see the package documentation for how to add one.
type stepKind struct {
	// name is the kind's name in plans, records and the YAML.
	name string
	// is reports whether a step is of this kind: its field is set.
	is func(*Step) bool
	// run runs a step of this kind at path, in scope sc. It records the
	// step (newStepRecord), stores what later expressions read in
	// sc.steps[st.ID], and reports a failure through failStep.
	run func(r *runner, ctx workflow.Context, st *Step, sc *scope, path string) error
	// connection, for kinds that call a partner in an activity, names the
	// step's connection; nil for kinds that run in the workflow alone.
	connection func(*Step) string
	// blocks lists the sequences of steps a step of this kind holds.
	blocks func(*Step) []Block
}

// stepKinds is the table of step kinds, in the order messages list them;
// each row is a function of the kind's file. It is a function rather than a
// variable because running a kind that holds steps (foreach, parallel,
// each_page) comes back to the table, which a variable's initializer may
// not do.
func stepKinds() []stepKind {
	return []stepKind{
		restKind(),
		soapKind(),
		actionKind(),
		foreachKind(),
		parallelKind(),
		waitKind(),
		switchKind(),
		setKind(),
		repeatKind(),
		failKind(),
		tryKind(),
		flowKind(),
	}
}

// Checked once when the program starts: a kind listed twice, or without a
// name or a field, is a mistake in the table, not in anyone's flow.
var _ = mustCheckStepKinds(stepKinds())

func mustCheckStepKinds(kinds []stepKind) bool {
	if err := checkStepKinds(kinds); err != nil {
		panic(err)
	}
	return true
}

func checkStepKinds(kinds []stepKind) error {
	seen := map[string]bool{}
	for i, k := range kinds {
		switch {
		case k.name == "":
			return fmt.Errorf("engine: step kind %d has no name", i)
		case seen[k.name]:
			return fmt.Errorf("engine: step kind %q is listed twice", k.name)
		case k.is == nil || k.run == nil:
			return fmt.Errorf("engine: step kind %q lacks is or run", k.name)
		}
		seen[k.name] = true
	}
	return nil
}

// kindOf returns the row of a step's kind, or nil when it has none.
func kindOf(st *Step) *stepKind {
	kinds := stepKinds()
	for i := range kinds {
		if kinds[i].is(st) {
			return &kinds[i]
		}
	}
	return nil
}

// Kind names the step's kind (rest, soap, action, foreach, parallel,
// wait), or "" when it has none.
func (s *Step) Kind() string {
	if k := kindOf(s); k != nil {
		return k.name
	}
	return ""
}

// StepKinds lists the names of the step kinds, in order.
func StepKinds() []string {
	var names []string
	for _, k := range stepKinds() {
		names = append(names, k.name)
	}
	return names
}

// CallsActivity reports whether steps of the kind named kind call a
// partner through a connection, in an activity.
func CallsActivity(kind string) bool {
	for _, k := range stepKinds() {
		if k.name == kind {
			return k.connection != nil
		}
	}
	return false
}

// Connection names the connection a step calls through, or "" for a step
// that calls no partner itself.
func (s *Step) Connection() string {
	if k := kindOf(s); k != nil && k.connection != nil {
		return k.connection(s)
	}
	return ""
}

// Block is a sequence of steps a step holds: the steps of a foreach, of a
// parallel branch, of a paginated step's each_page.
type Block struct {
	Steps []Step
	// Per is what the steps run once per: "item" (foreach) or "page"
	// (each_page). It is "" for steps that run once, in the scope around
	// the step that holds them (a parallel branch).
	Per string
}

// Blocks lists the sequences of steps the step holds.
func (s *Step) Blocks() []Block {
	if k := kindOf(s); k != nil && k.blocks != nil {
		return k.blocks(s)
	}
	return nil
}

func (r *runner) runSteps(ctx workflow.Context, steps []Step, sc *scope, prefix string) error {
	for i := range steps {
		if err := r.runStep(ctx, &steps[i], sc, prefix); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) runStep(ctx workflow.Context, st *Step, sc *scope, prefix string) error {
	path := prefix + st.ID
	if err := r.beginStep(ctx); err != nil {
		return r.stopStep(ctx, st, sc, path, err)
	}
	if st.If != "" {
		v, err := EvalValue(st.If, sc.env())
		if err != nil {
			return r.failStep(ctx, st, sc, path, exprError(path+".if", err))
		}
		if !Truthy(v) {
			rec := r.newStepRecord(ctx, st, path)
			rec.Status = StatusSkipped
			sc.steps[st.ID] = map[string]any{"status": StatusSkipped}
			return nil
		}
	}
	if k := kindOf(st); k != nil {
		if k.connection != nil && r.holdsOnFailure(st) {
			return r.runHolding(ctx, k, st, sc, path)
		}
		return k.run(r, ctx, st, sc, path)
	}
	return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError("step has no kind", ErrConfig, nil))
}
