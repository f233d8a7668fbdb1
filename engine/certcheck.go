package engine

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// CertCheckActivity checks, on the worker that would present them, the
// certificates a run's connections need. Workers register it next to the
// step activities, on every queue they serve steps of.
const CertCheckActivity = "certcheck"

// CertCheckRequest is the input of the certcheck activity: the protocol
// profiles used by the connections that run on one task queue.
type CertCheckRequest struct {
	WorkflowID  string          `json:"workflow_id"`
	ProjectRoot string          `json:"project_root,omitempty"`
	Profiles    []CertCheckItem `json:"profiles"`
}

// CertCheckItem is one protocol profile to check and who uses it.
type CertCheckItem struct {
	Profile *ProtocolProfile `json:"profile"`
	// MutualAuth says at least one of the connections presents the
	// profile's client certificate; without it only the trust store counts.
	MutualAuth bool `json:"mutual_auth,omitempty"`
	// Connections name the connections that use the profile, for messages.
	Connections []string `json:"connections"`
	// Agent is the agent group of those connections; empty for the default
	// workers.
	Agent string `json:"agent,omitempty"`
}

// CertCheckResult is what the certcheck activity found. Failures are
// certificates that cannot work (expired, not yet valid); Notes are what an
// operator should know but does not stop the run.
type CertCheckResult struct {
	Worker   string   `json:"worker,omitempty"`
	Failures []string `json:"failures,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

// certCheckTimeout bounds one check: it reads a few files and resolves a
// few secrets.
const certCheckTimeout = time.Minute

// checkCertificates runs the certcheck activity on the task queue of every
// agent the plan's connections use (and the default queue), before any step
// runs, so that an expired certificate fails a scheduled run before it has
// called anyone rather than between two partners. Certificates expiring
// within their profile's warning window become notes of the record. A check
// that cannot be done (an old worker without the activity, say) becomes a
// note too: the steps themselves still diagnose a bad certificate.
func checkCertificates(ctx workflow.Context, r *runner) error {
	byQueue := map[string]*CertCheckRequest{}
	// items holds the index of each (queue, profile) item in its request's
	// Profiles, not a pointer: a later append may move the slice.
	items := map[string]int{} // queue + "\x00" + profile
	names := make([]string, 0, len(r.plan.Connections))
	for name := range r.plan.Connections {
		names = append(names, name)
	}
	// Map order is random; workflow code must issue commands in the same
	// order on every replay.
	sort.Strings(names)
	var queues []string
	for _, name := range names {
		conn := r.plan.Connections[name]
		if conn == nil || conn.ProtocolProfile == "" || strings.EqualFold(conn.Scheme, "http") {
			continue
		}
		p := r.plan.Profiles[conn.ProtocolProfile]
		if p == nil {
			continue
		}
		queue := r.taskQueue(conn)
		req := byQueue[queue]
		if req == nil {
			req = &CertCheckRequest{WorkflowID: r.rec.WorkflowID, ProjectRoot: r.plan.ProjectRoot}
			byQueue[queue] = req
			queues = append(queues, queue)
		}
		key := queue + "\x00" + p.Name
		i, ok := items[key]
		if !ok {
			req.Profiles = append(req.Profiles, CertCheckItem{Profile: p, Agent: conn.Agent})
			i = len(req.Profiles) - 1
			items[key] = i
		}
		it := &req.Profiles[i]
		it.MutualAuth = it.MutualAuth || conn.MutualAuth
		it.Connections = append(it.Connections, conn.Name)
	}
	if len(queues) == 0 {
		return nil
	}
	// The checks of all queues run at once: each waits for a worker of its
	// agent group, as the steps would.
	futures := make([]workflow.Future, len(queues))
	for i, queue := range queues {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue:           queue,
			StartToCloseTimeout: certCheckTimeout,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
		})
		r.events += 6
		futures[i] = workflow.ExecuteActivity(actx, CertCheckActivity, byQueue[queue])
	}
	var failures []string
	for i, queue := range queues {
		var res CertCheckResult
		if err := futures[i].Get(ctx, &res); err != nil {
			r.rec.Notes = append(r.rec.Notes, fmt.Sprintf("certificates used on task queue %s were not checked before the run: %s",
				queue, errorInfo(err).Message))
			continue
		}
		r.rec.Notes = append(r.rec.Notes, res.Notes...)
		failures = append(failures, res.Failures...)
	}
	if len(failures) > 0 {
		return temporal.NewNonRetryableApplicationError(
			"checking certificates before the run: "+strings.Join(failures, "; "), ErrCertificate, nil)
	}
	return nil
}
