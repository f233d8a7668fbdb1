package engine

import (
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

func TestScheduleIDRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		flow    string
		trigger int
	}{{"nightly-sync", 0}, {"a.b_c", 12}} {
		id := ScheduleID(tc.flow, tc.trigger)
		flow, n, ok := ParseScheduleID(id)
		if !ok || flow != tc.flow || n != tc.trigger {
			t.Errorf("ParseScheduleID(%q) = %q, %d, %v", id, flow, n, ok)
		}
	}
	for _, id := range []string{"nightly:0", "outflow:", "outflow:x", "outflow::1", "outflow:x:-1", "outflow:x:y"} {
		if _, _, ok := ParseScheduleID(id); ok {
			t.Errorf("ParseScheduleID(%q) accepted it", id)
		}
	}
}

func schedulePlan(triggers ...*Schedule) *Plan {
	p := &Plan{
		Name: "sync", Kind: "Flow", ProjectRoot: "/p",
		Inputs: []InputSpec{{Name: "n", Type: "integer"}},
		Steps:  []Step{restStep("get", "/x")},
	}
	for _, s := range triggers {
		p.Triggers = append(p.Triggers, Trigger{Schedule: s})
	}
	return p
}

func TestDesiredSchedule(t *testing.T) {
	c := &Client{}
	s := &Schedule{Cron: "0 2 * * *", Timezone: "Europe/Berlin", Jitter: Duration(5 * time.Minute),
		Overlap: "allow_all", CatchupWindow: Duration(time.Hour), PauseOnFailure: true, Paused: true,
		Inputs: []Binding{{Name: "n", Value: 3}}}
	p := schedulePlan(s, &Schedule{Every: Duration(time.Hour)})
	ds, err := c.desired(p, 0, s, "proj", true)
	if err != nil {
		t.Fatal(err)
	}
	o := ds.options
	if o.ID != "outflow:sync:0" || !o.Paused || !o.PauseOnFailure || o.CatchupWindow != time.Hour ||
		o.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL {
		t.Errorf("options = %+v", o)
	}
	if got := o.Spec; len(got.CronExpressions) != 1 || got.CronExpressions[0] != "0 2 * * *" ||
		got.TimeZoneName != "Europe/Berlin" || got.Jitter != 5*time.Minute || len(got.Intervals) != 0 {
		t.Errorf("spec = %+v", got)
	}
	a := o.Action.(*client.ScheduleWorkflowAction)
	if a.Workflow != WorkflowName || a.TaskQueue != DefaultTaskQueue || a.ID != "sync-schedule0" {
		t.Errorf("action = %+v", a)
	}
	in := a.Args[0].(RunInput)
	if !in.CheckCertificates || !in.SearchAttributes || in.Inputs["n"] != 3 || in.Plan.Triggers != nil || in.Plan.Name != "sync" {
		t.Errorf("run input = %+v", in)
	}
	if p.Triggers == nil {
		t.Error("desired changed the plan it was given")
	}
	if m := a.Memo[memoKey].(scheduleMemo); m.Hash == "" || !m.Paused || m.Project != "proj" || m.When != "cron 0 2 * * * (Europe/Berlin), jitter 5m" {
		t.Errorf("memo = %+v", m)
	}
	if a.TypedSearchAttributes.Size() != 2 {
		t.Errorf("search attributes: %d, want 2", a.TypedSearchAttributes.Size())
	}

	every, err := c.desired(p, 1, p.Triggers[1].Schedule, "proj", false)
	if err != nil {
		t.Fatal(err)
	}
	if iv := every.options.Spec.Intervals; len(iv) != 1 || iv[0].Every != time.Hour || every.memo.When != "every 1h" {
		t.Errorf("interval spec = %+v, when %q", iv, every.memo.When)
	}
	if every.options.Action.(*client.ScheduleWorkflowAction).TypedSearchAttributes.Size() != 0 {
		t.Error("search attributes set although the namespace lacks them")
	}

	p.Settings.DefaultTaskQueue = "project-queue"
	q, _ := c.desired(p, 0, s, "proj", true)
	if got := q.options.Action.(*client.ScheduleWorkflowAction).TaskQueue; got != "project-queue" {
		t.Errorf("task queue = %q, want the project's", got)
	}
}

// TestScheduleHash checks what makes deploy update a schedule: the trigger,
// the flow and the inputs, not the paused state or the other triggers.
func TestScheduleHash(t *testing.T) {
	c := &Client{}
	hash := func(p *Plan, i int) string {
		t.Helper()
		ds, err := c.desired(p, i, p.Triggers[i].Schedule, "proj", true)
		if err != nil {
			t.Fatal(err)
		}
		return ds.memo.Hash
	}
	base := func() *Plan {
		return schedulePlan(&Schedule{Cron: "0 2 * * *", Inputs: []Binding{{Name: "n", Value: 1}}}, &Schedule{Every: Duration(time.Hour)})
	}
	h0 := hash(base(), 0)
	if h0 != hash(base(), 0) {
		t.Fatal("the same plan hashes differently")
	}
	for name, change := range map[string]func(p *Plan){
		"cron":     func(p *Plan) { p.Triggers[0].Schedule.Cron = "0 3 * * *" },
		"timezone": func(p *Plan) { p.Triggers[0].Schedule.Timezone = "UTC" },
		"overlap":  func(p *Plan) { p.Triggers[0].Schedule.Overlap = "buffer_one" },
		"inputs":   func(p *Plan) { p.Triggers[0].Schedule.Inputs[0].Value = 2 },
		"steps":    func(p *Plan) { p.Steps[0].Rest.Path = "/y" },
		"root":     func(p *Plan) { p.ProjectRoot = "/q" },
	} {
		p := base()
		change(p)
		if hash(p, 0) == h0 {
			t.Errorf("changing %s leaves the hash as it was", name)
		}
	}
	for name, change := range map[string]func(p *Plan){
		"paused":        func(p *Plan) { p.Triggers[0].Schedule.Paused = true },
		"other trigger": func(p *Plan) { p.Triggers[1].Schedule.Every = Duration(2 * time.Hour) },
	} {
		p := base()
		change(p)
		if hash(p, 0) != h0 {
			t.Errorf("changing %s changes the hash", name)
		}
	}
}

func TestDesiredScheduleErrors(t *testing.T) {
	c := &Client{}
	for _, tc := range []struct {
		s    Schedule
		want string
	}{
		{Schedule{}, "needs cron or every"},
		{Schedule{Cron: "@daily", Every: Duration(time.Hour)}, "not both"},
		{Schedule{Every: Duration(time.Hour), Overlap: "sometimes"}, `unknown overlap policy "sometimes" (known: allow_all, buffer_all`},
		{Schedule{Every: Duration(time.Hour), CatchupWindow: Duration(time.Second)}, "shorter than Temporal's minimum of 10s"},
	} {
		s := tc.s
		_, err := c.desired(schedulePlan(&s), 0, &s, "", false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want it to contain %q", tc.s, err, tc.want)
		}
	}
}

func TestDescribeWhen(t *testing.T) {
	for _, tc := range []struct {
		s    Schedule
		want string
	}{
		{Schedule{Cron: "@hourly"}, "cron @hourly"},
		{Schedule{Every: Duration(90 * time.Minute)}, "every 1h30m"},
		{Schedule{Every: Duration(15 * time.Minute), Timezone: "UTC"}, "every 15m (UTC)"},
		{Schedule{Every: Duration(45 * time.Second)}, "every 45s"},
	} {
		if got := describeWhen(&tc.s); got != tc.want {
			t.Errorf("describeWhen(%+v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

// A paused schedule has no next run, though Temporal goes on computing the
// times it would run.
func TestPausedScheduleHasNoNextRun(t *testing.T) {
	next := time.Date(2026, 6, 2, 2, 0, 0, 0, time.UTC)
	desc := func(paused bool) *client.ScheduleDescription {
		return &client.ScheduleDescription{
			Schedule: client.Schedule{State: &client.ScheduleState{Paused: paused, Note: "partner maintenance"}},
			Info:     client.ScheduleInfo{NextActionTimes: []time.Time{next}},
		}
	}
	if info := scheduleInfo("outflow:poll:0", desc(true)); info.Next != nil || !info.Paused {
		t.Errorf("paused: %+v", info)
	}
	if info := scheduleInfo("outflow:poll:0", desc(false)); info.Next == nil || !info.Next.Equal(next) {
		t.Errorf("active: %+v", info)
	}
}
