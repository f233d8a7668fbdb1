package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// SchedulePrefix starts the id of every schedule deploy manages. Deploy
// never looks at, changes or deletes a schedule whose id lacks it.
const SchedulePrefix = "outflow:"

// ScheduleID names the Temporal Schedule of a flow's trigger:
// "outflow:<flow>:<index>", index counting the flow's triggers from 0. The
// id depends on nothing else, so deploying the same project twice finds the
// schedules the first deploy made.
func ScheduleID(flow string, trigger int) string {
	return SchedulePrefix + flow + ":" + strconv.Itoa(trigger)
}

// ParseScheduleID splits an id made by ScheduleID.
func ParseScheduleID(id string) (flow string, trigger int, ok bool) {
	rest, found := strings.CutPrefix(id, SchedulePrefix)
	if !found {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(rest[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return rest[:i], n, true
}

// ScheduledWorkflowID is the start of the workflow ids of a trigger's runs:
// "<flow>-schedule<index>". Temporal appends the time each run was due
// ("-2025-06-01T02:00:00Z"), so runs of one schedule never share an id and
// runs of two triggers of a flow due at the same time do not collide.
func ScheduledWorkflowID(flow string, trigger int) string {
	return fmt.Sprintf("%s-schedule%d", flow, trigger)
}

// OverlapPolicies maps the values of a schedule's overlap: to Temporal's
// overlap policies. The empty value is skip, Temporal's default.
var OverlapPolicies = map[string]enumspb.ScheduleOverlapPolicy{
	"skip":            enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	"buffer_one":      enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE,
	"buffer_all":      enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL,
	"cancel_other":    enumspb.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER,
	"terminate_other": enumspb.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER,
	"allow_all":       enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
}

// ParseOverlap reads an overlap policy name; "" is unspecified (the
// schedule's own policy where one is asked for in passing).
func ParseOverlap(name string) (enumspb.ScheduleOverlapPolicy, error) {
	if name == "" {
		return enumspb.SCHEDULE_OVERLAP_POLICY_UNSPECIFIED, nil
	}
	p, ok := OverlapPolicies[name]
	if !ok {
		names := make([]string, 0, len(OverlapPolicies))
		for n := range OverlapPolicies {
			names = append(names, n)
		}
		sort.Strings(names)
		return 0, fmt.Errorf("unknown overlap policy %q (known: %s)", name, strings.Join(names, ", "))
	}
	return p, nil
}

func overlapName(p enumspb.ScheduleOverlapPolicy) string {
	for n, v := range OverlapPolicies {
		if v == p {
			return n
		}
	}
	return "skip"
}

// MinCatchupWindow is the shortest catch-up window Temporal honours; a
// shorter one is silently raised to it by the server.
const MinCatchupWindow = 10 * time.Second

// memoKey is the memo field of a schedule's workflow action that records
// what deploy made it from. It lives on the action, not on the schedule,
// because Temporal cannot change a schedule's own memo after creation; each
// run the schedule starts carries it too, saying which deploy started it.
const memoKey = "outflow_schedule"

// scheduleMemo is the value of memoKey.
type scheduleMemo struct {
	Project string `json:"project,omitempty"`
	Flow    string `json:"flow"`
	Trigger int    `json:"trigger"`
	When    string `json:"when,omitempty"`
	// Hash is the fingerprint of everything deploy sets except the paused
	// state, so that an unchanged trigger is left alone.
	Hash string `json:"hash"`
	// Paused is what the trigger declared. Deploy changes the paused state
	// of a schedule only when this declaration changes: an operator's
	// `outflow schedules pause` survives deploys of other changes.
	Paused bool `json:"paused,omitempty"`
}

// scheduleVersion changes whenever the way a trigger becomes a schedule
// changes, so that the next deploy updates every schedule.
const scheduleVersion = 1

// Deployment is what Deploy makes the namespace's schedules match.
type Deployment struct {
	// Project names the deploying project. Prune deletes only schedules
	// the same project deployed, so that projects sharing a namespace do
	// not delete each other's schedules.
	Project string
	// Plans are the compiled flows of the project; the schedules are their
	// triggers. A flow without triggers has no schedules (and loses any it
	// had, when pruning).
	Plans []*Plan
	// Prune deletes the project's schedules whose flow or trigger is gone.
	// Without it they are reported as stale and left running.
	Prune bool
	// DryRun reports what Deploy would do and changes nothing.
	DryRun bool
}

// What Deploy did to a schedule.
const (
	ScheduleCreated   = "created"
	ScheduleUpdated   = "updated"
	ScheduleUnchanged = "unchanged"
	ScheduleDeleted   = "deleted"
	// ScheduleStale is a schedule of the project whose trigger is gone,
	// kept because pruning was off.
	ScheduleStale = "stale"
)

// ScheduleChange is what Deploy did (or, in a dry run, would do) to one
// schedule.
type ScheduleChange struct {
	ID      string `json:"id"`
	Flow    string `json:"flow"`
	Trigger int    `json:"trigger"`
	Action  string `json:"action"`
	// When says when the schedule runs, such as "cron 0 2 * * * (Europe/Berlin)".
	When string `json:"when,omitempty"`
	// Paused is the schedule's paused state after the deploy.
	Paused bool `json:"paused,omitempty"`
}

// desiredSchedule is one trigger as deploy wants it in Temporal.
type desiredSchedule struct {
	id      string
	flow    string
	trigger int
	options client.ScheduleOptions
	memo    scheduleMemo
}

// Deploy makes the namespace's schedules match the triggers of d.Plans:
// it creates the missing ones, updates those whose trigger, plan or inputs
// changed, leaves the others alone, and deletes (with Prune) the project's
// schedules whose trigger is gone. It is idempotent: a second Deploy of the
// same plans reports every schedule unchanged. Triggers are checked before
// anything changes.
func (c *Client) Deploy(ctx context.Context, d Deployment) ([]ScheduleChange, error) {
	sa := c.EnsureSearchAttributes(ctx)
	plans := append([]*Plan(nil), d.Plans...)
	sort.Slice(plans, func(i, j int) bool { return plans[i].Name < plans[j].Name })
	var want []desiredSchedule
	var problems []error
	wanted := map[string]bool{}
	for _, p := range plans {
		for i, t := range p.Triggers {
			if t.Schedule == nil {
				continue
			}
			ds, err := c.desired(p, i, t.Schedule, d.Project, sa)
			if err != nil {
				problems = append(problems, fmt.Errorf("flow %q, triggers[%d]: %w", p.Name, i, err))
				continue
			}
			want = append(want, ds)
			wanted[ds.id] = true
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("deploying schedules: %w", errors.Join(problems...))
	}

	sc := c.Temporal.ScheduleClient()
	var changes []ScheduleChange
	for _, ds := range want {
		ch, err := c.apply(ctx, sc, ds, d.DryRun)
		if err != nil {
			return changes, err
		}
		changes = append(changes, ch)
	}

	gone, err := c.goneSchedules(ctx, sc, plans, wanted, d.Project)
	if err != nil {
		return changes, err
	}
	for _, g := range gone {
		ch := ScheduleChange{ID: g.id, Flow: g.memo.Flow, Trigger: g.memo.Trigger, When: g.memo.When, Action: ScheduleStale}
		if d.Prune {
			ch.Action = ScheduleDeleted
			if !d.DryRun {
				if err := sc.GetHandle(ctx, g.id).Delete(ctx); err != nil && !isNotFound(err) {
					return changes, fmt.Errorf("deleting schedule %s: %w", g.id, err)
				}
			}
		}
		changes = append(changes, ch)
	}
	return changes, nil
}

// desired turns trigger i of a plan into the schedule deploy wants.
func (c *Client) desired(p *Plan, i int, s *Schedule, project string, sa bool) (desiredSchedule, error) {
	ds := desiredSchedule{id: ScheduleID(p.Name, i), flow: p.Name, trigger: i}
	spec, err := scheduleSpec(s)
	if err != nil {
		return ds, err
	}
	overlap, err := ParseOverlap(s.Overlap)
	if err != nil {
		return ds, err
	}
	if s.CatchupWindow != 0 && s.CatchupWindow.D() < MinCatchupWindow {
		return ds, fmt.Errorf("catchup_window %s is shorter than Temporal's minimum of %s", s.CatchupWindow.D(), MinCatchupWindow)
	}
	inputs := map[string]any{}
	for _, b := range s.Inputs {
		inputs[b.Name] = b.Value
	}
	// The run needs the flow, not its triggers; leaving them out keeps a
	// change to one trigger from updating the schedules of the others.
	plan := *p
	plan.Triggers = nil
	queue := c.TaskQueue
	if queue == "" {
		queue = p.Settings.DefaultTaskQueue
	}
	if queue == "" {
		queue = DefaultTaskQueue
	}
	in := RunInput{Plan: &plan, Inputs: inputs, SearchAttributes: sa, CheckCertificates: true}
	wfID := ScheduledWorkflowID(p.Name, i)

	declared := *s
	declared.Paused = false
	hash, err := fingerprint(struct {
		Version   int       `json:"version"`
		Project   string    `json:"project"`
		Schedule  *Schedule `json:"schedule"`
		Run       RunInput  `json:"run"`
		TaskQueue string    `json:"task_queue"`
		ID        string    `json:"workflow_id"`
	}{scheduleVersion, project, &declared, in, queue, wfID})
	if err != nil {
		return ds, err
	}
	ds.memo = scheduleMemo{Project: project, Flow: p.Name, Trigger: i, When: describeWhen(s), Hash: hash, Paused: s.Paused}
	action := &client.ScheduleWorkflowAction{
		ID:        wfID,
		Workflow:  WorkflowName,
		Args:      []any{in},
		TaskQueue: queue,
		Memo:      map[string]any{memoKey: ds.memo},
	}
	if sa {
		action.TypedSearchAttributes = temporal.NewSearchAttributes(
			SearchAttrFlow.ValueSet(p.Name), SearchAttrStatus.ValueSet(StatusRunning))
	}
	ds.options = client.ScheduleOptions{
		ID:             ds.id,
		Spec:           spec,
		Action:         action,
		Overlap:        overlap,
		CatchupWindow:  s.CatchupWindow.D(),
		PauseOnFailure: s.PauseOnFailure,
		Paused:         s.Paused,
		Note:           deployNote(project, s.Paused),
	}
	return ds, nil
}

func scheduleSpec(s *Schedule) (client.ScheduleSpec, error) {
	spec := client.ScheduleSpec{TimeZoneName: s.Timezone, Jitter: s.Jitter.D()}
	switch {
	case s.Cron != "" && s.Every != 0:
		return spec, errors.New("a schedule takes cron or every, not both")
	case s.Cron != "":
		spec.CronExpressions = []string{s.Cron}
	case s.Every > 0:
		spec.Intervals = []client.ScheduleIntervalSpec{{Every: s.Every.D()}}
	default:
		return spec, errors.New("a schedule needs cron or every")
	}
	if s.Jitter < 0 {
		return spec, errors.New("jitter must not be negative")
	}
	return spec, nil
}

func deployNote(project string, paused bool) string {
	note := "deployed by outflow"
	if project != "" {
		note += " from project " + project
	}
	if paused {
		note += "; paused: true in the trigger"
	}
	return note
}

// fingerprint hashes v's JSON. encoding/json writes map keys sorted, so
// equal values hash equal.
func fingerprint(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("hashing schedule: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

// apply creates or updates one schedule, or leaves it alone.
func (c *Client) apply(ctx context.Context, sc client.ScheduleClient, ds desiredSchedule, dryRun bool) (ScheduleChange, error) {
	ch := ScheduleChange{ID: ds.id, Flow: ds.flow, Trigger: ds.trigger, When: ds.memo.When}
	h := sc.GetHandle(ctx, ds.id)
	desc, err := h.Describe(ctx)
	switch {
	case isNotFound(err):
		ch.Action, ch.Paused = ScheduleCreated, ds.memo.Paused
		if dryRun {
			return ch, nil
		}
		if _, err := sc.Create(ctx, ds.options); err != nil {
			return ch, fmt.Errorf("creating schedule %s: %w", ds.id, err)
		}
		return ch, nil
	case err != nil:
		return ch, fmt.Errorf("describing schedule %s: %w", ds.id, err)
	}
	paused := desc.Schedule.State != nil && desc.Schedule.State.Paused
	old, hasMemo := actionMemo(desc)
	if hasMemo && old.Hash == ds.memo.Hash && old.Paused == ds.memo.Paused {
		ch.Action, ch.Paused = ScheduleUnchanged, paused
		return ch, nil
	}
	// A changed paused: in the trigger is applied; otherwise the state an
	// operator set stays.
	repause := !hasMemo || old.Paused != ds.memo.Paused
	if repause {
		paused = ds.memo.Paused
	}
	ch.Action, ch.Paused = ScheduleUpdated, paused
	if dryRun {
		return ch, nil
	}
	o := ds.options
	err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		s := in.Description.Schedule
		spec := o.Spec
		s.Spec = &spec
		s.Action = o.Action
		s.Policy = &client.SchedulePolicies{Overlap: o.Overlap, CatchupWindow: o.CatchupWindow, PauseOnFailure: o.PauseOnFailure}
		var state client.ScheduleState
		if s.State != nil {
			state = *s.State
		}
		if repause {
			state.Paused = ds.memo.Paused
			state.Note = o.Note
		}
		s.State = &state
		return &client.ScheduleUpdate{Schedule: &s}, nil
	}})
	if err != nil {
		return ch, fmt.Errorf("updating schedule %s: %w", ds.id, err)
	}
	return ch, nil
}

type foundSchedule struct {
	id   string
	memo scheduleMemo
}

// goneSchedules finds the project's schedules that no trigger wants any
// more. The triggers past the last one of each flow are looked up by id,
// which sees a schedule created a moment ago; removed flows are found by
// listing, which Temporal's visibility store may show a moment late.
func (c *Client) goneSchedules(ctx context.Context, sc client.ScheduleClient, plans []*Plan, wanted map[string]bool, project string) ([]foundSchedule, error) {
	candidates := map[string]bool{}
	for _, p := range plans {
		for i := len(p.Triggers); ; i++ {
			id := ScheduleID(p.Name, i)
			_, err := sc.GetHandle(ctx, id).Describe(ctx)
			if isNotFound(err) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("describing schedule %s: %w", id, err)
			}
			candidates[id] = true
		}
	}
	ids, err := c.listScheduleIDs(ctx, sc)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		candidates[id] = true
	}
	var out []foundSchedule
	for id := range candidates {
		if wanted[id] {
			continue
		}
		desc, err := sc.GetHandle(ctx, id).Describe(ctx)
		if isNotFound(err) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, fmt.Errorf("describing schedule %s: %w", id, err)
		}
		m, ok := actionMemo(desc)
		if !ok || m.Project != project {
			continue
		}
		out = append(out, foundSchedule{id: id, memo: m})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out, nil
}

// listScheduleIDs lists the ids of the namespace's schedules that start
// with SchedulePrefix.
func (c *Client) listScheduleIDs(ctx context.Context, sc client.ScheduleClient) ([]string, error) {
	it, err := sc.List(ctx, client.ScheduleListOptions{PageSize: 1000})
	if err != nil {
		return nil, fmt.Errorf("listing schedules: %w", err)
	}
	var ids []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("listing schedules: %w", err)
		}
		if strings.HasPrefix(e.ID, SchedulePrefix) {
			ids = append(ids, e.ID)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// actionMemo reads what deploy recorded on a schedule's workflow action.
func actionMemo(desc *client.ScheduleDescription) (scheduleMemo, bool) {
	var m scheduleMemo
	a, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok {
		return m, false
	}
	p, ok := a.Memo[memoKey].(*commonpb.Payload)
	if !ok {
		return m, false
	}
	if err := converter.GetDefaultDataConverter().FromPayload(p, &m); err != nil {
		return m, false
	}
	return m, true
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return err != nil && errors.As(err, &nf)
}

// describeWhen says in words when a schedule runs.
func describeWhen(s *Schedule) string {
	var w string
	switch {
	case s.Cron != "":
		w = "cron " + s.Cron
	case s.Every != 0:
		w = "every " + shortDuration(s.Every.D())
	}
	if s.Timezone != "" {
		w += " (" + s.Timezone + ")"
	}
	if s.Jitter != 0 {
		w += ", jitter " + shortDuration(s.Jitter.D())
	}
	return w
}

// shortDuration writes 1h instead of 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ScheduleInfo describes one schedule for `outflow schedules list`.
type ScheduleInfo struct {
	ID      string `json:"id"`
	Flow    string `json:"flow,omitempty"`
	Trigger int    `json:"trigger"`
	Project string `json:"project,omitempty"`
	When    string `json:"when,omitempty"`
	Overlap string `json:"overlap"`
	Paused  bool   `json:"paused"`
	// Note is the schedule's note: why it was paused, and by whom.
	Note string `json:"note,omitempty"`
	// Actions counts the runs the schedule started, by the clock, trigger
	// or backfill.
	Actions int        `json:"actions"`
	Running []string   `json:"running,omitempty"`
	Next    *time.Time `json:"next,omitempty"`
	// Last is when the latest run started, and LastWorkflowID its id.
	Last           *time.Time `json:"last,omitempty"`
	LastWorkflowID string     `json:"last_workflow_id,omitempty"`
	// LastRetry is the latest retry of the schedule's runs: started by an
	// operator, not by the schedule (schedule_retry.go).
	LastRetry *RetryInfo `json:"last_retry,omitempty"`
}

// DescribeSchedule describes one schedule by id, with the latest retry of
// its runs.
func (c *Client) DescribeSchedule(ctx context.Context, id string) (*ScheduleInfo, error) {
	info, err := c.describeSchedule(ctx, id)
	if err != nil {
		return nil, err
	}
	infos := []ScheduleInfo{*info}
	c.addLatestRetries(ctx, infos)
	return &infos[0], nil
}

func (c *Client) describeSchedule(ctx context.Context, id string) (*ScheduleInfo, error) {
	desc, err := c.Temporal.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("no schedule %q in namespace %q: %w", id, c.Namespace, err)
		}
		return nil, fmt.Errorf("describing schedule %s: %w", id, err)
	}
	return scheduleInfo(id, desc), nil
}

func scheduleInfo(id string, desc *client.ScheduleDescription) *ScheduleInfo {
	info := &ScheduleInfo{ID: id, Actions: desc.Info.NumActions}
	if flow, n, ok := ParseScheduleID(id); ok {
		info.Flow, info.Trigger = flow, n
	}
	if m, ok := actionMemo(desc); ok {
		info.Flow, info.Trigger, info.Project, info.When = m.Flow, m.Trigger, m.Project, m.When
	}
	if st := desc.Schedule.State; st != nil {
		info.Paused, info.Note = st.Paused, st.Note
	}
	info.Overlap = "skip"
	if pol := desc.Schedule.Policy; pol != nil {
		info.Overlap = overlapName(pol.Overlap)
	}
	for _, r := range desc.Info.RunningWorkflows {
		info.Running = append(info.Running, r.WorkflowID)
	}
	// Temporal goes on computing the times a paused schedule would run; it
	// runs at none of them until it is unpaused.
	if len(desc.Info.NextActionTimes) > 0 && !info.Paused {
		t := desc.Info.NextActionTimes[0]
		info.Next = &t
	}
	if n := len(desc.Info.RecentActions); n > 0 {
		last := desc.Info.RecentActions[n-1]
		t := last.ActualTime
		info.Last = &t
		if last.StartWorkflowResult != nil {
			info.LastWorkflowID = last.StartWorkflowResult.WorkflowID
		}
	}
	return info
}

// Schedules describes the namespace's Outflow schedules (ids starting with
// SchedulePrefix), of one flow when flow is not empty, sorted by id.
// Listing goes through Temporal's visibility store, which may show a
// schedule created or deleted a moment ago a moment late.
func (c *Client) Schedules(ctx context.Context, flow string) ([]ScheduleInfo, error) {
	ids, err := c.listScheduleIDs(ctx, c.Temporal.ScheduleClient())
	if err != nil {
		return nil, err
	}
	out := []ScheduleInfo{}
	for _, id := range ids {
		if f, _, ok := ParseScheduleID(id); flow != "" && (!ok || f != flow) {
			continue
		}
		info, err := c.describeSchedule(ctx, id)
		if isNotFound(err) {
			continue // deleted since it was listed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *info)
	}
	// One visibility query for the latest retries of all of them.
	c.addLatestRetries(ctx, out)
	return out, nil
}

// ResolveSchedules turns what a person typed into schedule ids: an id
// (anything with a colon) as it is, or a flow name into the ids of its
// triggers' schedules, looked up by id so that a schedule just deployed is
// found.
func (c *Client) ResolveSchedules(ctx context.Context, ref string) ([]string, error) {
	if strings.Contains(ref, ":") {
		return []string{ref}, nil
	}
	sc := c.Temporal.ScheduleClient()
	var ids []string
	for i := 0; ; i++ {
		id := ScheduleID(ref, i)
		_, err := sc.GetHandle(ctx, id).Describe(ctx)
		if isNotFound(err) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("describing schedule %s: %w", id, err)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("flow %q has no schedules in namespace %q (deploy them with `outflow deploy`)", ref, c.Namespace)
	}
	return ids, nil
}

// PauseSchedule stops a schedule from starting runs until it is unpaused.
// The note says why; it shows in `outflow schedules list`.
func (c *Client) PauseSchedule(ctx context.Context, id, note string) error {
	if note == "" {
		note = "paused with outflow schedules pause"
	}
	if err := c.Temporal.ScheduleClient().GetHandle(ctx, id).Pause(ctx, client.SchedulePauseOptions{Note: note}); err != nil {
		return fmt.Errorf("pausing schedule %s: %w", id, err)
	}
	return nil
}

// UnpauseSchedule lets a paused schedule start runs again. Runs missed
// while paused are not started.
func (c *Client) UnpauseSchedule(ctx context.Context, id, note string) error {
	if note == "" {
		note = "unpaused with outflow schedules unpause"
	}
	if err := c.Temporal.ScheduleClient().GetHandle(ctx, id).Unpause(ctx, client.ScheduleUnpauseOptions{Note: note}); err != nil {
		return fmt.Errorf("unpausing schedule %s: %w", id, err)
	}
	return nil
}

// TriggerSchedule starts a run of a schedule now, paused or not. overlap
// overrides the schedule's policy for this run; "" keeps it, so a trigger
// while a run is going on is skipped under the default policy.
func (c *Client) TriggerSchedule(ctx context.Context, id, overlap string) error {
	p, err := ParseOverlap(overlap)
	if err != nil {
		return err
	}
	if err := c.Temporal.ScheduleClient().GetHandle(ctx, id).Trigger(ctx, client.ScheduleTriggerOptions{Overlap: p}); err != nil {
		return fmt.Errorf("triggering schedule %s: %w", id, err)
	}
	return nil
}

// BackfillSchedule starts, now, the runs a schedule would have started
// between start and end, as if that time passed again. overlap says how
// they share the time: buffer_all (one after another) when empty, since the
// schedule's usual skip would start only the first of them.
func (c *Client) BackfillSchedule(ctx context.Context, id string, start, end time.Time, overlap string) error {
	if !start.Before(end) {
		return fmt.Errorf("backfilling schedule %s: start %s is not before end %s", id, start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	if overlap == "" {
		overlap = "buffer_all"
	}
	p, err := ParseOverlap(overlap)
	if err != nil {
		return err
	}
	err = c.Temporal.ScheduleClient().GetHandle(ctx, id).Backfill(ctx, client.ScheduleBackfillOptions{
		Backfill: []client.ScheduleBackfill{{Start: start, End: end, Overlap: p}},
	})
	if err != nil {
		return fmt.Errorf("backfilling schedule %s: %w", id, err)
	}
	return nil
}
