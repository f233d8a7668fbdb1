package gateway

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/outflow-dev/outflow/engine"
)

// The requests below are all answered before the gateway would call
// Temporal (the client has none: a call would panic the test); the paths
// that reach Temporal are tested on the embedded server in cmd/outflow
// (TestEventsGatewayOnEmbeddedServer).
func newTestGateway(t *testing.T, plans []*engine.Plan, cbAuth *engine.InboundAuth) *Gateway {
	t.Helper()
	g, err := New(Options{Client: &engine.Client{}, Key: []byte("unit-test-gateway-key-0123456789"), Plans: plans,
		CallbackAuth: cbAuth, Secrets: testSecrets(t), MaxBody: 64})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func hookPlan(name, path string, auth *engine.InboundAuth) *engine.Plan {
	return &engine.Plan{Name: name, Kind: "Flow", Triggers: []engine.Trigger{{Webhook: &engine.Webhook{Path: path, Auth: auth,
		Inputs: []engine.Binding{{Name: "id", Value: "${{ request.json.id }}"}}}}}}
}

func TestRequestsRefusedBeforeTemporal(t *testing.T) {
	bearer := &engine.InboundAuth{Bearer: &engine.BearerAuth{Token: engine.SecretRef{Ref: "env:GW_BEARER"}}}
	g := newTestGateway(t, []*engine.Plan{hookPlan("open", "/hooks/open", nil), hookPlan("closed", "/hooks/closed", bearer)}, bearer)
	good := engine.CallbackURL("", []byte("unit-test-gateway-key-0123456789"), "wf-1", "run-1", "paid")
	forged := engine.CallbackURL("", []byte("another key of the same length.."), "wf-1", "run-1", "paid")
	cases := []struct {
		name, method, path, ctype, body string
		status                          int
	}{
		{"callback without the extra auth", "POST", good, "", "{}", 401},
		{"forged callback token", "POST", forged, "", "{}", 403},
		{"callback for another execution", "POST", strings.Replace(good, "wf-1", "wf-2", 1), "", "{}", 403},
		{"malformed callback path", "POST", engine.CallbackPath + "x/y", "", "", 404},
		{"callback by GET", "GET", good, "", "", 405},
		{"callback body too large", "POST", good, "", strings.Repeat("x", engine.MaxEventBody+1), 413},
		{"unknown path", "POST", "/hooks/none", "", "", 404},
		{"webhook by GET", "GET", "/hooks/open", "", "", 405},
		{"webhook body too large", "POST", "/hooks/open", "application/json", strings.Repeat(" ", 65), 413},
		{"webhook without bearer", "POST", "/hooks/closed", "application/json", `{"id":1}`, 401},
		{"webhook body not JSON", "POST", "/hooks/open", "application/json", `{"id":`, 400},
		{"webhook body not XML", "POST", "/hooks/open", "application/xml", `<a><b></a>`, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			w := httptest.NewRecorder()
			g.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.status)
			}
		})
	}
	w := httptest.NewRecorder()
	g.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`outflow_gateway_auth_failures_total{route="callback"} 3`, `outflow_gateway_auth_failures_total{route="webhook"} 1`} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestNewRefusesWhatItCannotServe(t *testing.T) {
	for name, plans := range map[string][]*engine.Plan{
		"one path, two flows":  {hookPlan("a", "/h", nil), hookPlan("b", "/h", nil)},
		"the callbacks' path":  {hookPlan("a", engine.CallbackPath+"x", nil)},
		"unreadable client CA": {hookPlan("a", "/h", &engine.InboundAuth{MTLS: &engine.MTLSAuth{ClientCA: []string{"/nonexistent/ca.pem"}}})},
		"unknown algorithm":    {hookPlan("a", "/h", &engine.InboundAuth{HMAC: &engine.HMACAuth{Header: "X", Secret: engine.SecretRef{Ref: "env:X"}, Algorithm: "md5"}})},
	} {
		if _, err := New(Options{Client: &engine.Client{}, Plans: plans}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRequestData(t *testing.T) {
	mk := func(ctype, body string) map[string]any {
		r := httptest.NewRequest(http.MethodPost, "/h?page=2&page=3", bytes.NewReader([]byte(body)))
		r.Header.Set("Content-Type", ctype)
		d, err := requestData(r, []byte(body), map[string]string{"x-a": "1"})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := mk("application/json; charset=utf-8", `{"order":{"id":"o-1"}}`)
	if v, _ := engine.EvalValue("${{ request.json.order.id }}-${{ request.query.page }}-${{ request.headers['x-a'] }}", map[string]any{"request": d}); v != "o-1-2-1" {
		t.Fatalf("json: %v", v)
	}
	d = mk("application/x-www-form-urlencoded", "n=7&n=8&m=x")
	if f := d["form"].(map[string]any); f["n"] != "7" || f["m"] != "x" {
		t.Fatalf("form: %v", d["form"])
	}
	d = mk("text/xml", `<order id="o-2"><line>a</line><line>b</line><note lang="en">hi</note></order>`)
	if v, _ := engine.EvalValue(`${{ request.xml.order['@id'] }} ${{ request.xml.order.line[1] }} ${{ request.xml.order.note['#text'] }}`, map[string]any{"request": d}); v != "o-2 b hi" {
		t.Fatalf("xml: %v (%v)", v, d["xml"])
	}
	deep := strings.Repeat("<a>", 70) + strings.Repeat("</a>", 70)
	r := httptest.NewRequest(http.MethodPost, "/h", strings.NewReader(deep))
	r.Header.Set("Content-Type", "application/xml")
	if _, err := requestData(r, []byte(deep), nil); err == nil {
		t.Fatal("XML nested 70 deep was read")
	}
}
