package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/outflow-dev/outflow/engine"
)

// The bare scenarios measure what Temporal itself costs: a minimal workflow
// that calls one activity per step, the activity making the same request as
// an Outflow REST step, on the same embedded server as Outflow.

const (
	bareWorkflowName = "bench.bare"
	bareActivityName = "bench.call"
	benchQueue       = "bench"
)

// bareInput says how many steps to run and how.
type bareInput struct {
	Steps int `json:"steps"`
	// Mode is "activity" (the plain HTTP call as an activity), "local" (the
	// same call as a local activity), "rest" (Outflow's REST step activity
	// in a minimal workflow) or "rest-local" (Outflow's REST step activity
	// as a local activity: the proposed `local: true` fast path).
	Mode string `json:"mode"`
	// Request is the REST step request for the rest modes.
	Request *engine.RestRequest `json:"request,omitempty"`
}

// bareCaller is the activity of the bare scenarios: one GET to the partner
// over a pooled mTLS connection, returning the status code.
type bareCaller struct {
	client *http.Client
	url    string
	user   string
	pass   string
}

func (c *bareCaller) call(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(c.user, c.pass)
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// The body is read in full so the connection goes back to the pool.
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("partner answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// bareWorkflow runs in.Steps steps one after the other. Its options mirror
// what FlowWorkflow gives a REST step (one-minute start-to-close timeout, a
// retry policy), so only the work differs.
func bareWorkflow(ctx workflow.Context, in bareInput) (int, error) {
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: retry})
	ctx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: retry})
	done := 0
	for i := 0; i < in.Steps; i++ {
		var f workflow.Future
		switch in.Mode {
		case "activity":
			f = workflow.ExecuteActivity(ctx, bareActivityName)
		case "local":
			f = workflow.ExecuteLocalActivity(ctx, bareActivityName)
		case "rest", "rest-local":
			req := *in.Request
			req.StepPath = fmt.Sprintf("s%d", i+1)
			req.IdempotencyKey = req.WorkflowID + "/" + req.StepPath
			if in.Mode == "rest" {
				f = workflow.ExecuteActivity(ctx, engine.RestActivity, &req)
			} else {
				f = workflow.ExecuteLocalActivity(ctx, engine.RestActivity, &req)
			}
		default:
			return done, temporal.NewNonRetryableApplicationError("unknown mode "+in.Mode, "Config", nil)
		}
		// Results are decoded as a real flow would read them.
		var err error
		if in.Request != nil {
			var res engine.StepResult
			err = f.Get(ctx, &res)
		} else {
			var status int
			err = f.Get(ctx, &status)
		}
		if err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}
