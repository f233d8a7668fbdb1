package engine

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
)

// ErrExecutionEnded is what SendEvent returns for an execution that has
// ended (or is unknown): the gateway answers 410 Gone.
var ErrExecutionEnded = errors.New("execution has ended")

// SendEvent delivers ev to the running execution id (its latest run). With
// firstRunID set, the execution must be the one that run started (a
// callback URL is bound to it), not a later one that reuses the ID.
func (c *Client) SendEvent(ctx context.Context, id, firstRunID string, ev Event) error {
	if err := ev.Check(); err != nil {
		return fmt.Errorf("sending event to %s: %w", id, err)
	}
	if firstRunID != "" {
		d, err := c.Temporal.DescribeWorkflowExecution(ctx, id, "")
		var nf *serviceerror.NotFound
		switch {
		case errors.As(err, &nf):
			return fmt.Errorf("sending event %q to %s: %w", ev.Name, id, ErrExecutionEnded)
		case err != nil:
			return fmt.Errorf("sending event %q to %s: %w", ev.Name, id, err)
		}
		info := d.GetWorkflowExecutionInfo()
		if info.GetFirstRunId() != firstRunID || info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return fmt.Errorf("sending event %q to %s: %w", ev.Name, id, ErrExecutionEnded)
		}
	}
	err := c.Temporal.SignalWorkflow(ctx, id, "", EventSignal(ev.Name), ev)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return fmt.Errorf("sending event %q to %s: %w", ev.Name, id, ErrExecutionEnded)
	}
	if err != nil {
		return fmt.Errorf("sending event %q to %s: %w", ev.Name, id, err)
	}
	return nil
}
