package rest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/secrets"
)

func connFor(t *testing.T, srv *httptest.Server, basePath string) *engine.Connection {
	u, _ := url.Parse(srv.URL)
	port := 0
	if p := u.Port(); p != "" {
		_ = json.Unmarshal([]byte(p), &port)
	}
	return &engine.Connection{Name: "partner", Scheme: u.Scheme, Host: u.Hostname(), Port: port, BasePath: basePath}
}

func execute(t *testing.T, a *Activity, req *engine.RestRequest) (*engine.StepResult, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivityWithOptions(a.Execute, activity.RegisterOptions{Name: engine.RestActivity})
	v, err := env.ExecuteActivity(engine.RestActivity, req)
	if err != nil {
		return nil, err
	}
	var res engine.StepResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	return &res, nil
}

func TestRequestShapeAndCredentials(t *testing.T) {
	var got *http.Request
	var gotBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Set-Cookie", "session=abc")
		_, _ = io.WriteString(w, `{"name":"Ada","id":7}`)
	}))
	defer srv.Close()
	t.Setenv("OUTFLOW_TEST_PW", "pa55-value")
	conn := connFor(t, srv, "/v2")
	conn.Credential = &engine.Credential{Type: "basic", Username: "svc", Password: &engine.SecretRef{Ref: "env:OUTFLOW_TEST_PW"}}
	a := &Activity{Secrets: secrets.New("")}
	res, err := execute(t, a, &engine.RestRequest{
		CallHeader:     engine.CallHeader{Connection: conn},
		Method:         "POST",
		Path:           "/customers/7",
		Query:          []engine.KV{{Name: "q", Value: "a b"}},
		Headers:        []engine.KV{{Name: "X-Trace", Value: "t1"}},
		Body:           map[string]any{"x": 1.0},
		IdempotencyKey: "wf/step",
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.URL.Path != "/v2/customers/7" || got.URL.Query().Get("q") != "a b" {
		t.Fatalf("partner saw %s", got.URL)
	}
	if u, p, ok := got.BasicAuth(); !ok || u != "svc" || p != "pa55-value" {
		t.Fatal("basic credential not sent")
	}
	if got.Header.Get("Idempotency-Key") != "wf/step" || got.Header.Get("X-Trace") != "t1" || string(gotBody) != `{"x":1}` {
		t.Fatalf("headers/body: %v %s", got.Header, gotBody)
	}
	if res.Response.StatusCode != 200 || res.Response.JSON.(map[string]any)["name"] != "Ada" {
		t.Fatalf("response: %+v", res.Response)
	}
	if res.Request.Headers["authorization"] != Redacted || res.Response.Headers["set-cookie"] != Redacted {
		t.Fatalf("credentials not redacted: %v %v", res.Request.Headers, res.Response.Headers)
	}
	b, _ := json.Marshal(res)
	if strings.Contains(string(b), "pa55-value") {
		t.Fatal("secret value in step result")
	}
}

func TestStatusClassification(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/404":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"message":"customer 7 does not exist"}`)
		case "/503":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(503)
			_, _ = io.WriteString(w, "maintenance until 3am")
		case "/429":
			w.WriteHeader(429)
		}
	}))
	defer srv.Close()
	a := &Activity{Secrets: secrets.New("")}
	conn := connFor(t, srv, "")
	for path, want := range map[string]struct {
		typ       string
		retryable bool
		words     string
	}{
		"/404": {engine.ErrHTTPClient, false, "customer 7 does not exist"},
		"/503": {engine.ErrHTTPStatus, true, "maintenance until 3am"},
		"/429": {engine.ErrHTTPStatus, true, "429"},
	} {
		_, err := execute(t, a, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn}, Method: "GET", Path: path})
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) {
			t.Fatalf("%s: err = %v", path, err)
		}
		if appErr.Type() != want.typ || appErr.NonRetryable() == want.retryable || !strings.Contains(appErr.Error(), want.words) {
			t.Errorf("%s: type %s nonretryable %v msg %q", path, appErr.Type(), appErr.NonRetryable(), appErr.Error())
		}
		if path == "/503" && appErr.NextRetryDelay() != 7*time.Second {
			t.Errorf("Retry-After not honoured: %v", appErr.NextRetryDelay())
		}
		var res engine.StepResult
		if err := appErr.Details(&res); err != nil || res.Response == nil {
			t.Errorf("%s: failure carries no response: %v", path, err)
		}
	}
}

func TestMissingSecretNamesReference(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	conn := connFor(t, srv, "")
	conn.Credential = &engine.Credential{Type: "bearer", Token: &engine.SecretRef{Ref: "env:OUTFLOW_DOES_NOT_EXIST"}}
	_, err := execute(t, &Activity{Secrets: secrets.New("")}, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn}, Method: "GET"})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != engine.ErrSecret || !appErr.NonRetryable() || !strings.Contains(err.Error(), "env:OUTFLOW_DOES_NOT_EXIST") {
		t.Fatalf("err = %v", err)
	}
}

func TestPathCannotChangeHost(t *testing.T) {
	conn := &engine.Connection{Name: "p", Scheme: "https", Host: "api.partner.example", BasePath: "/v2"}
	for _, p := range []string{"https://evil.example/x", "//evil.example/x", "http://api.partner.example@evil/", "/../../admin", "/../v3/x"} {
		if u, err := BuildURL(conn, nil, p, nil); err == nil {
			t.Errorf("path %q was accepted as %s", p, u)
		}
	}
	u, err := BuildURL(conn, &engine.ProtocolProfile{Port: 8443}, "customers/1?x=1", []engine.KV{{Name: "y", Value: "2"}})
	if err != nil || u.String() != "https://api.partner.example:8443/v2/customers/1?x=1&y=2" {
		t.Fatalf("u = %v, err = %v", u, err)
	}
}

func TestBodyIsCappedWhileStreaming(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("x", 64<<10)
		for i := 0; i < 64; i++ { // 4 MiB
			_, _ = io.WriteString(w, chunk)
		}
	}))
	defer srv.Close()
	res, err := execute(t, &Activity{}, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: connFor(t, srv, ""), BodyLimit: 1000}, Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Response.Body) != 1000 || !res.Response.BodyTruncated {
		t.Fatalf("body %d bytes, truncated %v", len(res.Response.Body), res.Response.BodyTruncated)
	}
}
