package soap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/wsdl"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/soap/soaptest"
)

func connFor(t *testing.T, srv *httptest.Server, basePath string) *engine.Connection {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	return &engine.Connection{Name: "partner-soap", Scheme: u.Scheme, Host: u.Hostname(), Port: port, BasePath: basePath}
}

// ordersDefs is what a plan carries: the subset of orders.wsdl for one
// operation on one port.
func ordersDefs(t *testing.T, port string) *wsdl.Definitions {
	t.Helper()
	d, err := wsdl.Parse(soaptest.WSDL(""), nil)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := d.Subset("", port, "GetOrderStatus")
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

func execute(t *testing.T, a *Activity, req *SoapRequest) (*engine.StepResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(a.Execute, activity.RegisterOptions{Name: engine.SoapActivity})
	v, err := env.ExecuteActivity(engine.SoapActivity, req)
	if err != nil {
		return nil, err
	}
	var res engine.StepResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	return &res, nil
}

// appError returns the application error of a failed step and the step
// result it carries.
func appError(t *testing.T, err error) (*temporal.ApplicationError, *engine.StepResult) {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("err = %v, want an application error", err)
	}
	var res engine.StepResult
	if err := appErr.Details(&res); err != nil {
		t.Fatalf("the failure carries no step result: %v", err)
	}
	return appErr, &res
}

func TestGetOrderStatus(t *testing.T) {
	for _, tt := range []struct {
		port, version, contentType, action string
	}{
		{"OrdersSoap11Port", "1.1", "text/xml; charset=utf-8", "urn:outflow:orders:v1/GetOrderStatus"},
		{"OrdersSoap12Port", "1.2", `application/soap+xml; charset=utf-8; action="urn:outflow:orders:v1/GetOrderStatus"`, "urn:outflow:orders:v1/GetOrderStatus"},
	} {
		t.Run(tt.port, func(t *testing.T) {
			partner := &soaptest.Orders{}
			srv := httptest.NewServer(partner)
			defer srv.Close()
			res, err := execute(t, &Activity{Identity: "worker-1"}, &SoapRequest{
				CallHeader:  engine.CallHeader{Connection: connFor(t, srv, "")},
				Definitions: ordersDefs(t, tt.port),
				Operation:   "GetOrderStatus",
				Body:        map[string]any{"OrderId": "42"},
				SOAPHeaders: []engine.Binding{{Name: "Trace", Value: map[string]any{"CorrelationId": "wf-1/status"}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			seen := partner.Requests()
			if len(seen) != 1 || seen[0].SOAPVersion != tt.version || seen[0].ContentType != tt.contentType || seen[0].SOAPAction != tt.action ||
				seen[0].OrderID != "42" || seen[0].CorrelationID != "wf-1/status" {
				t.Fatalf("partner saw %+v", seen)
			}
			if res.Request.URL != srv.URL+"/soap/orders" || res.Request.Method != "POST" || !strings.Contains(res.Request.Body, "<ns1:OrderId>42</ns1:OrderId>") {
				t.Fatalf("request summary %+v", res.Request)
			}
			body := res.Body.(map[string]any)["GetOrderStatusResponse"].(map[string]any)
			lines := body["Line"].([]any)
			// Numbers cross workflow history as JSON, hence float64.
			if body["Status"] != "Shipped" || body["CustomerId"] != "C-7" || len(lines) != 2 || lines[0].(map[string]any)["Quantity"] != 2.0 ||
				lines[1].(map[string]any)["Description"] != nil || body["Total"].(map[string]any)["@currency"] != "EUR" {
				t.Fatalf("body %#v", body)
			}
			if res.Response.StatusCode != 200 || !strings.Contains(res.Response.Body, "<GetOrderStatusResponse") || res.Worker != "worker-1" || res.Timings.TotalMillis <= 0 {
				t.Fatalf("response %+v", res.Response)
			}
		})
	}
}

func TestSingleRepeatedElementIsAList(t *testing.T) {
	srv := httptest.NewServer(&soaptest.Orders{})
	defer srv.Close()
	res, err := execute(t, &Activity{}, &SoapRequest{CallHeader: engine.CallHeader{Connection: connFor(t, srv, "")}, Definitions: ordersDefs(t, ""), Operation: "GetOrderStatus", Body: map[string]any{"OrderId": "7"}})
	if err != nil {
		t.Fatal(err)
	}
	body := res.Body.(map[string]any)["GetOrderStatusResponse"].(map[string]any)
	if lines, ok := body["Line"].([]any); !ok || len(lines) != 1 || body["ShippedAt"] != nil {
		t.Fatalf("body %#v", body)
	}
}

func TestFaults(t *testing.T) {
	srv := httptest.NewServer(&soaptest.Orders{})
	defer srv.Close()
	for _, tt := range []struct {
		name, port, order string
		retryable         bool
		words, code       string
		status            int
	}{
		{"unknown order: Client fault, HTTP 500", "OrdersSoap11Port", "99", false, "soap fault Client: Order 99 not found (HTTP 500)", "Client", 500},
		{"unknown order over SOAP 1.2: Sender", "OrdersSoap12Port", "99", false, "soap fault Sender/UnknownOrder: Order 99 not found (HTTP 500)", "Sender", 500},
		{"flaky: Server fault, HTTP 200", "OrdersSoap11Port", soaptest.FlakyOrder, true, "soap fault Server: the order database is busy, try again (HTTP 200)", "Server", 200},
		{"flaky over SOAP 1.2: Receiver", "OrdersSoap12Port", soaptest.FlakyOrder, true, "soap fault Receiver: the order database is busy", "Receiver", 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := execute(t, &Activity{}, &SoapRequest{CallHeader: engine.CallHeader{Connection: connFor(t, srv, "")}, Definitions: ordersDefs(t, tt.port), Operation: "GetOrderStatus", Body: map[string]any{"OrderId": tt.order}})
			appErr, res := appError(t, err)
			if appErr.Type() != engine.ErrSOAPFault || appErr.NonRetryable() == tt.retryable || !strings.Contains(appErr.Error(), tt.words) {
				t.Fatalf("type %s nonretryable %v message %q", appErr.Type(), appErr.NonRetryable(), appErr.Error())
			}
			fault := res.Body.(map[string]any)["Fault"].(map[string]any)
			if fault["code"] != tt.code || res.Response.StatusCode != tt.status || !strings.Contains(res.Response.Body, "Fault>") {
				t.Fatalf("fault %#v, response %+v", fault, res.Response)
			}
			if tt.order == "99" && fault["detail"].(map[string]any)["OrderFault"].(map[string]any)["Reason"] != "no such order" {
				t.Fatalf("detail %#v", fault["detail"])
			}
		})
	}
}

func TestUsernameToken(t *testing.T) {
	partner := &soaptest.Orders{Username: "svc-outflow", Password: "s3cr3t&<pw>"}
	srv := httptest.NewServer(partner)
	defer srv.Close()
	t.Setenv("OUTFLOW_TEST_WSS_PW", partner.Password)
	t.Setenv("OUTFLOW_TEST_WSS_WRONG", "guess")
	a := &Activity{Secrets: secrets.New("")}
	run := func(passwordType, ref string) (*engine.StepResult, error) {
		return execute(t, a, &SoapRequest{
			CallHeader:  engine.CallHeader{Connection: connFor(t, srv, "")},
			Definitions: ordersDefs(t, ""),
			Operation:   "GetOrderStatus",
			Body:        map[string]any{"OrderId": "42"},
			Security:    &Security{Username: "svc-outflow", Password: &engine.SecretRef{Ref: ref}, PasswordType: passwordType},
		})
	}
	for _, pt := range []string{"", "text", "digest"} {
		res, err := run(pt, "env:OUTFLOW_TEST_WSS_PW")
		if err != nil {
			t.Fatalf("password type %q: %v", pt, err)
		}
		if !strings.Contains(res.Request.Body, ">[redacted]</wsse:Password>") {
			t.Fatalf("password type %q: request record %s", pt, res.Request.Body)
		}
		b, _ := json.Marshal(res)
		if strings.Contains(string(b), "s3cr3t") || strings.Contains(string(b), "s3cr3t&amp;") {
			t.Fatalf("password type %q: the password is in the step result", pt)
		}
	}
	seen := partner.Requests()
	if seen[1].PasswordType != "text" || seen[2].PasswordType != "digest" || seen[2].Username != "svc-outflow" {
		t.Fatalf("partner saw %+v", seen)
	}

	_, err := run("digest", "env:OUTFLOW_TEST_WSS_WRONG")
	appErr, res := appError(t, err)
	if appErr.Type() != engine.ErrSOAPFault || !appErr.NonRetryable() || !strings.Contains(appErr.Error(), "FailedAuthentication") || strings.Contains(res.Request.Body, "guess") {
		t.Fatalf("wrong password: %v", appErr)
	}

	_, err = run("text", "env:OUTFLOW_TEST_WSS_UNSET")
	appErr, _ = appError(t, err)
	if appErr.Type() != engine.ErrSecret || !appErr.NonRetryable() || !strings.Contains(appErr.Error(), "env:OUTFLOW_TEST_WSS_UNSET") {
		t.Fatalf("missing secret: %v", appErr)
	}

	_, err = run("plain", "env:OUTFLOW_TEST_WSS_PW")
	appErr, _ = appError(t, err)
	if appErr.Type() != engine.ErrConfig || !strings.Contains(appErr.Error(), `unknown WS-Security password type "plain"`) {
		t.Fatalf("bad password type: %v", appErr)
	}
}

func TestConfigErrorsAreNotRetried(t *testing.T) {
	srv := httptest.NewServer(&soaptest.Orders{})
	defer srv.Close()
	conn := connFor(t, srv, "")
	for _, tt := range []struct {
		name string
		req  *SoapRequest
		want string
	}{
		{"unknown body field", &SoapRequest{CallHeader: engine.CallHeader{Connection: conn}, Definitions: ordersDefs(t, ""), Operation: "GetOrderStatus", Body: map[string]any{"OrderID": "1"}},
			`unknown field "OrderID" (allowed: OrderId, IncludeLines)`},
		{"unknown operation", &SoapRequest{CallHeader: engine.CallHeader{Connection: conn}, Definitions: ordersDefs(t, ""), Operation: "GetOrder"}, `no operation "GetOrder"`},
		{"no definitions", &SoapRequest{CallHeader: engine.CallHeader{Connection: conn}, Operation: "GetOrderStatus"}, "no WSDL definitions given"},
		{"no connection", &SoapRequest{Definitions: ordersDefs(t, ""), Operation: "GetOrderStatus"}, "no connection given"},
		{"undeclared SOAP header", &SoapRequest{CallHeader: engine.CallHeader{Connection: conn}, Definitions: ordersDefs(t, ""), Operation: "GetOrderStatus", Body: map[string]any{"OrderId": "1"}, SOAPHeaders: []engine.Binding{{Name: "Auth", Value: "x"}}}, `header "Auth" is not declared`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := execute(t, &Activity{}, tt.req)
			appErr, _ := appError(t, err)
			if appErr.Type() != engine.ErrConfig || !appErr.NonRetryable() || !strings.Contains(appErr.Error(), tt.want) {
				t.Fatalf("type %s nonretryable %v: %v", appErr.Type(), appErr.NonRetryable(), appErr)
			}
		})
	}
}

func TestAnswersThatAreNotSOAP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/502":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
		case "/404":
			w.WriteHeader(404)
			_, _ = io.WriteString(w, "no such service")
		case "/200":
			_, _ = io.WriteString(w, "<html>login</html>")
		case "/doctype":
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<!DOCTYPE html><html><body>Please sign in</body></html>")
		case "/not-envelope":
			w.Header().Set("Content-Type", "text/xml")
			_, _ = io.WriteString(w, `<?xml version="1.0"?><GetOrderStatusResponse><Status>SHIPPED</Status></GetOrderStatusResponse>`)
		case "/moved":
			http.Redirect(w, r, "/orders/v2", http.StatusFound)
		case "/202":
			w.WriteHeader(202)
		case "/big":
			_, _ = io.WriteString(w, `<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><x>`+strings.Repeat("y", 5000)+`</x></e:Body></e:Envelope>`)
		}
	}))
	defer srv.Close()
	for _, tt := range []struct {
		path, typ string
		retryable bool
		words     string
	}{
		{"/502", engine.ErrHTTPStatus, true, "answered 502 Bad Gateway: <html><body><h1>502 Bad Gateway</h1></body></html>"},
		{"/404", engine.ErrHTTPClient, false, "answered 404 Not Found: no such service"},
		// A 200 that is not an envelope (a login page, a DOCTYPE, plain XML)
		// and a redirect come again on every attempt: not retried.
		{"/200", engine.ErrHTTPStatus, false, "answered 200 OK but not with a SOAP envelope"},
		{"/doctype", engine.ErrHTTPStatus, false, "answered 200 OK but not with a SOAP envelope: reading XML: a DOCTYPE is not accepted"},
		{"/not-envelope", engine.ErrHTTPStatus, false, "answered 200 OK but not with a SOAP envelope"},
		{"/moved", engine.ErrHTTPStatus, false, "answered 302 Found: redirect not followed (Location: " + srv.URL + "/orders/v2)"},
		{"/big", engine.ErrConfig, false, "over the body limit of 1000 bytes"},
	} {
		t.Run(tt.path, func(t *testing.T) {
			_, err := execute(t, &Activity{}, &SoapRequest{CallHeader: engine.CallHeader{Connection: connFor(t, srv, tt.path), BodyLimit: 1000}, Definitions: ordersDefs(t, ""), Operation: "GetOrderStatus", Body: map[string]any{"OrderId": "1"}})
			appErr, res := appError(t, err)
			if appErr.Type() != tt.typ || appErr.NonRetryable() == tt.retryable || !strings.Contains(appErr.Error(), tt.words) {
				t.Fatalf("type %s nonretryable %v: %v", appErr.Type(), appErr.NonRetryable(), appErr)
			}
			if res.Response == nil || res.Request.URL != srv.URL+tt.path {
				t.Fatalf("result %+v", res)
			}
		})
	}
	t.Run("202 with no body", func(t *testing.T) {
		res, err := execute(t, &Activity{}, &SoapRequest{CallHeader: engine.CallHeader{Connection: connFor(t, srv, "/202")}, Definitions: ordersDefs(t, ""), Operation: "GetOrderStatus", Body: map[string]any{"OrderId": "1"}})
		if err != nil || res.Response.StatusCode != 202 || res.Body != nil {
			t.Fatalf("res %+v err %v", res, err)
		}
	})
}

// tlsTransports hands out the test server's client, as the worker's
// transport cache would hand out one per protocol profile.
type tlsTransports struct{ rt http.RoundTripper }

func (t tlsTransports) RoundTripper(context.Context, *engine.Connection, *engine.ProtocolProfile, string) (http.RoundTripper, error) {
	return t.rt, nil
}

func TestOverTLSWithConnectionCredential(t *testing.T) {
	partner := &soaptest.Orders{}
	var gotAuth string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		partner.ServeHTTP(w, r)
	}))
	defer srv.Close()
	t.Setenv("OUTFLOW_TEST_BASIC_PW", "basic-pw")
	conn := connFor(t, srv, "/gateway/orders")
	conn.Credential = &engine.Credential{Type: "basic", Username: "gw", Password: &engine.SecretRef{Ref: "env:OUTFLOW_TEST_BASIC_PW"}}
	a := &Activity{Secrets: secrets.New(""), Transports: tlsTransports{srv.Client().Transport}}
	res, err := execute(t, a, &SoapRequest{CallHeader: engine.CallHeader{Connection: conn}, Definitions: ordersDefs(t, ""), Operation: "GetOrderStatus", Body: map[string]any{"OrderId": "42"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.TLS == nil || res.TLS.Version == "" || res.Request.URL != srv.URL+"/gateway/orders" {
		t.Fatalf("tls %+v url %s", res.TLS, res.Request.URL)
	}
	if gotAuth == "" || res.Request.Headers["authorization"] != "[redacted]" || res.Request.Headers["soapaction"] != `"urn:outflow:orders:v1/GetOrderStatus"` {
		t.Fatalf("headers %v", res.Request.Headers)
	}
}

func TestEndpoint(t *testing.T) {
	const address = "https://partner.example/ws/Orders?tenant=7"
	tests := []struct {
		name    string
		conn    engine.Connection
		profile *engine.ProtocolProfile
		address string
		want    string
	}{
		{"host from the connection, path and query from the WSDL", engine.Connection{Name: "c", Scheme: "https", Host: "test.partner.example"}, nil, address, "https://test.partner.example/ws/Orders?tenant=7"},
		{"port from the profile", engine.Connection{Name: "c", Scheme: "https", Host: "10.0.0.5"}, &engine.ProtocolProfile{Port: 8443}, address, "https://10.0.0.5:8443/ws/Orders?tenant=7"},
		{"a base path is the whole endpoint path", engine.Connection{Name: "c", Scheme: "https", Host: "gw.example", BasePath: "/partner/orders"}, nil, address, "https://gw.example/partner/orders"},
		{"no host: the WSDL address as it is", engine.Connection{Name: "c"}, nil, address, address},
		{"no address: the connection alone", engine.Connection{Name: "c", Scheme: "http", Host: "localhost", Port: 8080}, nil, "", "http://localhost:8080/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := Endpoint(&tt.conn, tt.profile, tt.address)
			if err != nil || u.String() != tt.want {
				t.Fatalf("Endpoint = %v, %v; want %s", u, err, tt.want)
			}
		})
	}
	if _, err := Endpoint(&engine.Connection{Name: "c"}, nil, "urn:not-a-url"); err == nil || !strings.Contains(err.Error(), `connection "c" has no host`) {
		t.Fatalf("err = %v", err)
	}
}

func TestSoaptestServesItsWSDL(t *testing.T) {
	srv := httptest.NewServer(&soaptest.Orders{})
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/soap/orders?wsdl")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	d, err := wsdl.Parse(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Services[0].Ports[1].Address; got != srv.URL+"/soap/orders" {
		t.Fatalf("served WSDL points at %s", got)
	}
}

func TestResponseHeaderBlocks(t *testing.T) {
	const env = `<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/" xmlns:h="urn:partner:session">
<e:Header><h:Session><h:Id>s-77</h:Id><h:ExpiresIn>300</h:ExpiresIn></h:Session><h:Trace>t-1</h:Trace></e:Header>
<e:Body>%s</e:Body></e:Envelope>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		if r.URL.Path == "/fault" {
			w.WriteHeader(500)
			fmt.Fprintf(w, env, `<e:Fault><faultcode>e:Server</faultcode><faultstring>backend down</faultstring></e:Fault>`)
			return
		}
		fmt.Fprintf(w, env, `<o:GetOrderStatusResponse xmlns:o="urn:outflow:orders:v1"><o:Status>Shipped</o:Status></o:GetOrderStatusResponse>`)
	}))
	defer srv.Close()
	res, err := execute(t, &Activity{}, &SoapRequest{CallHeader: engine.CallHeader{Connection: connFor(t, srv, "/ok")}, Definitions: ordersDefs(t, ""), Operation: "GetOrderStatus", Body: map[string]any{"OrderId": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	session, _ := res.SOAPHeader["Session"].(map[string]any)
	if session["Id"] != "s-77" || res.SOAPHeader["Trace"] != "t-1" {
		t.Fatalf("soap header = %#v", res.SOAPHeader)
	}
	// A fault's header blocks are kept too (a trace id is what support asks for).
	_, err = execute(t, &Activity{}, &SoapRequest{CallHeader: engine.CallHeader{Connection: connFor(t, srv, "/fault")}, Definitions: ordersDefs(t, ""), Operation: "GetOrderStatus", Body: map[string]any{"OrderId": "1"}})
	_, fres := appError(t, err)
	if fres.SOAPHeader["Trace"] != "t-1" {
		t.Fatalf("fault's soap header = %#v", fres.SOAPHeader)
	}
}
