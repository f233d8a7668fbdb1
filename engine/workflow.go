package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// WorkflowName is the one workflow type Outflow registers.
const WorkflowName = "outflow.flow"

// RecordQuery returns the execution record of a running or finished flow.
const RecordQuery = "record"

// Search attributes Outflow sets so executions can be listed by flow and status.
var (
	SearchAttrFlow   = temporal.NewSearchAttributeKeyKeyword("OutflowFlow")
	SearchAttrStatus = temporal.NewSearchAttributeKeyKeyword("OutflowStatus")
)

// SearchAttributes lists the custom search attributes Outflow needs on a namespace.
var SearchAttributes = map[string]enumspb.IndexedValueType{
	"OutflowFlow":   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	"OutflowStatus": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	// OutflowRetriedFrom links a retry to the execution it retries (carry.go).
	"OutflowRetriedFrom": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	// OutflowSchedule records a retry of a scheduled run against the
	// schedule, which did not start it (schedule_retry.go).
	"OutflowSchedule": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}

// RunInput is the input of FlowWorkflow.
type RunInput struct {
	Plan   *Plan          `json:"plan"`
	Inputs map[string]any `json:"inputs,omitempty"`
	// SearchAttributes says the namespace has Outflow's search attributes, so
	// the workflow may upsert its status.
	SearchAttributes bool `json:"search_attributes,omitempty"`
	// Resume carries a flow's state across continue-as-new.
	Resume *Resume `json:"resume,omitempty"`
	// CheckCertificates asks for the certificates of the plan's connections
	// to be checked, on the workers that present them, before any step runs:
	// scheduled runs have nobody watching, so an expired certificate should
	// fail them before the first partner is called, not halfway through.
	CheckCertificates bool `json:"check_certificates,omitempty"`
}

// Resume is where a flow that continued as new picks up: the next top-level
// step, what expressions could see, the record so far, and a poll in
// progress.
type Resume struct {
	NextStep int            `json:"next_step"`
	Inputs   map[string]any `json:"inputs,omitempty"`
	Vars     map[string]any `json:"vars,omitempty"`
	Steps    map[string]any `json:"steps,omitempty"`
	Record   *Record        `json:"record"`
	Poll     *PollState     `json:"poll,omitempty"`
	// Page is a paginated step in progress.
	Page *PageState `json:"page,omitempty"`
	// Events are events that arrived and no wait read yet (events.go).
	Events map[string][]Event `json:"events,omitempty"`
	// Repeat is a repeat step in progress (step_repeat.go).
	Repeat *RepeatState `json:"repeat,omitempty"`
}

// PollState is a poll in progress at a continue-as-new.
type PollState struct {
	Step     string    `json:"step"`
	Attempts int       `json:"attempts"`
	Started  time.Time `json:"started"`
}

// DefaultTaskQueue is where steps without an agent, and flows, run.
const DefaultTaskQueue = "outflow"

// AgentTaskQueue is the task queue served by the workers of an agent group.
func AgentTaskQueue(agent string) string { return "outflow-agent-" + agent }

// FlowWorkflow interprets a plan. It is deterministic: expressions are
// evaluated here without clock or randomness, and all I/O happens in
// activities on the worker that owns the step's connection.
func FlowWorkflow(ctx workflow.Context, in RunInput) (res *Record, err error) {
	return flowWorkflow(ctx, in, nil)
}

func flowWorkflow(ctx workflow.Context, in RunInput, signer *CallbackSigner) (res *Record, err error) {
	if in.Plan == nil {
		return nil, temporal.NewNonRetryableApplicationError("no plan given", ErrConfig, nil)
	}
	info := workflow.GetInfo(ctx)
	r := &runner{
		plan: in.Plan,
		in:   in,
		rec: &Record{
			WorkflowID: info.WorkflowExecution.ID,
			RunID:      info.WorkflowExecution.RunID,
			Flow:       in.Plan.Name,
			Kind:       in.Plan.Kind,
			Status:     StatusRunning,
			Start:      workflow.Now(ctx),
			Steps:      []*StepRecord{},
		},
		bounds: newRunBounds(ctx),
		signer: signer,
	}
	defer r.recoverFlow(ctx, in, &res, &err)
	if err := workflow.SetQueryHandler(ctx, RecordQuery, func() (*Record, error) { return r.rec, nil }); err != nil {
		return nil, err
	}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (*Record, error) { return r.rec.Progress(), nil }); err != nil {
		return nil, err
	}
	if err := workflow.SetQueryHandler(ctx, CarryQuery, r.carryState); err != nil {
		return nil, err
	}

	var sc *scope
	first := 0
	clock := func() time.Time { return workflow.Now(ctx) }
	if rs := in.Resume; rs != nil && rs.Record != nil {
		r.rec = rs.Record
		r.rec.RunID = info.WorkflowExecution.RunID
		r.rec.Runs++
		r.resumePoll = rs.Poll
		r.resumePage = rs.Page
		r.execution = r.executionData(ctx)
		r.resumeRepeat = rs.Repeat
		sc = &scope{inputs: rs.Inputs, vars: orEmpty(rs.Vars), steps: orEmpty(rs.Steps), extra: r.bounds.scopeExtra(), execution: r.execution, now: clock}
		sc.extra[callbackKey] = r.callbackFunc(ctx)
		first = rs.NextStep
		r.pendingEvents = rs.Events
	} else {
		r.execution = r.executionData(ctx)
		inputs, err := bindInputs(in.Plan.Inputs, in.Inputs)
		if err != nil {
			return r.finish(ctx, in, nil, err)
		}
		r.rec.Inputs = redactInputs(in.Plan.Inputs, inputs)
		sc = &scope{inputs: inputs, vars: map[string]any{}, steps: map[string]any{}, extra: r.bounds.scopeExtra(), execution: r.execution, now: clock}
		sc.extra[callbackKey] = r.callbackFunc(ctx)
		for _, b := range in.Plan.Vars {
			v, err := EvalValue(b.Value, sc.env())
			if err != nil {
				return r.finish(ctx, in, nil, exprError("vars."+b.Name, err))
			}
			sc.vars[b.Name] = v
		}
		// Scheduled runs check the certificates they need before calling anyone.
		if in.CheckCertificates {
			if err := checkCertificates(ctx, r); err != nil {
				return r.finish(ctx, in, nil, err)
			}
		}
	}
	r.top = sc
	for i := first; i < len(in.Plan.Steps); i++ {
		if i > first && r.historyFull(ctx) {
			return nil, r.continueAsNew(ctx, in, i, nil)
		}
		r.current = i
		if err := r.runStep(ctx, &in.Plan.Steps[i], sc, ""); err != nil {
			var can *workflow.ContinueAsNewError
			if errors.As(err, &can) {
				return nil, err
			}
			if rec, cerr, ok := r.endCanceled(ctx, in, sc, err); ok {
				return rec, cerr
			}
			r.onFailure(ctx, in.Plan.OnFailure, sc, "on_failure/", err)
			return r.finish(ctx, in, nil, err)
		}
	}
	outputs, err := evalBindings(in.Plan.Outputs, sc.env())
	if err != nil {
		return r.finish(ctx, in, nil, exprError("outputs", err))
	}
	return r.finish(ctx, in, outputs, nil)
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// historyFull says the history is long enough to continue as new.
func (r *runner) historyFull(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	limit := r.plan.Settings.HistoryLimit
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	n := info.GetCurrentHistoryLength()
	if r.events > n {
		// The test environment reports no history length; this run's own count
		// (each activity or timer costs about six events) stands in for it.
		n = r.events
	}
	return info.GetContinueAsNewSuggested() || n >= limit
}

// continueAsNew ends this run and starts the next with the flow's state, at
// top-level step next (with a poll in progress when poll is set).
func (r *runner) continueAsNew(ctx workflow.Context, in RunInput, next int, poll *PollState) error {
	// Pending activities and coroutines of this run are abandoned; only
	// top-level boundaries and polls between calls get here, where none run.
	next2 := in
	next2.Inputs = nil
	next2.Resume = &Resume{NextStep: next, Inputs: r.top.inputs, Vars: r.top.vars, Steps: r.top.steps, Record: r.rec, Poll: poll}
	next2.Resume.Events = r.drainEvents(ctx)
	r.boundResume(&next2, next)
	return workflow.NewContinueAsNewError(ctx, WorkflowName, next2)
}

type runner struct {
	plan *Plan
	rec  *Record
	in   RunInput
	// knownTLS names the certificates last seen per connection, tlsByKey
	// holds them by name (tlsknown.go).
	knownTLS map[string]string
	tlsByKey map[string]*TLSFacts
	// top is the flow's own scope; current the index of the top-level step
	// running, both for continue-as-new.
	top        *scope
	current    int
	resumePoll *PollState
	resumePage *PageState
	// resumeRepeat is the repeat step a resumed run continues.
	resumeRepeat *RepeatState
	// events estimates this run's history length.
	events int
	budget recordBudget
	bounds *runBounds
	// held are the steps waiting for an operator; resumeHandler says the
	// resume update is registered (hold.go).
	held          []*heldStep
	resumeHandler bool
	// execution is what expressions read as `execution`; nil in executions
	// that started before it was bound, where branch is not bound either.
	execution map[string]any
	// signer computes callback URLs; pendingEvents and callbackURLs are
	// this run's (events.go).
	signer        *CallbackSigner
	pendingEvents map[string][]Event
	callbackURLs  map[string]string
}

// scope is what expressions of one sequence of steps can see.
//
// vars is shared by reference with the scopes of the blocks that run once
// in it (switch cases, then/else, repeat passes: with shares it), so a set
// there is seen by every later step of the flow; a foreach item (child) and
// a parallel branch (ownVars) get a copy, so a set there stays local to the
// item or branch and concurrent ones never write the same map.
type scope struct {
	inputs    map[string]any
	vars      map[string]any
	steps     map[string]any
	extra     map[string]any // item, index, page, branch, iteration
	execution map[string]any
	// now is the workflow's clock, what now() reads; nil where none runs.
	now func() time.Time
}

func (s *scope) env() map[string]any {
	env := map[string]any{"inputs": s.inputs, "vars": s.vars, "steps": s.steps}
	if s.execution != nil {
		env["execution"] = s.execution
	}
	if s.now != nil {
		env[nowKey] = s.now
	}
	for k, v := range s.extra {
		env[k] = v
	}
	return env
}

// with returns a scope that shares s's steps (what its steps store, the
// steps after it read) and vars, and binds name to v besides.
func (s *scope) with(name string, v any) *scope {
	extra := make(map[string]any, len(s.extra)+1)
	for k, e := range s.extra {
		extra[k] = e
	}
	extra[name] = v
	return &scope{inputs: s.inputs, vars: s.vars, steps: s.steps, extra: extra, execution: s.execution, now: s.now}
}

// ownVars returns a scope that shares s's steps but holds a copy of its
// vars: a parallel branch's.
func (s *scope) ownVars() *scope {
	c := *s
	c.vars = copyVars(s.vars)
	return &c
}

func copyVars(vars map[string]any) map[string]any {
	out := make(map[string]any, len(vars))
	for k, v := range vars {
		out[k] = v
	}
	return out
}

func (s *scope) child(extra map[string]any) *scope {
	steps := make(map[string]any, len(s.steps))
	for k, v := range s.steps {
		steps[k] = v
	}
	merged := map[string]any{}
	for k, v := range s.extra {
		merged[k] = v
	}
	for k, v := range extra {
		merged[k] = v
	}
	return &scope{inputs: s.inputs, vars: copyVars(s.vars), steps: steps, extra: merged, execution: s.execution, now: s.now}
}

func (r *runner) finish(ctx workflow.Context, in RunInput, outputs map[string]any, err error) (*Record, error) {
	r.trimRecord()
	end := workflow.Now(ctx)
	r.rec.End = &end
	r.rec.Outputs = outputs
	if err != nil {
		r.rec.Status = StatusFailed
		r.rec.Error = errorInfo(err)
	} else {
		r.rec.Status = StatusSucceeded
	}
	if in.SearchAttributes {
		_ = workflow.UpsertTypedSearchAttributes(ctx, SearchAttrStatus.ValueSet(r.rec.Status))
	}
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("flow %q failed: %s", r.plan.Name, r.rec.Error.Message), ErrFlowFailed, nil, r.rec)
	}
	return r.rec, nil
}

func (r *runner) newStepRecord(ctx workflow.Context, st *Step, path string) *StepRecord {
	if (r.resumePoll != nil && r.resumePoll.Step == path) || (r.resumePage != nil && r.resumePage.Step == path) || (r.resumeRepeat != nil && r.resumeRepeat.Step == path) {
		if existing := r.rec.Step(path); existing != nil {
			return existing
		}
	}
	r.trimRecord()
	rec := &StepRecord{ID: path, Kind: st.Kind(), Status: StatusRunning, Start: workflow.Now(ctx)}
	r.rec.Steps = append(r.rec.Steps, rec)
	return rec
}

// failStep records a failure that happened before or around a step's activity.
func (r *runner) failStep(ctx workflow.Context, st *Step, sc *scope, path string, err error) error {
	rec := r.rec.Step(path)
	if rec == nil {
		rec = r.newStepRecord(ctx, st, path)
	}
	rec.Status = StatusFailed
	rec.Error = errorInfo(err)
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	data, _ := sc.steps[st.ID].(map[string]any)
	if data == nil || rec.Response == nil {
		data = map[string]any{}
	}
	data["status"] = StatusFailed
	data["error"] = map[string]any{"type": rec.Error.Type, "message": rec.Error.Message}
	sc.steps[st.ID] = data
	if st.ContinueOnError {
		return nil
	}
	return &StepError{Path: path, Err: err}
}

func evalString(s string, env map[string]any) (string, error) {
	v, err := EvalValue(s, env)
	if err != nil {
		return "", err
	}
	return Stringify(v), nil
}

func evalKVs(bs []Binding, env map[string]any) ([]KV, error) {
	out := make([]KV, 0, len(bs))
	for _, b := range bs {
		v, err := EvalValue(b.Value, env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name, err)
		}
		if list, ok := v.([]any); ok {
			for _, e := range list {
				out = append(out, KV{Name: b.Name, Value: Stringify(e)})
			}
			continue
		}
		out = append(out, KV{Name: b.Name, Value: Stringify(v)})
	}
	return out, nil
}

func evalBindings(bs []Binding, env map[string]any) (map[string]any, error) {
	if len(bs) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(bs))
	for _, b := range bs {
		v, err := EvalValue(b.Value, env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name, err)
		}
		out[b.Name] = v
	}
	return out, nil
}

// bindInputs applies defaults and checks required inputs and types.
func bindInputs(specs []InputSpec, given map[string]any) (map[string]any, error) {
	out := map[string]any{}
	known := map[string]bool{}
	for _, s := range specs {
		known[s.Name] = true
		v, ok := given[s.Name]
		if !ok || v == nil {
			if s.Default != nil {
				out[s.Name] = s.Default
				continue
			}
			if s.Required {
				return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("missing required input %q", s.Name), ErrConfig, nil)
			}
			continue
		}
		cv, err := coerceInput(s, v)
		if err != nil {
			return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrConfig, nil)
		}
		out[s.Name] = cv
	}
	var unknown []string
	for k := range given {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sortStrings(unknown)
		names := make([]string, 0, len(specs))
		for _, s := range specs {
			names = append(names, s.Name)
		}
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("unknown input %s (known: %s)", strings.Join(unknown, ", "), strings.Join(names, ", ")), ErrConfig, nil)
	}
	return out, nil
}

func redactInputs(specs []InputSpec, in map[string]any) map[string]any {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]any, len(in))
	for k, v := range in {
		out[k] = v
	}
	for _, s := range specs {
		if s.Secret {
			if _, ok := out[s.Name]; ok {
				out[s.Name] = "[redacted]"
			}
		}
	}
	return out
}

func exprError(where string, err error) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", where, err), ErrExpression, nil)
}

// errorInfo turns an error chain into words, preferring the innermost
// application error's type and message (the partner's words), without
// Temporal's wrapping noise.
func errorInfo(err error) *ErrorInfo {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return &ErrorInfo{Type: appErr.Type(), Message: appErr.Message()}
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		return &ErrorInfo{Type: ErrTimeout, Message: "step timed out (" + timeoutErr.TimeoutType().String() + ")"}
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return &ErrorInfo{Type: "Canceled", Message: "canceled"}
	}
	return &ErrorInfo{Type: "Error", Message: err.Error()}
}
