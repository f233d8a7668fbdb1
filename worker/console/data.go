package console

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/outflow-dev/outflow/engine"
)

// statusFilter is one choice of the list's status filter: what it means
// as a visibility query.
type statusFilter struct {
	Name  string
	Query string
}

// statusFilters are the statuses the list filters by, in the order the
// filter offers them. Running, succeeded and failed are Temporal's own
// statuses, which stay right when a run was terminated mid-step; held is
// Outflow's (an execution waiting for an operator).
var statusFilters = []statusFilter{
	{"running", "ExecutionStatus = 'Running'"},
	{"held", "OutflowStatus = 'held'"},
	{"succeeded", "ExecutionStatus = 'Completed'"},
	{"failed", "ExecutionStatus = 'Failed'"},
	{"canceled", "ExecutionStatus = 'Canceled'"},
	{"terminated", "ExecutionStatus = 'Terminated'"},
	{"timed_out", "ExecutionStatus = 'TimedOut'"},
}

// listQuery is what the list's filters ask for.
type listQuery struct {
	Flow, Status, Text string
	Since              string // 15m, 1h, 24h, 7d or ""
	From, To           string // datetime-local values, the browser's time zone
	TZ                 int    // the browser's offset from UTC, in minutes east
	Page               string // Temporal's next-page token, base64
}

// sinceChoices are the quick time ranges.
var sinceChoices = []struct{ Value, Label string }{
	{"", "any time"}, {"15m", "last 15 minutes"}, {"1h", "last hour"}, {"24h", "last 24 hours"}, {"7d", "last 7 days"}, {"30d", "last 30 days"},
}

// safeText is what a flow name or a search text may hold: it goes into a
// visibility query, so quotes and backslashes are refused, not escaped.
var safeText = regexp.MustCompile(`^[A-Za-z0-9._:@/\-\[\] ]{0,200}$`)

// visibility turns the filters into a visibility query.
func (q listQuery) visibility(now time.Time) (string, error) {
	parts := []string{fmt.Sprintf("WorkflowType = '%s'", engine.WorkflowName)}
	if q.Flow != "" {
		if !safeText.MatchString(q.Flow) {
			return "", fmt.Errorf("the flow filter may hold letters, digits and . _ : @ / - only")
		}
		parts = append(parts, fmt.Sprintf("OutflowFlow = '%s'", q.Flow))
	}
	if q.Status != "" {
		found := false
		for _, s := range statusFilters {
			if s.Name == q.Status {
				parts, found = append(parts, s.Query), true
			}
		}
		if !found {
			return "", fmt.Errorf("unknown status %q", q.Status)
		}
	}
	if t := strings.TrimSpace(q.Text); t != "" {
		if !safeText.MatchString(t) {
			return "", fmt.Errorf("the search text may hold letters, digits, spaces and . _ : @ / - [ ] only")
		}
		parts = append(parts, fmt.Sprintf("(WorkflowId STARTS_WITH '%s' OR OutflowFlow STARTS_WITH '%s')", t, t))
	}
	if q.Since != "" {
		d, err := parseSince(q.Since)
		if err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("StartTime > '%s'", now.Add(-d).UTC().Format(time.RFC3339)))
	}
	loc := time.FixedZone("browser", q.TZ*60)
	for _, b := range []struct{ v, op, name string }{{q.From, ">=", "from"}, {q.To, "<=", "to"}} {
		if b.v == "" {
			continue
		}
		t, err := time.ParseInLocation("2006-01-02T15:04", b.v, loc)
		if err != nil {
			return "", fmt.Errorf("the %q time %q: want YYYY-MM-DDTHH:MM", b.name, b.v)
		}
		parts = append(parts, fmt.Sprintf("StartTime %s '%s'", b.op, t.UTC().Format(time.RFC3339)))
	}
	return strings.Join(parts, " AND "), nil
}

func parseSince(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") {
		var n int
		if _, err := fmt.Sscanf(s, "%dd", &n); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("unknown time range %q", s)
	}
	return d, nil
}

// row is one execution in the list.
type row struct {
	ID, RunID, Flow, Status string
	Start                   time.Time
	Duration                string
	FailedStep              string
	FailedError             string
}

// listPage is one page of the list.
type listPage struct {
	Rows []row
	Next string // token of the next page, "" at the end
}

// list reads one page of executions from Temporal's visibility store, and
// for the failed ones the step that failed (from their records, cached).
func (c *Console) list(ctx context.Context, q listQuery) (*listPage, error) {
	query, err := q.visibility(c.o.Now())
	if err != nil {
		return nil, err
	}
	var token []byte
	if q.Page != "" {
		if token, err = base64.RawURLEncoding.DecodeString(q.Page); err != nil {
			return nil, errors.New("the page token is damaged; start from the first page")
		}
	}
	resp, err := c.o.Client.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: c.o.Client.Namespace, Query: query, PageSize: int32(c.o.PageSize), NextPageToken: token,
	})
	if err != nil {
		return nil, fmt.Errorf("listing executions: %w", err)
	}
	page := &listPage{}
	if len(resp.NextPageToken) > 0 {
		page.Next = base64.RawURLEncoding.EncodeToString(resp.NextPageToken)
	}
	now := c.o.Now()
	for _, e := range resp.Executions {
		page.Rows = append(page.Rows, c.row(e, now))
	}
	c.fillFailedSteps(ctx, page.Rows)
	return page, nil
}

func (c *Console) row(e *workflowpb.WorkflowExecutionInfo, now time.Time) row {
	r := row{ID: e.GetExecution().GetWorkflowId(), RunID: e.GetExecution().GetRunId(), Start: e.GetStartTime().AsTime()}
	fields := e.GetSearchAttributes().GetIndexedFields()
	r.Flow = keyword(fields["OutflowFlow"])
	r.Status = statusOf(e.GetStatus(), keyword(fields["OutflowStatus"]))
	end := now
	if ct := e.GetCloseTime(); ct != nil && ct.IsValid() && ct.AsTime().Unix() > 0 {
		end = ct.AsTime()
	}
	r.Duration = shortDuration(end.Sub(r.Start))
	return r
}

// statusOf names an execution's status: Temporal's when it has ended
// otherwise than by the flow's own end (canceled, terminated), Outflow's
// while it runs (running or held).
func statusOf(st enumspb.WorkflowExecutionStatus, outflow string) string {
	switch st {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		if outflow == "held" {
			return "held"
		}
		return engine.StatusRunning
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return engine.StatusSucceeded
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return engine.StatusFailed
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "canceled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "timed_out"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return "continued"
	}
	return strings.ToLower(strings.TrimPrefix(st.String(), "WORKFLOW_EXECUTION_STATUS_"))
}

func keyword(p *commonpb.Payload) string {
	if p == nil {
		return ""
	}
	s := strings.Trim(string(p.GetData()), `"`)
	return s
}

// fillFailedSteps finds the failed step of each failed row, reading the
// records of up to 8 at once; a record that cannot be read leaves it blank.
func (c *Console) fillFailedSteps(ctx context.Context, rows []row) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range rows {
		if rows[i].Status != engine.StatusFailed {
			continue
		}
		wg.Add(1)
		go func(r *row) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			rec, err := c.closedRecord(ctx, r.ID, r.RunID)
			if err != nil {
				return
			}
			if canceledRecord(rec) {
				r.Status = "canceled"
			}
			if s := failedStep(rec); s != nil {
				r.FailedStep = s.ID
				if s.Error != nil {
					r.FailedError = s.Error.Message
				}
			} else if rec.Error != nil {
				r.FailedError = rec.Error.Message
			}
		}(&rows[i])
	}
	wg.Wait()
}

// closedRecord is the record of an execution that has ended, from its
// result (cached: it never changes), or by a query when the result holds
// none (a canceled or terminated run; a worker replays it).
func (c *Console) closedRecord(ctx context.Context, id, runID string) (*engine.Record, error) {
	if rec := c.records.get(runID); rec != nil {
		return rec, nil
	}
	rec, err := c.o.Client.Result(ctx, id, runID)
	if rec == nil {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var qerr error
		if rec, qerr = c.o.Client.Query(qctx, id, runID); qerr != nil {
			if err == nil {
				err = qerr
			}
			return nil, fmt.Errorf("reading the record of %s: %w", id, err)
		}
	}
	if runID != "" {
		c.records.put(runID, rec)
	}
	return rec, nil
}

// execution is what an execution page shows.
type execution struct {
	ID, RunID     string
	Status        string
	Running       bool
	Start         time.Time
	End           *time.Time
	Summary       string
	Parent        string
	Children      []string
	Record        *engine.Record
	RecordErr     string
	Closed        *closeInfo
	FirstRunID    string
	ContinuedFrom string
	// RetriedBy are the executions that retry this one (ops_recover.go).
	RetriedBy []string
}

// closeInfo says who ended an execution that did not end by itself.
type closeInfo struct {
	What, Identity, Reason string
}

// describe reads an execution: its status from Temporal, its record from
// the live query (running) or its result (ended).
func (c *Console) describe(ctx context.Context, id, runID string, full bool) (*execution, error) {
	desc, err := c.o.Client.Temporal.DescribeWorkflowExecution(ctx, id, runID)
	if err != nil {
		return nil, fmt.Errorf("describing execution %q: %w", id, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	ex := &execution{
		ID: id, RunID: info.GetExecution().GetRunId(), Start: info.GetStartTime().AsTime(),
		Status:     statusOf(info.GetStatus(), keyword(info.GetSearchAttributes().GetIndexedFields()["OutflowStatus"])),
		FirstRunID: info.GetFirstRunId(),
	}
	ex.Running = info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	if ct := info.GetCloseTime(); ct != nil && ct.IsValid() && ct.AsTime().Unix() > 0 {
		t := ct.AsTime()
		ex.End = &t
	}
	if p := info.GetParentExecution(); p != nil && p.GetWorkflowId() != "" {
		ex.Parent = p.GetWorkflowId()
	}
	for _, ch := range desc.GetPendingChildren() {
		ex.Children = append(ex.Children, ch.GetWorkflowId())
	}
	if s := desc.GetExecutionConfig().GetUserMetadata().GetSummary(); s != nil && c.o.Client.DataConverter != nil {
		_ = c.o.Client.DataConverter.FromPayload(s, &ex.Summary)
	} else if s != nil {
		ex.Summary = keyword(s)
	}
	var rec *engine.Record
	switch {
	case ex.Running && full:
		rec, err = c.o.Client.Show(ctx, id)
	case ex.Running:
		rec, err = c.o.Client.Progress(ctx, id, ex.RunID)
	default:
		rec, err = c.closedRecord(ctx, id, ex.RunID)
	}
	if rec != nil {
		ex.Record = rec
	} else if err != nil {
		ex.RecordErr = err.Error()
	}
	if ex.Status == engine.StatusFailed && canceledRecord(ex.Record) {
		ex.Status = "canceled"
	}
	if !ex.Running && (ex.Status == "terminated" || ex.Status == "canceled") {
		ex.Closed = c.closeInfo(ctx, id, ex.RunID, ex.Status)
	}
	if full && !ex.Running {
		ex.RetriedBy = c.o.Client.RetriedBy(ctx, id)
	}
	return ex, nil
}

// canceledRecord says a flow ended because it was canceled: the workflow
// fails with the record, whose error says Canceled.
func canceledRecord(rec *engine.Record) bool {
	return rec != nil && rec.Error != nil && rec.Error.Type == "Canceled"
}

// closeInfo finds, in the last events of the history, who terminated or
// canceled the execution and why.
func (c *Console) closeInfo(ctx context.Context, id, runID, status string) *closeInfo {
	resp, err := c.o.Client.Temporal.WorkflowService().GetWorkflowExecutionHistoryReverse(ctx, &workflowservice.GetWorkflowExecutionHistoryReverseRequest{
		Namespace: c.o.Client.Namespace, Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: runID}, MaximumPageSize: 100,
	})
	if err != nil {
		return nil
	}
	for _, ev := range resp.GetHistory().GetEvents() {
		if a := ev.GetWorkflowExecutionTerminatedEventAttributes(); a != nil {
			return &closeInfo{What: "terminated", Identity: a.GetIdentity(), Reason: a.GetReason()}
		}
		if a := ev.GetWorkflowExecutionCancelRequestedEventAttributes(); a != nil {
			return &closeInfo{What: "canceled", Identity: a.GetIdentity(), Reason: a.GetCause()}
		}
	}
	_ = status
	return nil
}

// recordCache keeps the records of ended executions, which never change,
// so that paging through the list and clicking steps reads each once.
type recordCache struct {
	mu    sync.Mutex
	max   int
	m     map[string]*engine.Record
	order []string
}

func newRecordCache(max int) *recordCache {
	return &recordCache{max: max, m: map[string]*engine.Record{}}
}

func (rc *recordCache) get(runID string) *engine.Record {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.m[runID]
}

func (rc *recordCache) put(runID string, rec *engine.Record) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if _, ok := rc.m[runID]; ok {
		return
	}
	if len(rc.order) >= rc.max {
		delete(rc.m, rc.order[0])
		rc.order = rc.order[1:]
	}
	rc.m[runID] = rec
	rc.order = append(rc.order, runID)
}
