package console

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

// redacted is what stands for a secret value on every page.
const redacted = "[redacted]"

// sensitiveHeaders are headers whose values are never shown, whatever the
// step recorded: the steps redact credentials before the record, and the
// console does it again so that a step kind that forgets cannot leak one.
var sensitiveHeaders = map[string]bool{
	"authorization": true, "proxy-authorization": true, "cookie": true, "set-cookie": true,
	"x-api-key": true, "api-key": true, "apikey": true, "x-auth-token": true, "x-access-token": true,
	"x-amz-security-token": true, "x-csrf-token": true, "x-xsrf-token": true,
}

// isSensitiveHeader reports whether a header's value is kept off the pages.
func isSensitiveHeader(name string) bool {
	n := strings.ToLower(name)
	if sensitiveHeaders[n] {
		return true
	}
	return strings.Contains(n, "secret") || strings.Contains(n, "password") || strings.Contains(n, "token") || strings.Contains(n, "signature")
}

// header is one header line on a page.
type header struct {
	Name, Value string
	Redacted    bool
}

// redactHeaders sorts headers by name and hides sensitive values.
func redactHeaders(h map[string]string) []header {
	out := make([]header, 0, len(h))
	for k, v := range h {
		hd := header{Name: k, Value: v}
		if isSensitiveHeader(k) || v == redacted {
			hd.Value, hd.Redacted = redacted, true
		}
		out = append(out, hd)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

// bodyView is a body ready for a page: pretty and collapsible when it is
// JSON or XML, plain text otherwise.
type bodyView struct {
	Kind      string // json | xml | text | empty
	HTML      template.HTML
	Text      string
	Size      int64
	Truncated bool
	Limit     int64
}

// maxTreeNodes bounds the collapsible tree of a body: past it the body is
// shown as indented text, which a browser lays out far faster than
// thousands of nested elements.
const maxTreeNodes = 20000

// renderBody turns a body (parsed JSON, or text) into a view. contentType
// helps tell XML from text.
func renderBody(parsed any, text, contentType string) bodyView {
	v := bodyView{Kind: "empty"}
	if parsed != nil {
		v.Kind = "json"
		var b strings.Builder
		n := 0
		if jsonTree(&b, parsed, 0, &n) {
			v.HTML = template.HTML(b.String())
		} else {
			pretty, _ := json.MarshalIndent(parsed, "", "  ")
			v.Kind, v.Text = "text", string(pretty)
		}
		return v
	}
	if strings.TrimSpace(text) == "" {
		return v
	}
	trimmed := strings.TrimSpace(text)
	if (strings.Contains(contentType, "json") || strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[")) && json.Valid([]byte(trimmed)) {
		var x any
		d := json.NewDecoder(strings.NewReader(trimmed))
		d.UseNumber()
		if d.Decode(&x) == nil {
			return renderBody(x, "", "")
		}
	}
	if strings.Contains(contentType, "xml") || strings.HasPrefix(trimmed, "<") {
		if h, ok := xmlTree(trimmed); ok {
			v.Kind, v.HTML = "xml", h
			return v
		}
	}
	v.Kind, v.Text = "text", text
	return v
}

// jsonTree writes v as nested <details>, open for the first two levels. It
// returns false when v has more than maxTreeNodes nodes.
func jsonTree(b *strings.Builder, v any, depth int, n *int) bool {
	*n++
	if *n > maxTreeNodes {
		return false
	}
	open := ""
	if depth < 2 {
		open = " open"
	}
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			b.WriteString(`<span class="j-p">{}</span>`)
			return true
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(b, `<details class="j"%s><summary>{ %d %s }</summary><ul>`, open, len(x), plural(len(x), "key", "keys"))
		for _, k := range keys {
			b.WriteString(`<li><span class="j-k">`)
			b.WriteString(html.EscapeString(strconv.Quote(k)))
			b.WriteString(`</span>: `)
			if !jsonTree(b, x[k], depth+1, n) {
				return false
			}
			b.WriteString(`</li>`)
		}
		b.WriteString(`</ul></details>`)
	case []any:
		if len(x) == 0 {
			b.WriteString(`<span class="j-p">[]</span>`)
			return true
		}
		fmt.Fprintf(b, `<details class="j"%s><summary>[ %d %s ]</summary><ol start="0">`, open, len(x), plural(len(x), "item", "items"))
		for _, e := range x {
			b.WriteString(`<li>`)
			if !jsonTree(b, e, depth+1, n) {
				return false
			}
			b.WriteString(`</li>`)
		}
		b.WriteString(`</ol></details>`)
	case string:
		b.WriteString(`<span class="j-s">`)
		b.WriteString(html.EscapeString(strconv.Quote(x)))
		b.WriteString(`</span>`)
	case nil:
		b.WriteString(`<span class="j-p">null</span>`)
	case bool:
		fmt.Fprintf(b, `<span class="j-p">%t</span>`, x)
	case json.Number:
		b.WriteString(`<span class="j-n">` + html.EscapeString(x.String()) + `</span>`)
	case float64:
		b.WriteString(`<span class="j-n">` + strconv.FormatFloat(x, 'g', -1, 64) + `</span>`)
	default:
		bs, _ := json.Marshal(x)
		b.WriteString(`<span class="j-p">` + html.EscapeString(string(bs)) + `</span>`)
	}
	return true
}

// xmlNode is an element of a parsed XML body.
type xmlNode struct {
	start    string // "<S:Envelope xmlns:S=...>"
	end      string
	text     string
	children []*xmlNode
}

// xmlTree parses text as XML and writes it as nested <details>, elements
// that hold only text on one line.
func xmlTree(text string) (template.HTML, bool) {
	d := xml.NewDecoder(strings.NewReader(text))
	d.Strict = false
	root := &xmlNode{}
	stack := []*xmlNode{root}
	nodes := 0
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", false
		}
		cur := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			nodes++
			if nodes > maxTreeNodes {
				return "", false
			}
			n := &xmlNode{start: startTag(t), end: "</" + qname(t.Name) + ">"}
			cur.children = append(cur.children, n)
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 1 {
				return "", false
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if s := strings.TrimSpace(string(t)); s != "" {
				cur.text += s
			}
		case xml.Comment:
			cur.children = append(cur.children, &xmlNode{text: "<!--" + string(t) + "-->"})
		}
	}
	if len(stack) != 1 || len(root.children) == 0 {
		return "", false
	}
	var b strings.Builder
	for _, c := range root.children {
		writeXML(&b, c, 0)
	}
	return template.HTML(b.String()), true
}

func qname(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}

func startTag(t xml.StartElement) string {
	var b strings.Builder
	b.WriteString("<" + qname(t.Name))
	for _, a := range t.Attr {
		fmt.Fprintf(&b, " %s=%q", qname(a.Name), a.Value)
	}
	b.WriteString(">")
	return b.String()
}

func writeXML(b *strings.Builder, n *xmlNode, depth int) {
	if n.start == "" { // a comment
		b.WriteString(`<div class="x-c">` + html.EscapeString(n.text) + `</div>`)
		return
	}
	if len(n.children) == 0 {
		b.WriteString(`<div class="x-e"><span class="x-t">` + html.EscapeString(n.start) + `</span>`)
		b.WriteString(`<span class="x-v">` + html.EscapeString(n.text) + `</span>`)
		b.WriteString(`<span class="x-t">` + html.EscapeString(n.end) + `</span></div>`)
		return
	}
	open := ""
	if depth < 4 {
		open = " open"
	}
	b.WriteString(`<details class="x"` + open + `><summary><span class="x-t">` + html.EscapeString(n.start) + `</span></summary>`)
	if n.text != "" {
		b.WriteString(`<div class="x-v">` + html.EscapeString(n.text) + `</div>`)
	}
	for _, c := range n.children {
		writeXML(b, c, depth+1)
	}
	b.WriteString(`<span class="x-t">` + html.EscapeString(n.end) + `</span></details>`)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// curlCommand is "Copy as curl" for a recorded request: the method, URL,
// headers and body as sent, with every redacted header replaced by a shell
// variable of the same name and the client certificate by $CLIENT_CERT and
// $CLIENT_KEY, so that the command holds no secret value.
func curlCommand(req *engine.RequestSummary, tlsFacts *engine.TLSFacts) string {
	if req == nil {
		return ""
	}
	var b strings.Builder
	if tlsFacts != nil && tlsFacts.ClientCertificate != nil {
		fmt.Fprintf(&b, "# the client certificate was %s; set CLIENT_CERT and CLIENT_KEY to its files\n", tlsFacts.ClientCertificate.Subject)
	}
	var vars []string
	hs := redactHeaders(req.Headers)
	for _, h := range hs {
		if h.Redacted {
			vars = append(vars, shellVar(h.Name))
		}
	}
	if len(vars) > 0 {
		fmt.Fprintf(&b, "# set %s to the value(s) the step sent; they are not shown here\n", strings.Join(vars, ", "))
	}
	b.WriteString("curl")
	if req.Method != "" && req.Method != "GET" {
		b.WriteString(" -X " + shellQuote(req.Method))
	}
	b.WriteString(" " + shellQuote(req.URL))
	if tlsFacts != nil && tlsFacts.ClientCertificate != nil {
		b.WriteString(` --cert "$CLIENT_CERT" --key "$CLIENT_KEY"`)
	}
	for _, h := range hs {
		if h.Redacted {
			fmt.Fprintf(&b, " \\\n  -H \"%s: $%s\"", h.Name, shellVar(h.Name))
			continue
		}
		b.WriteString(" \\\n  -H " + shellQuote(h.Name+": "+h.Value))
	}
	if req.Body != "" {
		b.WriteString(" \\\n  --data-raw " + shellQuote(req.Body))
	}
	b.WriteString("\n")
	return b.String()
}

var nonWord = regexp.MustCompile(`[^A-Za-z0-9]+`)

func shellVar(name string) string {
	return strings.Trim(strings.ToUpper(nonWord.ReplaceAllString(name, "_")), "_")
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// stepNode is a step of the tree on an execution page. Steps are nested by
// their paths: "ack" holds the item "ack[2]", which holds "ack[2]/post".
type stepNode struct {
	Path     string
	Label    string
	Step     *engine.StepRecord // nil for a foreach item, which is no step
	Children []*stepNode
	Depth    int
}

// stepTree nests the record's steps by path, in record order.
func stepTree(steps []*engine.StepRecord) []*stepNode {
	var roots []*stepNode
	byPath := map[string]*stepNode{}
	var place func(path string) *stepNode
	place = func(path string) *stepNode {
		if n := byPath[path]; n != nil {
			return n
		}
		n := &stepNode{Path: path, Label: path}
		byPath[path] = n
		parent := ""
		if i := strings.LastIndexByte(path, '/'); i >= 0 {
			parent = path[:i]
			n.Label = path[i+1:]
		} else if j := strings.LastIndexByte(path, '['); j > 0 && strings.HasSuffix(path, "]") {
			parent = path[:j]
			n.Label = path[j:]
		}
		if parent == "" {
			roots = append(roots, n)
		} else {
			p := place(parent)
			p.Children = append(p.Children, n)
		}
		return n
	}
	for _, s := range steps {
		place(s.ID).Step = s
	}
	var setDepth func(ns []*stepNode, d int)
	setDepth = func(ns []*stepNode, d int) {
		for _, n := range ns {
			n.Depth = d
			setDepth(n.Children, d+1)
		}
	}
	setDepth(roots, 0)
	return roots
}

// flatten lists a tree depth first, as the page shows it.
func flatten(ns []*stepNode) []*stepNode {
	var out []*stepNode
	for _, n := range ns {
		out = append(out, n)
		out = append(out, flatten(n.Children)...)
	}
	return out
}

// bar is one step's bar on the timeline, in percent of the execution's span.
type bar struct {
	Path        string
	Status      string
	X, W        float64
	Y           int
	Label       string
	Title       string
	LabelInside bool
}

const (
	timelineRow  = 18
	timelineMinW = 0.2
)

// timeline places a bar per step from the recorded start and duration;
// a running step's bar reaches now.
func timeline(rec *engine.Record, rows []*stepNode, now time.Time) ([]bar, int) {
	start := rec.Start
	end := start
	if rec.End != nil {
		end = *rec.End
	}
	stepEnd := func(s *engine.StepRecord) time.Time {
		if s.Status == engine.StatusRunning || s.Status == engine.StatusWaiting {
			if rec.End == nil {
				return now
			}
			return *rec.End
		}
		return s.Start.Add(s.Duration.D())
	}
	for _, n := range rows {
		if s := n.Step; s != nil && !s.Start.IsZero() {
			if s.Start.Before(start) {
				start = s.Start
			}
			if e := stepEnd(s); e.After(end) {
				end = e
			}
		}
	}
	if rec.End == nil && now.After(end) {
		end = now
	}
	span := end.Sub(start)
	if span <= 0 {
		span = time.Millisecond
	}
	var bars []bar
	for i, n := range rows {
		s := n.Step
		if s == nil || s.Start.IsZero() {
			continue
		}
		x := float64(s.Start.Sub(start)) / float64(span) * 100
		w := float64(stepEnd(s).Sub(s.Start)) / float64(span) * 100
		if w < timelineMinW {
			w = timelineMinW
		}
		if x+w > 100 {
			w = 100 - x
		}
		d := stepEnd(s).Sub(s.Start)
		bars = append(bars, bar{
			Path: s.ID, Status: s.Status, X: round2(x), W: round2(w), Y: i * timelineRow,
			Label: shortDuration(d), Title: fmt.Sprintf("%s: %s, %s", s.ID, s.Status, shortDuration(d)),
			LabelInside: w > 12,
		})
	}
	return bars, len(rows) * timelineRow
}

func round2(f float64) float64 { return float64(int(f*100)) / 100 }

// shortDuration writes a duration the way people read it: 85ms, 1.2s, 3m4s.
func shortDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// failedStep is the step whose failure ended the run: the last failed step
// none of whose own steps failed (an action fails because its step did;
// the step is where the partner's words are). Nil when none failed.
func failedStep(rec *engine.Record) *engine.StepRecord {
	if rec == nil {
		return nil
	}
	hasFailedChild := map[string]bool{}
	for _, s := range rec.Steps {
		if s.Status == engine.StatusFailed {
			for p := parentPath(s.ID); p != ""; p = parentPath(p) {
				hasFailedChild[p] = true
			}
		}
	}
	var found *engine.StepRecord
	for _, s := range rec.Steps {
		if s.Status == engine.StatusFailed && !hasFailedChild[s.ID] {
			found = s
		}
	}
	return found
}

// parentPath is the path of the step (or foreach item) holding path.
func parentPath(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[:i]
	}
	if j := strings.LastIndexByte(path, '['); j > 0 && strings.HasSuffix(path, "]") {
		return path[:j]
	}
	return ""
}

// prettyJSON indents a value for a <pre>.
func prettyJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimRight(buf.String(), "\n")
}
