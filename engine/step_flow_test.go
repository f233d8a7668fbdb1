package engine

import (
	"sort"
	"strings"
	"testing"
)

func childPlan() *Plan {
	c := testPlan(restStep("get", "/child/${{ inputs.id }}"))
	c.Name = "child"
	c.Outputs = []Binding{{Name: "path", Value: "${{ steps.get.json.path }}"}}
	return c
}

func TestFlowStepRunsChildAndReadsOutputs(t *testing.T) {
	partner := &fakePartner{}
	p := testPlan(
		Step{ID: "sub", Flow: &FlowCall{Name: "child", With: []Binding{{Name: "id", Value: "${{ inputs.id }}"}}}},
		restStep("after", "/after${{ steps.sub.outputs.path }}?x=${{ steps.sub.execution_id }}"),
	)
	p.Flows = map[string]*Plan{"child": childPlan()}
	rec, err := runPlan(t, p, map[string]any{"id": "7"}, partner)
	if err != nil {
		t.Fatal(err)
	}
	want := "GET /after/child/7?x=" + ChildWorkflowID(rec.WorkflowID, "sub")
	if partner.calls[len(partner.calls)-1] != want {
		t.Fatalf("calls = %q, want last %q", partner.calls, want)
	}
	if got := rec.Step("sub"); got.ChildExecution != ChildWorkflowID(rec.WorkflowID, "sub") || got.Outputs["path"] != "/child/7" {
		t.Fatalf("step record = %+v", got)
	}
}

func TestFlowStepFanOutInForeach(t *testing.T) {
	partner := &fakePartner{}
	p := testPlan(Step{ID: "each", Foreach: &Foreach{Items: `${{ ["a","b","c","d"] }}`, Concurrency: 3, Steps: []Step{
		{ID: "sub", Flow: &FlowCall{Name: "child", With: []Binding{{Name: "id", Value: "${{ item }}"}}}},
	}}})
	p.Flows = map[string]*Plan{"child": childPlan()}
	p.Outputs = []Binding{{Name: "ids", Value: "${{ map(steps.each.results, .sub.execution_id) }}"}}
	rec, err := runPlan(t, p, map[string]any{"id": "x"}, partner)
	if err != nil {
		t.Fatal(err)
	}
	calls := append([]string(nil), partner.calls...)
	sort.Strings(calls)
	if strings.Join(calls, "|") != "GET /child/a|GET /child/b|GET /child/c|GET /child/d" {
		t.Fatalf("calls = %q", calls)
	}
	ids := rec.Outputs["ids"].([]any)
	if len(ids) != 4 || ids[3] != ChildWorkflowID(rec.WorkflowID, "each[3]/sub") {
		t.Fatalf("execution ids = %v", ids)
	}
}

func TestFlowStepChildFailureIsCatchable(t *testing.T) {
	partner := &fakePartner{fail: map[string]error{"/child/7": rejected422()}}
	p := testPlan(Step{ID: "sync", Try: &TryStep{
		Steps: []Step{{ID: "sub", Flow: &FlowCall{Name: "child", With: []Binding{{Name: "id", Value: "7"}}}}},
		Catch: []Step{restStep("undo", "/undo/${{ error.type }}/${{ error.step }}")},
	}})
	p.Flows = map[string]*Plan{"child": childPlan()}
	if _, err := runPlan(t, p, map[string]any{"id": "7"}, partner); err != nil {
		t.Fatal(err)
	}
	if last := partner.calls[len(partner.calls)-1]; last != "GET /undo/HTTPStatusClient/sync/try/sub" {
		t.Fatalf("calls = %q: the child's own error type reaches the catch", partner.calls)
	}
}

func TestFlowStepUnknownFlowFails(t *testing.T) {
	p := testPlan(Step{ID: "sub", Flow: &FlowCall{Name: "nope"}})
	rec, err := runPlan(t, p, map[string]any{"id": "7"}, &fakePartner{})
	if err == nil || rec.Error.Type != ErrConfig || !strings.Contains(rec.Error.Message, `unknown flow "nope"`) {
		t.Fatalf("err = %v, record = %+v", err, rec.Error)
	}
}

func TestFlowStepMissingChildInputFails(t *testing.T) {
	partner := &fakePartner{}
	p := testPlan(Step{ID: "sub", Flow: &FlowCall{Name: "child"}})
	p.Flows = map[string]*Plan{"child": childPlan()}
	rec, err := runPlan(t, p, map[string]any{"id": "7"}, partner)
	if err == nil || !strings.Contains(rec.Error.Message, `missing required input "id"`) {
		t.Fatalf("err = %v, record = %+v", err, rec.Error)
	}
}

func TestReportLinksChildExecutions(t *testing.T) {
	partner := &fakePartner{fail: map[string]error{"/orders": rejected422()}}
	p := testPlan(
		Step{ID: "sub", Flow: &FlowCall{Name: "child", With: []Binding{{Name: "id", Value: "7"}}}},
		Step{ID: "sync", Try: &TryStep{Steps: []Step{restStep("post", "/orders")}, Catch: []Step{restStep("undo", "/undo")}}},
	)
	p.Flows = map[string]*Plan{"child": childPlan()}
	rec, err := runPlan(t, p, map[string]any{"id": "7"}, partner)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rec.WriteText(&b, true)
	id := ChildWorkflowID(rec.WorkflowID, "sub")
	for _, want := range []string{"child:    execution " + id, "caught:   HTTPStatusClient: HTTP 422: order locked"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

// A child gets the plans of the flows it can start, and no others: its
// input is in the parent's history once per child.
func TestChildCarriesOnlyTheFlowsItCanStart(t *testing.T) {
	leaf := childPlan()
	mid := testPlan(Step{ID: "call", Action: &ActionCall{Name: "a"}})
	mid.Name = "mid"
	mid.Actions = map[string]*ActionDef{"a": {Name: "a", Steps: []Step{{ID: "sync", Try: &TryStep{
		Steps: []Step{{ID: "leaf", Flow: &FlowCall{Name: "child"}}}, Finally: []Step{restStep("f", "/f")}}}}}}
	all := map[string]*Plan{"child": leaf, "mid": mid, "other": testPlan()}
	if got := reachableFlows(leaf, all); got != nil {
		t.Fatalf("a flow that starts none carries %v", got)
	}
	got := reachableFlows(mid, all)
	if len(got) != 1 || got["child"] != leaf {
		t.Fatalf("mid carries %v, want child alone (through its action's try)", got)
	}
	top := testPlan(Step{ID: "m", Flow: &FlowCall{Name: "mid"}})
	if got := reachableFlows(top, all); len(got) != 2 || got["mid"] == nil || got["child"] == nil {
		t.Fatalf("top carries %v, want mid and child", got)
	}
}

func TestGrandchildFlow(t *testing.T) {
	partner := &fakePartner{}
	mid := testPlan(Step{ID: "leaf", Flow: &FlowCall{Name: "child", With: []Binding{{Name: "id", Value: "${{ inputs.id }}"}}}})
	mid.Name = "mid"
	mid.Outputs = []Binding{{Name: "leaf", Value: "${{ steps.leaf.execution_id }}"}}
	top := testPlan(Step{ID: "m", Flow: &FlowCall{Name: "mid", With: []Binding{{Name: "id", Value: "9"}}}})
	top.Flows = map[string]*Plan{"child": childPlan(), "mid": mid}
	top.Outputs = []Binding{{Name: "leaf", Value: "${{ steps.m.outputs.leaf }}"}}
	rec, err := runPlan(t, top, map[string]any{"id": "1"}, partner)
	if err != nil {
		t.Fatal(err)
	}
	want := ChildWorkflowID(ChildWorkflowID(rec.WorkflowID, "m"), "leaf")
	if rec.Outputs["leaf"] != want || strings.Join(partner.calls, "|") != "GET /child/9" {
		t.Fatalf("outputs %v, calls %q", rec.Outputs, partner.calls)
	}
}
