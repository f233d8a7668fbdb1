package engine

// Retrying an execution from a step (`outflow executions retry`).
//
// A retry is a new execution, linked both ways to the one it retries: its
// record says retried_from, and a search attribute lets the old one's
// record say retried_by. It starts the way a flow that continued as new
// picks up (Resume): at the retry step, with the inputs, vars and step data
// of the old execution as its expressions saw them when it stopped, so the
// steps before the retry step are not called again — the workflow runs
// unchanged and issues no new kind of command. What the old execution saw is
// read with the carry query, which a worker answers by replaying the old
// execution's history.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// CarryQuery returns what a retry of an execution carries over: CarryState.
const CarryQuery = "carry"

// SearchAttrRetriedFrom is set on a retry: the workflow ID it retries.
var SearchAttrRetriedFrom = temporal.NewSearchAttributeKeyKeyword("OutflowRetriedFrom")

// CarryState is what an execution's expressions could see where it stopped.
type CarryState struct {
	Plan *Plan `json:"plan"`
	// Current is the index of the top-level step that was running, or
	// failed, when the execution stopped.
	Current int            `json:"current"`
	Inputs  map[string]any `json:"inputs,omitempty"`
	Vars    map[string]any `json:"vars,omitempty"`
	Steps   map[string]any `json:"steps,omitempty"`
	Record  *Record        `json:"record"`
	// CheckCertificates is what the execution was started with.
	CheckCertificates bool `json:"check_certificates,omitempty"`
}

// carryState answers CarryQuery.
func (r *runner) carryState() (*CarryState, error) {
	if r.top == nil {
		return nil, errors.New("recovery: the execution stopped before its first step (its inputs or vars failed); start it again instead")
	}
	return &CarryState{Plan: r.plan, Current: r.current, Inputs: r.top.inputs, Vars: r.top.vars, Steps: r.top.steps,
		Record: r.rec, CheckCertificates: r.in.CheckCertificates}, nil
}

// OperatorAction is one thing an operator did to an execution: who (the
// identity of the CLI or console), what, when and why.
type OperatorAction struct {
	Action   string    `json:"action"`
	Identity string    `json:"identity"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason,omitempty"`
	Detail   string    `json:"detail,omitempty"`
}

// Plan sources of a retry.
const (
	RetryPlanOriginal = "original"
	RetryPlanCurrent  = "current"
)

// RetryOptions say where a retry starts and with which plan.
type RetryOptions struct {
	// From is the top-level step the retry starts at; "" is the step that
	// failed (or was running when the execution was terminated).
	From string
	// Plan is the project's current plan of the flow (--plan current); nil
	// runs the old execution's own plan.
	Plan *Plan
	// Current, when Plan is nil, gives the project's current plan of the
	// named flow (--plan current, the flow named by the old execution).
	Current func(flow string) (*Plan, error)
	// WorkflowID of the retry; "<flow>-<unix nanos>" when empty.
	WorkflowID string
	Identity   string
	Reason     string
}

// Retry is a retry about to start, or started.
type Retry struct {
	From       string   `json:"from"`
	WorkflowID string   `json:"workflow_id"`
	Plan       string   `json:"plan"`
	Carried    []string `json:"carried"`
	Runs       []string `json:"runs"`
	// TaskQueue is where the retry's workflow tasks run: the old
	// execution's, else the client's.
	TaskQueue string `json:"task_queue,omitempty"`
	// Schedule is the schedule whose run this retries, if any: the retry
	// is recorded against it (schedule_retry.go).
	Schedule string `json:"schedule,omitempty"`
}

// retryable lists the close statuses a retry accepts.
var retryable = map[enumspb.WorkflowExecutionStatus]bool{
	enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:     true,
	enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED: true,
	enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:  true,
	enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:   true,
}

// PrepareRetry reads what the execution id carries over and checks the
// retry is possible; StartRetry starts it. Nothing is started here.
func (c *Client) PrepareRetry(ctx context.Context, id string, o RetryOptions) (*Retry, RunInput, error) {
	desc, err := c.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return nil, RunInput{}, fmt.Errorf("recovery: no execution %q in namespace %q", id, c.Namespace)
		}
		return nil, RunInput{}, fmt.Errorf("recovery: describing execution %q: %w", id, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetType().GetName() != WorkflowName {
		return nil, RunInput{}, fmt.Errorf("recovery: execution %q is not an Outflow flow (workflow type %s)", id, info.GetType().GetName())
	}
	status := executionStatus(info)
	if !retryable[info.GetStatus()] {
		switch status {
		case StatusRunning:
			return nil, RunInput{}, fmt.Errorf("recovery: execution %q is still running; cancel or terminate it first (or resume it, if it is held)", id)
		case StatusSucceeded:
			return nil, RunInput{}, fmt.Errorf("recovery: execution %q succeeded; there is nothing to retry (start the flow again with outflow run)", id)
		}
		return nil, RunInput{}, fmt.Errorf("recovery: execution %q is %s; only failed, terminated, timed-out or canceled executions are retried", id, status)
	}
	v, err := c.Temporal.QueryWorkflow(ctx, id, info.GetExecution().GetRunId(), CarryQuery)
	if err != nil {
		if strings.Contains(err.Error(), "unknown queryType") {
			return nil, RunInput{}, fmt.Errorf("recovery: execution %q ran on a worker that predates retries; start the flow again instead", id)
		}
		return nil, RunInput{}, fmt.Errorf("recovery: reading what execution %q completed (is a worker running?): %w", id, err)
	}
	var st CarryState
	if err := v.Get(&st); err != nil {
		return nil, RunInput{}, fmt.Errorf("recovery: reading what execution %q completed: %w", id, err)
	}
	if st.Plan == nil || st.Record == nil {
		return nil, RunInput{}, fmt.Errorf("recovery: execution %q answered no plan", id)
	}
	if o.Plan == nil && o.Current != nil {
		p, err := o.Current(st.Plan.Name)
		if err != nil {
			return nil, RunInput{}, fmt.Errorf("recovery: --plan current: %w", err)
		}
		o.Plan = p
	}
	r, in, err := planRetry(id, &st, o)
	if r != nil {
		r.TaskQueue = desc.GetExecutionConfig().GetTaskQueue().GetName()
		r.Schedule = scheduleOf(info)
	}
	return r, in, err
}

// planRetry decides what a retry of execution id, which stopped in state
// st, carries and where it starts.
func planRetry(id string, st *CarryState, o RetryOptions) (*Retry, RunInput, error) {
	old := st.Plan
	if st.Current < 0 || st.Current >= len(old.Steps) {
		return nil, RunInput{}, fmt.Errorf("recovery: execution %q stopped after its last step (in its outputs); there is no step to retry from", id)
	}
	failed := old.Steps[st.Current].ID
	from := o.From
	if from == "" {
		from = failed
	}
	oldAt := topIndex(old.Steps, from)
	if oldAt < 0 {
		return nil, RunInput{}, fmt.Errorf("recovery: --from %q: flow %q has no top-level step %q (steps: %s)", from, old.Name, from, strings.Join(topIDs(old.Steps), ", "))
	}
	if oldAt > st.Current {
		return nil, RunInput{}, fmt.Errorf("recovery: --from %q: execution %q stopped at step %q, before %q ran; retry from %q or an earlier step", from, id, failed, from, failed)
	}
	plan, source := old, RetryPlanOriginal
	if o.Plan != nil {
		plan, source = o.Plan, RetryPlanCurrent
	}
	at := topIndex(plan.Steps, from)
	if at < 0 {
		return nil, RunInput{}, fmt.Errorf("recovery: --plan current: the current definition of flow %q has no top-level step %q to retry from", plan.Name, from)
	}
	carried := plan.Steps[:at]
	if o.Plan != nil {
		if err := checkCompatible(id, old, oldAt, plan, at, st.Steps); err != nil {
			return nil, RunInput{}, err
		}
	}
	steps := map[string]any{}
	var ids []string
	for _, sid := range StepIDs(carried) {
		d, ok := st.Steps[sid]
		if !ok {
			// A step inside a parallel branch that did not run (its
			// branch skipped it) has nothing to carry.
			if topIndex(carried, sid) >= 0 {
				return nil, RunInput{}, fmt.Errorf("recovery: step %q of execution %q has no result to carry (it did not run); retry from %q or earlier", sid, id, sid)
			}
			continue
		}
		steps[sid] = d
		ids = append(ids, sid)
	}
	vars := map[string]any{}
	for k, v := range st.Vars {
		vars[k] = v
	}
	// A var the current definition added gets its value the way a run
	// starting would give it.
	env := map[string]any{"inputs": st.Inputs, "vars": vars, "steps": steps}
	for _, b := range plan.Vars {
		if _, ok := vars[b.Name]; ok {
			continue
		}
		v, err := EvalValue(b.Value, env)
		if err != nil {
			return nil, RunInput{}, fmt.Errorf("recovery: vars.%s of the current definition: %w", b.Name, err)
		}
		vars[b.Name] = v
	}
	rec := &Record{
		WorkflowID:  o.WorkflowID,
		Flow:        plan.Name,
		Kind:        plan.Kind,
		Status:      StatusRunning,
		Start:       time.Now().UTC(),
		Inputs:      st.Record.Inputs,
		Steps:       []*StepRecord{},
		RetriedFrom: id,
		// The workflow counts a resumed run as one more; this is the first.
		Runs: -1,
		Operations: []OperatorAction{{Action: "retry", Identity: o.Identity, At: time.Now().UTC(), Reason: o.Reason,
			Detail: fmt.Sprintf("retry of %s from step %s with the %s plan", id, from, source)}},
	}
	tops := map[string]bool{}
	for _, s := range carried {
		tops[s.ID] = true
	}
	for _, s := range st.Record.Steps {
		top := s.ID
		if i := strings.IndexAny(top, "/["); i >= 0 {
			top = top[:i]
		}
		if !tops[top] {
			continue
		}
		c := *s
		c.CarriedFrom = id
		rec.Steps = append(rec.Steps, &c)
	}
	in := RunInput{Plan: plan, CheckCertificates: false,
		Resume: &Resume{NextStep: at, Inputs: st.Inputs, Vars: vars, Steps: steps, Record: rec}}
	r := &Retry{From: from, WorkflowID: o.WorkflowID, Plan: source, Carried: ids}
	for _, s := range plan.Steps[at:] {
		r.Runs = append(r.Runs, s.ID)
	}
	return r, in, nil
}

// stepRead matches what an expression reads of a step's outputs.
var stepRead = regexp.MustCompile(`steps\.([A-Za-z_][A-Za-z0-9_-]*)\.outputs\.([A-Za-z_][A-Za-z0-9_]*)`)

// checkCompatible refuses a current plan that cannot continue from what
// the old execution completed: the steps it carries must be the old
// plan's steps before the retry step, of the same kinds, and the outputs
// of carried steps that later steps read must be there.
func checkCompatible(id string, old *Plan, oldAt int, cur *Plan, at int, data map[string]any) error {
	var problems []string
	oldKinds := map[string]string{}
	for _, s := range old.Steps[:oldAt] {
		oldKinds[s.ID] = s.Kind()
	}
	carried := map[string]bool{}
	for _, s := range cur.Steps[:at] {
		k, ok := oldKinds[s.ID]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("step %q comes before the retry step in the current definition but did not complete in %s", s.ID, id))
		case k != s.Kind():
			problems = append(problems, fmt.Sprintf("step %q was a %s step and is a %s step now", s.ID, k, s.Kind()))
		default:
			carried[s.ID] = true
		}
	}
	// What the rest of the flow reads of the carried steps' outputs.
	rest := struct {
		Steps   []Step    `json:"steps"`
		Outputs []Binding `json:"outputs"`
		Fail    []Step    `json:"on_failure"`
	}{cur.Steps[at:], cur.Outputs, cur.OnFailure}
	text, err := jsonText(rest)
	if err != nil {
		return fmt.Errorf("recovery: reading the current definition: %w", err)
	}
	seen := map[string]bool{}
	for _, m := range stepRead.FindAllStringSubmatch(text, -1) {
		sid, out := m[1], m[2]
		key := sid + "." + out
		if seen[key] || !carried[sid] {
			continue
		}
		seen[key] = true
		d, _ := data[sid].(map[string]any)
		outs, _ := d["outputs"].(map[string]any)
		if _, ok := outs[out]; !ok {
			have := make([]string, 0, len(outs))
			for k := range outs {
				have = append(have, k)
			}
			sort.Strings(have)
			problems = append(problems, fmt.Sprintf("the current definition reads steps.%s.outputs.%s, which step %q did not give in %s (it gave: %s); retry from %q to run it again",
				sid, out, sid, id, dashList(have), sid))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("recovery: --plan current does not fit what execution %q completed:\n  %s", id, strings.Join(problems, "\n  "))
	}
	return nil
}

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func dashList(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}

func topIndex(steps []Step, id string) int {
	for i, s := range steps {
		if s.ID == id {
			return i
		}
	}
	return -1
}

func topIDs(steps []Step) []string {
	ids := make([]string, len(steps))
	for i, s := range steps {
		ids[i] = s.ID
	}
	return ids
}

// StartRetry starts a retry PrepareRetry planned.
func (c *Client) StartRetry(ctx context.Context, r *Retry, in RunInput) (client.WorkflowRun, error) {
	generated := r.WorkflowID == ""
	for {
		run, err := c.startRetry(ctx, r, in, generated)
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if generated && errors.As(err, &started) {
			// Two retries started in the same nanosecond: another name.
			continue
		}
		return run, err
	}
}

func (c *Client) startRetry(ctx context.Context, r *Retry, in RunInput, generate bool) (client.WorkflowRun, error) {
	if generate {
		r.WorkflowID = fmt.Sprintf("%s-%d", in.Plan.Name, time.Now().UnixNano())
	}
	id := r.WorkflowID
	if r.TaskQueue == "" {
		r.TaskQueue = c.queue()
	}
	in.Resume.Record.WorkflowID = id
	sa := c.EnsureSearchAttributes(ctx)
	in.SearchAttributes = sa
	so := client.StartWorkflowOptions{
		ID:            id,
		TaskQueue:     r.TaskQueue,
		StaticSummary: WorkflowSummary(in.Plan, in.Resume.Inputs),
		Memo:          map[string]any{"retried_from": in.Resume.Record.RetriedFrom},
	}
	if sa {
		attrs := []temporal.SearchAttributeUpdate{
			SearchAttrFlow.ValueSet(in.Plan.Name), SearchAttrStatus.ValueSet(StatusRunning),
			SearchAttrRetriedFrom.ValueSet(in.Resume.Record.RetriedFrom)}
		if r.Schedule != "" {
			// Recorded against the schedule, yet outside its overlap
			// policy: the schedule did not start it (schedule_retry.go).
			attrs = append(attrs, SearchAttrSchedule.ValueSet(r.Schedule))
		}
		so.TypedSearchAttributes = temporal.NewSearchAttributes(attrs...)
	}
	run, err := c.Temporal.ExecuteWorkflow(ctx, so, WorkflowName, in)
	if err != nil {
		return nil, fmt.Errorf("recovery: starting the retry of %q: %w", in.Resume.Record.RetriedFrom, err)
	}
	return run, nil
}

// retriedBy lists the executions that retry each of ids, oldest first.
func (c *Client) retriedBy(ctx context.Context, ids []string) (map[string][]string, error) {
	out := map[string][]string{}
	if len(ids) == 0 || !c.EnsureSearchAttributes(ctx) {
		return out, nil
	}
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = fmt.Sprintf("%q", id)
	}
	q := fmt.Sprintf("WorkflowType = %q AND OutflowRetriedFrom IN (%s)", WorkflowName, strings.Join(quoted, ", "))
	var token []byte
	for {
		resp, err := c.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: c.Namespace, Query: q, NextPageToken: token})
		if err != nil {
			return nil, fmt.Errorf("listing retries: %w", err)
		}
		for _, e := range resp.Executions {
			var from string
			if f := e.GetSearchAttributes().GetIndexedFields()["OutflowRetriedFrom"]; f != nil {
				_ = decodeKeyword(f.GetData(), &from)
			}
			if from != "" {
				out[from] = append([]string{e.GetExecution().GetWorkflowId()}, out[from]...)
			}
		}
		token = resp.NextPageToken
		if len(token) == 0 {
			return out, nil
		}
	}
}

// RetriedBy lists the executions that retry the execution id, oldest
// first; none when they cannot be listed.
func (c *Client) RetriedBy(ctx context.Context, id string) []string {
	by, err := c.retriedBy(ctx, []string{id})
	if err != nil {
		return nil
	}
	return by[id]
}

// linkRetries fills in the retries of an execution's record.
func (c *Client) linkRetries(ctx context.Context, rec *Record) {
	if rec == nil {
		return
	}
	by, err := c.retriedBy(ctx, []string{rec.WorkflowID})
	if err == nil {
		rec.RetriedBy = by[rec.WorkflowID]
	}
}

// writeRecovery writes what a record says of retries and operators.
func (r *Record) writeRecovery(w io.Writer) {
	if r.Schedule != "" {
		fmt.Fprintf(w, "schedule: %s\n", r.Schedule)
	}
	if r.RetriedFrom != "" {
		fmt.Fprintf(w, "retried from %s\n", r.RetriedFrom)
	}
	if len(r.RetriedBy) > 0 {
		fmt.Fprintf(w, "retried by %s\n", strings.Join(r.RetriedBy, ", "))
	}
	for _, a := range r.Operations {
		fmt.Fprintf(w, "operator: %s %s by %s", a.At.UTC().Format(time.RFC3339), a.Action, dashIfEmpty(a.Identity))
		if a.Detail != "" {
			fmt.Fprintf(w, ": %s", a.Detail)
		}
		if a.Reason != "" {
			fmt.Fprintf(w, " (reason: %s)", a.Reason)
		}
		fmt.Fprintln(w)
	}
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// linkListed fills in the retry links of a listing.
func (c *Client) linkListed(ctx context.Context, exs []Execution) {
	ids := make([]string, len(exs))
	for i, e := range exs {
		ids[i] = e.WorkflowID
	}
	by, err := c.retriedBy(ctx, ids)
	if err != nil {
		return
	}
	for i := range exs {
		exs[i].RetriedBy = by[exs[i].WorkflowID]
	}
}
