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
	}
	defer r.recoverFlow(ctx, in, &res, &err)
	if err := workflow.SetQueryHandler(ctx, RecordQuery, func() (*Record, error) { return r.rec, nil }); err != nil {
		return nil, err
	}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (*Record, error) { return r.rec.Progress(), nil }); err != nil {
		return nil, err
	}

	var sc *scope
	first := 0
	if rs := in.Resume; rs != nil && rs.Record != nil {
		r.rec = rs.Record
		r.rec.RunID = info.WorkflowExecution.RunID
		r.rec.Runs++
		r.resumePoll = rs.Poll
		r.resumePage = rs.Page
		sc = &scope{inputs: rs.Inputs, vars: orEmpty(rs.Vars), steps: orEmpty(rs.Steps), extra: r.bounds.scopeExtra()}
		first = rs.NextStep
	} else {
		inputs, err := bindInputs(in.Plan.Inputs, in.Inputs)
		if err != nil {
			return r.finish(ctx, in, nil, err)
		}
		r.rec.Inputs = redactInputs(in.Plan.Inputs, inputs)
		sc = &scope{inputs: inputs, vars: map[string]any{}, steps: map[string]any{}, extra: r.bounds.scopeExtra()}
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
	r.boundResume(&next2, next)
	return workflow.NewContinueAsNewError(ctx, WorkflowName, next2)
}

type runner struct {
	plan *Plan
	rec  *Record
	in   RunInput
	// top is the flow's own scope; current the index of the top-level step
	// running, both for continue-as-new.
	top        *scope
	current    int
	resumePoll *PollState
	resumePage *PageState
	// events estimates this run's history length.
	events int
	budget recordBudget
	bounds *runBounds
}

// scope is what expressions of one sequence of steps can see.
type scope struct {
	inputs map[string]any
	vars   map[string]any
	steps  map[string]any
	extra  map[string]any // item, index
}

func (s *scope) env() map[string]any {
	env := map[string]any{"inputs": s.inputs, "vars": s.vars, "steps": s.steps}
	for k, v := range s.extra {
		env[k] = v
	}
	return env
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
	return &scope{inputs: s.inputs, vars: s.vars, steps: steps, extra: merged}
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
	switch {
	case st.Rest != nil:
		return r.runRest(ctx, st, sc, path)
	case st.Soap != nil:
		return r.runSoap(ctx, st, sc, path)
	case st.Action != nil:
		return r.runAction(ctx, st, sc, path)
	case st.Foreach != nil:
		return r.runForeach(ctx, st, sc, path)
	case st.Parallel != nil:
		return r.runParallel(ctx, st, sc, path)
	case st.Wait != nil:
		return r.runWait(ctx, st, sc, path)
	}
	return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError("step has no kind", ErrConfig, nil))
}

func (r *runner) newStepRecord(ctx workflow.Context, st *Step, path string) *StepRecord {
	if (r.resumePoll != nil && r.resumePoll.Step == path) || (r.resumePage != nil && r.resumePage.Step == path) {
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
	return fmt.Errorf("step %s: %w", path, err)
}

func (r *runner) runRest(ctx workflow.Context, st *Step, sc *scope, path string) error {
	rs := st.Rest
	if rs.Paginate != nil {
		return r.runPaginated(ctx, st, sc, path)
	}
	return r.runCall(ctx, st, sc, path, rs.Connection, RestActivity, func(conn *Connection, env map[string]any) (any, error) {
		return r.restRequest(rs, conn, path, env)
	})
}

// restRequest renders a REST step's request.
func (r *runner) restRequest(rs *RestStep, conn *Connection, path string, env map[string]any) (*RestRequest, error) {
	req := &RestRequest{
		Flow:           r.plan.Name,
		WorkflowID:     r.rec.WorkflowID,
		StepPath:       path,
		Connection:     conn,
		Profile:        r.plan.Profiles[conn.ProtocolProfile],
		ProjectRoot:    r.plan.ProjectRoot,
		Method:         rs.Method,
		BodyType:       rs.BodyType,
		Expect:         rs.Expect,
		BodyLimit:      r.bodyLimit(),
		IdempotencyKey: r.rec.WorkflowID + "/" + path,
		// Both are empty unless the step checks its response (openapi).
		ValidateResponse: rs.ValidateResponse,
		Responses:        rs.Responses,
	}
	var err error
	if req.Path, err = evalString(rs.Path, env); err != nil {
		return nil, exprError(path+".path", err)
	}
	if req.Query, err = evalKVs(rs.Query, env); err != nil {
		return nil, exprError(path+".query", err)
	}
	if req.Headers, err = evalKVs(rs.Headers, env); err != nil {
		return nil, exprError(path+".headers", err)
	}
	if req.Body, err = EvalValue(rs.Body, env); err != nil {
		return nil, exprError(path+".body", err)
	}
	return req, nil
}

func (r *runner) runSoap(ctx workflow.Context, st *Step, sc *scope, path string) error {
	ss := st.Soap
	return r.runCall(ctx, st, sc, path, ss.Connection, SoapActivity, func(conn *Connection, env map[string]any) (any, error) {
		req := &SoapRequest{
			Flow:        r.plan.Name,
			WorkflowID:  r.rec.WorkflowID,
			StepPath:    path,
			Connection:  conn,
			Profile:     r.plan.Profiles[conn.ProtocolProfile],
			ProjectRoot: r.plan.ProjectRoot,
			Definitions: ss.Definitions,
			Service:     ss.Service,
			Port:        ss.Port,
			Operation:   ss.Operation,
			Security:    ss.Security,
			BodyLimit:   r.bodyLimit(),
		}
		var err error
		if req.Body, err = EvalValue(ss.Body, env); err != nil {
			return nil, exprError(path+".body", err)
		}
		if req.Headers, err = evalKVs(ss.Headers, env); err != nil {
			return nil, exprError(path+".headers", err)
		}
		for _, h := range ss.SOAPHeaders {
			v, err := EvalValue(h.Value, env)
			if err != nil {
				return nil, exprError(path+".soap_headers."+h.Name, err)
			}
			req.SOAPHeaders = append(req.SOAPHeaders, Binding{Name: h.Name, Value: v})
		}
		return req, nil
	})
}

// runCall renders a request in the workflow and runs its activity on the
// task queue of the connection's agent (or the default one).
func (r *runner) runCall(ctx workflow.Context, st *Step, sc *scope, path, connName, activity string,
	build func(conn *Connection, env map[string]any) (any, error)) error {
	conn := r.plan.Connections[connName]
	if conn == nil {
		return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown connection %q", connName), ErrConfig, nil))
	}
	rec := r.newStepRecord(ctx, st, path)
	rec.Connection = conn.Name
	rec.Agent = conn.Agent
	rec.TaskQueue = r.taskQueue(conn)
	req, err := build(conn, sc.env())
	if err != nil {
		return r.failStep(ctx, st, sc, path, err)
	}
	actx := workflow.WithActivityOptions(ctx, r.activityOptions(st, conn, rec.TaskQueue))
	var poll *PollState
	if st.Poll != nil {
		poll = &PollState{Step: path, Started: workflow.Now(ctx)}
		if rp := r.resumePoll; rp != nil && rp.Step == path {
			poll = rp
			r.resumePoll = nil
			rec.Start = poll.Started
		}
	}
	for {
		if rr, ok := req.(*RestRequest); ok && poll != nil && poll.Attempts > 0 {
			// Each call of a poll is a new request: a partner that honours
			// Idempotency-Key would answer a repeated key with its first answer.
			rr.IdempotencyKey = fmt.Sprintf("%s/%s#%d", r.rec.WorkflowID, path, poll.Attempts+1)
		}
		var res StepResult
		if st.Local {
			r.events += 2
			lctx := workflow.WithLocalActivityOptions(ctx, r.localActivityOptions(st, conn))
			err = workflow.ExecuteLocalActivity(lctx, activity, req).Get(ctx, &res)
		} else {
			r.events += 6
			err = workflow.ExecuteActivity(actx, activity, req).Get(ctx, &res)
		}
		if err != nil {
			var appErr *temporal.ApplicationError
			if errors.As(err, &appErr) && appErr.HasDetails() {
				var failed StepResult
				if appErr.Details(&failed) == nil {
					r.applyResult(rec, &failed)
					sc.steps[st.ID] = stepData(&failed)
				}
			}
			return r.failStep(ctx, st, sc, path, err)
		}
		r.applyResult(rec, &res)
		sc.steps[st.ID] = stepData(&res)
		if poll == nil {
			break
		}
		poll.Attempts++
		rec.Polls = poll.Attempts
		done, err := EvalValue(st.Poll.Until, sc.env())
		if err != nil {
			return r.failStep(ctx, st, sc, path, exprError(path+".poll.until", err))
		}
		if Truthy(done) {
			break
		}
		interval := st.Poll.Interval.D()
		if interval <= 0 {
			interval = DefaultPollInterval
		}
		elapsed := workflow.Now(ctx).Sub(poll.Started)
		if (st.Poll.MaxAttempts > 0 && poll.Attempts >= st.Poll.MaxAttempts) || (st.Poll.Deadline > 0 && elapsed+interval > st.Poll.Deadline.D()) {
			return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("polling: %q still not true after %d calls in %s", st.Poll.Until, poll.Attempts, elapsed.Round(time.Second)), "PollDeadline", nil))
		}
		r.events += 6
		if err := workflow.Sleep(ctx, interval); err != nil {
			return err
		}
		// A poll at the top level may run for weeks: continue as new between
		// calls when the history grows, resuming this same poll.
		if prefix := strings.Count(path, "/") + strings.Count(path, "["); prefix == 0 && r.top != nil && r.historyFull(ctx) {
			return r.continueAsNew(ctx, r.in, r.current, poll)
		}
	}
	rec.Status = StatusSucceeded
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	return nil
}

func (r *runner) runWait(ctx workflow.Context, st *Step, sc *scope, path string) error {
	rec := r.newStepRecord(ctx, st, path)
	d := st.Wait.Duration.D()
	if st.Wait.Until != "" {
		v, err := EvalValue(st.Wait.Until, sc.env())
		if err != nil {
			return r.failStep(ctx, st, sc, path, exprError(path+".wait.until", err))
		}
		until, err := time.Parse(time.RFC3339, Stringify(v))
		if err != nil {
			return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("wait.until must be an RFC 3339 time like 2026-01-02T15:04:05Z, got %q", Stringify(v)), ErrExpression, nil))
		}
		d = until.Sub(workflow.Now(ctx))
	}
	if d > 0 {
		rec.Status = StatusWaiting
		if err := workflow.Sleep(ctx, d); err != nil {
			return err
		}
	}
	rec.Status = StatusSucceeded
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	sc.steps[st.ID] = map[string]any{"status": StatusSucceeded}
	return nil
}

func (r *runner) applyResult(rec *StepRecord, res *StepResult) {
	req := res.Request
	rec.Request = &req
	rec.Response = res.Response
	rec.TLS = res.TLS
	rec.Auth = res.Auth
	t := res.Timings
	rec.Timings = &t
	rec.Attempts = res.Attempt
	rec.Worker = res.Worker
}

// stepData is what expressions see as steps.<id>.
func stepData(res *StepResult) map[string]any {
	d := map[string]any{"status": StatusSucceeded}
	if res.Response != nil {
		d["status_code"] = res.Response.StatusCode
		headers := map[string]any{}
		for k, v := range res.Response.Headers {
			headers[k] = v
		}
		d["headers"] = headers
		d["json"] = res.Response.JSON
		body := res.Response.Body
		if res.Body != nil {
			d["body"] = res.Body
		} else if body == "" && res.Response.JSON != nil {
			d["body"] = Stringify(res.Response.JSON)
		} else {
			d["body"] = body
		}
	}
	if res.SOAPHeader != nil {
		d["soap_header"] = res.SOAPHeader
	}
	return d
}

func (r *runner) bodyLimit() int64 {
	if r.plan.Settings.BodyLimit > 0 {
		return r.plan.Settings.BodyLimit
	}
	return DefaultBodyLimit
}

func (r *runner) taskQueue(conn *Connection) string {
	if conn.Agent != "" {
		return AgentTaskQueue(conn.Agent)
	}
	if r.plan.Settings.DefaultTaskQueue != "" {
		return r.plan.Settings.DefaultTaskQueue
	}
	return DefaultTaskQueue
}

// DefaultRetry is the retry policy of steps that set none.
var DefaultRetry = RetryPolicy{
	MaxAttempts:        5,
	InitialInterval:    Duration(time.Second),
	BackoffCoefficient: 2,
	MaxInterval:        Duration(time.Minute),
}

// StepHeartbeatTimeout is how soon Temporal gives up on a worker that
// stopped heartbeating in the middle of a REST or SOAP step (it died, or
// lost the server) and retries the step elsewhere. Steps with a timeout
// under twice this rely on their timeout alone.
const StepHeartbeatTimeout = 15 * time.Second

func (r *runner) activityOptions(st *Step, conn *Connection, queue string) workflow.ActivityOptions {
	timeout := st.Timeout.D()
	if timeout == 0 {
		timeout = conn.Timeout.D()
	}
	if timeout == 0 {
		timeout = time.Minute
	}
	rp := DefaultRetry
	if st.Retry != nil {
		if st.Retry.MaxAttempts != 0 {
			rp.MaxAttempts = st.Retry.MaxAttempts
		}
		if st.Retry.InitialInterval != 0 {
			rp.InitialInterval = st.Retry.InitialInterval
		}
		if st.Retry.BackoffCoefficient != 0 {
			rp.BackoffCoefficient = st.Retry.BackoffCoefficient
		}
		if st.Retry.MaxInterval != 0 {
			rp.MaxInterval = st.Retry.MaxInterval
		}
	}
	var heartbeat time.Duration
	if timeout > 2*StepHeartbeatTimeout {
		// The activity heartbeats while it calls, so a worker that dies
		// mid-call is noticed in this time, not at the step's timeout.
		heartbeat = StepHeartbeatTimeout
	}
	return workflow.ActivityOptions{
		TaskQueue:           queue,
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    heartbeat,
		// No schedule-to-start timeout: a step whose agent group has no live
		// worker waits durably until one comes.
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        rp.InitialInterval.D(),
			BackoffCoefficient:     rp.BackoffCoefficient,
			MaximumInterval:        rp.MaxInterval.D(),
			MaximumAttempts:        int32(rp.MaxAttempts),
			NonRetryableErrorTypes: []string{ErrHTTPClient, ErrConfig, ErrSecret, ErrCertificate, ErrExpression},
		},
	}
}

// localActivityOptions are the options of a step with local: true: the same
// timeout and retry policy as an activity, on the flow's own worker.
func (r *runner) localActivityOptions(st *Step, conn *Connection) workflow.LocalActivityOptions {
	ao := r.activityOptions(st, conn, "")
	return workflow.LocalActivityOptions{StartToCloseTimeout: ao.StartToCloseTimeout, RetryPolicy: ao.RetryPolicy}
}

func (r *runner) runAction(ctx workflow.Context, st *Step, sc *scope, path string) error {
	def := r.plan.Actions[st.Action.Name]
	if def == nil {
		return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown action %q", st.Action.Name), ErrConfig, nil))
	}
	rec := r.newStepRecord(ctx, st, path)
	given, err := evalBindings(st.Action.With, sc.env())
	if err != nil {
		return r.failStep(ctx, st, sc, path, exprError(path+".with", err))
	}
	inputs, err := bindInputs(def.Inputs, given)
	if err != nil {
		return r.failStep(ctx, st, sc, path, err)
	}
	inner := &scope{inputs: inputs, vars: map[string]any{}, steps: map[string]any{}, extra: r.bounds.scopeExtra()}
	if err := r.runSteps(ctx, def.Steps, inner, path+"/"); err != nil {
		return r.failStep(ctx, st, sc, path, err)
	}
	outputs, err := evalBindings(def.Outputs, inner.env())
	if err != nil {
		return r.failStep(ctx, st, sc, path, exprError(path+".outputs", err))
	}
	rec.Status = StatusSucceeded
	rec.Outputs = outputs
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	sc.steps[st.ID] = map[string]any{"status": StatusSucceeded, "outputs": outputs, "steps": inner.steps}
	return nil
}

func (r *runner) runForeach(ctx workflow.Context, st *Step, sc *scope, path string) error {
	rec := r.newStepRecord(ctx, st, path)
	v, err := EvalValue(st.Foreach.Items, sc.env())
	if err != nil {
		return r.failStep(ctx, st, sc, path, exprError(path+".foreach", err))
	}
	items, ok := v.([]any)
	if !ok && v != nil {
		return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("foreach needs a list, got %T", v), ErrExpression, nil))
	}
	if err := r.checkForeachItems(len(items)); err != nil {
		return r.failStep(ctx, st, sc, path, err)
	}
	limit := st.Foreach.Concurrency
	if limit <= 0 {
		limit = 1
	}
	results := make([]any, len(items))
	errs := make([]error, len(items))
	running, done := 0, 0
	for i, item := range items {
		_ = workflow.Await(ctx, func() bool { return running < limit })
		running++
		i, item := i, item
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer func() { running--; done++ }()
			defer r.recoverBranch(gctx, &errs[i])
			// Each iteration sees the steps before the loop and its own.
			inner := sc.child(map[string]any{"item": item, "index": i})
			errs[i] = r.runSteps(gctx, st.Foreach.Steps, inner, fmt.Sprintf("%s[%d]/", path, i))
			own := map[string]any{}
			for _, s := range st.Foreach.Steps {
				if v, ok := inner.steps[s.ID]; ok {
					own[s.ID] = v
				}
			}
			results[i] = own
		})
	}
	_ = workflow.Await(ctx, func() bool { return done == len(items) })
	sc.steps[st.ID] = map[string]any{"results": results, "count": len(items)}
	for _, e := range errs {
		if e != nil {
			return r.failStep(ctx, st, sc, path, e)
		}
	}
	rec.Status = StatusSucceeded
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	sc.steps[st.ID].(map[string]any)["status"] = StatusSucceeded
	return nil
}

func (r *runner) runParallel(ctx workflow.Context, st *Step, sc *scope, path string) error {
	rec := r.newStepRecord(ctx, st, path)
	errs := make([]error, len(st.Parallel))
	done := 0
	for i := range st.Parallel {
		b := &st.Parallel[i]
		i := i
		workflow.Go(ctx, func(gctx workflow.Context) {
			defer func() { done++ }()
			defer r.recoverBranch(gctx, &errs[i])
			// Branches share the enclosing scope: step ids are unique across
			// them, so later steps can read any branch's results.
			errs[i] = r.runSteps(gctx, b.Steps, sc, path+"/"+b.ID+"/")
		})
	}
	_ = workflow.Await(ctx, func() bool { return done == len(st.Parallel) })
	for _, e := range errs {
		if e != nil {
			return r.failStep(ctx, st, sc, path, e)
		}
	}
	rec.Status = StatusSucceeded
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	sc.steps[st.ID] = map[string]any{"status": StatusSucceeded}
	return nil
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
