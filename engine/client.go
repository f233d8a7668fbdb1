package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// Client runs plans and reads executions. It is safe for concurrent use.
type Client struct {
	Temporal  client.Client
	Namespace string
	// TaskQueue is where flows' workflow tasks run; DefaultTaskQueue if empty.
	TaskQueue string
	// EagerStart asks the server to hand a started flow's first workflow
	// task straight back to a worker of this same Temporal client, saving a
	// round trip through the task queue. Set it only when this client also
	// runs a worker that serves flows (the embedded stack of run and test);
	// otherwise the server falls back to the task queue.
	EagerStart bool
	// DataConverter is the one Temporal was dialled with, nil for the
	// default. It decodes what the server hands out raw: the last failure
	// of a pending activity, whose message is encoded when payloads are
	// encrypted.
	DataConverter converter.DataConverter

	searchAttrs *bool
}

// RunOptions tune one start.
type RunOptions struct {
	// WorkflowID defaults to "<flow>-<unix nanos>".
	WorkflowID string
	// Steps, when set, is what earlier steps gave, as expressions see it
	// under steps: for a plan that runs one step of a flow alone.
	Steps map[string]any
	// Once refuses to start when an execution with WorkflowID exists or
	// existed (a redelivered webhook): Start then fails with
	// *serviceerror.WorkflowExecutionAlreadyStarted, which names its run.
	Once bool
}

// EnsureSearchAttributes registers Outflow's search attributes on the
// namespace when they are missing and reports whether they are usable.
func (c *Client) EnsureSearchAttributes(ctx context.Context) bool {
	if c.searchAttrs != nil {
		return *c.searchAttrs
	}
	ok := c.ensureSearchAttributes(ctx) == nil
	c.searchAttrs = &ok
	return ok
}

func (c *Client) ensureSearchAttributes(ctx context.Context) error {
	op := c.Temporal.OperatorService()
	resp, err := op.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: c.Namespace})
	if err != nil {
		return err
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, t := range SearchAttributes {
		if _, ok := resp.CustomAttributes[name]; !ok {
			missing[name] = t
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = op.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{Namespace: c.Namespace, SearchAttributes: missing})
	return err
}

func (c *Client) queue() string {
	if c.TaskQueue != "" {
		return c.TaskQueue
	}
	return DefaultTaskQueue
}

// Start starts a plan and returns the workflow id and run id.
func (c *Client) Start(ctx context.Context, plan *Plan, inputs map[string]any, opts RunOptions) (client.WorkflowRun, error) {
	id := opts.WorkflowID
	if id == "" {
		id = fmt.Sprintf("%s-%d", plan.Name, time.Now().UnixNano())
	}
	sa := c.EnsureSearchAttributes(ctx)
	so := client.StartWorkflowOptions{
		ID:               id,
		TaskQueue:        c.queue(),
		EnableEagerStart: c.EagerStart,
		StaticSummary:    WorkflowSummary(plan, inputs),
	}
	if opts.Once {
		so.WorkflowIDReusePolicy = enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
		so.WorkflowExecutionErrorWhenAlreadyStarted = true
	}
	if sa {
		so.TypedSearchAttributes = temporal.NewSearchAttributes(
			SearchAttrFlow.ValueSet(plan.Name), SearchAttrStatus.ValueSet(StatusRunning))
	}
	in := RunInput{Plan: plan, Inputs: inputs, SearchAttributes: sa}
	if opts.Steps != nil {
		rs, err := resumeWithSteps(plan, inputs, opts.Steps, id)
		if err != nil {
			return nil, fmt.Errorf("starting %s %q: %w", strings.ToLower(plan.Kind), plan.Name, err)
		}
		in.Inputs, in.Resume = nil, rs
	}
	run, err := c.Temporal.ExecuteWorkflow(ctx, so, WorkflowName, in)
	if err != nil {
		return nil, fmt.Errorf("starting %s %q: %w", strings.ToLower(plan.Kind), plan.Name, err)
	}
	return run, nil
}

// Wait waits for a run to end and returns its record; the error is non-nil
// when the flow failed (the record then says why) or could not be read.
// progress, when set, is called with the record each time a step changes.
func (c *Client) Wait(ctx context.Context, run client.WorkflowRun, progress func(*Record)) (*Record, error) {
	done := make(chan struct{})
	var rec *Record
	var err error
	go func() {
		defer close(done)
		rec, err = c.result(ctx, run.GetID(), run.GetRunID(), run)
	}()
	if progress != nil {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		last := ""
		for {
			select {
			case <-done:
				return rec, err
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-tick.C:
				cur, qerr := c.Progress(ctx, run.GetID(), run.GetRunID())
				if qerr == nil && cur != nil {
					if sig := recordSignature(cur); sig != last {
						last = sig
						progress(cur)
					}
				}
			}
		}
	}
	<-done
	return rec, err
}

func recordSignature(r *Record) string {
	var b strings.Builder
	for _, s := range r.Steps {
		b.WriteString(s.ID)
		b.WriteString(s.Status)
		fmt.Fprint(&b, s.Attempts)
	}
	return b.String()
}

// ErrFailed is returned (wrapped) by Wait and Show when the flow ended in failure.
var ErrFailed = errors.New("flow failed")

func (c *Client) result(ctx context.Context, id, runID string, run client.WorkflowRun) (*Record, error) {
	if run == nil {
		run = c.Temporal.GetWorkflow(ctx, id, runID)
	}
	var rec Record
	err := run.Get(ctx, &rec)
	if err == nil {
		return &rec, nil
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) && canceled.HasDetails() {
		var rec Record
		if derr := canceled.Details(&rec); derr == nil && rec.WorkflowID != "" {
			return &rec, fmt.Errorf("%w: canceled", ErrFailed)
		}
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == ErrFlowFailed && appErr.HasDetails() {
		var failed Record
		if derr := appErr.Details(&failed); derr == nil {
			return &failed, fmt.Errorf("%w: %s", ErrFailed, appErr.Message())
		}
	}
	return nil, err
}

// Result reads the record of an execution that has ended from its result
// (runID "" for the latest run). Like Wait, the error is non-nil when the
// flow failed; the record then says why.
func (c *Client) Result(ctx context.Context, id, runID string) (*Record, error) {
	return c.result(ctx, id, runID, nil)
}

// Query reads the record of a running (or finished, if a worker can replay
// it) execution.
func (c *Client) Query(ctx context.Context, id, runID string) (*Record, error) {
	v, err := c.Temporal.QueryWorkflow(ctx, id, runID, RecordQuery)
	if err != nil {
		return nil, err
	}
	var rec Record
	if err := v.Get(&rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// Progress reads a small copy of the record of a running execution (each
// step's status, code, duration and error: Record.Progress), which costs
// the worker and the server far less than the whole record. A worker that
// predates the progress query answers with the whole record instead.
func (c *Client) Progress(ctx context.Context, id, runID string) (*Record, error) {
	v, err := c.Temporal.QueryWorkflow(ctx, id, runID, ProgressQuery)
	if err != nil {
		if strings.Contains(err.Error(), "unknown queryType") {
			return c.Query(ctx, id, runID)
		}
		return nil, err
	}
	var rec Record
	if err := v.Get(&rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// Show returns the record of an execution: the result when it has ended, the
// live record when it runs.
func (c *Client) Show(ctx context.Context, id string) (*Record, error) {
	desc, err := c.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return nil, fmt.Errorf("no execution %q in namespace %q", id, c.Namespace)
		}
		return nil, fmt.Errorf("describing execution %q: %w", id, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		rec, err := c.Query(ctx, id, info.GetExecution().GetRunId())
		if err != nil {
			return nil, fmt.Errorf("reading the record of running execution %q (is a worker running?): %w", id, err)
		}
		pending := desc.GetPendingActivities()
		decodeLastFailures(c.DataConverter, pending)
		annotateWaiting(rec, pending, c.queuePollers(ctx, pending), time.Now())
		c.linkRetries(ctx, rec)
		rec.Schedule = scheduleOf(info)
		return rec, nil
	}
	rec, err := c.result(ctx, id, info.GetExecution().GetRunId(), nil)
	if closedByOperator[info.GetStatus()] {
		// Terminated, canceled or timed out: what operators did is in the
		// history, and only a canceled run's result holds its record.
		rec, err = c.closedRecord(ctx, info, rec, err)
	}
	c.linkRetries(ctx, rec)
	if rec != nil {
		rec.Schedule = scheduleOf(info)
	}
	return rec, err
}

// Execution is one line of a listing.
type Execution struct {
	WorkflowID string     `json:"workflow_id"`
	RunID      string     `json:"run_id"`
	Flow       string     `json:"flow"`
	Status     string     `json:"status"`
	Start      time.Time  `json:"start"`
	End        *time.Time `json:"end,omitempty"`
	// RetriedFrom and RetriedBy link retries (carry.go).
	RetriedFrom string   `json:"retried_from,omitempty"`
	RetriedBy   []string `json:"retried_by,omitempty"`
	// Schedule is the schedule that started the execution, or whose run
	// it retries (schedule_retry.go).
	Schedule string `json:"schedule,omitempty"`
}

// ListOptions filter a listing.
type ListOptions struct {
	Flow string
	// Status is one of ExecutionStatuses ("cancelled" is taken for
	// canceled); empty lists all.
	Status string
	Since  time.Duration
	Limit  int
	// Schedule lists the runs the schedule with this id started and the
	// retries of them (schedule_retry.go).
	Schedule string
}

// Execution statuses besides running, succeeded and failed: how Temporal
// closed a run that did not finish on its own.
const (
	StatusTerminated     = "terminated"
	StatusCanceled       = "canceled"
	StatusTimedOut       = "timed_out"
	StatusContinuedAsNew = "continued_as_new"
)

// executionStatuses pairs each execution status a listing shows with the
// Temporal execution status it stands for, in the order they are named.
var executionStatuses = []struct {
	name     string
	temporal enumspb.WorkflowExecutionStatus
	query    string // the ExecutionStatus value in a visibility query
}{
	{StatusRunning, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, "Running"},
	{StatusSucceeded, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, "Completed"},
	{StatusFailed, enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, "Failed"},
	{StatusTerminated, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, "Terminated"},
	{StatusCanceled, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, "Canceled"},
	{StatusTimedOut, enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT, "TimedOut"},
	{StatusContinuedAsNew, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW, "ContinuedAsNew"},
}

// ExecutionStatuses are the statuses `executions list` shows and filters by.
func ExecutionStatuses() []string {
	names := make([]string, len(executionStatuses))
	for i, s := range executionStatuses {
		names[i] = s.name
	}
	return append(names, StatusHeld)
}

// statusQuery is the visibility query clause for a listing's status.
func statusQuery(status string) (string, error) {
	want := strings.ToLower(strings.TrimSpace(status))
	if want == "cancelled" {
		want = StatusCanceled
	}
	if want == StatusHeld {
		// Running, waiting for an operator (hold.go).
		return fmt.Sprintf("ExecutionStatus = \"Running\" AND OutflowStatus = %q", StatusHeld), nil
	}
	for _, s := range executionStatuses {
		if s.name == want {
			return fmt.Sprintf("ExecutionStatus = %q", s.query), nil
		}
	}
	return "", fmt.Errorf("unknown status %q (%s)", status, strings.Join(ExecutionStatuses(), ", "))
}

// executionStatus is what a listing says of a run. Temporal's close status
// comes first: a run that was terminated, canceled or timed out never got
// to update its OutflowStatus search attribute, which still says running.
func executionStatus(e *workflowpb.WorkflowExecutionInfo) string {
	if e.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		var status string
		if f := e.GetSearchAttributes().GetIndexedFields()["OutflowStatus"]; f != nil {
			_ = decodeKeyword(f.GetData(), &status)
		}
		if status == StatusHeld {
			return StatusHeld
		}
		return StatusRunning
	}
	for _, s := range executionStatuses {
		if s.temporal == e.GetStatus() {
			return s.name
		}
	}
	return strings.ToLower(strings.TrimPrefix(e.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_"))
}

// Check reports a filter that cannot match anything, such as an unknown
// status, instead of letting it list nothing.
func (o ListOptions) Check() error {
	if o.Status != "" {
		if _, err := statusQuery(o.Status); err != nil {
			return err
		}
	}
	if o.Since < 0 {
		return fmt.Errorf("since %s is negative", o.Since)
	}
	return nil
}

// List lists Outflow executions, newest first.
func (c *Client) List(ctx context.Context, o ListOptions) ([]Execution, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	q := []string{fmt.Sprintf("WorkflowType = %q", WorkflowName)}
	if o.Flow != "" {
		q = append(q, fmt.Sprintf("OutflowFlow = %q", o.Flow))
	}
	if o.Status != "" {
		clause, err := statusQuery(o.Status)
		if err != nil {
			return nil, err
		}
		q = append(q, clause)
	}
	if o.Schedule != "" {
		q = append(q, scheduleQuery(o.Schedule))
	}
	if o.Since > 0 {
		q = append(q, fmt.Sprintf("StartTime > %q", time.Now().Add(-o.Since).UTC().Format(time.RFC3339)))
	}
	limit := o.Limit
	if limit <= 0 {
		limit = 50
	}
	var out []Execution
	var token []byte
	for len(out) < limit {
		resp, err := c.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: c.Namespace, Query: strings.Join(q, " AND "), PageSize: int32(limit), NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("listing executions: %w", err)
		}
		for _, e := range resp.Executions {
			ex := Execution{WorkflowID: e.GetExecution().GetWorkflowId(), RunID: e.GetExecution().GetRunId(), Start: e.GetStartTime().AsTime()}
			if e.GetCloseTime() != nil && e.GetCloseTime().IsValid() && e.GetCloseTime().AsTime().Unix() > 0 {
				t := e.GetCloseTime().AsTime()
				ex.End = &t
			}
			var flow string
			if f := e.GetSearchAttributes().GetIndexedFields()["OutflowFlow"]; f != nil {
				_ = decodeKeyword(f.GetData(), &flow)
			}
			if f := e.GetSearchAttributes().GetIndexedFields()["OutflowRetriedFrom"]; f != nil {
				_ = decodeKeyword(f.GetData(), &ex.RetriedFrom)
			}
			ex.Schedule = scheduleOf(e)
			ex.Flow, ex.Status = flow, executionStatus(e)
			out = append(out, ex)
		}
		token = resp.NextPageToken
		if len(token) == 0 {
			break
		}
	}
	if len(out) > limit {
		out = out[:limit]
	}
	c.linkListed(ctx, out)
	return out, nil
}

// decodeLastFailures puts back, in place, the message of each pending
// activity's last failure that workers encoded with dc (the payload codec's
// failure converter stores "Encoded failure" in its place).
func decodeLastFailures(dc converter.DataConverter, pending []*workflowpb.PendingActivityInfo) {
	if dc == nil {
		return
	}
	for _, p := range pending {
		if f := p.GetLastFailure(); f != nil {
			converter.DecodeCommonFailureAttributes(dc, f)
		}
	}
}

// annotateWaiting marks the running steps whose activity waits for a
// worker to take it, naming the agent group (or task queue) whose workers
// are missing. A step's activity is found by kind and task queue: steps and
// pending activities of one kind and queue are both in the order they were
// scheduled (record order, activity id order), so they pair one to one;
// when they do not (a step finished while the record was read), every step
// of the group is marked only if every activity of the group waits.
func annotateWaiting(rec *Record, pending []*workflowpb.PendingActivityInfo, pollers map[string][]Poller, now time.Time) {
	if rec == nil || len(pending) == 0 {
		return
	}
	knownQueues := true
	for _, p := range pending {
		if pendingQueue(p) == "" {
			knownQueues = false // a server that does not report it: pair by kind alone
		}
	}
	groupOf := func(kind, queue string) string {
		if !knownQueues {
			return kind
		}
		return kind + "\x00" + queue
	}
	steps := map[string][]*StepRecord{}
	var order []string
	for _, s := range rec.Steps {
		if s.Status != StatusRunning || !CallsActivity(s.Kind) {
			continue
		}
		g := groupOf(s.Kind, s.TaskQueue)
		if _, ok := steps[g]; !ok {
			order = append(order, g)
		}
		steps[g] = append(steps[g], s)
	}
	acts := map[string][]*workflowpb.PendingActivityInfo{}
	sorted := append([]*workflowpb.PendingActivityInfo(nil), pending...)
	sort.SliceStable(sorted, func(i, j int) bool { return activityIDLess(sorted[i].GetActivityId(), sorted[j].GetActivityId()) })
	for _, p := range sorted {
		g := groupOf(p.GetActivityType().GetName(), pendingQueue(p))
		acts[g] = append(acts[g], p)
	}
	for _, g := range order {
		ss, as := steps[g], acts[g]
		if len(as) == 0 {
			continue
		}
		if len(ss) == len(as) {
			for i, s := range ss {
				if waitingForWorker(as[i], now) {
					markWaiting(s, as[i], pollers[s.TaskQueue], now)
				}
			}
			continue
		}
		all := true
		for _, a := range as {
			all = all && waitingForWorker(a, now)
		}
		if all {
			for _, s := range ss {
				markWaiting(s, as[0], pollers[s.TaskQueue], now)
			}
		}
	}
}

// waitingForWorker: scheduled and due, but no worker has taken it. An
// activity backing off before its next attempt is scheduled too, but waits
// for its time, not for a worker.
func waitingForWorker(p *workflowpb.PendingActivityInfo, now time.Time) bool {
	if p.GetState() != enumspb.PENDING_ACTIVITY_STATE_SCHEDULED {
		return false
	}
	next := p.GetNextAttemptScheduleTime()
	return next == nil || !next.IsValid() || next.AsTime().Unix() <= 0 || !next.AsTime().After(now)
}

func pendingQueue(p *workflowpb.PendingActivityInfo) string {
	return p.GetActivityOptions().GetTaskQueue().GetName()
}

// activityIDLess orders the SDK's activity ids ("1", "2", ..., "10")
// numerically, and other ids after them as text.
func activityIDLess(a, b string) bool {
	na, ea := strconv.ParseInt(a, 10, 64)
	nb, eb := strconv.ParseInt(b, 10, 64)
	switch {
	case ea == nil && eb == nil:
		return na < nb
	case ea == nil:
		return true
	case eb == nil:
		return false
	}
	return a < b
}

func markWaiting(s *StepRecord, p *workflowpb.PendingActivityInfo, pollers []Poller, now time.Time) {
	var b strings.Builder
	if s.Agent != "" {
		fmt.Fprintf(&b, "waiting for a worker of agent group %q (task queue %s)", s.Agent, s.TaskQueue)
	} else {
		fmt.Fprintf(&b, "waiting for a worker on task queue %s", s.TaskQueue)
	}
	switch {
	case pollers == nil:
	case len(pollers) == 0:
		b.WriteString(": no worker polls it; start one")
		if s.Agent != "" {
			fmt.Fprintf(&b, " (outflow worker --config with groups: [%s])", s.Agent)
		}
	default:
		last := pollers[0]
		for _, w := range pollers[1:] {
			if w.LastAccess.After(last.LastAccess) {
				last = w
			}
		}
		fmt.Fprintf(&b, ": none has taken the step; %d worker(s) polled it lately, last %s %s ago (a worker that died is listed for a few minutes)",
			len(pollers), last.Identity, now.Sub(last.LastAccess).Round(time.Second))
	}
	if p.GetAttempt() > 1 {
		fmt.Fprintf(&b, "; this is attempt %d", p.GetAttempt())
		if f := p.GetLastFailure(); f != nil && f.GetMessage() != "" {
			fmt.Fprintf(&b, ", the last one ended: %s", f.GetMessage())
		}
		if w := p.GetLastWorkerIdentity(); w != "" {
			fmt.Fprintf(&b, " (on %s)", w)
		}
	}
	if t := p.GetScheduledTime(); t != nil && t.IsValid() && t.AsTime().Unix() > 0 {
		fmt.Fprintf(&b, "; waiting since %s", t.AsTime().UTC().Format(time.RFC3339))
	}
	s.Status = StatusWaiting
	s.Error = &ErrorInfo{Type: "Waiting", Message: b.String()}
}

// Poller is a worker that polled a task queue recently.
type Poller struct {
	Identity   string
	LastAccess time.Time
}

// queuePollers asks the server which workers polled the task queues of
// the scheduled activities. A queue it cannot describe is left out, so the
// message says nothing about its workers rather than something wrong.
func (c *Client) queuePollers(ctx context.Context, pending []*workflowpb.PendingActivityInfo) map[string][]Poller {
	out := map[string][]Poller{}
	for _, p := range pending {
		q := pendingQueue(p)
		if q == "" || p.GetState() != enumspb.PENDING_ACTIVITY_STATE_SCHEDULED {
			continue
		}
		if _, done := out[q]; done {
			continue
		}
		resp, err := c.Temporal.DescribeTaskQueue(ctx, q, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
		if err != nil {
			continue
		}
		ps := []Poller{}
		for _, pi := range resp.GetPollers() {
			ps = append(ps, Poller{Identity: pi.GetIdentity(), LastAccess: pi.GetLastAccessTime().AsTime()})
		}
		out[q] = ps
	}
	return out
}

func decodeKeyword(data []byte, out *string) error {
	return json.Unmarshal(data, out)
}
