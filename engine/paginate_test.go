package engine

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// A long walk through pages at the top level continues as new between
// pages, carrying the items and the pages read so far: no page is requested
// twice and the list comes out whole. The partner here is a stand-in: this
// is the interpreter's logic; steps/rest and worker test real partners.
func TestPaginateContinuesAsNewBetweenPages(t *testing.T) {
	var mu sync.Mutex
	calls := map[int]int{}
	pages := func(ctx context.Context, req *RestRequest) (*StepResult, error) {
		n := 0
		for _, kv := range req.Query {
			if kv.Name == "page" {
				n, _ = strconv.Atoi(kv.Value)
			}
		}
		mu.Lock()
		calls[n]++
		mu.Unlock()
		items := []any{}
		for i := 0; i < 2 && (n-1)*2+i < 13; i++ {
			items = append(items, float64((n-1)*2+i+1))
		}
		return &StepResult{Attempt: 1, Request: RequestSummary{Method: "GET", URL: "https://partner/list?page=" + strconv.Itoa(n)},
			Response: &ResponseSummary{StatusCode: 200, JSON: map[string]any{"results": items}}}, nil
	}
	p := testPlan(
		Step{ID: "list", Rest: &RestStep{Connection: "p", Method: "GET", Path: "/list",
			Paginate: &Paginate{Items: "$.results", Page: &PageNumber{Param: "page", Start: 1, SizeParam: "size", Size: 2}}}},
	)
	p.Outputs = []Binding{{Name: "items", Value: "${{ steps.list.items }}"}, {Name: "count", Value: "${{ steps.list.count }}"}}
	p.Settings.HistoryLimit = 14

	rec, runs := runContinuing(t, RunInput{Plan: p, Inputs: map[string]any{"id": "1"}}, pages, func(next RunInput) {
		if next.Resume == nil || next.Resume.Page == nil || next.Resume.Page.Step != "list" || next.Resume.NextStep != 0 {
			t.Fatalf("continue-as-new carried no page state: %+v", next.Resume)
		}
	})
	if runs < 3 || rec.Runs != runs-1 {
		t.Fatalf("runs = %d, record says %d continues", runs, rec.Runs)
	}
	items, _ := rec.Outputs["items"].([]any)
	if len(items) != 13 || rec.Outputs["count"] != 13.0 {
		t.Fatalf("items %v, count %v", items, rec.Outputs["count"])
	}
	for i, it := range items {
		if it != float64(i+1) {
			t.Fatalf("items out of order or doubled: %v", items)
		}
	}
	st := rec.Step("list")
	if len(rec.Steps) != 1 || st.Status != StatusSucceeded || len(st.Pages) != 7 {
		t.Fatalf("record: %d steps, list %+v", len(rec.Steps), st)
	}
	for n := 1; n <= 7; n++ {
		if calls[n] != 1 || st.Pages[n-1].Number != n {
			t.Fatalf("page %d called %d times; pages %+v", n, calls[n], st.Pages)
		}
	}
	if calls[8] != 0 {
		t.Fatal("a page after the short last page was requested")
	}
}

// Inside a foreach, each iteration walks its own pages, and the path of
// each iteration's step keeps the records apart.
func TestPaginateInsideForeach(t *testing.T) {
	partner := &fakePartner{}
	p := testPlan(
		restStep("groups", "/groups"),
		Step{ID: "each", Foreach: &Foreach{Items: "${{ steps.groups.json.items }}", Steps: []Step{
			{ID: "members", Rest: &RestStep{Connection: "p", Method: "GET", Path: "/groups/${{ item }}",
				Paginate: &Paginate{Items: "items", Offset: &PageOffset{Param: "offset"}, MaxPages: 2}}},
		}}},
	)
	p.Outputs = []Binding{{Name: "n", Value: "${{ steps.each.results[1].members.count }}"}}
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outputs["n"] != 6.0 {
		t.Fatalf("outputs %v", rec.Outputs)
	}
	if st := rec.Step("each[2]/members"); st == nil || len(st.Pages) != 2 || st.Pages[1].Items != 3 {
		t.Fatalf("each[2]/members: %+v", st)
	}
}

func TestNextLinkHeader(t *testing.T) {
	tests := map[string]string{
		`<https://x/a?page=2>; rel="next"`: "https://x/a?page=2",
		`<https://x/a?page=1>; rel="first", <https://x/a?page=3>; rel="next", <https://x/a?page=9>; rel="last"`: "https://x/a?page=3",
		`<https://x/a?q=a,b>; rel="next"`:                "https://x/a?q=a,b",
		`</a?page=2>; title="a, b"; rel="prefetch next"`: "/a?page=2",
		`<https://x/a?page=2>; REL=next`:                 "https://x/a?page=2",
		`<https://x/a?page=2>; rel="prev"`:               "",
		``:                                               "",
		`garbage, <unclosed; rel=next`:                   "",
	}
	for in, want := range tests {
		if got := NextLink(in); got != want {
			t.Errorf("NextLink(%q) = %q, want %q", in, got, want)
		}
	}
}

// each_page steps run once per page across continue-as-new, and the items
// are not collected.
func TestPaginateEachPageContinuesAsNew(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	partner := func(ctx context.Context, req *RestRequest) (*StepResult, error) {
		n := 0
		for _, kv := range req.Query {
			if kv.Name == "page" {
				n, _ = strconv.Atoi(kv.Value)
			}
		}
		mu.Lock()
		calls[req.Path+"#"+strconv.Itoa(n)]++
		mu.Unlock()
		items := []any{}
		if req.Path == "/list" && n <= 4 {
			items = []any{float64(2*n - 1), float64(2 * n)}
		}
		return &StepResult{Attempt: 1, Response: &ResponseSummary{StatusCode: 200, JSON: map[string]any{"results": items}}}, nil
	}
	p := testPlan(Step{ID: "list", Rest: &RestStep{Connection: "p", Method: "GET", Path: "/list",
		Paginate: &Paginate{Items: "results", Page: &PageNumber{Param: "page", Start: 1}, EachPage: []Step{
			restStep("touch", "/touch/${{ page.number }}/${{ page.items[1] }}/${{ steps.list.count }}"),
		}}}})
	p.Outputs = []Binding{{Name: "count", Value: "${{ steps.list.count }}"}, {Name: "items", Value: "${{ len(steps.list.items) }}"}}
	p.Settings.HistoryLimit = 14
	var s testsuite.WorkflowTestSuite
	in := RunInput{Plan: p, Inputs: map[string]any{"id": "1"}}
	for runs := 1; runs < 20; runs++ {
		env := s.NewTestWorkflowEnvironment()
		env.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
		env.RegisterActivityWithOptions(partner, activity.RegisterOptions{Name: RestActivity})
		env.ExecuteWorkflow(WorkflowName, in)
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			in = RunInput{}
			if derr := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); derr != nil {
				t.Fatal(derr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var rec Record
		if err := env.GetWorkflowResult(&rec); err != nil {
			t.Fatal(err)
		}
		if runs < 2 || rec.Outputs["count"] != 8.0 || rec.Outputs["items"] != 0.0 {
			t.Fatalf("runs %d, outputs %v", runs, rec.Outputs)
		}
		for n := 1; n <= 4; n++ {
			if calls["/list#"+strconv.Itoa(n)] != 1 || calls["/touch/"+strconv.Itoa(n)+"/"+strconv.Itoa(2*n)+"/"+strconv.Itoa(2*n)+"#0"] != 1 {
				t.Fatalf("page %d: calls %v", n, calls)
			}
			if st := rec.Step("list[" + strconv.Itoa(n) + "]/touch"); st == nil || st.Status != StatusSucceeded {
				t.Fatalf("list[%d]/touch: %+v", n, st)
			}
		}
		if calls["/list#5"] != 1 || len(calls) != 9 {
			t.Fatalf("calls %v: the empty page 5 ends the list and runs no step", calls)
		}
		return
	}
	t.Fatal("flow never finished")
}

// A local paginated step calls a local activity per page, and the record's
// text shows every page.
func TestPaginateLocalStepAndRecordText(t *testing.T) {
	partner := &fakePartner{}
	st := Step{ID: "list", Local: true, Rest: &RestStep{Connection: "p", Method: "GET", Path: "/list",
		Paginate: &Paginate{Items: "$.items", Offset: &PageOffset{Param: "offset", LimitParam: "limit", Limit: 3}, MaxItems: 7}}}
	p := testPlan(st)
	p.Outputs = []Binding{{Name: "items", Value: "${{ steps.list.items }}"}, {Name: "more", Value: "${{ steps.list.more }}"}}
	rec, err := runPlan(t, p, map[string]any{"id": "1"}, partner)
	if err != nil {
		t.Fatal(err)
	}
	if len(partner.calls) != 3 {
		t.Fatalf("calls %v", partner.calls)
	}
	if items, _ := rec.Outputs["items"].([]any); len(items) != 7 || rec.Outputs["more"] != true {
		t.Fatalf("outputs %v", rec.Outputs)
	}
	var b strings.Builder
	rec.WriteText(&b, true)
	for _, want := range []string{"page 1    https://partner/list  200, 3 items", "page 3    https://partner/list  200, 3 items"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("record text lacks %q:\n%s", want, b.String())
		}
	}
}

func TestReadPage(t *testing.T) {
	page := func(json any) *StepResult {
		return &StepResult{Response: &ResponseSummary{StatusCode: 200, JSON: json, Headers: map[string]string{"content-type": "application/json"}}}
	}
	offset := &Paginate{Items: "$", Offset: &PageOffset{Param: "offset"}}
	got, err := readPage(offset, page([]any{1.0, 2.0}), 1)
	if err != nil || len(got.items) != 2 || !got.hasNext {
		t.Fatalf("a body that is the list: %+v, %v", got, err)
	}
	if got, err := readPage(&Paginate{Items: "data", Offset: &PageOffset{}}, page(map[string]any{"data": nil}), 2); err != nil || len(got.items) != 0 || got.hasNext {
		t.Fatalf("null items: %+v, %v", got, err)
	}
	cursor := &Paginate{Items: "$.data", Cursor: &PageCursor{From: "$.meta.next", Param: "c"}}
	if got, _ := readPage(cursor, page(map[string]any{"data": []any{}, "meta": map[string]any{"next": 42.0}}), 1); got.next != "42" || !got.hasNext {
		t.Fatalf("a numeric cursor: %+v", got)
	}
	errs := []struct {
		pg   *Paginate
		res  *StepResult
		want string
	}{
		{cursor, page(map[string]any{"data": map[string]any{"a": 1.0}}), `items at "$.data" are an object, not a list`},
		{cursor, page([]any{1.0}), `no items at "$.data" in the page (the body is a list: use items: "$")`},
		{cursor, &StepResult{Response: &ResponseSummary{StatusCode: 200, Body: `{"data": [`, BodySize: 600 << 10, BodyTruncated: true}},
			"the page is 600.0 KiB, over the body limit, so its items cannot be read; raise body_limit in outflow.yaml or ask for smaller pages"},
		{cursor, &StepResult{Response: &ResponseSummary{StatusCode: 200, Body: "<orders/>", Headers: map[string]string{"content-type": "text/xml"}}},
			`the page is not JSON (content-type "text/xml"), so paginate cannot find its items`},
	}
	for _, tt := range errs {
		_, err := readPage(tt.pg, tt.res, 1)
		if err == nil || errorInfo(err).Message != tt.want || errorInfo(err).Type != ErrPagination {
			t.Errorf("readPage error %v, want %s", err, tt.want)
		}
	}
}
