package engine

import (
	"bytes"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
)

func keywordAttrs(t *testing.T, kv ...string) *workflowpb.WorkflowExecutionInfo {
	t.Helper()
	fields := map[string]*commonpb.Payload{}
	for i := 0; i+1 < len(kv); i += 2 {
		fields[kv[i]] = &commonpb.Payload{
			Metadata: map[string][]byte{"encoding": []byte("json/plain"), "type": []byte("Keyword")},
			Data:     []byte(`"` + kv[i+1] + `"`),
		}
	}
	return &workflowpb.WorkflowExecutionInfo{SearchAttributes: &commonpb.SearchAttributes{IndexedFields: fields}}
}

func TestScheduleOf(t *testing.T) {
	for _, c := range []struct {
		name string
		info *workflowpb.WorkflowExecutionInfo
		want string
	}{
		{"a scheduled run", keywordAttrs(t, "TemporalScheduledById", "outflow:sync:0", "OutflowFlow", "sync"), "outflow:sync:0"},
		{"a retry of one", keywordAttrs(t, "OutflowSchedule", "outflow:sync:0", "OutflowRetriedFrom", "sync-schedule0-x"), "outflow:sync:0"},
		{"OutflowSchedule first", keywordAttrs(t, "OutflowSchedule", "outflow:sync:1", "TemporalScheduledById", "other"), "outflow:sync:1"},
		{"a run by hand", keywordAttrs(t, "OutflowFlow", "sync"), ""},
		{"an empty value", keywordAttrs(t, "OutflowSchedule", ""), ""},
		{"no attributes", &workflowpb.WorkflowExecutionInfo{}, ""},
		{"nil", nil, ""},
	} {
		if got := scheduleOf(c.info); got != c.want {
			t.Errorf("%s: scheduleOf = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestScheduleQuery(t *testing.T) {
	if got, want := scheduleQuery("outflow:sync:0"), `(TemporalScheduledById = "outflow:sync:0" OR OutflowSchedule = "outflow:sync:0")`; got != want {
		t.Errorf("scheduleQuery = %s, want %s", got, want)
	}
	// A quote in what a person typed stays inside the string.
	if got := scheduleQuery(`x" OR "1"="1`); strings.Count(got, `\"`) != 8 {
		t.Errorf("scheduleQuery of a quote: %s", got)
	}
	if _, ok := SearchAttributes["OutflowSchedule"]; !ok {
		t.Error("OutflowSchedule is not among the search attributes registered on a namespace")
	}
}

func TestRecordTextNamesSchedule(t *testing.T) {
	var b bytes.Buffer
	(&Record{Kind: "Flow", Flow: "sync", WorkflowID: "r", Status: StatusSucceeded, Schedule: "outflow:sync:0", RetriedFrom: "sync-schedule0-x"}).WriteText(&b, false)
	if !strings.Contains(b.String(), "schedule: outflow:sync:0\nretried from sync-schedule0-x\n") {
		t.Errorf("record text:\n%s", b.String())
	}
	b.Reset()
	(&Record{Kind: "Flow", Flow: "sync", WorkflowID: "r", Status: StatusSucceeded}).WriteText(&b, false)
	if strings.Contains(b.String(), "schedule:") {
		t.Errorf("record text of a run by hand names a schedule:\n%s", b.String())
	}
}
