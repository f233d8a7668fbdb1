package flows

import (
	"strings"

	"github.com/outflow-dev/outflow/engine"
)

func restKind() stepKind {
	return stepKind{
		name:       "rest",
		given:      func(st *Step) bool { return st.Rest != nil },
		connection: func(st *Step) string { return st.Rest.Connection },
		check:      checkRestStep,
		compile:    compileRest,
		blocks: func(st *Step, sp string) []block {
			if st.Rest == nil || st.Rest.Paginate == nil || len(st.Rest.Paginate.EachPage) == 0 {
				return nil
			}
			// The steps of a page see `page`, and the steps before this one.
			return []block{{path: sp + ".rest.paginate.each_page", steps: st.Rest.Paginate.EachPage, per: "page", record: "[*]/", binds: []string{"page"}, self: true}}
		},
	}
}

// RestStep calls a REST endpoint through a connection. The request goes to
// the connection's base URL joined with path; it never leaves the
// connection's host.
type RestStep struct {
	// The name of the Connection to call through.
	Connection string `yaml:"connection" jsonschema:"required"`
	// The HTTP method. Default: GET.
	Method string `yaml:"method,omitempty" jsonschema:"enum=GET,enum=HEAD,enum=POST,enum=PUT,enum=PATCH,enum=DELETE,enum=OPTIONS,default=GET"`
	// The path below the connection's base path, such as `/customers/${{ inputs.id }}`.
	Path string `yaml:"path,omitempty"`
	// Query parameters; values may hold expressions.
	Query Scalars `yaml:"query,omitempty"`
	// Request headers, added to the connection's headers; values may hold expressions.
	Headers Scalars `yaml:"headers,omitempty"`
	// The request body; strings in it may hold expressions.
	Body any `yaml:"body,omitempty"`
	// How the body is sent: `json` (default), `text`, or `form` (URL-encoded fields).
	BodyType string `yaml:"body_type,omitempty" jsonschema:"enum=json,enum=text,enum=form"`
	// The status codes that count as success. Default: any 2xx.
	Expect []int `yaml:"expect,omitempty"`
	// Read a list that the partner returns in pages: request page after page (each page
	// its own durable call) and collect the items of all pages in `steps.ID.items`.
	Paginate *Paginate `yaml:"paginate,omitempty"`
	// The operationId of the connection's OpenAPI document to call, such as `getPayment`:
	// method and path come from the document, joined under the connection's base URL.
	// Give the operation's parameters in params.
	Operation string `yaml:"operation,omitempty"`
	// The operation's path, query and header parameters by name, such as
	// `{paymentId: "${{ inputs.id }}", limit: 10}`; values may hold expressions. Path
	// parameter values are inserted into the path as they are.
	Params Scalars `yaml:"params,omitempty"`
	// Check the response against the connection's OpenAPI document (the response of its status
	// code): `true` fails the step with error type ResponseRejected when the body does not fit,
	// `warn` lets it pass and lists the mismatches in the record (`response.schema_mismatches`).
	ValidateResponse ValidateMode `yaml:"validate_response,omitempty"`
}

// Paginate walks the pages of a list. Give `items` and exactly one way to reach the next
// page: `next_link`, `cursor`, `page` or `offset`. Each page is its own call with its own
// retries, recorded in `steps.ID.pages`; a flow whose worker stops in the middle resumes at
// the next page.
type Paginate struct {
	// Where a page's items are: a JSON path into the body such as `$.data` or `data.orders`
	// (gjson syntax; a leading `$.` is optional); `$` when the body itself is the list.
	Items string `yaml:"items" jsonschema:"required"`
	// Follow next links: `header` for the `Link` header's `rel="next"` link, or the JSON path
	// of the next page's URL in the body, such as `$.links.next`. Links may be relative;
	// a link to another host, port or scheme than the connection's is refused. The walk
	// ends at a page without a next link.
	NextLink string `yaml:"next_link,omitempty"`
	// Send a cursor from each page with the next request. The walk ends at a page without a cursor.
	Cursor *PageCursor `yaml:"cursor,omitempty"`
	// Number the pages in a query parameter. The walk ends at a page with no items, or with
	// fewer items than `size`.
	Page *PageNumber `yaml:"page,omitempty"`
	// Count the items read so far in a query parameter. The walk ends at a page with no items,
	// or with fewer items than `limit`.
	Offset *PageOffset `yaml:"offset,omitempty"`
	// Stop after the page for which this expression is true. It can read `page.number`,
	// `page.items`, `page.count`, `page.status_code`, `page.headers` and `page.json` (the page
	// just read), and `steps.ID` (the items so far), such as `${{ page.json.has_more == false }}`.
	StopWhen Condition `yaml:"stop_when,omitempty"`
	// Read at most this many pages. Default: 1000.
	MaxPages int `yaml:"max_pages,omitempty" jsonschema:"minimum=1"`
	// Collect at most this many items; the step stops at the page that reaches it. Default: no limit
	// (but the items collected may take at most 1 MiB as JSON).
	MaxItems int `yaml:"max_items,omitempty" jsonschema:"minimum=1"`
	// Steps to run for each page that has items, as soon as it is read, with `page` bound (`page.items`,
	// `page.number`, ...). The items are then not collected, so a list of any length can be
	// processed, one page at a time. In the execution record, the steps of page 3 are
	// `ID[3]/STEP`.
	EachPage []Step `yaml:"each_page,omitempty"`
}

// PageCursor is cursor pagination: a value of each page's body is sent as a query parameter
// of the request for the next page.
type PageCursor struct {
	// The JSON path of the next cursor in the body, such as `$.meta.next_cursor`.
	From string `yaml:"from" jsonschema:"required"`
	// The query parameter that sends it, such as `cursor`.
	Param string `yaml:"param" jsonschema:"required"`
}

// PageNumber is page-number pagination: `?page=1`, `?page=2`, ...
type PageNumber struct {
	// The query parameter of the page number. Default: `page`.
	Param string `yaml:"param,omitempty"`
	// The number of the first page. Default: 1.
	Start *int `yaml:"start,omitempty" jsonschema:"minimum=0"`
	// The query parameter of the page size, such as `per_page`; sent with `size`.
	SizeParam string `yaml:"size_param,omitempty"`
	// The number of items to ask for per page. A page with fewer items is the last.
	Size int `yaml:"size,omitempty" jsonschema:"minimum=1"`
}

// PageOffset is offset pagination: `?offset=0`, `?offset=100`, ... counting the items read.
type PageOffset struct {
	// The query parameter of the offset. Default: `offset`.
	Param string `yaml:"param,omitempty"`
	// The offset of the first page. Default: 0.
	Start int `yaml:"start,omitempty" jsonschema:"minimum=0"`
	// The query parameter of the page size, such as `limit`; sent with `limit`.
	LimitParam string `yaml:"limit_param,omitempty"`
	// The number of items to ask for per page. A page with fewer items is the last.
	Limit int `yaml:"limit,omitempty" jsonschema:"minimum=1"`
}

func checkRestStep(c *checker, s *stepCheck) {
	st, sp := s.st, s.path
	c.checkRest(s.b, sp+".rest", st.Rest, s.env)
	if pg := st.Rest.Paginate; pg != nil {
		if st.Poll != nil {
			c.errorf(s.b.doc, s.b.doc.keyPos(sp+".poll"), sp+".poll", "poll and rest.paginate do not go together: a step either repeats one call or walks pages; split it into two steps")
		}
		c.checkPaginate(s.b, sp+".rest.paginate", pg, s.selfEnv(".rest.paginate", "page"))
	}
}

func (c *checker) checkRest(b *body, p string, r *RestStep, env *exprEnv) {
	doc := b.doc
	c.checkConnectionRef(doc, p+".connection", r.Connection)
	if r.Path != "" {
		switch {
		case strings.Contains(r.Path, "://"):
			c.errorf(doc, doc.valPos(p+".path"), p+".path", "path %q is a URL; a step's path is joined to its connection's base URL and never leaves its host, so define a Connection for that host", r.Path)
		case !strings.HasPrefix(r.Path, "/") && !strings.HasPrefix(r.Path, "${{"):
			c.errorf(doc, doc.valPos(p+".path"), p+".path", "path must start with \"/\", such as \"/%s\"", r.Path)
		default:
			c.checkString(doc, p+".path", r.Path, env)
		}
	}
	c.checkScalars(b, p+".query", r.Query, env)
	c.checkHeaderNames(doc, p+".headers", r.Headers)
	c.checkScalars(b, p+".headers", r.Headers, env)
	c.checkValue(doc, p+".body", r.Body, env)
	if r.BodyType == "form" && r.Body != nil {
		switch v := r.Body.(type) {
		case map[string]any:
			for _, k := range sortedKeys(v) {
				switch v[k].(type) {
				case map[string]any, []any:
					fp := joinPath(p+".body", k)
					c.errorf(doc, doc.valPos(fp), fp, "a form field is a string, number or boolean; send nested values with body_type: json")
				}
			}
		case string:
			if !engine.IsTemplate(v) {
				c.errorf(doc, doc.valPos(p+".body"), p+".body", "body_type form sends a mapping of fields; give body as a mapping")
			}
		default:
			c.errorf(doc, doc.valPos(p+".body"), p+".body", "body_type form sends a mapping of fields; give body as a mapping")
		}
	}
	for i, code := range r.Expect {
		if code < 100 || code > 599 {
			ep := indexPath(p+".expect", i)
			c.errorf(doc, doc.valPos(ep), ep, "%d is not an HTTP status code; use 100 to 599", code)
		}
	}
	c.checkValue(doc, p+".params", r.Params, env)
	c.checkRestOpenAPI(b, p, r)
}

// checkPaginate checks a rest step's paginate: one way to the next page,
// JSON paths where paths belong, and pairs given together.
func (c *checker) checkPaginate(b *body, p string, pg *Paginate, env *exprEnv) {
	doc := b.doc
	var styles []string
	for _, k := range []string{"next_link", "cursor", "page", "offset"} {
		if _, set := doc.keys[p+"."+k]; set {
			styles = append(styles, k)
		}
	}
	switch {
	case len(styles) == 0 && !doc.troubled[p]:
		c.errorf(doc, doc.keyPos(p), p, "paginate needs one way to reach the next page: next_link (header or a JSON path), cursor, page or offset")
	case len(styles) > 1:
		c.errorf(doc, doc.keyPos(p+"."+styles[1]), p+"."+styles[1], "paginate has both %s and %s; give one way to reach the next page", styles[0], styles[1])
	}
	c.checkJSONPath(doc, p+".items", pg.Items)
	switch nl := pg.NextLink; {
	case nl == "header" || nl == "":
	case strings.Contains(nl, "://") || strings.HasPrefix(nl, "/"):
		c.errorf(doc, doc.valPos(p+".next_link"), p+".next_link", "next_link says where the partner gives the next link: header (the Link header) or a JSON path such as $.links.next, not a URL")
	case strings.EqualFold(nl, "link") || strings.EqualFold(nl, "headers"):
		c.errorf(doc, doc.valPos(p+".next_link"), p+".next_link", "next_link %q: write header for the Link header, or a JSON path such as $.links.next", nl)
	default:
		c.checkJSONPath(doc, p+".next_link", nl)
	}
	if cu := pg.Cursor; cu != nil {
		c.checkJSONPath(doc, p+".cursor.from", cu.From)
	}
	if pn := pg.Page; pn != nil && pn.SizeParam != "" && pn.Size == 0 {
		c.errorf(doc, doc.keyPos(p+".page.size_param"), p+".page.size_param", "size_param %q is sent with size; add size: (items per page)", pn.SizeParam)
	}
	if po := pg.Offset; po != nil && po.LimitParam != "" && po.Limit == 0 {
		c.errorf(doc, doc.keyPos(p+".offset.limit_param"), p+".offset.limit_param", "limit_param %q is sent with limit; add limit: (items per page)", po.LimitParam)
	}
	if pg.StopWhen != "" {
		c.checkString(doc, p+".stop_when", string(pg.StopWhen), env)
	}
}

// checkJSONPath checks a path into a JSON body: a path, not an expression.
func (c *checker) checkJSONPath(doc *document, p, v string) {
	switch {
	case v == "":
	case engine.IsTemplate(v):
		c.errorf(doc, doc.valPos(p), p, "%s is a JSON path into the page such as $.data, not an expression", lastKey(p))
	case strings.ContainsAny(v, " \t\n"):
		c.errorf(doc, doc.valPos(p), p, "%s %q is not a JSON path; write one such as $.data or $.meta.next_cursor", lastKey(p), v)
	}
}

func lastKey(p string) string {
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func compileRest(c *compiler, doc *document, sp string, st *Step, es *engine.Step) {
	r := st.Rest
	method := r.Method
	if method == "" {
		method = "GET"
	}
	es.Rest = &engine.RestStep{
		Connection: r.Connection,
		Method:     method,
		Path:       r.Path,
		Query:      sortedBindings(r.Query),
		Headers:    sortedBindings(r.Headers),
		Body:       deepCopy(r.Body),
		BodyType:   r.BodyType,
		Expect:     append([]int(nil), r.Expect...),
	}
	c.compileRestOpenAPI(r, es.Rest)
	es.Rest.Paginate = compilePaginate(r.Paginate)
	if pg := r.Paginate; pg != nil && len(pg.EachPage) > 0 {
		es.Rest.Paginate.EachPage = c.steps(doc, sp+".rest.paginate.each_page", pg.EachPage)
	}
}

// compilePaginate fills in the defaults of a paginate.
func compilePaginate(pg *Paginate) *engine.Paginate {
	if pg == nil {
		return nil
	}
	out := &engine.Paginate{
		Items: pg.Items, NextLink: pg.NextLink, StopWhen: string(pg.StopWhen),
		MaxPages: pg.MaxPages, MaxItems: pg.MaxItems,
	}
	if cu := pg.Cursor; cu != nil {
		out.Cursor = &engine.PageCursor{From: cu.From, Param: cu.Param}
	}
	if pn := pg.Page; pn != nil {
		out.Page = &engine.PageNumber{Param: pn.Param, Start: 1, SizeParam: pn.SizeParam, Size: pn.Size}
		if out.Page.Param == "" {
			out.Page.Param = "page"
		}
		if pn.Start != nil {
			out.Page.Start = *pn.Start
		}
	}
	if po := pg.Offset; po != nil {
		out.Offset = &engine.PageOffset{Param: po.Param, Start: po.Start, LimitParam: po.LimitParam, Limit: po.Limit}
		if out.Offset.Param == "" {
			out.Offset.Param = "offset"
		}
	}
	return out
}
