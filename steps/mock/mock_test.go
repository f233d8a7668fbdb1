package mock

import (
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/wsdl"
	"github.com/outflow-dev/outflow/steps/rest"
	"github.com/outflow-dev/outflow/steps/soap"
	"github.com/outflow-dev/outflow/steps/soap/soaptest"
)

// The activities run for real: only the network is replaced.

var partner = &engine.Connection{Name: "partner", Scheme: "https", Host: "partner.example", Port: 443, BasePath: "/v2"}

func runRest(t *testing.T, tr *Transport, step, path string) (*engine.StepResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a := &rest.Activity{Transports: tr}
	env.RegisterActivityWithOptions(a.Execute, activity.RegisterOptions{Name: engine.RestActivity})
	v, err := env.ExecuteActivity(engine.RestActivity, &engine.RestRequest{CallHeader: engine.CallHeader{StepPath: step, Connection: partner}, Method: "GET", Path: path})
	if err != nil {
		return nil, err
	}
	var res engine.StepResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	return &res, nil
}

func runSoap(t *testing.T, tr *Transport, step string, port string) (*engine.StepResult, error) {
	t.Helper()
	d, err := wsdl.Parse(soaptest.WSDL(""), nil)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := d.Subset("", port, "GetOrderStatus")
	if err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a := &soap.Activity{Transports: tr}
	env.RegisterActivityWithOptions(a.Execute, activity.RegisterOptions{Name: engine.SoapActivity})
	v, err := env.ExecuteActivity(engine.SoapActivity, &engine.SoapRequest{
		CallHeader:  engine.CallHeader{StepPath: step, Connection: &engine.Connection{Name: "soap", Scheme: "https", Host: "partner.example", Port: 443, BasePath: "/soap/orders"}},
		Definitions: defs,
		Port:        port,
		Operation:   "GetOrderStatus",
		Body:        map[string]any{"OrderId": "42"},
	})
	if err != nil {
		return nil, err
	}
	var res engine.StepResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	return &res, nil
}

func errType(t *testing.T, err error) (string, string) {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("err = %v, want an application error", err)
	}
	return appErr.Type(), appErr.Message()
}

// The rest activity tells the transport which step it serves, and each
// step gets its own mock.
func TestRepliesByStep(t *testing.T) {
	tr := New([]Rule{
		{Step: "customer/get", Replies: []Reply{{Body: map[string]any{"name": "Ada"}, Headers: map[string]string{"X-Trace": "t1"}}}},
		{Step: "ack[*]/post", Replies: []Reply{{Status: 201, Body: "created"}}},
		{Step: "ack[1]/post", Replies: []Reply{{Status: 409, Body: `{"message":"already acknowledged"}`}}},
	})
	res, err := runRest(t, tr, "customer/get", "/customers/7")
	if err != nil {
		t.Fatal(err)
	}
	if res.Response.StatusCode != 200 || res.Response.JSON.(map[string]any)["name"] != "Ada" || res.Response.Headers["x-trace"] != "t1" {
		t.Fatalf("customer/get: %+v", res.Response)
	}
	if res.Request.URL != "https://partner.example/v2/customers/7" {
		t.Fatalf("request URL %q", res.Request.URL)
	}
	res, err = runRest(t, tr, "ack[0]/post", "/acks")
	if err != nil || res.Response.StatusCode != 201 || res.Response.Body != "created" {
		t.Fatalf("ack[0]/post: %+v, %v", res, err)
	}
	// An exact path wins over a pattern, whatever the order.
	_, err = runRest(t, tr, "ack[1]/post", "/acks")
	if typ, msg := errType(t, err); typ != engine.ErrHTTPClient || !strings.Contains(msg, "409") || !strings.Contains(msg, "already acknowledged") {
		t.Fatalf("ack[1]/post: %s %s", typ, msg)
	}
	if got := tr.Calls("ack[1]/post"); got != 1 {
		t.Fatalf("Calls(ack[1]/post) = %d", got)
	}
	if len(tr.Unused()) != 0 {
		t.Fatalf("Unused() = %v", tr.Unused())
	}
	log := tr.Log()
	if len(log) != 3 || log[0].Step != "customer/get" || log[2].Status != 409 {
		t.Fatalf("Log() = %+v", log)
	}
}

func TestNoMockNeverCallsTheNetwork(t *testing.T) {
	tr := New([]Rule{{Step: "other", Replies: []Reply{{}}}})
	if err := tr.Check("orders"); err == nil || !strings.Contains(err.Error(), `no mock for step "orders"`) || !strings.Contains(err.Error(), "no network") {
		t.Fatalf("Check = %v", err)
	}
	_, err := runRest(t, tr, "orders", "/orders")
	if _, msg := errType(t, err); !strings.Contains(msg, `no mock for step "orders"`) {
		t.Fatalf("message %q", msg)
	}
	if got := tr.Unused(); len(got) != 1 || got[0] != "other" {
		t.Fatalf("Unused() = %v", got)
	}
}

// A list of replies is given in turn; times repeats one; the last repeats
// for ever unless it sets times.
func TestSequence(t *testing.T) {
	tr := New([]Rule{
		{Step: "job", Replies: []Reply{{Body: map[string]any{"state": "running"}, Times: 2}, {Body: map[string]any{"state": "done"}}}},
		{Step: "once", Replies: []Reply{{Status: 204, Times: 1}}},
	})
	var states []string
	for range 4 {
		res, err := runRest(t, tr, "job", "/job")
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, res.Response.JSON.(map[string]any)["state"].(string))
	}
	if got := strings.Join(states, ","); got != "running,running,done,done" {
		t.Fatalf("states %s", got)
	}
	if _, err := runRest(t, tr, "once", "/once"); err != nil {
		t.Fatal(err)
	}
	err := tr.Check("once")
	if err == nil || !strings.Contains(err.Error(), `step "once" is called a 2nd time, but its mocks (once) answer only 1 call`) {
		t.Fatalf("Check after the last reply = %v", err)
	}
}

func TestSimulatedNetworkFailures(t *testing.T) {
	for _, tc := range []struct{ kind, typ string }{
		{"connection", engine.ErrConnection},
		{"timeout", engine.ErrTimeout},
		{"tls", engine.ErrTLSHandshake},
	} {
		tr := New([]Rule{{Step: "get", Replies: []Reply{{Error: tc.kind}}}})
		_, err := runRest(t, tr, "get", "/x")
		if typ, msg := errType(t, err); typ != tc.typ || !strings.Contains(msg, "mocked") {
			t.Errorf("error %s: got %s %q, want type %s", tc.kind, typ, msg, tc.typ)
		}
		if log := tr.Log(); len(log) != 1 || log[0].Error != tc.kind {
			t.Errorf("error %s: log %+v", tc.kind, log)
		}
	}
}

// A SOAP mock given as a tree becomes an envelope the soap step parses
// with the WSDL's types, over SOAP 1.1 and 1.2.
func TestSoapTreeIsParsed(t *testing.T) {
	body := map[string]any{"GetOrderStatusResponse": map[string]any{
		"OrderId": "42", "Status": "Shipped", "CustomerId": "C-7",
		"Line":  []any{map[string]any{"Sku": "A-1", "Quantity": 2}},
		"Total": map[string]any{"@currency": "EUR", "#text": "99.50"},
	}}
	for _, port := range []string{"OrdersSoap11Port", "OrdersSoap12Port"} {
		tr := New([]Rule{{Step: "status", Replies: []Reply{{Body: body}}}})
		res, err := runSoap(t, tr, "status", port)
		if err != nil {
			t.Fatalf("%s: %v", port, err)
		}
		r := res.Body.(map[string]any)["GetOrderStatusResponse"].(map[string]any)
		lines := r["Line"].([]any)
		if r["Status"] != "Shipped" || len(lines) != 1 || lines[0].(map[string]any)["Quantity"] != 2.0 || r["Total"].(map[string]any)["@currency"] != "EUR" {
			t.Fatalf("%s: body %#v", port, r)
		}
		wantCT := "text/xml; charset=utf-8"
		if port == "OrdersSoap12Port" {
			wantCT = "application/soap+xml; charset=utf-8"
		}
		if ct := res.Response.Headers["content-type"]; ct != wantCT {
			t.Fatalf("%s: content type %q", port, ct)
		}
	}
}

func TestSoapEnvelopeStringAndFault(t *testing.T) {
	envelope := `<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
<o:GetOrderStatusResponse xmlns:o="urn:outflow:orders:v1"><o:OrderId>7</o:OrderId><o:Status>Received</o:Status><o:CustomerId>C-9</o:CustomerId></o:GetOrderStatusResponse>
</s:Body></s:Envelope>`
	tr := New([]Rule{
		{Step: "status", Replies: []Reply{{Body: envelope}}},
		{Step: "fault11", Replies: []Reply{{Status: 500, Body: map[string]any{"Fault": map[string]any{"faultcode": "soap:Client", "faultstring": "no such order"}}}}},
		{Step: "fault12", Replies: []Reply{{Status: 500, Body: map[string]any{"Fault": map[string]any{
			"Code": map[string]any{"Value": "soap:Sender"}, "Reason": map[string]any{"Text": "bad order id"}}}}}},
	})
	res, err := runSoap(t, tr, "status", "OrdersSoap11Port")
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Body.(map[string]any)["GetOrderStatusResponse"].(map[string]any)["Status"]; got != "Received" {
		t.Fatalf("status %v", got)
	}
	_, err = runSoap(t, tr, "fault11", "OrdersSoap11Port")
	if typ, msg := errType(t, err); typ != engine.ErrSOAPFault || !strings.Contains(msg, "Client: no such order") {
		t.Fatalf("1.1 fault: %s %q", typ, msg)
	}
	_, err = runSoap(t, tr, "fault12", "OrdersSoap12Port")
	if typ, msg := errType(t, err); typ != engine.ErrSOAPFault || !strings.Contains(msg, "Sender: bad order id") {
		t.Fatalf("1.2 fault: %s %q", typ, msg)
	}
}

func TestEnvelopeRefusesWhatIsNotXML(t *testing.T) {
	for _, body := range []any{
		[]any{"a"},
		map[string]any{"bad name": 1},
		map[string]any{"Order": map[string]any{"@a b": 1}},
	} {
		if _, err := Envelope("1.1", body); err == nil {
			t.Errorf("Envelope(%v) succeeded", body)
		}
	}
	out, err := Envelope("1.1", map[string]any{"R": map[string]any{"Empty": nil, "Text": "a<b", "N": 1.5, "B": true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<Empty xsi:nil="true"/>`, `<Text>a&lt;b</Text>`, `<N>1.5</N>`, `<B>true</B>`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("envelope lacks %s:\n%s", want, out)
		}
	}
}

func TestMatchStep(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          bool
	}{
		{"get", "get", true},
		{"get", "gets", false},
		{"ack[*]/post", "ack[0]/post", true},
		{"ack[*]/post", "ack[12]/post", true},
		{"ack[*]/post", "ack[x]/post", false},
		{"ack[*]/post", "ack[]/post", false},
		{"ack[*]/post", "ack[1]/post/x", false},
		{"a[*]/b[*]/c", "a[1]/b[2]/c", true},
		{"a[1]/b[*]/c", "a[2]/b[2]/c", false},
	} {
		if got := engine.MatchStepPath(tc.pattern, tc.path); got != tc.want {
			t.Errorf("engine.MatchStepPath(%q, %q) = %v", tc.pattern, tc.path, got)
		}
	}
}
