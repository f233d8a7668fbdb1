package console

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

func TestRedactHeaders(t *testing.T) {
	hs := redactHeaders(map[string]string{
		"Authorization": "Basic c3ZjOnNlY3JldA==", "X-Api-Key": "k-123", "Cookie": "sid=1", "X-Vendor-Token": "t",
		"Content-Type": "application/json", "Idempotency-Key": "wf/step", "X-Other": redacted,
	})
	got := map[string]header{}
	for _, h := range hs {
		got[h.Name] = h
	}
	for _, name := range []string{"Authorization", "X-Api-Key", "Cookie", "X-Vendor-Token", "X-Other"} {
		if !got[name].Redacted || got[name].Value != redacted {
			t.Errorf("%s shown: %+v", name, got[name])
		}
	}
	for _, name := range []string{"Content-Type", "Idempotency-Key"} {
		if got[name].Redacted {
			t.Errorf("%s hidden", name)
		}
	}
	if hs[0].Name != "Authorization" {
		t.Errorf("not sorted: %v", hs)
	}
}

func TestCurlHoldsNoSecret(t *testing.T) {
	req := &engine.RequestSummary{Method: "POST", URL: "https://api.partner.example/v2/orders/1/ack?x=it's",
		Headers: map[string]string{"Authorization": "Bearer eyJsecret", "Content-Type": "application/json", "X-Api-Key": "s3cr3t"},
		Body:    `{"by":"outflow","note":"it's"}`}
	tlsFacts := &engine.TLSFacts{ClientCertificate: &engine.CertFacts{Subject: "CN=svc-outflow"}}
	got := curlCommand(req, tlsFacts)
	for _, secret := range []string{"eyJsecret", "s3cr3t"} {
		if strings.Contains(got, secret) {
			t.Fatalf("curl holds %q:\n%s", secret, got)
		}
	}
	for _, want := range []string{
		`-X 'POST' 'https://api.partner.example/v2/orders/1/ack?x=it'\''s'`,
		`--cert "$CLIENT_CERT" --key "$CLIENT_KEY"`,
		`-H "Authorization: $AUTHORIZATION"`,
		`-H "X-Api-Key: $X_API_KEY"`,
		`-H 'Content-Type: application/json'`,
		`--data-raw '{"by":"outflow","note":"it'\''s"}'`,
		"# the client certificate was CN=svc-outflow",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("curl lacks %s:\n%s", want, got)
		}
	}
	if curlCommand(nil, nil) != "" {
		t.Error("curl of no request")
	}
}

func TestRenderBody(t *testing.T) {
	var parsed any
	_ = json.Unmarshal([]byte(`{"name":"Customer <42>","tags":["a","b"],"n":1.5,"ok":true,"none":null,"deep":{"a":{"b":{"c":1}}}}`), &parsed)
	v := renderBody(parsed, "", "")
	if v.Kind != "json" {
		t.Fatalf("kind %s", v.Kind)
	}
	h := string(v.HTML)
	for _, want := range []string{`&#34;Customer &lt;42&gt;&#34;`, `[ 2 items ]`, `<span class="j-n">1.5</span>`, `<span class="j-p">true</span>`, `<span class="j-p">null</span>`, `<details class="j"><summary>{ 1 key }`} {
		if !strings.Contains(h, want) {
			t.Errorf("JSON tree lacks %s:\n%s", want, h)
		}
	}
	if strings.Contains(h, "<42>") {
		t.Error("a value is not escaped")
	}

	xmlBody := `<?xml version="1.0"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><R><Status>Shipped &amp; done</Status><!-- c --></R></S:Body></S:Envelope>`
	v = renderBody(nil, xmlBody, "text/xml")
	if v.Kind != "xml" || !strings.Contains(string(v.HTML), "Shipped &amp;amp; done") && !strings.Contains(string(v.HTML), "Shipped &amp; done") {
		t.Fatalf("XML: %s %s", v.Kind, v.HTML)
	}
	if !strings.Contains(string(v.HTML), "&lt;S:Envelope") || !strings.Contains(string(v.HTML), `<details class="x" open>`) {
		t.Errorf("XML tree: %s", v.HTML)
	}
	// A truncated body is not valid XML or JSON: it stays text.
	for _, text := range []string{xmlBody[:60], `{"a": [1, 2`} {
		if v := renderBody(nil, text, "application/json"); v.Kind != "text" || v.Text != text {
			t.Errorf("broken body %q: %s", text, v.Kind)
		}
	}
	if v := renderBody(nil, "  ", ""); v.Kind != "empty" {
		t.Errorf("blank body: %s", v.Kind)
	}
	// JSON given as text keeps its numbers exact.
	if v := renderBody(nil, `{"id": 12345678901234567890}`, "application/json"); !strings.Contains(string(v.HTML), "12345678901234567890") {
		t.Errorf("number changed: %s", v.HTML)
	}
}

// TestLargeBodyFallsBackToText: past maxTreeNodes a body is indented text,
// which a browser lays out without thousands of nested elements.
func TestLargeBodyFallsBackToText(t *testing.T) {
	items := make([]any, maxTreeNodes+10)
	for i := range items {
		items[i] = float64(i)
	}
	v := renderBody(items, "", "")
	if v.Kind != "text" || !strings.Contains(v.Text, "20009") {
		t.Fatalf("kind %s", v.Kind)
	}
}

func TestStepTreeAndFailedStep(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := &engine.Record{Start: t0, Steps: []*engine.StepRecord{
		{ID: "customer", Kind: "action", Status: "failed", Start: t0, Duration: engine.Duration(300 * time.Millisecond)},
		{ID: "customer/get", Kind: "rest", Status: "failed", Start: t0, Duration: engine.Duration(200 * time.Millisecond), Error: &engine.ErrorInfo{Type: "HTTPStatus", Message: "customer \"0\" does not exist"}},
		{ID: "ack", Kind: "foreach", Status: "succeeded", Start: t0.Add(time.Second), Duration: engine.Duration(time.Second)},
		{ID: "ack[0]/post", Kind: "rest", Status: "succeeded", Start: t0.Add(time.Second), Duration: engine.Duration(500 * time.Millisecond)},
		{ID: "ack[1]/post", Kind: "rest", Status: "running", Start: t0.Add(1500 * time.Millisecond)},
	}}
	rows := flatten(stepTree(rec.Steps))
	var got []string
	for _, n := range rows {
		got = append(got, fmt.Sprintf("%d:%s", n.Depth, n.Label))
	}
	if want := "0:customer 1:get 0:ack 1:[0] 2:post 1:[1] 2:post"; strings.Join(got, " ") != want {
		t.Fatalf("tree %q, want %q", strings.Join(got, " "), want)
	}
	if rows[3].Step != nil {
		t.Error("a foreach item is no step")
	}
	if s := failedStep(rec); s == nil || s.ID != "customer/get" {
		t.Fatalf("failed step %v", s)
	}
	if failedStep(&engine.Record{}) != nil {
		t.Error("failed step of a record without failures")
	}

	bars, _ := timeline(rec, rows, t0.Add(4*time.Second))
	byPath := map[string]bar{}
	for _, b := range bars {
		byPath[b.Path] = b
	}
	// The span is 4s (the running step reaches now): ack starts at 25%.
	if b := byPath["ack"]; b.X != 25 || b.W != 25 {
		t.Errorf("ack bar %+v", b)
	}
	if b := byPath["ack[1]/post"]; b.X != 37.5 || b.W != 62.5 || b.Status != "running" {
		t.Errorf("running bar %+v", b)
	}
	if b := byPath["customer"]; b.X != 0 || b.W != 7.5 {
		t.Errorf("customer bar %+v", b)
	}
}

func TestVisibilityQuery(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	q, err := listQuery{Flow: "order-sync", Status: "failed", Text: "order-sync-17", Since: "24h"}.visibility(now)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"WorkflowType = 'outflow.flow'", "OutflowFlow = 'order-sync'", "ExecutionStatus = 'Failed'",
		"WorkflowId STARTS_WITH 'order-sync-17'", "StartTime > '2026-02-28T12:00:00Z'"} {
		if !strings.Contains(q, want) && !(strings.HasPrefix(want, "WorkflowType") && strings.Contains(q, "WorkflowType = '"+engine.WorkflowName+"'")) {
			t.Errorf("query %q lacks %q", q, want)
		}
	}
	q, err = listQuery{From: "2026-03-01T10:00", To: "2026-03-01T11:00", TZ: 60}.visibility(now)
	if err != nil || !strings.Contains(q, "StartTime >= '2026-03-01T09:00:00Z'") || !strings.Contains(q, "StartTime <= '2026-03-01T10:00:00Z'") {
		t.Errorf("time range in the browser's zone: %q %v", q, err)
	}
	for _, bad := range []listQuery{{Flow: "x' OR '1'='1"}, {Text: `a"b`}, {Text: `a\b`}, {Status: "weird"}, {Since: "forever"}, {From: "yesterday"}} {
		if q, err := bad.visibility(now); err == nil {
			t.Errorf("%+v accepted: %s", bad, q)
		}
	}
	if _, err := (listQuery{Status: "held"}).visibility(now); err != nil {
		t.Errorf("held: %v", err)
	}
}

func TestOperationsTable(t *testing.T) {
	run := func(Target) bool { return true }
	ok := Operation{Name: "retry", Label: "Retry", Applies: run, Run: builtinOperations()[0].Run}
	if err := checkOperations(append(builtinOperations(), ok)); err != nil {
		t.Fatalf("a new operation: %v", err)
	}
	if err := checkOperations(append(builtinOperations(), Operation{Name: "cancel", Label: "x", Applies: run, Run: ok.Run})); err == nil {
		t.Error("a second cancel accepted")
	}
	if err := checkOperations([]Operation{{Name: "Bad Name", Label: "x", Applies: run, Run: ok.Run}}); err == nil {
		t.Error("a bad name accepted")
	}
	if err := checkOperations([]Operation{{Name: "x", Label: "x"}}); err == nil {
		t.Error("an operation without Run accepted")
	}
	for _, op := range builtinOperations() {
		if op.Applies(Target{Running: false}) || !op.Applies(Target{Running: true}) {
			t.Errorf("%s should apply to running executions only", op.Name)
		}
	}
}

func TestSummaryCut(t *testing.T) {
	if got := shortDuration(1500 * time.Millisecond); got != "1.5s" {
		t.Errorf("%s", got)
	}
	if got := shortDuration(85 * time.Millisecond); got != "85ms" {
		t.Errorf("%s", got)
	}
}
