package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Client runs plans and reads executions. It is safe for concurrent use.
type Client struct {
	Temporal  client.Client
	Namespace string
	// TaskQueue is where flows' workflow tasks run; DefaultTaskQueue if empty.
	TaskQueue string

	searchAttrs *bool
}

// RunOptions tune one start.
type RunOptions struct {
	// WorkflowID defaults to "<flow>-<unix nanos>".
	WorkflowID string
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
		ID:        id,
		TaskQueue: c.queue(),
	}
	if sa {
		so.TypedSearchAttributes = temporal.NewSearchAttributes(
			SearchAttrFlow.ValueSet(plan.Name), SearchAttrStatus.ValueSet(StatusRunning))
	}
	run, err := c.Temporal.ExecuteWorkflow(ctx, so, WorkflowName, RunInput{Plan: plan, Inputs: inputs, SearchAttributes: sa})
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
				cur, qerr := c.Query(ctx, run.GetID(), run.GetRunID())
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
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == ErrFlowFailed && appErr.HasDetails() {
		var failed Record
		if derr := appErr.Details(&failed); derr == nil {
			return &failed, fmt.Errorf("%w: %s", ErrFailed, appErr.Message())
		}
	}
	return nil, err
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
		annotateWaiting(rec, desc.GetPendingActivities())
		return rec, nil
	}
	return c.result(ctx, id, info.GetExecution().GetRunId(), nil)
}

// Execution is one line of a listing.
type Execution struct {
	WorkflowID string     `json:"workflow_id"`
	RunID      string     `json:"run_id"`
	Flow       string     `json:"flow"`
	Status     string     `json:"status"`
	Start      time.Time  `json:"start"`
	End        *time.Time `json:"end,omitempty"`
}

// ListOptions filter a listing.
type ListOptions struct {
	Flow   string
	Status string // running | succeeded | failed
	Since  time.Duration
	Limit  int
}

// List lists Outflow executions, newest first.
func (c *Client) List(ctx context.Context, o ListOptions) ([]Execution, error) {
	q := []string{fmt.Sprintf("WorkflowType = %q", WorkflowName)}
	if o.Flow != "" {
		q = append(q, fmt.Sprintf("OutflowFlow = %q", o.Flow))
	}
	if o.Status != "" {
		q = append(q, fmt.Sprintf("OutflowStatus = %q", o.Status))
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
			var flow, status string
			if f := e.GetSearchAttributes().GetIndexedFields()["OutflowFlow"]; f != nil {
				_ = decodeKeyword(f.GetData(), &flow)
			}
			if s := e.GetSearchAttributes().GetIndexedFields()["OutflowStatus"]; s != nil {
				_ = decodeKeyword(s.GetData(), &status)
			}
			if status == "" {
				status = strings.ToLower(strings.TrimPrefix(e.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_"))
			}
			ex.Flow, ex.Status = flow, status
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
	return out, nil
}

// annotateWaiting marks steps whose activity has not been picked up by any
// worker, naming the agent group whose workers are missing.
func annotateWaiting(rec *Record, pending []*workflowpb.PendingActivityInfo) {
	for _, p := range pending {
		if p.GetState() != enumspb.PENDING_ACTIVITY_STATE_SCHEDULED || p.GetAttempt() > 1 {
			continue
		}
		for _, s := range rec.Steps {
			if s.Status == StatusRunning && (s.Kind == "rest" || s.Kind == "soap") && s.Agent != "" &&
				p.GetActivityType().GetName() == s.Kind {
				{
					s.Status = StatusWaiting
					s.Error = &ErrorInfo{Type: "Waiting", Message: fmt.Sprintf("waiting for a worker of agent group %q (task queue %s)", s.Agent, s.TaskQueue)}
				}
			}
		}
	}
}

func decodeKeyword(data []byte, out *string) error {
	return json.Unmarshal(data, out)
}
