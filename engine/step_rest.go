package engine

import (
	"go.temporal.io/sdk/workflow"

	"github.com/outflow-dev/outflow/engine/openapi"
)

// RestActivity is the name of the activity that runs rest steps.
const RestActivity = "rest"

func restKind() stepKind {
	return stepKind{
		name:       "rest",
		is:         func(s *Step) bool { return s.Rest != nil },
		run:        (*runner).runRest,
		connection: func(s *Step) string { return s.Rest.Connection },
		blocks: func(s *Step) []Block {
			if pg := s.Rest.Paginate; pg != nil && len(pg.EachPage) > 0 {
				return []Block{{Steps: pg.EachPage, Per: "page"}}
			}
			return nil
		},
	}
}

// RestStep calls a REST endpoint through a connection alias. Values may hold
// expressions.
type RestStep struct {
	Connection string    `json:"connection"`
	Method     string    `json:"method"`
	Path       string    `json:"path,omitempty"`
	Query      []Binding `json:"query,omitempty"`
	Headers    []Binding `json:"headers,omitempty"`
	// Body is sent as JSON (default), text or form, per BodyType.
	Body     any    `json:"body,omitempty"`
	BodyType string `json:"body_type,omitempty"` // json | text | form
	// Expect lists accepted status codes; empty means any 2xx.
	Expect []int `json:"expect,omitempty"`
	// Paginate, when set, calls the endpoint page after page, each page its
	// own activity, and collects the items of all pages.
	Paginate *Paginate `json:"paginate,omitempty"`
	// Operation is the operationId of the connection's OpenAPI document the
	// step calls, when it names one; Method and Path are resolved from it.
	Operation string `json:"operation,omitempty"`
	// ValidateResponse is "fail" or "warn": check the response against
	// Responses, failing the step (ResponseRejected) or noting the mismatch.
	ValidateResponse string `json:"validate_response,omitempty"`
	// Responses are the response schemas of the operation for the status
	// codes the step expects.
	Responses *openapi.ResponseCheck `json:"responses,omitempty"`
}

// Paginate says how a REST step walks the pages of a list. Exactly one of
// NextLink, Cursor, Page and Offset is set. Paths are gjson paths into the
// page's JSON body ("data", "meta.next_cursor").
type Paginate struct {
	// Items is the path of the page's list of items.
	Items string `json:"items"`
	// NextLink is "header" (the Link header's rel="next") or the path of the
	// next page's URL in the body. An empty or missing link ends the list.
	NextLink string `json:"next_link,omitempty"`
	// Cursor copies a value of each page's body into a query parameter of
	// the next request.
	Cursor *PageCursor `json:"cursor,omitempty"`
	// Page numbers the pages in a query parameter.
	Page *PageNumber `json:"page,omitempty"`
	// Offset counts the items already read in a query parameter.
	Offset *PageOffset `json:"offset,omitempty"`
	// StopWhen is a template evaluated after each page with `page` bound;
	// when true, no further page is requested.
	StopWhen string `json:"stop_when,omitempty"`
	// MaxPages and MaxItems cap the walk; 0 means DefaultMaxPages and no
	// item cap.
	MaxPages int `json:"max_pages,omitempty"`
	MaxItems int `json:"max_items,omitempty"`
	// EachPage, when set, runs after each page that has items, with `page` bound, and the
	// items are not collected: lists of any length, one page in memory.
	// The steps of page n have paths "<step>[n]/<id>".
	EachPage []Step `json:"each_page,omitempty"`
}

// PageCursor is cursor pagination: From is the path of the next cursor in
// a page's body, Param the query parameter that sends it.
type PageCursor struct {
	From  string `json:"from"`
	Param string `json:"param"`
}

// PageNumber is page-number pagination: Param carries 1, 2, 3... (from
// Start), and SizeParam, when set, carries Size on every request.
type PageNumber struct {
	Param     string `json:"param"`
	Start     int    `json:"start"`
	SizeParam string `json:"size_param,omitempty"`
	Size      int    `json:"size,omitempty"`
}

// PageOffset is offset pagination: Param carries the number of items read
// so far (from Start), and LimitParam, when set, carries Limit.
type PageOffset struct {
	Param      string `json:"param"`
	Start      int    `json:"start,omitempty"`
	LimitParam string `json:"limit_param,omitempty"`
	Limit      int    `json:"limit,omitempty"`
}

// DefaultMaxPages caps a paginated step that sets no max_pages, so that a
// partner that always answers with a next page cannot loop a flow forever.
const DefaultMaxPages = 1000

// PageItemsBudget is how many bytes (as JSON) of items a paginated step may
// collect: the items live in the flow's state, which Temporal carries in
// payloads of at most 2 MB (across continue-as-new, with the plan and the
// record). Larger lists need max_items, or a flow that reads fewer pages
// per run.
const PageItemsBudget = 1 << 20

// RestRequest is the input of the rest activity: everything rendered, secrets
// still as references.
type RestRequest struct {
	CallHeader
	Method   string `json:"method"`
	Path     string `json:"path,omitempty"`
	Query    []KV   `json:"query,omitempty"`
	Headers  []KV   `json:"headers,omitempty"`
	Body     any    `json:"body,omitempty"`
	BodyType string `json:"body_type,omitempty"`
	Expect   []int  `json:"expect,omitempty"`
	// IdempotencyKey stays the same across retries of the step; it is sent as
	// the Idempotency-Key header on non-idempotent methods.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Link, when set, is the URL to request instead of Path and Query: the
	// next link a partner gave for a paginated step, absolute or relative to
	// LinkBase (the URL of the page that gave it). The activity refuses a
	// link that leaves the connection's scheme, host, port or base path.
	Link     string `json:"link,omitempty"`
	LinkBase string `json:"link_base,omitempty"`
	// ValidateResponse and Responses check the response against the
	// connection's OpenAPI document (RestStep).
	ValidateResponse string                 `json:"validate_response,omitempty"`
	Responses        *openapi.ResponseCheck `json:"responses,omitempty"`
}

func (r *runner) runRest(ctx workflow.Context, st *Step, sc *scope, path string) error {
	rs := st.Rest
	if rs.Paginate != nil {
		return r.runPaginated(ctx, st, sc, path)
	}
	return r.runCall(ctx, st, sc, path, rs.Connection, RestActivity, func(conn *Connection, env map[string]any) (any, error) {
		return r.restRequest(rs, conn, path, env)
	})
}

// restRequest renders a REST step's request.
func (r *runner) restRequest(rs *RestStep, conn *Connection, path string, env map[string]any) (*RestRequest, error) {
	req := &RestRequest{
		CallHeader:     r.callHeader(conn, path),
		Method:         rs.Method,
		BodyType:       rs.BodyType,
		Expect:         rs.Expect,
		IdempotencyKey: r.rec.WorkflowID + "/" + path,
		// Both are empty unless the step checks its response (openapi).
		ValidateResponse: rs.ValidateResponse,
		Responses:        rs.Responses,
	}
	var err error
	if req.Path, err = evalString(rs.Path, env); err != nil {
		return nil, exprError(path+".path", err)
	}
	if req.Query, err = evalKVs(rs.Query, env); err != nil {
		return nil, exprError(path+".query", err)
	}
	if req.Headers, err = evalKVs(rs.Headers, env); err != nil {
		return nil, exprError(path+".headers", err)
	}
	if req.Body, err = EvalValue(rs.Body, env); err != nil {
		return nil, exprError(path+".body", err)
	}
	return req, nil
}
