package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// pathPartner answers rest calls and notes, per path, whether each call ran
// as a local activity ("L") or a regular one ("R"). fail answers a path's
// local attempts with an error; block holds a path's local attempts until
// their context ends.
type pathPartner struct {
	mu    sync.Mutex
	calls map[string]string
	fail  map[string]error
	block map[string]bool
	// blocked is closed when a blocked call has arrived; the paths in
	// after wait for it.
	blocked chan struct{}
	after   map[string]bool
}

func (f *pathPartner) rest(ctx context.Context, req *RestRequest) (*StepResult, error) {
	local := activity.GetInfo(ctx).IsLocalActivity
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]string{}
	}
	mark := "R"
	if local {
		mark = "L"
	}
	f.calls[req.Path] += mark
	err, block, after := f.fail[req.Path], f.block[req.Path], f.after[req.Path]
	f.mu.Unlock()
	if after {
		<-f.blocked
	}
	if local && block {
		if f.blocked != nil {
			close(f.blocked)
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if local && err != nil {
		return nil, err
	}
	return &StepResult{Attempt: int(activity.GetInfo(ctx).Attempt), Request: RequestSummary{Method: req.Method, URL: "https://partner" + req.Path},
		Response: &ResponseSummary{StatusCode: 200, JSON: map[string]any{"path": req.Path, "items": []any{"a", "b"}}}}, nil
}

func (f *pathPartner) got(path string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[path]
}

// runFast runs plan on the test environment's task queue, the flow's own,
// so that calls may take the fast path; oldVersion replays as an execution
// started before it.
func runFast(t *testing.T, plan *Plan, partner *pathPartner, oldVersion bool) (*Record, error) {
	t.Helper()
	plan.Settings.DefaultTaskQueue = "default-test-taskqueue"
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivityWithOptions(partner.rest, activity.RegisterOptions{Name: RestActivity})
	if oldVersion {
		env.OnGetVersion(fastChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	}
	env.ExecuteWorkflow(WorkflowName, RunInput{Plan: plan, Inputs: map[string]any{"id": "1"}})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var rec Record
	if err := env.GetWorkflowError(); err != nil {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == ErrFlowFailed && appErr.Details(&rec) == nil {
			return &rec, err
		}
		t.Fatal(err)
	}
	if err := env.GetWorkflowResult(&rec); err != nil {
		t.Fatal(err)
	}
	return &rec, nil
}

func methodStep(id, method, path string) Step {
	return Step{ID: id, Rest: &RestStep{Connection: "p", Method: method, Path: path}}
}

// Each call takes the path its method, its marks and its connection allow,
// and the record says which and why.
func TestFastPathChoice(t *testing.T) {
	forcedLocal := methodStep("forced_local", "POST", "/forced-local")
	forcedLocal.Local = true
	forcedRegular := methodStep("forced_regular", "GET", "/forced-regular")
	forcedRegular.Regular = true
	marked := methodStep("marked", "POST", "/marked")
	marked.Idempotent = true
	agent := Step{ID: "agent", Rest: &RestStep{Connection: "dmz", Method: "GET", Path: "/agent"}}
	p := testPlan(
		methodStep("get", "GET", "/get"),
		methodStep("put", "PUT", "/put"),
		methodStep("delete", "delete", "/delete"),
		methodStep("post", "POST", "/post"),
		methodStep("patch", "PATCH", "/patch"),
		forcedLocal, forcedRegular, marked, agent,
	)
	p.Connections["dmz"] = &Connection{Name: "dmz", Scheme: "https", Host: "inner", Agent: "dmz"}
	partner := &pathPartner{}
	rec, err := runFast(t, p, partner, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ step, path, calls, callPath, why string }{
		{"get", "/get", "L", CallFast, "GET is idempotent"},
		{"put", "/put", "L", CallFast, "PUT is idempotent"},
		{"delete", "/delete", "L", CallFast, "DELETE is idempotent"},
		{"post", "/post", "R", CallRegular, "POST is not idempotent; idempotent: true allows the fast path"},
		{"patch", "/patch", "R", CallRegular, "PATCH is not idempotent"},
		{"forced_local", "/forced-local", "L", CallLocal, "local: true"},
		{"forced_regular", "/forced-regular", "R", CallRegular, "local: false"},
		{"marked", "/marked", "L", CallFast, "idempotent: true"},
		{"agent", "/agent", "R", CallRegular, `connection "dmz" runs its calls on agent "dmz"`},
	} {
		if got := partner.got(c.path); got != c.calls {
			t.Errorf("%s: calls %q, want %q", c.step, got, c.calls)
		}
		s := rec.Step(c.step)
		if s == nil || s.CallPath != c.callPath || !strings.Contains(s.CallPathReason, c.why) || s.Status != StatusSucceeded {
			t.Errorf("%s: record %+v, want path %q for %q", c.step, s, c.callPath, c.why)
		}
	}
}

// An execution started before the fast path replays as it ran: every call
// without local: is a regular activity.
func TestFastPathGatedByVersion(t *testing.T) {
	partner := &pathPartner{}
	rec, err := runFast(t, testPlan(methodStep("get", "GET", "/get")), partner, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := partner.got("/get"); got != "R" {
		t.Fatalf("calls %q, want one regular", got)
	}
	if s := rec.Step("get"); s.CallPath != CallRegular || !strings.Contains(s.CallPathReason, "started before the automatic fast path") {
		t.Fatalf("record %+v", s)
	}
}

// A fast attempt that fails in a way the retry policy retries, or that
// outlives its budget, continues as a regular activity; one the policy does
// not retry ends the step without a second call.
func TestFastPathFallsBack(t *testing.T) {
	slow := methodStep("slow", "GET", "/slow")
	slow.Timeout = Duration(50 * time.Millisecond) // the budget is the shorter of it and FastAttemptBudget
	p := testPlan(
		methodStep("flaky", "GET", "/flaky"),
		methodStep("later", "GET", "/later"),
		slow,
		Step{ID: "missing", ContinueOnError: true, Rest: &RestStep{Connection: "p", Method: "GET", Path: "/missing"}},
	)
	partner := &pathPartner{
		fail: map[string]error{
			"/flaky": temporal.NewApplicationError("answered 503", ErrHTTPStatus),
			"/later": temporal.NewApplicationErrorWithOptions("answered 429", ErrHTTPStatus,
				temporal.ApplicationErrorOptions{NextRetryDelay: time.Minute}),
			"/missing": temporal.NewNonRetryableApplicationError("answered 404", ErrHTTPClient, nil),
		},
		block: map[string]bool{"/slow": true},
	}
	rec, err := runFast(t, p, partner, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ step, path, calls, callPath, why string }{
		{"flaky", "/flaky", "LR", CallFastThenRegular, "the fast attempt failed (" + ErrHTTPStatus + ": answered 503)"},
		// The budget's end: the SDK's timeout, or the call's own context
		// error when it returns first.
		{"slow", "/slow", "LR", CallFastThenRegular, "so the call continued as a regular activity"},
		{"missing", "/missing", "L", CallFast, "GET is idempotent"},
	} {
		if got := partner.got(c.path); got != c.calls {
			t.Errorf("%s: calls %q, want %q", c.step, got, c.calls)
		}
		s := rec.Step(c.step)
		if s == nil || s.CallPath != c.callPath || !strings.Contains(s.CallPathReason, c.why) {
			t.Errorf("%s: record %+v, want path %q for %q", c.step, s, c.callPath, c.why)
		}
	}
	if s := rec.Step("flaky"); s.Status != StatusSucceeded || s.Attempts != 2 {
		t.Errorf("flaky: status %s after %d attempts, want succeeded after 2 (the fast one counts)", s.Status, s.Attempts)
	}
	// Retry-After holds for the regular attempt too: the test environment's
	// clock skips the minute.
	if s := rec.Step("later"); s.Status != StatusSucceeded || s.CallPath != CallFastThenRegular || time.Duration(s.Duration) < time.Minute {
		t.Errorf("later: %s on %q after %s, want the regular attempt a minute after the fast one", s.Status, s.CallPath, time.Duration(s.Duration))
	}
	if s := rec.Step("missing"); s.Status != StatusFailed || s.Error == nil || s.Error.Type != ErrHTTPClient {
		t.Errorf("missing: %+v, want failed with %s", s, ErrHTTPClient)
	}
}

// A paginated step stays regular (each page in the history is what a new
// worker resumes from); each call of a poll takes the fast path.
func TestFastPathPagesAndPolls(t *testing.T) {
	list := Step{ID: "list", Rest: &RestStep{Connection: "p", Method: "GET", Path: "/list",
		Paginate: &Paginate{Items: "items", Page: &PageNumber{Param: "page", Start: 1}, MaxPages: 3}}}
	poll := methodStep("job", "GET", "/job")
	poll.Poll = &Poll{Until: "${{ true }}"}
	partner := &pathPartner{}
	rec, err := runFast(t, testPlan(list, poll), partner, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := partner.got("/list"); got != "RRR" {
		t.Errorf("pages: calls %q, want three regular ones", got)
	}
	if s := rec.Step("list"); s.CallPath != CallRegular || !strings.Contains(s.CallPathReason, "a paginated step records each page") || len(s.Pages) != 3 {
		t.Errorf("list: %+v", s)
	}
	if got := partner.got("/job"); got != "L" {
		t.Errorf("poll: calls %q", got)
	}
}

// A foreach item whose failure stops the others cancels their fast
// attempts, which end there: a canceled fast attempt does not continue as
// a regular activity.
func TestFastPathCanceledDoesNotFallBack(t *testing.T) {
	p := testPlan(Step{ID: "each", Foreach: &Foreach{Items: `${{ ["/blocked", "/missing"] }}`, Concurrency: 2, Steps: []Step{
		methodStep("get", "GET", "${{ item }}"),
	}}})
	partner := &pathPartner{
		fail:    map[string]error{"/missing": temporal.NewNonRetryableApplicationError("answered 404", ErrHTTPClient, nil)},
		block:   map[string]bool{"/blocked": true},
		blocked: make(chan struct{}),
		after:   map[string]bool{"/missing": true},
	}
	_, err := runFast(t, p, partner, false)
	if err == nil {
		t.Fatal("the flow succeeded; an item failed")
	}
	if got := partner.got("/blocked"); got != "L" {
		t.Fatalf("the canceled item's calls %q, want only its fast attempt", got)
	}
}
