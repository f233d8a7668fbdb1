package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The automatic fast path: a rest or soap call that is safe to repeat runs
// its first attempt as a local activity on the flow's worker, within
// FastAttemptBudget, one attempt; when that attempt fails (and the failure
// is one the step's retry policy retries) or outlives the budget, the step
// continues as a regular activity with its whole retry policy. A step
// with local: true or local: false takes the path it names.

// fastChange gates the automatic fast path: executions started before it
// ran every call without local: as a regular activity, and replay so.
const fastChange = "fast-auto-local"

// FastAttemptBudget is the longest the fast attempt of an automatic
// fast-path call may take (schedule to close, one attempt), unless the
// step's timeout is shorter.
const FastAttemptBudget = 3 * time.Second

// The paths a call takes, as StepRecord.CallPath says.
const (
	// CallLocal: local: true, a local activity with the step's retry policy.
	CallLocal = "local"
	// CallRegular: an activity with the step's retry policy.
	CallRegular = "regular"
	// CallFast: the automatic fast path's local attempt succeeded (or
	// failed for good).
	CallFast = "fast"
	// CallFastThenRegular: the fast attempt failed or outlived its budget,
	// and the call continued as a regular activity.
	CallFastThenRegular = "fast, then regular"
)

// idempotentMethods are the HTTP methods a repeated request leaves with
// the effect of one (RFC 9110, 9.2.2).
var idempotentMethods = []string{"GET", "HEAD", "OPTIONS", "PUT", "DELETE"}

// callPath chooses how the calls of step st through conn run, and says why
// in rec. method is the rendered HTTP method ("" for soap).
func (r *runner) callPath(ctx workflow.Context, st *Step, conn *Connection, queue, method string, rec *StepRecord) string {
	if st.Rest != nil && st.Rest.Paginate != nil && !st.Local {
		// Each page's activity in the history is what lets a new worker
		// resume at the next page; fast pages lost in a crash would be
		// read again.
		rec.CallPath, rec.CallPathReason = CallRegular, "a paginated step records each page in the history, so that a new worker resumes at the next page; local: true runs its pages as local activities"
		return CallRegular
	}
	path, why := r.choosePath(ctx, st, conn, queue, method)
	rec.CallPath, rec.CallPathReason = path, why
	return path
}

func (r *runner) choosePath(ctx workflow.Context, st *Step, conn *Connection, queue, method string) (path, why string) {
	switch {
	case st.Local:
		return CallLocal, "local: true"
	case st.Regular:
		return CallRegular, "local: false"
	case conn.Agent != "":
		return CallRegular, fmt.Sprintf("connection %q runs its calls on agent %q", conn.Name, conn.Agent)
	case queue != workflow.GetInfo(ctx).TaskQueueName:
		return CallRegular, fmt.Sprintf("calls run on task queue %q, not the flow's", queue)
	}
	m := strings.ToUpper(method)
	switch {
	case st.Idempotent:
		why = "idempotent: true"
	case m != "" && slices.Contains(idempotentMethods, m):
		why = m + " is idempotent"
	case m == "":
		return CallRegular, "a SOAP call may not be safe to repeat; idempotent: true allows the fast path"
	default:
		return CallRegular, m + " is not idempotent; idempotent: true allows the fast path"
	}
	if workflow.GetVersion(ctx, fastChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return CallRegular, "the execution started before the automatic fast path"
	}
	return CallFast, why
}

// execCall runs one call of step st on the chosen path, into res. actx
// carries the step's activity options; rec, when the fast attempt falls
// back, says so.
func (r *runner) execCall(ctx, actx workflow.Context, st *Step, conn *Connection, path, activity string, req any, res *StepResult, rec *StepRecord) error {
	switch path {
	case CallLocal:
		r.events += 2
		lctx := workflow.WithLocalActivityOptions(ctx, r.localActivityOptions(st, conn))
		return workflow.ExecuteLocalActivity(lctx, activity, req).Get(ctx, res)
	case CallFast:
		r.events += 2
		ao := r.activityOptions(st, conn, "")
		budget := min(FastAttemptBudget, ao.StartToCloseTimeout)
		lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			ScheduleToCloseTimeout: budget,
			StartToCloseTimeout:    budget,
			RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
			Summary:                ActivitySummary(rec.ID, conn),
		})
		err := workflow.ExecuteLocalActivity(lctx, activity, req).Get(ctx, res)
		if err == nil || ctx.Err() != nil || !fastRetryable(err, ao.RetryPolicy) {
			return err
		}
		// The fast attempt failed in a way the step's policy retries, or ran
		// out of its budget: continue durably, with the whole policy.
		if rec.CallPath != CallFastThenRegular {
			// The first fall-back of the step's calls (pages, polls) says why.
			info := errorInfo(err)
			rec.CallPath = CallFastThenRegular
			rec.CallPathReason += fmt.Sprintf("; the fast attempt failed (%s: %s), so the call continued as a regular activity", info.Type, info.Message)
		}
		*res = StepResult{}
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.NextRetryDelay() > 0 {
			// The partner said when to come back (Retry-After), as it
			// would have before a regular retry.
			r.events += 5
			if err := workflow.Sleep(ctx, appErr.NextRetryDelay()); err != nil {
				return err
			}
		}
		r.events += 6
		err = workflow.ExecuteActivity(actx, activity, req).Get(ctx, res)
		res.Attempt++ // the fast attempt called too
		return err
	default:
		r.events += 6
		return workflow.ExecuteActivity(actx, activity, req).Get(ctx, res)
	}
}

// fastRetryable says whether the failure of a fast attempt is one the
// step's retry policy would retry: a timeout (the budget), a canceled-free
// failure of a retryable type. A failure the policy does not retry (a 4xx,
// a rejected response, a bad certificate) ends the step as its first
// regular attempt would have.
func fastRetryable(err error, rp *temporal.RetryPolicy) bool {
	if temporal.IsCanceledError(err) {
		return false
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		if appErr.NonRetryable() {
			return false
		}
		return rp == nil || !slices.Contains(rp.NonRetryableErrorTypes, appErr.Type())
	}
	return true
}
