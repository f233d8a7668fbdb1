package engine

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The record's text says what a step sent, keeps quotes on text, writes
// durations one way, lays SOAP envelopes out, and has no zero timings for
// a step that never sent anything.
func TestRecordTextForPeople(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(15266600 * time.Microsecond)
	rec := &Record{
		Kind: "Flow", Flow: "order-sync", WorkflowID: "order-sync-1", Status: StatusFailed, Start: start, End: &end,
		Steps: []*StepRecord{
			{
				ID: "ack", Kind: "rest", Connection: "partner", Status: StatusSucceeded, Duration: Duration(64700 * time.Microsecond),
				CallPath: CallRegular, CallPathReason: "POST is not idempotent; idempotent: true allows the fast path",
				Request: &RequestSummary{Method: "POST", URL: "https://partner.example/v2/orders/7/ack",
					Headers: map[string]string{"Content-Type": "application/json", "Authorization": "[redacted]"},
					Body:    `{"by":"outflow","amount":20}`},
				Response: &ResponseSummary{StatusCode: 201, BodySize: 19, JSON: map[string]any{"acknowledged": true}},
				Timings:  &Timings{TotalMillis: 64.7, FirstByteMillis: 60.1, ConnectMillis: 1.2, TLSMillis: 3},
				Outputs:  map[string]any{"id": "8", "count": 8.0},
			},
			{
				ID: "status", Kind: "soap", Connection: "partner-soap", Status: StatusSucceeded, Duration: Duration(15266600 * time.Microsecond),
				Request: &RequestSummary{Method: "POST", URL: "https://partner.example/soap",
					Body: `<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><GetOrderStatus xmlns="urn:o"><OrderId>42</OrderId></GetOrderStatus></S:Body></S:Envelope>`},
				Response: &ResponseSummary{StatusCode: 200, BodySize: 200,
					Body: `<?xml version="1.0"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><R xmlns="urn:o"><Status>Shipped</Status><Note xsi:nil="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/><Empty></Empty><Text>a &amp; b</Text></R></S:Body></S:Envelope>`},
				Timings: &Timings{TotalMillis: 15266.6},
			},
			{
				ID: "post", Kind: "rest", Connection: "partner", Status: StatusFailed,
				Request: &RequestSummary{Method: "POST", URL: "https://partner.example/v2/orders"},
				Timings: &Timings{},
				Error:   &ErrorInfo{Type: ErrSecret, Message: "resolving secret \"env:PARTNER_PASSWORD\": not set"},
			},
		},
		Outputs: map[string]any{"id": "8", "count": 8.0, "name": "Customer 42"},
	}
	var b bytes.Buffer
	rec.WriteText(&b, true)
	text := b.String()
	for _, want := range []string{
		"FAILED in 15.27s",
		"  ran:      regular (POST is not idempotent; idempotent: true allows the fast path)\n",
		"64.7ms", "15.27s",
		"            Authorization: [redacted]\n            Content-Type: application/json\n",
		"  sent:     {\n              \"amount\": 20,\n              \"by\": \"outflow\"\n            }\n",
		"  outputs:  {\"count\":8,\"id\":\"8\"}\n",
		"  id: \"8\"\n", "  count: 8\n", "  name: \"Customer 42\"\n",
		"timings:  total 64.7ms, first byte 60.1ms, connect 1.2ms, tls 3.0ms",
		"timings:  total 15.27s",
		"\n              <S:Body>\n                <R xmlns=\"urn:o\">\n                  <Status>Shipped</Status>\n",
		"<Note xsi:nil=\"true\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"/>\n",
		"<Empty></Empty>\n", "<Text>a &amp; b</Text>\n",
		"  sent:     <S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\">\n              <S:Body>\n                <GetOrderStatus xmlns=\"urn:o\">\n                  <OrderId>42</OrderId>\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("want %q in:\n%s", want, text)
		}
	}
	for _, bad := range []string{"15.2666s", "total 0", "0.0 ms", "id: 8\n"} {
		if strings.Contains(text, bad) {
			t.Errorf("%q in:\n%s", bad, text)
		}
	}
	// The post step failed before sending: its section has no timings.
	post := text[strings.Index(text, "── post"):]
	if strings.Contains(post, "timings:") {
		t.Errorf("a step that sent nothing has timings:\n%s", post)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0ms", 640 * time.Microsecond: "0.6ms", 64700 * time.Microsecond: "64.7ms", 999 * time.Millisecond: "999.0ms",
		time.Second: "1.00s", 15266600 * time.Microsecond: "15.27s", 125 * time.Second: "2m05s", 3*time.Hour + 4*time.Minute: "3h04m",
		-2 * time.Second: "-2.00s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

// Text that is not XML, or not JSON, is shown as it came.
func TestReadableBodyLeavesOtherTextAlone(t *testing.T) {
	for _, in := range []string{"<not xml", "{not json", "plain text", "<a><b></a>"} {
		if got := readableBody(in, nil); got != in {
			t.Errorf("readableBody(%q) = %q", in, got)
		}
	}
}

// The progress query leaves bodies out, not their sizes.
func TestProgressKeepsBodySizes(t *testing.T) {
	rec := &Record{Steps: []*StepRecord{
		{ID: "get", Status: StatusSucceeded, Response: &ResponseSummary{StatusCode: 200, BodySize: 61, Body: `{"id":"42","name":"Customer 42","tier":"bronze","since":"2020"}`}},
		{ID: "big", Status: StatusSucceeded, Response: &ResponseSummary{StatusCode: 200, BodySize: 1 << 30, BodyTruncated: true, BodyLimit: 262144, Body: "…"}},
	}}
	p := rec.Progress()
	if r := p.Steps[0].Response; r.BodySize != 61 || r.Body != "" || r.StatusCode != 200 {
		t.Errorf("progress of get: %+v", r)
	}
	if r := p.Steps[1].Response; r.BodySize != 1<<30 || !r.BodyTruncated || r.BodyLimit != 262144 || r.Body != "" {
		t.Errorf("progress of big: %+v", r)
	}
}
