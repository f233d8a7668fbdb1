package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

func (c *Console) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/executions", http.StatusSeeOther)
	})
	m.HandleFunc("GET /executions", c.executionsPage)
	m.HandleFunc("GET /executions/{id}", c.executionPage)
	m.HandleFunc("GET /executions/{id}/step", c.stepPage)
	m.HandleFunc("GET /executions/{id}/op/{op}", c.confirmOperation)
	m.HandleFunc("POST /executions/{id}/op/{op}", c.runOperation)
	m.HandleFunc("GET /flows", c.flowsPage)
	m.HandleFunc("GET /flows/{name}", c.flowPage)
	m.HandleFunc("POST /flows/{name}/run", c.testRun)
	m.HandleFunc("GET /schedules", c.schedulesPage)
	m.HandleFunc("GET /schedules/op/{op}", c.confirmScheduleOp)
	m.HandleFunc("POST /schedules/op/{op}", c.runScheduleOp)
	m.HandleFunc("GET /certificates", c.certificatesPage)
	m.HandleFunc("POST /logout", c.logout)
	c.mux = m
}

// pageTemplate is a page: the layout and the page's own templates.
type pageTemplate struct{ t *template.Template }

var funcs = template.FuncMap{
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	"tsp": func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
	},
	"dur":  func(d engine.Duration) string { return shortDuration(d.D()) },
	"ms":   func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) + " ms" },
	"json": prettyJSON,
	"pathEscape": func(s string) string {
		return url.PathEscape(s)
	},
	"queryEscape": url.QueryEscape,
	"indent": func(d int) string {
		if d > 12 {
			d = 12
		}
		return "d" + strconv.Itoa(d)
	},
	"days": func(t time.Time) int { return daysLeft(t, time.Now()) },
	"kib": func(n int64) string {
		if n < 1024 {
			return fmt.Sprintf("%d bytes", n)
		}
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	},
	"add": func(a, b int) int { return a + b },
}

func daysLeft(t, now time.Time) int {
	return int(t.Sub(now).Hours() / 24)
}

func parsePages() (map[string]*pageTemplate, error) {
	layout, err := fs.ReadFile(assets, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	parts, err := fs.ReadFile(assets, "templates/parts.html")
	if err != nil {
		return nil, err
	}
	names, _ := fs.Glob(assets, "templates/*.html")
	out := map[string]*pageTemplate{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || base == "parts" {
			continue
		}
		body, err := fs.ReadFile(assets, n)
		if err != nil {
			return nil, err
		}
		t := template.New("layout").Funcs(funcs)
		for _, src := range [][]byte{layout, parts, body} {
			if t, err = t.Parse(string(src)); err != nil {
				return nil, fmt.Errorf("console: template %s: %w", n, err)
			}
		}
		out[base] = &pageTemplate{t: t}
	}
	return out, nil
}

// view is what every page template gets.
type view struct {
	Title    string
	Nav      string
	Identity Identity
	CSRF     string
	Refresh  int // milliseconds
	Message  string
	Error    string
	Data     any
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, id Identity, data any) {
	c.renderView(w, r, status, page, "layout", view{Identity: id, CSRF: csrfOf(r), Refresh: int(c.o.Refresh / time.Millisecond), Data: data, Nav: page})
}

func (c *Console) renderView(w http.ResponseWriter, r *http.Request, status int, page, tmpl string, v view) {
	p := c.pages[page]
	if p == nil {
		http.Error(w, "no page "+page, http.StatusInternalServerError)
		return
	}
	if v.Message == "" {
		v.Message = r.URL.Query().Get("msg")
	}
	var buf bytes.Buffer
	if err := p.t.ExecuteTemplate(&buf, tmpl, v); err != nil {
		c.o.Logger.Error("console: rendering a page", "page", page, "err", err)
		http.Error(w, "rendering the page failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (c *Console) fail(w http.ResponseWriter, r *http.Request, id Identity, status int, err error) {
	c.renderView(w, r, status, "error", "layout", view{Identity: id, CSRF: csrfOf(r), Error: err.Error(), Title: http.StatusText(status)})
}

// ---- executions

type executionsData struct {
	Q        listQuery
	Statuses []statusFilter
	Since    []struct{ Value, Label string }
	Page     *listPage
	ListErr  string
	// Self is the filters as a query, without the page; PageQuery adds it.
	Self      template.URL
	PageQuery template.URL
	First     bool
}

func (c *Console) executionsPage(w http.ResponseWriter, r *http.Request) {
	qv := r.URL.Query()
	q := listQuery{Flow: qv.Get("flow"), Status: qv.Get("status"), Text: qv.Get("q"), Since: qv.Get("since"),
		From: qv.Get("from"), To: qv.Get("to"), Page: qv.Get("page")}
	q.TZ, _ = strconv.Atoi(qv.Get("tz"))
	d := executionsData{Q: q, Statuses: statusFilters, Since: sinceChoices, First: q.Page == ""}
	page, err := c.list(r.Context(), q)
	if err != nil {
		d.ListErr = err.Error()
		page = &listPage{}
	}
	d.Page = page
	self := url.Values{}
	for k, v := range qv {
		if k != "fragment" && k != "page" {
			self[k] = v
		}
	}
	d.Self = template.URL(self.Encode())
	d.PageQuery = template.URL(url.Values{"page": {q.Page}}.Encode())
	v := view{Identity: identityOf(r), CSRF: csrfOf(r), Refresh: int(c.o.Refresh / time.Millisecond), Data: d, Nav: "executions", Title: "Executions"}
	if qv.Get("fragment") == "rows" {
		c.renderView(w, r, http.StatusOK, "executions", "rows", v)
		return
	}
	c.renderView(w, r, http.StatusOK, "executions", "layout", v)
}

// rowView is a row of an execution's step tree with its timeline bar.
type rowView struct {
	Node *stepNode
	Bar  *bar
}

type executionData struct {
	Ex       *execution
	Rows     []rowView
	Ops      []Operation
	Failed   *engine.StepRecord
	Inputs   string
	Outputs  string
	Live     bool
	RunQuery template.URL
}

func (c *Console) executionData(ctx context.Context, id, runID string, full bool) (*executionData, error) {
	ex, err := c.describe(ctx, id, runID, full)
	if err != nil {
		return nil, err
	}
	d := &executionData{Ex: ex, Live: ex.Running}
	if runID != "" {
		d.RunQuery = template.URL("&run=" + url.QueryEscape(runID))
	}
	if ex.Record != nil {
		nodes := flatten(stepTree(ex.Record.Steps))
		bars, _ := timeline(ex.Record, nodes, c.o.Now())
		byPath := map[string]*bar{}
		for i := range bars {
			byPath[bars[i].Path] = &bars[i]
		}
		for _, n := range nodes {
			d.Rows = append(d.Rows, rowView{Node: n, Bar: byPath[n.Path]})
		}
		d.Failed = failedStep(ex.Record)
		if len(ex.Record.Inputs) > 0 {
			d.Inputs = prettyJSON(ex.Record.Inputs)
		}
		if len(ex.Record.Outputs) > 0 {
			d.Outputs = prettyJSON(ex.Record.Outputs)
		}
	}
	t := targetOf(ex)
	for _, op := range c.ops {
		if op.Applies(t) {
			d.Ops = append(d.Ops, op)
		}
	}
	return d, nil
}

func (c *Console) executionPage(w http.ResponseWriter, r *http.Request) {
	id, runID := r.PathValue("id"), r.URL.Query().Get("run")
	live := r.URL.Query().Get("fragment") == "live"
	d, err := c.executionData(r.Context(), id, runID, !live)
	if err != nil {
		c.fail(w, r, identityOf(r), http.StatusNotFound, err)
		return
	}
	v := view{Identity: identityOf(r), CSRF: csrfOf(r), Refresh: int(c.o.Refresh / time.Millisecond), Data: d, Nav: "executions", Title: id}
	if live {
		if !d.Ex.Running {
			w.Header().Set("X-Outflow-Ended", "1")
		}
		c.renderView(w, r, http.StatusOK, "execution", "live", v)
		return
	}
	c.renderView(w, r, http.StatusOK, "execution", "layout", v)
}

type stepData struct {
	Ex          *execution
	Step        *engine.StepRecord
	Request     []header
	Response    []header
	ReqBody     bodyView
	RespBody    bodyView
	Curl        string
	Outputs     string
	AuthSummary string
	RunQuery    template.URL
}

func (c *Console) stepPage(w http.ResponseWriter, r *http.Request) {
	id, runID, path := r.PathValue("id"), r.URL.Query().Get("run"), r.URL.Query().Get("path")
	ex, err := c.describe(r.Context(), id, runID, true)
	if err != nil {
		c.fail(w, r, identityOf(r), http.StatusNotFound, err)
		return
	}
	if ex.Record == nil {
		c.fail(w, r, identityOf(r), http.StatusBadGateway, fmt.Errorf("the record of %s cannot be read: %s", id, ex.RecordErr))
		return
	}
	st := ex.Record.Step(path)
	if st == nil {
		c.fail(w, r, identityOf(r), http.StatusNotFound, fmt.Errorf("execution %s has no step %q", id, path))
		return
	}
	d := stepData{Ex: ex, Step: st}
	if runID != "" {
		d.RunQuery = template.URL("&run=" + url.QueryEscape(runID))
	}
	if st.Request != nil {
		d.Request = redactHeaders(st.Request.Headers)
		d.ReqBody = renderBody(nil, st.Request.Body, headerValue(st.Request.Headers, "Content-Type"))
		d.Curl = curlCommand(st.Request, st.TLS)
	}
	if rs := st.Response; rs != nil {
		d.Response = redactHeaders(rs.Headers)
		d.RespBody = renderBody(rs.JSON, rs.Body, headerValue(rs.Headers, "Content-Type"))
		d.RespBody.Size, d.RespBody.Truncated, d.RespBody.Limit = rs.BodySize, rs.BodyTruncated, rs.BodyLimit
	}
	if len(st.Outputs) > 0 {
		d.Outputs = prettyJSON(st.Outputs)
	}
	if st.Auth != nil {
		d.AuthSummary = st.Auth.Summary()
	}
	c.render(w, r, http.StatusOK, "step", identityOf(r), d)
}

func headerValue(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

type confirmData struct {
	Ex     *execution
	Op     *Operation
	Target Target
	Action string
	Back   string
}

func (c *Console) opTarget(w http.ResponseWriter, r *http.Request) (*execution, *Operation, bool) {
	op := c.operation(r.PathValue("op"))
	if op == nil {
		c.fail(w, r, identityOf(r), http.StatusNotFound, fmt.Errorf("no operation %q", r.PathValue("op")))
		return nil, nil, false
	}
	ex, err := c.describe(r.Context(), r.PathValue("id"), r.URL.Query().Get("run"), false)
	if err != nil {
		c.fail(w, r, identityOf(r), http.StatusNotFound, err)
		return nil, nil, false
	}
	if !op.Applies(targetOf(ex)) {
		c.fail(w, r, identityOf(r), http.StatusConflict, fmt.Errorf("%s does not apply to execution %s, which is %s", strings.ToLower(op.Label), ex.ID, ex.Status))
		return nil, nil, false
	}
	return ex, op, true
}

func (c *Console) confirmOperation(w http.ResponseWriter, r *http.Request) {
	ex, op, ok := c.opTarget(w, r)
	if !ok {
		return
	}
	if !identityOf(r).CanOperate() {
		c.fail(w, r, identityOf(r), http.StatusForbidden, fmt.Errorf("%s may look but not act: the %s role is needed", identityOf(r).Name, RoleOperator))
		return
	}
	c.render(w, r, http.StatusOK, "confirm", identityOf(r), confirmData{Ex: ex, Op: op, Target: targetOf(ex),
		Action: "/executions/" + url.PathEscape(ex.ID) + "/op/" + op.Name + "?run=" + url.QueryEscape(ex.RunID),
		Back:   "/executions/" + url.PathEscape(ex.ID)})
}

func (c *Console) runOperation(w http.ResponseWriter, r *http.Request) {
	ex, op, ok := c.opTarget(w, r)
	if !ok {
		return
	}
	for _, f := range op.Fields {
		if f.Required && strings.TrimSpace(r.PostFormValue(f.Name)) == "" {
			c.fail(w, r, identityOf(r), http.StatusBadRequest, fmt.Errorf("%s needs %s", strings.ToLower(op.Label), strings.ToLower(f.Label)))
			return
		}
	}
	id := identityOf(r)
	env := OpEnv{Client: c.o.Client, Identity: id, TemporalIdentity: temporalIdentity(id)}
	res, err := op.Run(r.Context(), env, targetOf(ex), r.PostForm)
	args := []any{"operation", op.Name, "execution", ex.ID, "run", ex.RunID}
	for _, f := range op.Fields {
		args = append(args, f.Name, r.PostFormValue(f.Name))
	}
	if err != nil {
		c.logAction(r, "operation failed", append(args, "err", err.Error())...)
		c.fail(w, r, id, http.StatusBadGateway, err)
		return
	}
	c.logAction(r, "operation", args...)
	to := ex.ID
	if res.Execution != "" {
		to = res.Execution
	}
	http.Redirect(w, r, "/executions/"+url.PathEscape(to)+"?msg="+url.QueryEscape(op.Label+": "+res.Message), http.StatusSeeOther)
}

// ---- flows

type flowsData struct {
	Runnables []Runnable
	Err       string
	NoProject bool
}

func (c *Console) flowsPage(w http.ResponseWriter, r *http.Request) {
	d := flowsData{NoProject: c.o.Project == nil}
	if c.o.Project != nil {
		rs, err := c.o.Project.Runnables()
		if err != nil {
			d.Err = err.Error()
		}
		d.Runnables = rs
	}
	c.render(w, r, http.StatusOK, "flows", identityOf(r), d)
}

type inputField struct {
	engine.InputSpec
	Value    string
	Control  string // text | number | bool | json | password
	Required bool
}

type flowData struct {
	Plan   *engine.Plan
	Graph  []gnode
	Inputs []inputField
	Steps  []string
	Err    string
}

func (c *Console) flowPage(w http.ResponseWriter, r *http.Request) {
	if c.o.Project == nil {
		c.fail(w, r, identityOf(r), http.StatusNotFound, errors.New("the console was started without a project (--project)"))
		return
	}
	plan, err := c.o.Project.Plan(r.PathValue("name"))
	if err != nil {
		c.fail(w, r, identityOf(r), http.StatusNotFound, err)
		return
	}
	d := flowData{Plan: plan, Graph: graph(plan, plan.Steps, 0), Steps: testableSteps(plan.Steps)}
	for _, in := range plan.Inputs {
		f := inputField{InputSpec: in, Control: "text", Required: in.Required}
		switch {
		case in.Secret:
			f.Control = "password"
		case in.Type == "boolean":
			f.Control = "bool"
		case in.Type == "number" || in.Type == "integer":
			f.Control = "number"
		case in.Type == "object" || in.Type == "array":
			f.Control = "json"
		}
		if in.Default != nil && !in.Secret {
			if f.Control == "json" {
				b, _ := json.Marshal(in.Default)
				f.Value = string(b)
			} else {
				f.Value = engine.Stringify(in.Default)
			}
		}
		d.Inputs = append(d.Inputs, f)
	}
	c.render(w, r, http.StatusOK, "flow", identityOf(r), d)
}

// testableSteps are the steps a single-step test run may choose: those at
// the top and in parallel branches (a step in a foreach needs an item).
func testableSteps(steps []engine.Step) []string {
	var out []string
	for _, st := range steps {
		out = append(out, st.ID)
		for _, br := range st.Parallel {
			out = append(out, testableSteps(br.Steps)...)
		}
	}
	return out
}

// testRun starts a flow or action — or one step of it — on the real path,
// as `outflow run` and `outflow test --step` do, and shows its execution.
func (c *Console) testRun(w http.ResponseWriter, r *http.Request) {
	if c.o.Project == nil {
		c.fail(w, r, identityOf(r), http.StatusNotFound, errors.New("the console was started without a project (--project)"))
		return
	}
	name, step := r.PathValue("name"), r.PostFormValue("step")
	var plan *engine.Plan
	var err error
	if step != "" {
		plan, err = c.o.Project.StepPlan(name, step)
	} else {
		plan, err = c.o.Project.Plan(name)
	}
	if err != nil {
		c.fail(w, r, identityOf(r), http.StatusBadRequest, err)
		return
	}
	inputs := map[string]any{}
	if step != "" {
		// A single step reads what earlier steps would have given it from
		// inputs, which the plan does not declare (as test --step does).
		extra, err := parseExtraInputs(r.PostFormValue("extra"))
		if err != nil {
			c.fail(w, r, identityOf(r), http.StatusBadRequest, err)
			return
		}
		plan.Inputs = nil
		for k, v := range extra {
			inputs[k] = v
			plan.Inputs = append(plan.Inputs, engine.InputSpec{Name: k})
		}
		sort.Slice(plan.Inputs, func(i, j int) bool { return plan.Inputs[i].Name < plan.Inputs[j].Name })
	} else {
		for _, in := range plan.Inputs {
			v := r.PostFormValue("in." + in.Name)
			if v == "" {
				continue // the default applies, or the flow says the input is missing
			}
			inputs[in.Name] = v
		}
	}
	run, err := c.o.Client.Start(r.Context(), plan, inputs, engine.RunOptions{})
	what := strings.ToLower(plan.Kind) + " " + name
	if step != "" {
		what += " step " + step
	}
	if err != nil {
		c.logAction(r, "test-run failed", "target", what, "err", err.Error())
		c.fail(w, r, identityOf(r), http.StatusBadGateway, err)
		return
	}
	c.logAction(r, "test-run", "target", what, "execution", run.GetID())
	http.Redirect(w, r, "/executions/"+url.PathEscape(run.GetID())+"?msg="+url.QueryEscape("started "+what), http.StatusSeeOther)
}

// parseExtraInputs reads a step test run's inputs: a JSON object, or
// name=value lines.
func parseExtraInputs(s string) (map[string]any, error) {
	s = strings.TrimSpace(s)
	out := map[string]any{}
	if s == "" {
		return out, nil
	}
	if strings.HasPrefix(s, "{") {
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			return nil, fmt.Errorf("the step's inputs are not a JSON object: %w", err)
		}
		return out, nil
	}
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("the step's inputs, line %d: want name=value", i+1)
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

// gnode is a node of a flow's graph.
type gnode struct {
	ID, Kind, Detail, If, Note string
	Children                   []gnode
	Branches                   []gbranch
	Path                       string
}

type gbranch struct {
	ID    string
	Steps []gnode
}

const maxGraphDepth = 10

// graph draws a plan's steps: a sequence top to bottom, parallel branches
// side by side, foreach and pages as loops around their steps, actions as
// boxes holding theirs.
func graph(plan *engine.Plan, steps []engine.Step, depth int) []gnode {
	var out []gnode
	for i := range steps {
		st := &steps[i]
		n := gnode{ID: st.ID, Kind: st.Kind(), If: st.If}
		switch {
		case st.Rest != nil:
			n.Detail = st.Rest.Method + " " + st.Rest.Path + " via " + st.Rest.Connection
			if st.Rest.Paginate != nil {
				n.Note = "paginated"
				if len(st.Rest.Paginate.EachPage) > 0 && depth < maxGraphDepth {
					n.Note = "for each page"
					n.Children = graph(plan, st.Rest.Paginate.EachPage, depth+1)
				}
			}
		case st.Soap != nil:
			n.Detail = st.Soap.Operation + " via " + st.Soap.Connection
		case st.Action != nil:
			n.Detail = st.Action.Name
			if a := plan.Actions[st.Action.Name]; a != nil && depth < maxGraphDepth {
				n.Children = graph(plan, a.Steps, depth+1)
			}
		case st.Foreach != nil:
			n.Detail = "for each of " + st.Foreach.Items
			if st.Foreach.Concurrency > 1 {
				n.Detail += fmt.Sprintf(", %d at a time", st.Foreach.Concurrency)
			}
			if depth < maxGraphDepth {
				n.Children = graph(plan, st.Foreach.Steps, depth+1)
			}
		case st.Parallel != nil:
			n.Detail = fmt.Sprintf("%d branches at once", len(st.Parallel))
			for _, br := range st.Parallel {
				b := gbranch{ID: br.ID}
				if depth < maxGraphDepth {
					b.Steps = graph(plan, br.Steps, depth+1)
				}
				n.Branches = append(n.Branches, b)
			}
		case st.Wait != nil:
			if st.Wait.Until != "" {
				n.Detail = "until " + st.Wait.Until
			} else {
				n.Detail = "for " + st.Wait.Duration.D().String()
			}
		}
		if n.Kind == "" {
			n.Kind = "step"
		}
		if st.Poll != nil {
			n.Note = strings.TrimSpace(n.Note + " polls until " + st.Poll.Until)
		}
		out = append(out, n)
	}
	return out
}

// ---- schedules

type scheduleRow struct {
	engine.ScheduleInfo
	LastStatus string
}

type schedulesData struct {
	Rows []scheduleRow
	Err  string
}

func (c *Console) schedulesPage(w http.ResponseWriter, r *http.Request) {
	d := schedulesData{}
	infos, err := c.o.Client.Schedules(r.Context(), "")
	if err != nil {
		d.Err = err.Error()
	}
	for _, in := range infos {
		row := scheduleRow{ScheduleInfo: in}
		if in.LastWorkflowID != "" {
			if desc, err := c.o.Client.Temporal.DescribeWorkflowExecution(r.Context(), in.LastWorkflowID, ""); err == nil {
				info := desc.GetWorkflowExecutionInfo()
				row.LastStatus = statusOf(info.GetStatus(), keyword(info.GetSearchAttributes().GetIndexedFields()["OutflowStatus"]))
			}
		}
		d.Rows = append(d.Rows, row)
	}
	c.render(w, r, http.StatusOK, "schedules", identityOf(r), d)
}

// scheduleOp is an operation on a schedule.
type scheduleOp struct {
	Name, Label, Confirm string
	Fields               []Field
	run                  func(ctx context.Context, c *engine.Client, id string, form url.Values, who Identity) (string, error)
}

var scheduleOps = []scheduleOp{
	{Name: "pause", Label: "Pause", Confirm: "Stop the schedule from starting runs until it is unpaused. The note says why, with your name.",
		Fields: []Field{{Name: "note", Label: "Note", Kind: FieldText}},
		run: func(ctx context.Context, c *engine.Client, id string, f url.Values, who Identity) (string, error) {
			return "paused", c.PauseSchedule(ctx, id, scheduleNote(f.Get("note"), "paused", who))
		}},
	{Name: "unpause", Label: "Unpause", Confirm: "Let the schedule start runs again. Runs missed while it was paused are not started.",
		Fields: []Field{{Name: "note", Label: "Note", Kind: FieldText}},
		run: func(ctx context.Context, c *engine.Client, id string, f url.Values, who Identity) (string, error) {
			return "unpaused", c.UnpauseSchedule(ctx, id, scheduleNote(f.Get("note"), "unpaused", who))
		}},
	{Name: "trigger", Label: "Run now", Confirm: "Start a run of the schedule now, paused or not; under the schedule's overlap policy a run already going on may make this one skip.",
		run: func(ctx context.Context, c *engine.Client, id string, f url.Values, who Identity) (string, error) {
			return "triggered", c.TriggerSchedule(ctx, id, "")
		}},
	{Name: "backfill", Label: "Backfill", Confirm: "Start, now, the runs the schedule would have started between the two times, one after another.",
		Fields: []Field{{Name: "start", Label: "From (YYYY-MM-DDTHH:MM, UTC)", Kind: FieldText, Required: true}, {Name: "end", Label: "To (YYYY-MM-DDTHH:MM, UTC)", Kind: FieldText, Required: true}},
		run: func(ctx context.Context, c *engine.Client, id string, f url.Values, who Identity) (string, error) {
			start, err1 := parseLocalTime(f.Get("start"))
			end, err2 := parseLocalTime(f.Get("end"))
			if err := errors.Join(err1, err2); err != nil {
				return "", err
			}
			return "backfill started", c.BackfillSchedule(ctx, id, start, end, "")
		}},
}

func parseLocalTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04", time.RFC3339, "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want YYYY-MM-DDTHH:MM (UTC)", s)
}

func scheduleNote(note, what string, who Identity) string {
	if note == "" {
		note = what + " in the console"
	}
	return fmt.Sprintf("%s (by %s)", note, who.Name)
}

func findScheduleOp(name string) *scheduleOp {
	for i := range scheduleOps {
		if scheduleOps[i].Name == name {
			return &scheduleOps[i]
		}
	}
	return nil
}

type scheduleConfirmData struct {
	ID     string
	Op     *scheduleOp
	Action string
}

func (c *Console) confirmScheduleOp(w http.ResponseWriter, r *http.Request) {
	op := findScheduleOp(r.PathValue("op"))
	id := r.URL.Query().Get("id")
	if op == nil || id == "" {
		c.fail(w, r, identityOf(r), http.StatusNotFound, errors.New("no such schedule operation"))
		return
	}
	if !identityOf(r).CanOperate() {
		c.fail(w, r, identityOf(r), http.StatusForbidden, fmt.Errorf("%s may look but not act: the %s role is needed", identityOf(r).Name, RoleOperator))
		return
	}
	c.render(w, r, http.StatusOK, "scheduleconfirm", identityOf(r), scheduleConfirmData{ID: id, Op: op,
		Action: "/schedules/op/" + op.Name + "?id=" + url.QueryEscape(id)})
}

func (c *Console) runScheduleOp(w http.ResponseWriter, r *http.Request) {
	op := findScheduleOp(r.PathValue("op"))
	id := r.URL.Query().Get("id")
	if op == nil || id == "" {
		c.fail(w, r, identityOf(r), http.StatusNotFound, errors.New("no such schedule operation"))
		return
	}
	msg, err := op.run(r.Context(), c.o.Client, id, r.PostForm, identityOf(r))
	if err != nil {
		c.logAction(r, "schedule operation failed", "operation", op.Name, "schedule", id, "err", err.Error())
		c.fail(w, r, identityOf(r), http.StatusBadGateway, err)
		return
	}
	c.logAction(r, "schedule operation", "operation", op.Name, "schedule", id)
	http.Redirect(w, r, "/schedules?msg="+url.QueryEscape(id+": "+msg), http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		c.auth.sessions.remove(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1})
	c.logAction(r, "signed out")
	to := "/"
	if c.o.Auth.Mode == AuthBearer {
		to = "/login"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
