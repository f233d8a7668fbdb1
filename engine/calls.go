package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The code below is shared by the step kinds that call a partner through a
// connection, in an activity (rest, soap): the request header, the activity
// options, polling, and what a call leaves in the record and in steps.<id>.

// Poll repeats a step until Until holds, Interval apart, for at most
// Deadline (0: no deadline) or MaxAttempts (0: no limit).
type Poll struct {
	// Until is a template evaluated after each call, with steps.<id> holding
	// the latest result.
	Until       string   `json:"until"`
	Interval    Duration `json:"interval,omitempty"`
	Deadline    Duration `json:"deadline,omitempty"`
	MaxAttempts int      `json:"max_attempts,omitempty"`
}

// DefaultPollInterval is how long a poll waits between calls when the step
// says nothing.
const DefaultPollInterval = 30 * time.Second

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
	if cr, ok := req.(CallRequest); ok && (st.FailWhen != "" || st.RetryWhen != "") {
		cr.Header().FailWhen, cr.Header().RetryWhen = st.FailWhen, st.RetryWhen
	}
	actx := workflow.WithActivityOptions(ctx, withActivitySummary(ctx, r.activityOptions(st, conn, rec.TaskQueue), path, conn))
	method := ""
	if rr, ok := req.(*RestRequest); ok {
		method = rr.Method
	}
	callPath := r.callPath(ctx, st, conn, rec.TaskQueue, method, rec)
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
		err = r.execCall(ctx, actx, st, conn, callPath, activity, req, &res, rec)
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

func (r *runner) applyResult(rec *StepRecord, res *StepResult) {
	req := res.Request
	rec.Request = &req
	rec.Response = res.Response
	rec.TLS = r.restoreTLS(rec.Connection, res.TLS)
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

// callHeader is the header of the request of the step at path, which
// calls through conn.
func (r *runner) callHeader(conn *Connection, path string) CallHeader {
	return CallHeader{
		WorkflowID:  r.rec.WorkflowID,
		StepPath:    path,
		Flow:        r.plan.Name,
		Connection:  conn,
		Profile:     r.plan.Profiles[conn.ProtocolProfile],
		ProjectRoot: r.plan.ProjectRoot,
		BodyLimit:   r.bodyLimit(),
		KnownTLS:    r.knownTLSKey(conn.Name),
	}
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
