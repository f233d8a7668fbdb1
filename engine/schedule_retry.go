package engine

// Retries of scheduled runs, recorded against their schedule.
//
// A schedule's runs carry Temporal's TemporalScheduledById search
// attribute, which the schedule sets when it starts them. A retry is started
// by the CLI (or console), not by the schedule, so it stays outside the
// schedule's overlap policy and Temporal's list of the schedule's runs; the
// retry carries the schedule's id in OutflowSchedule instead, and listings
// ask for either attribute.

import (
	"context"
	"fmt"
	"strings"
	"time"

	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/temporal"
)

// SearchAttrSchedule is set on a retry of a scheduled run: the schedule's id.
var SearchAttrSchedule = temporal.NewSearchAttributeKeyKeyword("OutflowSchedule")

// scheduledByAttr is the search attribute Temporal sets on the runs a
// schedule starts.
const scheduledByAttr = "TemporalScheduledById"

// scheduleOf is the schedule an execution is recorded against: the one
// whose run it retries (OutflowSchedule, also on a retry of a retry), else
// the one that started it; "" for neither.
func scheduleOf(e *workflowpb.WorkflowExecutionInfo) string {
	fields := e.GetSearchAttributes().GetIndexedFields()
	for _, name := range []string{"OutflowSchedule", scheduledByAttr} {
		var id string
		if f := fields[name]; f != nil && decodeKeyword(f.GetData(), &id) == nil && id != "" {
			return id
		}
	}
	return ""
}

// scheduleQuery is the visibility query clause for the runs of a schedule
// and the retries of them.
func scheduleQuery(id string) string {
	return fmt.Sprintf("(%s = %q OR OutflowSchedule = %q)", scheduledByAttr, id, id)
}

// RetryInfo is the latest retry of a schedule's runs.
type RetryInfo struct {
	WorkflowID  string    `json:"workflow_id"`
	RetriedFrom string    `json:"retried_from,omitempty"`
	Status      string    `json:"status"`
	Start       time.Time `json:"start"`
}

// latestRetries finds, with one visibility query (one per page of
// results), the latest-started retry of the runs of each of the schedules
// ids. It is best effort: nothing when the search attributes are not usable.
func (c *Client) latestRetries(ctx context.Context, ids []string) (map[string]*RetryInfo, error) {
	out := map[string]*RetryInfo{}
	if len(ids) == 0 || !c.EnsureSearchAttributes(ctx) {
		return out, nil
	}
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = fmt.Sprintf("%q", id)
	}
	q := fmt.Sprintf("WorkflowType = %q AND OutflowSchedule IN (%s)", WorkflowName, strings.Join(quoted, ", "))
	var token []byte
	for {
		resp, err := c.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: c.Namespace, Query: q, NextPageToken: token})
		if err != nil {
			return nil, fmt.Errorf("listing retries of scheduled runs: %w", err)
		}
		for _, e := range resp.Executions {
			var sched string
			if f := e.GetSearchAttributes().GetIndexedFields()["OutflowSchedule"]; f != nil {
				_ = decodeKeyword(f.GetData(), &sched)
			}
			start := e.GetStartTime().AsTime()
			if prev := out[sched]; sched == "" || (prev != nil && !start.After(prev.Start)) {
				continue
			}
			ri := &RetryInfo{WorkflowID: e.GetExecution().GetWorkflowId(), Status: executionStatus(e), Start: start}
			if f := e.GetSearchAttributes().GetIndexedFields()["OutflowRetriedFrom"]; f != nil {
				_ = decodeKeyword(f.GetData(), &ri.RetriedFrom)
			}
			out[sched] = ri
		}
		token = resp.NextPageToken
		if len(token) == 0 {
			return out, nil
		}
	}
}

// addLatestRetries fills in the latest retry of each schedule's runs; a
// listing that fails leaves them out (the schedules are still worth showing).
func (c *Client) addLatestRetries(ctx context.Context, infos []ScheduleInfo) {
	ids := make([]string, len(infos))
	for i, s := range infos {
		ids[i] = s.ID
	}
	latest, err := c.latestRetries(ctx, ids)
	if err != nil {
		return
	}
	for i := range infos {
		infos[i].LastRetry = latest[infos[i].ID]
	}
}
