package engine

import (
	"strings"
	"testing"
	"time"

	activitypb "go.temporal.io/api/activity/v1"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func pendingAct(id, kind, queue string, state enumspb.PendingActivityState, attempt int32) *workflowpb.PendingActivityInfo {
	p := &workflowpb.PendingActivityInfo{
		ActivityId:   id,
		ActivityType: &commonpb.ActivityType{Name: kind},
		State:        state,
		Attempt:      attempt,
	}
	if queue != "" {
		p.ActivityOptions = &activitypb.ActivityOptions{TaskQueue: &taskqueuepb.TaskQueue{Name: queue}}
	}
	return p
}

func TestAnnotateWaitingNamesTheAgentGroup(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	scheduled, started := enumspb.PENDING_ACTIVITY_STATE_SCHEDULED, enumspb.PENDING_ACTIVITY_STATE_STARTED
	qa, qb := AgentTaskQueue("zone-a"), AgentTaskQueue("zone-b")
	newRec := func() *Record {
		return &Record{Steps: []*StepRecord{
			{ID: "done", Kind: "rest", Status: StatusSucceeded, Agent: "zone-a", TaskQueue: qa},
			{ID: "par/a/get", Kind: "rest", Status: StatusRunning, Agent: "zone-a", TaskQueue: qa},
			{ID: "par/b/get", Kind: "rest", Status: StatusRunning, Agent: "zone-b", TaskQueue: qb},
			{ID: "par/c/get", Kind: "rest", Status: StatusRunning, TaskQueue: DefaultTaskQueue},
			{ID: "par/d/call", Kind: "soap", Status: StatusRunning, Agent: "zone-a", TaskQueue: qa},
		}}
	}

	t.Run("only the step whose queue has no worker", func(t *testing.T) {
		rec := newRec()
		retried := pendingAct("12", "rest", qb, scheduled, 2)
		retried.LastFailure = &failurepb.Failure{Message: "activity StartToClose timeout"}
		retried.LastWorkerIdentity = "b-1/42@host"
		annotateWaiting(rec, []*workflowpb.PendingActivityInfo{
			pendingAct("14", "soap", qa, started, 1),
			retried,
			pendingAct("11", "rest", qa, started, 1),
			pendingAct("13", "rest", DefaultTaskQueue, started, 1),
		}, map[string][]Poller{qb: {}}, now)
		for _, id := range []string{"par/a/get", "par/c/get", "par/d/call"} {
			if s := rec.Step(id); s.Status != StatusRunning || s.Error != nil {
				t.Errorf("%s: %s %+v, want running", id, s.Status, s.Error)
			}
		}
		s := rec.Step("par/b/get")
		if s.Status != StatusWaiting {
			t.Fatalf("par/b/get: %s, want waiting", s.Status)
		}
		for _, want := range []string{`agent group "zone-b"`, qb, "no worker polls it", "attempt 2", "StartToClose timeout", "b-1/42@host"} {
			if !strings.Contains(s.Error.Message, want) {
				t.Errorf("message %q lacks %q", s.Error.Message, want)
			}
		}
	})

	t.Run("two steps on one queue pair in scheduling order", func(t *testing.T) {
		rec := &Record{Steps: []*StepRecord{
			{ID: "x", Kind: "rest", Status: StatusRunning, Agent: "zone-a", TaskQueue: qa},
			{ID: "y", Kind: "rest", Status: StatusRunning, Agent: "zone-a", TaskQueue: qa},
		}}
		// Ids sort as numbers: "9" was scheduled before "10".
		annotateWaiting(rec, []*workflowpb.PendingActivityInfo{
			pendingAct("10", "rest", qa, scheduled, 1),
			pendingAct("9", "rest", qa, started, 1),
		}, map[string][]Poller{qa: {{Identity: "a-1/7@host", LastAccess: now.Add(-40 * time.Second)}}}, now)
		if rec.Step("x").Status != StatusRunning {
			t.Errorf("x: %s, want running (its activity started)", rec.Step("x").Status)
		}
		y := rec.Step("y")
		if y.Status != StatusWaiting || !strings.Contains(y.Error.Message, "a-1/7@host 40s ago") {
			t.Errorf("y: %s %+v", y.Status, y.Error)
		}
	})

	t.Run("backing off is not waiting", func(t *testing.T) {
		rec := newRec()
		p := pendingAct("12", "rest", qb, scheduled, 3)
		p.NextAttemptScheduleTime = timestamppb.New(now.Add(10 * time.Second))
		annotateWaiting(rec, []*workflowpb.PendingActivityInfo{p}, nil, now)
		if s := rec.Step("par/b/get"); s.Status != StatusRunning {
			t.Errorf("%s during backoff, want running", s.Status)
		}
		p.NextAttemptScheduleTime = timestamppb.New(now.Add(-time.Second))
		annotateWaiting(rec, []*workflowpb.PendingActivityInfo{p}, nil, now)
		if s := rec.Step("par/b/get"); s.Status != StatusWaiting {
			t.Errorf("%s once the backoff is over, want waiting", s.Status)
		}
	})

	t.Run("a server that does not report queues", func(t *testing.T) {
		rec := &Record{Steps: []*StepRecord{{ID: "only", Kind: "rest", Status: StatusRunning, TaskQueue: DefaultTaskQueue}}}
		annotateWaiting(rec, []*workflowpb.PendingActivityInfo{pendingAct("5", "rest", "", scheduled, 1)}, nil, now)
		s := rec.Step("only")
		if s.Status != StatusWaiting || !strings.Contains(s.Error.Message, "task queue outflow") {
			t.Errorf("%s %+v", s.Status, s.Error)
		}
	})

	t.Run("counts differ and one activity runs", func(t *testing.T) {
		rec := &Record{Steps: []*StepRecord{
			{ID: "x", Kind: "rest", Status: StatusRunning, Agent: "zone-a", TaskQueue: qa},
			{ID: "y", Kind: "rest", Status: StatusRunning, Agent: "zone-a", TaskQueue: qa},
		}}
		annotateWaiting(rec, []*workflowpb.PendingActivityInfo{pendingAct("3", "rest", qa, started, 1)}, nil, now)
		for _, s := range rec.Steps {
			if s.Status != StatusRunning {
				t.Errorf("%s: %s; cannot tell which step waits, so none may be marked", s.ID, s.Status)
			}
		}
	})
}
