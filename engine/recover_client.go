package engine

// Client operations of recovery: resume a held step, cancel, terminate
// (the retry is in carry.go).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	batchpb "go.temporal.io/api/batch/v1"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// Resume sends an operator's decision to the execution id, which holds a
// step, and returns what the execution answered.
func (c *Client) Resume(ctx context.Context, id string, d ResumeDecision) (string, error) {
	h, err := c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: ResumeUpdate, Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return "", c.recoveryError(ctx, "resume", id, err)
	}
	var out string
	if err := h.Get(ctx, &out); err != nil {
		return "", c.recoveryError(ctx, "resume", id, err)
	}
	return out, nil
}

// recoveryError says in words why an operation on id could not be done.
func (c *Client) recoveryError(ctx context.Context, op, id string, err error) error {
	if rerr := c.running(ctx, op, id); rerr != nil {
		return rerr
	}
	msg := err.Error()
	if strings.Contains(msg, "unknown update") || strings.Contains(msg, "not found") && strings.Contains(msg, "update") {
		return fmt.Errorf("%s: execution %q holds no step (it is not held)", op, id)
	}
	if strings.Contains(msg, "workflow execution already completed") {
		return fmt.Errorf("%s: execution %q has ended", op, id)
	}
	return fmt.Errorf("%s: execution %q: %w", op, id, err)
}

// Cancel asks the execution id to stop: the step running is canceled, and
// the flow's finally steps run before it ends canceled. The reason and the
// operator's identity are recorded in its history.
func (c *Client) Cancel(ctx context.Context, id, identity, reason string) error {
	if err := c.running(ctx, "cancel", id); err != nil {
		return err
	}
	_, err := c.Temporal.WorkflowService().RequestCancelWorkflowExecution(ctx, &workflowservice.RequestCancelWorkflowExecutionRequest{
		Namespace:         c.Namespace,
		WorkflowExecution: execution(id),
		Identity:          identity,
		Reason:            reason,
	})
	if err != nil {
		return c.recoveryError(ctx, "cancel", id, err)
	}
	return nil
}

// Terminate ends the execution id at once: nothing more of it runs, not
// even its finally steps. The reason and identity are recorded in its
// history.
func (c *Client) Terminate(ctx context.Context, id, identity, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("terminate: give --reason: it is recorded with the execution")
	}
	if err := c.running(ctx, "terminate", id); err != nil {
		return err
	}
	_, err := c.Temporal.WorkflowService().TerminateWorkflowExecution(ctx, &workflowservice.TerminateWorkflowExecutionRequest{
		Namespace:         c.Namespace,
		WorkflowExecution: execution(id),
		Identity:          identity,
		Reason:            reason,
	})
	if err != nil {
		return c.recoveryError(ctx, "terminate", id, err)
	}
	return nil
}

// running refuses an operation on an execution that has ended.
func (c *Client) running(ctx context.Context, op, id string) error {
	desc, err := c.Temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return fmt.Errorf("%s: no execution %q in namespace %q", op, id, c.Namespace)
		}
		return fmt.Errorf("%s: describing execution %q: %w", op, id, err)
	}
	if s := desc.GetWorkflowExecutionInfo().GetStatus(); s != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return fmt.Errorf("%s: execution %q has ended (%s)", op, id, executionStatus(desc.GetWorkflowExecutionInfo()))
	}
	return nil
}

func execution(id string) *commonpb.WorkflowExecution {
	return &commonpb.WorkflowExecution{WorkflowId: id}
}

// closedByOperator reads the record of an execution that was terminated,
// canceled or timed out (its result holds none) by replaying it on a
// worker, and adds what operators did to it from its history: who
// canceled or terminated it, and why.
func (c *Client) closedRecord(ctx context.Context, info *workflowpb.WorkflowExecutionInfo, rec *Record, rerr error) (*Record, error) {
	id, runID := info.GetExecution().GetWorkflowId(), info.GetExecution().GetRunId()
	if rec == nil {
		var err error
		rec, err = c.Query(ctx, id, runID)
		if err != nil {
			if rerr != nil {
				return nil, rerr
			}
			return nil, fmt.Errorf("reading the record of %s execution %q (is a worker running?): %w", executionStatus(info), id, err)
		}
	}
	rec.Status = executionStatus(info)
	if t := info.GetCloseTime(); t != nil && t.IsValid() {
		end := t.AsTime()
		rec.End = &end
	}
	it := c.Temporal.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			break
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
			a := ev.GetWorkflowExecutionCancelRequestedEventAttributes()
			rec.Operations = append(rec.Operations, OperatorAction{Action: "cancel", Identity: a.GetIdentity(), At: ev.GetEventTime().AsTime(), Reason: a.GetCause()})
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
			a := ev.GetWorkflowExecutionTerminatedEventAttributes()
			rec.Operations = append(rec.Operations, OperatorAction{Action: "terminate", Identity: a.GetIdentity(), At: ev.GetEventTime().AsTime(), Reason: a.GetReason()})
		}
	}
	return rec, nil
}

// closedByOperator lists the close statuses whose result holds no record.
var closedByOperator = map[enumspb.WorkflowExecutionStatus]bool{
	enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED: true,
	enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:   true,
	enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:  true,
}

// ErrNoBatch says the server started no batch operation: nothing was done,
// and the caller may go one by one.
var ErrNoBatch = errors.New("no batch operation")

// batchChunk is how many executions one batch operation names.
const batchChunk = 200

// Batch cancels or terminates the executions ids with Temporal batch
// operations (one per 200), each selecting its executions by ID, and waits
// for them to finish; it returns the jobs' ids. The error wraps ErrNoBatch
// when the server would not start the first one.
func (c *Client) Batch(ctx context.Context, verb string, ids []string, identity, reason string) ([]string, error) {
	// The server's batcher records its own identity on each execution:
	// the operator's goes into the reason, which it records as given.
	if reason == "" {
		reason = verb
	}
	reason += " (by " + identity + ")"
	var jobs []string
	for start := 0; start < len(ids); start += batchChunk {
		chunk := ids[start:min(start+batchChunk, len(ids))]
		job, err := c.batch(ctx, verb, chunk, identity, reason)
		if job != "" {
			jobs = append(jobs, job)
		}
		if err != nil {
			if job == "" && start == 0 {
				return nil, fmt.Errorf("%w: %v", ErrNoBatch, err)
			}
			return jobs, err
		}
	}
	return jobs, nil
}

// batch runs one batch operation; job is "" when it did not start.
func (c *Client) batch(ctx context.Context, verb string, ids []string, identity, reason string) (string, error) {
	job := fmt.Sprintf("outflow-%s-%d", verb, time.Now().UnixNano())
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = fmt.Sprintf("%q", id)
	}
	req := &workflowservice.StartBatchOperationRequest{Namespace: c.Namespace, JobId: job, Reason: reason,
		VisibilityQuery: fmt.Sprintf("WorkflowType = %q AND WorkflowId IN (%s)", WorkflowName, strings.Join(quoted, ", "))}
	switch verb {
	case "cancel":
		req.Operation = &workflowservice.StartBatchOperationRequest_CancellationOperation{
			CancellationOperation: &batchpb.BatchOperationCancellation{Identity: identity}}
	case "terminate":
		req.Operation = &workflowservice.StartBatchOperationRequest_TerminationOperation{
			TerminationOperation: &batchpb.BatchOperationTermination{Identity: identity}}
	default:
		return "", fmt.Errorf("batch: unknown operation %q", verb)
	}
	if _, err := c.Temporal.WorkflowService().StartBatchOperation(ctx, req); err != nil {
		return "", err
	}
	for {
		d, err := c.Temporal.WorkflowService().DescribeBatchOperation(ctx, &workflowservice.DescribeBatchOperationRequest{Namespace: c.Namespace, JobId: job})
		if err != nil {
			return job, fmt.Errorf("batch %s: %w", job, err)
		}
		switch d.GetState() {
		case enumspb.BATCH_OPERATION_STATE_COMPLETED:
			if d.GetFailureOperationCount() > 0 {
				return job, fmt.Errorf("batch %s: %d of %d failed", job, d.GetFailureOperationCount(), d.GetTotalOperationCount())
			}
			return job, nil
		case enumspb.BATCH_OPERATION_STATE_FAILED:
			return job, fmt.Errorf("batch %s failed", job)
		}
		select {
		case <-ctx.Done():
			return job, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
