package worker

// Paginated REST steps against a real partner: an HTTPS server that requires
// client certificates and serves one order list in each pagination style
// (examples/partner Pages). The flow runs in the Temporal SDK's workflow
// test environment with the real rest activity, transports and keystore.

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/examples/partner"
	"github.com/outflow-dev/outflow/steps"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/rest"
	"github.com/outflow-dev/outflow/steps/secrets"
)

type pagesWorld struct {
	pages   *partner.Pages
	conn    *engine.Connection
	profile *engine.ProtocolProfile
	dir     string
}

func newPagesWorld(t *testing.T, total int) *pagesWorld {
	t.Helper()
	ca, err := devpki.NewCA("Partner CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	srvCert, err := ca.IssueServer("partner", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.IssueClient("outflow", nil)
	if err != nil {
		t.Fatal(err)
	}
	pages := &partner.Pages{Total: total}
	srv := httptest.NewUnstartedServer(pages.Handler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	t.Cleanup(pages.Release)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := client.WriteFiles(dir, "client"); err != nil {
		t.Fatal(err)
	}
	return &pagesWorld{
		pages:   pages,
		conn:    &engine.Connection{Name: "partner", Scheme: "https", Host: host, Port: p, BasePath: "/v2", MutualAuth: true, ProtocolProfile: "partner-mtls"},
		profile: &engine.ProtocolProfile{Name: "partner-mtls", Keystore: &engine.Keystore{Path: "client-bundle.pem"}, Truststore: &engine.Truststore{Paths: []string{"ca.pem"}}},
		dir:     dir,
	}
}

// run runs one paginated step "list" and returns the record and the
// step's data as later steps see it (through the output "list").
func (w *pagesWorld) run(t *testing.T, path string, query map[string]string, pg *engine.Paginate) (*engine.Record, map[string]any, error) {
	t.Helper()
	st := engine.Step{ID: "list", Retry: &engine.RetryPolicy{MaxAttempts: 1}, Rest: &engine.RestStep{Connection: "partner", Method: "GET", Path: path, Paginate: pg}}
	for _, k := range []string{"per_page", "limit", "fail", "hold"} {
		if v, ok := query[k]; ok {
			st.Rest.Query = append(st.Rest.Query, engine.Binding{Name: k, Value: v})
		}
	}
	plan := &engine.Plan{
		Name: "pages", Kind: "Flow", ProjectRoot: w.dir,
		Steps:       []engine.Step{st},
		Outputs:     []engine.Binding{{Name: "list", Value: "${{ steps.list }}"}},
		Connections: map[string]*engine.Connection{"partner": w.conn},
		Profiles:    map[string]*engine.ProtocolProfile{"partner-mtls": w.profile},
	}
	tr := steps.NewTransports(secrets.New(w.dir))
	t.Cleanup(func() { _ = tr.Close() })
	act := &rest.Activity{Secrets: tr.Secrets, Transports: tr, Identity: "test-worker"}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetTestTimeout(2 * time.Minute)
	env.RegisterWorkflowWithOptions(engine.FlowWorkflow, workflow.RegisterOptions{Name: engine.WorkflowName})
	env.RegisterActivityWithOptions(act.Execute, activity.RegisterOptions{Name: engine.RestActivity})
	env.ExecuteWorkflow(engine.WorkflowName, engine.RunInput{Plan: plan})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	var rec engine.Record
	if err := env.GetWorkflowError(); err != nil {
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != engine.ErrFlowFailed {
			t.Fatalf("flow error %v is not a flow failure", err)
		}
		if derr := appErr.Details(&rec); derr != nil {
			t.Fatal(derr)
		}
		return &rec, nil, err
	}
	if err := env.GetWorkflowResult(&rec); err != nil {
		t.Fatal(err)
	}
	data, _ := rec.Outputs["list"].(map[string]any)
	return &rec, data, nil
}

// ids returns the ids of collected orders.
func ids(t *testing.T, data map[string]any) []int {
	t.Helper()
	list, ok := data["items"].([]any)
	if !ok {
		t.Fatalf("steps.list.items is %T, want a list", data["items"])
	}
	out := make([]int, len(list))
	for i, it := range list {
		m, _ := it.(map[string]any)
		f, _ := m["id"].(float64)
		out[i] = int(f)
	}
	return out
}

func wantIDs(t *testing.T, got []int, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("collected %d items, want %d: %v", len(got), n, got)
	}
	for i, id := range got {
		if id != i+1 {
			t.Fatalf("item %d has id %d, want %d (items in page order, none twice): %v", i, id, i+1, got)
		}
	}
}

func pageItems(rec *engine.StepRecord) []int {
	out := make([]int, len(rec.Pages))
	for i, p := range rec.Pages {
		out[i] = p.Items
	}
	return out
}

func TestPaginateEachStyle(t *testing.T) {
	w := newPagesWorld(t, 25)
	tests := []struct {
		name, path, style string
		query             map[string]string
		pg                *engine.Paginate
		pages             []int
	}{
		{"link header", "/pages/link", "link", map[string]string{"per_page": "10"},
			&engine.Paginate{Items: "$.data", NextLink: "header"}, []int{10, 10, 5}},
		{"next link in the body", "/pages/body", "body", map[string]string{"per_page": "10"},
			&engine.Paginate{Items: "data", NextLink: "$.links.next"}, []int{10, 10, 5}},
		{"cursor", "/pages/cursor", "cursor", map[string]string{"limit": "10"},
			&engine.Paginate{Items: "$.items", Cursor: &engine.PageCursor{From: "$.meta.next_cursor", Param: "cursor"}}, []int{10, 10, 5}},
		{"page number and size", "/pages/number", "number", nil,
			&engine.Paginate{Items: "$.results", Page: &engine.PageNumber{Param: "page", Start: 1, SizeParam: "per_page", Size: 10}}, []int{10, 10, 5}},
		{"page number without size ends at an empty page", "/pages/number", "number", map[string]string{"per_page": "10"},
			&engine.Paginate{Items: "$.results", Page: &engine.PageNumber{Param: "page", Start: 1}}, []int{10, 10, 5, 0}},
		{"offset", "/pages/offset", "offset", nil,
			&engine.Paginate{Items: "$.orders", Offset: &engine.PageOffset{Param: "offset", LimitParam: "limit", Limit: 10}}, []int{10, 10, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := make([]int, len(tt.pages)+1)
			for n := range before {
				before[n] = w.pages.Requests(tt.style, n+1)
			}
			rec, data, err := w.run(t, tt.path, tt.query, tt.pg)
			if err != nil {
				t.Fatal(err)
			}
			wantIDs(t, ids(t, data), 25)
			st := rec.Step("list")
			if got := fmt.Sprint(pageItems(st)); got != fmt.Sprint(tt.pages) {
				t.Fatalf("items per page %s, want %v", got, tt.pages)
			}
			for i, p := range st.Pages {
				if p.Number != i+1 || p.StatusCode != 200 || !strings.Contains(p.URL, tt.path) || p.Attempts != 1 || p.Start.IsZero() {
					t.Errorf("page record %d: %+v", i+1, p)
				}
				if got := w.pages.Requests(tt.style, i+1) - before[i]; got != 1 {
					t.Errorf("page %d requested %d times, want once", i+1, got)
				}
			}
			if got := w.pages.Requests(tt.style, len(tt.pages)+1) - before[len(tt.pages)]; got != 0 {
				t.Errorf("a page after the last was requested %d times", got)
			}
			if data["count"] != 25.0 || data["more"] != false || data["status_code"] != 200.0 {
				t.Errorf("step data count %v, more %v, status %v", data["count"], data["more"], data["status_code"])
			}
			if pages, _ := data["pages"].([]any); len(pages) != len(tt.pages) {
				t.Errorf("steps.list.pages has %d entries, want %d", len(pages), len(tt.pages))
			}
			if st.Status != engine.StatusSucceeded || st.Response == nil || st.TLS == nil || st.TLS.ClientCertificate == nil {
				t.Errorf("step record: status %s, response %v, TLS %+v", st.Status, st.Response != nil, st.TLS)
			}
		})
	}
}

func TestPaginateCapsAndStopWhen(t *testing.T) {
	w := newPagesWorld(t, 25)
	t.Run("max_pages", func(t *testing.T) {
		rec, data, err := w.run(t, "/pages/link", map[string]string{"per_page": "10"}, &engine.Paginate{Items: "data", NextLink: "header", MaxPages: 2})
		if err != nil {
			t.Fatal(err)
		}
		wantIDs(t, ids(t, data), 20)
		if data["more"] != true {
			t.Errorf("more = %v after stopping at max_pages with pages left", data["more"])
		}
		if w.pages.Requests("link", 3) != 0 {
			t.Error("page 3 requested despite max_pages 2")
		}
		if len(rec.Notes) != 1 || !strings.Contains(rec.Notes[0], "max_pages") {
			t.Errorf("notes = %q", rec.Notes)
		}
	})
	t.Run("max_items", func(t *testing.T) {
		_, data, err := w.run(t, "/pages/cursor", map[string]string{"limit": "10"}, &engine.Paginate{Items: "items", Cursor: &engine.PageCursor{From: "meta.next_cursor", Param: "cursor"}, MaxItems: 15})
		if err != nil {
			t.Fatal(err)
		}
		wantIDs(t, ids(t, data), 15)
		if data["more"] != true || len(data["pages"].([]any)) != 2 {
			t.Errorf("more %v, pages %v", data["more"], data["pages"])
		}
		if w.pages.Requests("cursor", 3) != 0 {
			t.Error("page 3 requested after max_items was reached")
		}
	})
	t.Run("stop_when", func(t *testing.T) {
		// Without a size the page style would ask for an empty fourth page;
		// stop_when knows a short page is the last.
		rec, data, err := w.run(t, "/pages/number", map[string]string{"per_page": "10"}, &engine.Paginate{Items: "results",
			Page: &engine.PageNumber{Param: "page", Start: 1}, StopWhen: "${{ page.count < 10 || page.json.page >= 9 }}"})
		if err != nil {
			t.Fatal(err)
		}
		wantIDs(t, ids(t, data), 25)
		if got := fmt.Sprint(pageItems(rec.Step("list"))); got != "[10 10 5]" || data["more"] != false {
			t.Fatalf("pages %s, more %v", got, data["more"])
		}
	})
	t.Run("stop_when reads the steps so far", func(t *testing.T) {
		_, data, err := w.run(t, "/pages/offset", nil, &engine.Paginate{Items: "orders",
			Offset: &engine.PageOffset{Param: "offset", LimitParam: "limit", Limit: 4}, StopWhen: "${{ len(steps.list.items) >= 8 }}"})
		if err != nil {
			t.Fatal(err)
		}
		wantIDs(t, ids(t, data), 8)
	})
}

func TestPaginateRefusesLinkToAnotherHost(t *testing.T) {
	w := newPagesWorld(t, 25)
	rec, _, err := w.run(t, "/pages/elsewhere", nil, &engine.Paginate{Items: "data", NextLink: "header"})
	if err == nil {
		t.Fatal("a next link to another host was followed")
	}
	st := rec.Step("list")
	if st.Error == nil || st.Error.Type != engine.ErrConfig || !strings.Contains(st.Error.Message, "page 2") ||
		!strings.Contains(st.Error.Message, `next link "https://collector.example/v2/pages/link?page=2" leaves connection "partner"`) {
		t.Fatalf("step error: %+v", st.Error)
	}
	if len(st.Pages) != 2 || st.Pages[0].Items != 10 || st.Pages[1].Error == nil {
		t.Fatalf("pages: %+v", st.Pages)
	}
}

func TestPaginateErrorOnPage3KeepsPages1And2(t *testing.T) {
	w := newPagesWorld(t, 45)
	rec, _, err := w.run(t, "/pages/number", map[string]string{"fail": "3"}, &engine.Paginate{Items: "results", Page: &engine.PageNumber{Param: "page", Start: 1, SizeParam: "per_page", Size: 10}})
	if err == nil {
		t.Fatal("flow succeeded although page 3 failed")
	}
	st := rec.Step("list")
	want := "page 3: GET https://" + net.JoinHostPort(w.conn.Host, strconv.Itoa(w.conn.Port)) + "/v2/pages/number?fail=3&page=3&per_page=10 answered 422 Unprocessable Entity: page 3 of the order list is locked by a reindex"
	if st.Error == nil || st.Error.Message != want || st.Error.Type != engine.ErrHTTPClient {
		t.Fatalf("step error %+v\nwant message %s", st.Error, want)
	}
	if !strings.Contains(rec.Error.Message, "locked by a reindex") {
		t.Errorf("flow error: %+v", rec.Error)
	}
	if len(st.Pages) != 3 || st.Pages[0].StatusCode != 200 || st.Pages[1].Items != 10 || st.Pages[2].StatusCode != 422 || st.Pages[2].Error == nil {
		t.Fatalf("pages: %+v", st.Pages)
	}
	if st.Response == nil || st.Response.StatusCode != 422 {
		t.Errorf("the step's response is not the failed page's: %+v", st.Response)
	}
	for n := 1; n <= 3; n++ {
		if got := w.pages.Requests("number", n); got != 1 {
			t.Errorf("page %d requested %d times", n, got)
		}
	}
}

func TestPaginateStopsAtRepeatedLink(t *testing.T) {
	w := newPagesWorld(t, 25)
	rec, _, err := w.run(t, "/pages/loop", nil, &engine.Paginate{Items: "data", NextLink: "$.next"})
	if err == nil {
		t.Fatal("a link to the same page was followed forever")
	}
	st := rec.Step("list")
	if st.Error.Type != engine.ErrPagination || !strings.Contains(st.Error.Message, `same next link "/v2/pages/loop"`) || len(st.Pages) != 2 {
		t.Fatalf("error %+v, %d pages", st.Error, len(st.Pages))
	}
}

func TestPaginateItemsBudget(t *testing.T) {
	// 150,000 orders of about 11 bytes each in pages of 10,000: well under
	// the body limit per page, over the items budget after a few pages.
	w := newPagesWorld(t, 150000)
	rec, _, err := w.run(t, "/pages/offset", nil, &engine.Paginate{Items: "orders", Offset: &engine.PageOffset{Param: "offset", LimitParam: "limit", Limit: 10000}})
	if err == nil {
		t.Fatal("collected more items than a flow can carry")
	}
	st := rec.Step("list")
	if st.Error.Type != engine.ErrPagination || !strings.Contains(st.Error.Message, "over the 1.0 MiB a flow can carry") || !strings.Contains(st.Error.Message, "max_items") || !strings.Contains(st.Error.Message, "each_page") {
		t.Fatalf("error: %+v", st.Error)
	}
	if n := len(st.Pages); n < 5 || n > 12 || w.pages.Requests("offset", n+1) != 0 {
		t.Fatalf("stopped after %d pages", n)
	}
}

func TestPaginateItemsNotFound(t *testing.T) {
	w := newPagesWorld(t, 25)
	rec, _, err := w.run(t, "/pages/offset", nil, &engine.Paginate{Items: "$.data", Offset: &engine.PageOffset{Param: "offset"}})
	if err == nil {
		t.Fatal("no error for a wrong items path")
	}
	if msg := rec.Step("list").Error.Message; msg != `page 1: no items at "$.data" in the page (its top-level fields: orders, total)` {
		t.Fatalf("error: %s", msg)
	}
}

// each_page processes every page as soon as it is read, without collecting
// the items: here each page's ids are posted back to the partner.
func TestPaginateEachPage(t *testing.T) {
	w := newPagesWorld(t, 45)
	post := engine.Step{ID: "seen", Rest: &engine.RestStep{Connection: "partner", Method: "POST", Path: "/pages/seen",
		Body: map[string]any{"ids": "${{ map(page.items, .id) }}", "page": "${{ page.number }}", "so_far": "${{ steps.list.count }}"}}}
	rec, data, err := w.run(t, "/pages/number", nil, &engine.Paginate{Items: "results",
		Page: &engine.PageNumber{Param: "page", Start: 1, SizeParam: "per_page", Size: 10}, EachPage: []engine.Step{post}})
	if err != nil {
		t.Fatal(err)
	}
	seen := w.pages.Seen()
	if len(seen) != 45 || seen[0] != 1 || seen[44] != 45 {
		t.Fatalf("partner saw %v", seen)
	}
	if data["count"] != 45.0 || len(data["items"].([]any)) != 0 {
		t.Fatalf("count %v, items collected %d", data["count"], len(data["items"].([]any)))
	}
	for n := 1; n <= 5; n++ {
		st := rec.Step(fmt.Sprintf("list[%d]/seen", n))
		if st == nil || st.Status != engine.StatusSucceeded || !strings.Contains(st.Request.Body, fmt.Sprintf(`"page":%d`, n)) {
			t.Fatalf("list[%d]/seen: %+v", n, st)
		}
	}
	if body := rec.Step("list[3]/seen").Request.Body; !strings.Contains(body, `"so_far":30`) {
		t.Errorf("steps.list.count inside page 3 = %s, want the 30 items read so far", body)
	}
}

// A list far over what a flow can collect goes through each_page.
func TestPaginateEachPageHasNoItemsBudget(t *testing.T) {
	w := newPagesWorld(t, 150000)
	post := engine.Step{ID: "seen", Rest: &engine.RestStep{Connection: "partner", Method: "POST", Path: "/pages/seen",
		Body: map[string]any{"ids": "${{ [page.items[0].id, page.items[len(page.items)-1].id] }}"}}}
	_, data, err := w.run(t, "/pages/offset", nil, &engine.Paginate{Items: "orders",
		Offset: &engine.PageOffset{Param: "offset", LimitParam: "limit", Limit: 10000}, EachPage: []engine.Step{post}})
	if err != nil {
		t.Fatal(err)
	}
	// 15 full pages, and an empty 16th that ends the list.
	if data["count"] != 150000.0 || len(data["pages"].([]any)) != 16 {
		t.Fatalf("count %v, %d pages", data["count"], len(data["pages"].([]any)))
	}
	if seen := w.pages.Seen(); len(seen) != 30 || seen[0] != 1 || seen[29] != 150000 {
		t.Fatalf("partner saw %v", seen)
	}
}

// A failing step of a page fails the paginated step; later pages are not read.
func TestPaginateEachPageFailure(t *testing.T) {
	w := newPagesWorld(t, 45)
	post := engine.Step{ID: "seen", Rest: &engine.RestStep{Connection: "partner", Method: "POST", Path: "/pages/seen",
		Body: "${{ page.number == 2 ? 'not json' : tojson({ids: []}) }}"}}
	rec, _, err := w.run(t, "/pages/number", nil, &engine.Paginate{Items: "results",
		Page: &engine.PageNumber{Param: "page", Start: 1, SizeParam: "per_page", Size: 10}, EachPage: []engine.Step{post}})
	if err == nil {
		t.Fatal("flow succeeded although a page's step failed")
	}
	if st := rec.Step("list"); st.Status != engine.StatusFailed || !strings.Contains(st.Error.Message, "400 Bad Request") || len(st.Pages) != 2 {
		t.Fatalf("list: %+v", st)
	}
	if w.pages.Requests("number", 3) != 0 {
		t.Error("page 3 was read after page 2's step failed")
	}
}
