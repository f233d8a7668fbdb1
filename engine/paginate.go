package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// ErrPagination is the type of a paginated step's failure that is about the
// pages rather than one call: items not found, a loop, too many items.
const ErrPagination = "Pagination"

// PageState is a paginated step in progress at a continue-as-new: what the
// next request needs. The items read so far travel in the step's data
// (Resume.Steps), the pages in its record.
type PageState struct {
	Step    string    `json:"step"`
	Started time.Time `json:"started"`
	// Pages is the number of pages read.
	Pages int `json:"pages"`
	// Link and LinkBase are the next link and the URL of the page that gave
	// it; Cursor the next cursor; Offset the items read so far.
	Link     string `json:"link,omitempty"`
	LinkBase string `json:"link_base,omitempty"`
	Cursor   string `json:"cursor,omitempty"`
	Offset   int    `json:"offset,omitempty"`
	// Bytes is the JSON size of the items collected so far.
	Bytes int `json:"bytes,omitempty"`
	// Count is the number of items read so far.
	Count int `json:"count,omitempty"`
}

// runPaginated runs a REST step with paginate: one activity per page, so
// that the history holds every completed page and a worker that dies in the
// middle leaves the next one to pick up where it stopped.
func (r *runner) runPaginated(ctx workflow.Context, st *Step, sc *scope, path string) error {
	rs := st.Rest
	pg := rs.Paginate
	conn := r.plan.Connections[rs.Connection]
	if conn == nil {
		return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown connection %q", rs.Connection), ErrConfig, nil))
	}
	rec := r.newStepRecord(ctx, st, path)
	rec.Connection = conn.Name
	rec.Agent = conn.Agent
	rec.TaskQueue = r.taskQueue(conn)
	base, err := r.restRequest(rs, conn, path, sc.env())
	if err != nil {
		return r.failStep(ctx, st, sc, path, err)
	}
	actx := workflow.WithActivityOptions(ctx, r.activityOptions(st, conn, rec.TaskQueue))
	callPath := r.callPath(ctx, st, conn, rec.TaskQueue, base.Method, rec)

	state := &PageState{Step: path, Started: workflow.Now(ctx)}
	var items []any
	if rp := r.resumePage; rp != nil && rp.Step == path {
		state = rp
		r.resumePage = nil
		rec.Start = state.Started
		if d, ok := sc.steps[st.ID].(map[string]any); ok {
			items, _ = d["items"].([]any)
		}
	}
	maxPages := pg.MaxPages
	if maxPages <= 0 {
		maxPages = DefaultMaxPages
	}
	fail := func(n int, err error) error {
		info := errorInfo(err)
		return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(fmt.Sprintf("page %d: %s", n, info.Message), info.Type, nil))
	}
	for {
		n := state.Pages + 1
		req := *base
		req.Query = append([]KV(nil), base.Query...)
		if n > 1 && req.IdempotencyKey != "" {
			req.IdempotencyKey += "/page/" + strconv.Itoa(n)
		}
		switch {
		case pg.NextLink != "" && n > 1:
			req.Link, req.LinkBase = state.Link, state.LinkBase
		case pg.Cursor != nil && n > 1:
			req.Query = setQuery(req.Query, pg.Cursor.Param, state.Cursor)
		case pg.Page != nil:
			req.Query = setQuery(req.Query, pg.Page.Param, strconv.Itoa(pg.Page.Start+n-1))
			if pg.Page.SizeParam != "" && pg.Page.Size > 0 {
				req.Query = setQuery(req.Query, pg.Page.SizeParam, strconv.Itoa(pg.Page.Size))
			}
		case pg.Offset != nil:
			req.Query = setQuery(req.Query, pg.Offset.Param, strconv.Itoa(pg.Offset.Start+state.Offset))
			if pg.Offset.LimitParam != "" && pg.Offset.Limit > 0 {
				req.Query = setQuery(req.Query, pg.Offset.LimitParam, strconv.Itoa(pg.Offset.Limit))
			}
		}
		page := PageRecord{Number: n, Start: workflow.Now(ctx)}
		var res StepResult
		err = r.execCall(ctx, actx, st, conn, callPath, RestActivity, &req, &res, rec)
		page.Duration = Duration(workflow.Now(ctx).Sub(page.Start))
		if err != nil {
			var appErr *temporal.ApplicationError
			data := map[string]any{}
			if errors.As(err, &appErr) && appErr.HasDetails() {
				var failed StepResult
				if appErr.Details(&failed) == nil {
					r.applyResult(rec, &failed)
					page.fill(&failed)
					data = stepData(&failed)
				}
			}
			page.Error = errorInfo(err)
			rec.Pages = append(rec.Pages, page)
			data["items"], data["count"], data["pages"] = orNoItems(items), state.Count, pagesData(rec.Pages)
			sc.steps[st.ID] = data
			return fail(n, err)
		}
		r.applyResult(rec, &res)
		page.fill(&res)
		got, err := readPage(pg, &res, n)
		if err != nil {
			rec.Pages = append(rec.Pages, page)
			return fail(n, err)
		}
		page.Items = len(got.items)
		rec.Pages = append(rec.Pages, page)

		more := got.hasNext
		capped := ""
		kept := got.items
		if pg.MaxItems > 0 && state.Count+len(kept) >= pg.MaxItems {
			if state.Count+len(kept) > pg.MaxItems {
				kept = kept[:max(pg.MaxItems-state.Count, 0)]
				more = true
			}
			if more {
				capped = "max_items"
			}
		}
		state.Count += len(kept)
		collect := len(pg.EachPage) == 0
		if collect && len(kept) > 0 {
			b, _ := json.Marshal(kept)
			state.Bytes += len(b)
			if state.Bytes > PageItemsBudget {
				return fail(n, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
					"the items of %d pages take %s, over the %s a flow can carry in its state; set paginate.max_items to read fewer, or process each page as it comes with paginate.each_page",
					n, byteSize(state.Bytes), byteSize(PageItemsBudget)), ErrPagination, nil))
			}
		}
		if collect {
			items = append(items, kept...)
		}
		state.Pages = n
		data := stepData(&res)
		data["items"], data["count"], data["pages"] = orNoItems(items), state.Count, pagesData(rec.Pages)
		sc.steps[st.ID] = data
		pageEnv := map[string]any{
			"number": n, "items": orNoItems(kept), "count": len(got.items),
			"status_code": data["status_code"], "headers": data["headers"], "json": data["json"],
		}
		if !collect && len(kept) > 0 {
			inner := sc.child(map[string]any{"page": pageEnv})
			if err := r.runSteps(ctx, pg.EachPage, inner, fmt.Sprintf("%s[%d]/", path, n)); err != nil {
				var can *workflow.ContinueAsNewError
				if errors.As(err, &can) {
					return err
				}
				return r.failStep(ctx, st, sc, path, err)
			}
		}

		stop := !more || capped != ""
		if !stop && pg.StopWhen != "" {
			env := sc.env()
			env["page"] = pageEnv
			v, err := EvalValue(pg.StopWhen, env)
			if err != nil {
				return r.failStep(ctx, st, sc, path, exprError(path+".paginate.stop_when", err))
			}
			stop = Truthy(v)
		}
		if !stop && n >= maxPages {
			stop, capped = true, "max_pages"
		}
		if stop {
			data["more"] = capped != ""
			if capped != "" {
				r.rec.Notes = append(r.rec.Notes, fmt.Sprintf("step %s stopped at %s (%d pages, %d items) while the partner had more", path, capped, n, state.Count))
			}
			break
		}
		switch {
		case pg.NextLink != "":
			if got.next == state.Link && n > 1 {
				return fail(n, loopError("next link", got.next))
			}
			state.Link, state.LinkBase = got.next, res.Request.URL
		case pg.Cursor != nil:
			if got.next == state.Cursor && n > 1 {
				return fail(n, loopError("cursor", got.next))
			}
			state.Cursor = got.next
		case pg.Offset != nil:
			state.Offset += len(got.items)
		}
		// A long walk at the top level continues as new between pages.
		if !strings.ContainsAny(path, "/[") && r.top != nil && r.historyFull(ctx) {
			return r.continueAsNewPage(ctx, r.in, r.current, state)
		}
	}
	rec.Status = StatusSucceeded
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	return nil
}

func loopError(what, v string) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf("the partner gave the same %s %q as for the page before; stopping so as not to read the same page forever", what, v), ErrPagination, nil)
}

func (p *PageRecord) fill(res *StepResult) {
	p.URL = res.Request.URL
	p.Attempts = res.Attempt
	p.TotalMillis = res.Timings.TotalMillis
	if res.Response != nil {
		p.StatusCode = res.Response.StatusCode
	}
}

// pagesData is what expressions see as steps.<id>.pages.
func pagesData(pages []PageRecord) []any {
	out := make([]any, len(pages))
	for i, p := range pages {
		m := map[string]any{"number": p.Number, "url": p.URL, "status_code": p.StatusCode, "items": p.Items,
			"duration_ms": float64(time.Duration(p.Duration).Milliseconds()), "total_ms": p.TotalMillis}
		if p.Error != nil {
			m["error"] = map[string]any{"type": p.Error.Type, "message": p.Error.Message}
		}
		out[i] = m
	}
	return out
}

func orNoItems(items []any) []any {
	if items == nil {
		return []any{}
	}
	return items
}

// pageRead is what one page says: its items, and the next link or cursor.
type pageRead struct {
	items []any
	next  string
	// hasNext is the style's own answer to "is there another page".
	hasNext bool
}

// readPage finds a page's items and its pointer to the next page.
func readPage(pg *Paginate, res *StepResult, n int) (*pageRead, error) {
	resp := res.Response
	if resp == nil {
		return nil, temporal.NewNonRetryableApplicationError("no response", ErrPagination, nil)
	}
	if resp.JSON == nil {
		if resp.BodyTruncated {
			return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"the page is %s, over the body limit, so its items cannot be read; raise body_limit in outflow.yaml or ask for smaller pages",
				byteSize(int(resp.BodySize))), ErrPagination, nil)
		}
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"the page is not JSON (content-type %q), so paginate cannot find its items", resp.Headers["content-type"]), ErrPagination, nil)
	}
	rawBytes, err := json.Marshal(resp.JSON)
	if err != nil {
		return nil, temporal.NewNonRetryableApplicationError("reading the page: "+err.Error(), ErrPagination, nil)
	}
	raw := string(rawBytes)
	out := &pageRead{}
	at := gjson.Get(raw, JSONPath(pg.Items))
	switch {
	case !at.Exists():
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("no items at %q in the page%s", pg.Items, keysHint(resp.JSON)), ErrPagination, nil)
	case at.Type == gjson.Null:
	case at.IsArray():
		list, _ := at.Value().([]any)
		out.items = list
	default:
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("items at %q are %s, not a list", pg.Items, describeJSON(at)), ErrPagination, nil)
	}
	switch {
	case pg.NextLink == "header":
		out.next = NextLink(resp.Headers["link"])
		out.hasNext = out.next != ""
	case pg.NextLink != "":
		out.next = scalar(gjson.Get(raw, JSONPath(pg.NextLink)))
		out.hasNext = out.next != ""
	case pg.Cursor != nil:
		out.next = scalar(gjson.Get(raw, JSONPath(pg.Cursor.From)))
		out.hasNext = out.next != ""
	case pg.Page != nil:
		out.hasNext = len(out.items) > 0 && (pg.Page.Size <= 0 || len(out.items) >= pg.Page.Size)
	case pg.Offset != nil:
		out.hasNext = len(out.items) > 0 && (pg.Offset.Limit <= 0 || len(out.items) >= pg.Offset.Limit)
	}
	return out, nil
}

func scalar(r gjson.Result) string {
	switch r.Type {
	case gjson.String, gjson.Number:
		return r.String()
	case gjson.True, gjson.False:
		return r.String()
	}
	return ""
}

func describeJSON(r gjson.Result) string {
	switch {
	case r.IsObject():
		return "an object"
	case r.Type == gjson.String:
		return "a string"
	case r.Type == gjson.Number:
		return "a number"
	}
	return "a " + r.Type.String()
}

func keysHint(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		if _, list := v.([]any); list {
			return " (the body is a list: use items: \"$\")"
		}
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > 10 {
		keys = append(keys[:10], "…")
	}
	return " (its top-level fields: " + strings.Join(keys, ", ") + ")"
}

// JSONPath turns a paginate path into gjson syntax: "$.data" and "data" are
// the same path, and "$" is the whole body.
func JSONPath(p string) string {
	p = strings.TrimSpace(p)
	switch {
	case p == "$" || p == "":
		return "@this"
	case strings.HasPrefix(p, "$."):
		return p[2:]
	}
	return p
}

// NextLink returns the target of the rel="next" link of a Link header value
// (RFC 8288), or "" when it has none.
func NextLink(header string) string {
	for _, link := range splitLinks(header) {
		link = strings.TrimSpace(link)
		if !strings.HasPrefix(link, "<") {
			continue
		}
		end := strings.IndexByte(link, '>')
		if end < 0 {
			continue
		}
		target := strings.TrimSpace(link[1:end])
		for _, param := range strings.Split(link[end+1:], ";") {
			k, v, ok := strings.Cut(param, "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
				continue
			}
			for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
				if strings.EqualFold(rel, "next") {
					return target
				}
			}
		}
	}
	return ""
}

// splitLinks splits a Link header at the commas between links, not those
// inside a URL or a quoted parameter.
func splitLinks(s string) []string {
	var out []string
	inURL, inQuote, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '<' && !inQuote:
			inURL = true
		case c == '>' && !inQuote:
			inURL = false
		case c == '"' && !inURL:
			inQuote = !inQuote
		case c == ',' && !inURL && !inQuote:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// setQuery sets a query parameter, replacing the values the step gave it.
func setQuery(q []KV, name, value string) []KV {
	out := q[:0:0]
	for _, kv := range q {
		if kv.Name != name {
			out = append(out, kv)
		}
	}
	return append(out, KV{Name: name, Value: value})
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// continueAsNewPage continues as new in the middle of a paginated step at
// the top level, which resumes at its next page.
func (r *runner) continueAsNewPage(ctx workflow.Context, in RunInput, next int, page *PageState) error {
	next2 := in
	next2.Inputs = nil
	next2.Resume = &Resume{NextStep: next, Inputs: r.top.inputs, Vars: r.top.vars, Steps: r.top.steps, Record: r.rec, Page: page}
	next2.Resume.Events = r.drainEvents(ctx)
	return workflow.NewContinueAsNewError(ctx, WorkflowName, next2)
}
