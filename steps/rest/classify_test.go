package rest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/secrets"
)

func stepError(t *testing.T, err error) (*temporal.ApplicationError, *engine.StepResult) {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("err = %v, want a step failure", err)
	}
	var res engine.StepResult
	if appErr.HasDetails() {
		if err := appErr.Details(&res); err != nil {
			t.Fatal(err)
		}
	}
	return appErr, &res
}

// A redirect is never followed, and comes again on every attempt: the step
// fails at once, saying so, without the Location's query (which may hold a
// token).
func TestRedirectIsNotFollowedNorRetried(t *testing.T) {
	var followed atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved":
			http.Redirect(w, r, "/v3/customers?session=tok-in-location", http.StatusMovedPermanently)
		case "/see-other":
			w.Header().Set("Location", "https://other.example/login?sig=abc")
			w.WriteHeader(http.StatusSeeOther)
		case "/not-modified":
			w.WriteHeader(http.StatusNotModified)
		default:
			followed.Add(1)
		}
	}))
	defer srv.Close()
	a := &Activity{Secrets: secrets.New("")}
	for path, location := range map[string]string{
		"/moved":        "(Location: " + srv.URL + "/v3/customers)",
		"/see-other":    "(Location: https://other.example/login)",
		"/not-modified": "answered 304 Not Modified: redirect not followed;",
	} {
		t.Run(path, func(t *testing.T) {
			_, err := execute(t, a, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: connFor(t, srv, "")}, Method: "GET", Path: path})
			appErr, res := stepError(t, err)
			if appErr.Type() != engine.ErrHTTPStatus || !appErr.NonRetryable() {
				t.Errorf("type %s, non-retryable %v; want a non-retryable %s", appErr.Type(), appErr.NonRetryable(), engine.ErrHTTPStatus)
			}
			for _, want := range []string{"redirect not followed", location, "expect"} {
				if !strings.Contains(appErr.Error(), want) {
					t.Errorf("message does not say %q: %s", want, appErr.Error())
				}
			}
			for _, secret := range []string{"tok-in-location", "sig=abc"} {
				if strings.Contains(appErr.Error(), secret) {
					t.Errorf("message holds the Location's query %q: %s", secret, appErr.Error())
				}
			}
			if res.Response == nil || res.Response.StatusCode/100 != 3 {
				t.Errorf("the failure's record has no 3xx response: %+v", res.Response)
			}
		})
	}
	if n := followed.Load(); n != 0 {
		t.Fatalf("a redirect was followed %d times", n)
	}
	t.Run("expected 3xx is an answer", func(t *testing.T) {
		res, err := execute(t, a, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: connFor(t, srv, "")}, Method: "GET", Path: "/moved", Expect: []int{301}})
		if err != nil || res.Response.StatusCode != 301 {
			t.Fatalf("res %+v, err %v", res, err)
		}
	})
}

// A header HTTP cannot carry is the flow's mistake, not the network's: the
// step fails as Config, not retried, naming the header and never its value.
func TestInvalidHeaderIsConfig(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	t.Setenv("OUTFLOW_TEST_TOKEN_NL", "tok-3141\n")
	for _, tc := range []struct {
		name    string
		headers []engine.KV
		cred    *engine.Credential
		want    string
	}{
		{"newline in value", []engine.KV{{Name: "X-Trace", Value: "abc\r\nX-Injected: 1"}}, nil, "value of header X-Trace"},
		{"space in name", []engine.KV{{Name: "X Trace", Value: "abc"}}, nil, `header name "X Trace"`},
		{"secret with a trailing newline", nil, &engine.Credential{Type: "bearer", Token: &engine.SecretRef{Ref: "env:OUTFLOW_TEST_TOKEN_NL"}}, "trailing newline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := connFor(t, srv, "")
			conn.Credential = tc.cred
			_, err := execute(t, &Activity{Secrets: secrets.New("")}, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn}, Method: "POST", Headers: tc.headers, Body: "x"})
			appErr, res := stepError(t, err)
			if appErr.Type() != engine.ErrConfig || !appErr.NonRetryable() || !strings.Contains(appErr.Error(), tc.want) {
				t.Fatalf("type %s, non-retryable %v: %v; want a non-retryable Config error saying %q", appErr.Type(), appErr.NonRetryable(), appErr, tc.want)
			}
			if b, _ := json.Marshal(res); strings.Contains(appErr.Error(), "tok-3141") || strings.Contains(string(b), "tok-3141") {
				t.Errorf("the secret reached the failure: %s %s", appErr.Error(), b)
			}
			if strings.Contains(appErr.Error(), "X-Injected") {
				t.Errorf("the message echoes the header's value: %s", appErr.Error())
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("the partner got %d requests", n)
	}
}

// Without a TLS observer (a connection with no protocol profile on the
// shared transport), a server certificate that fails verification is still
// recognised and not retried.
func TestUntrustedServerWithoutProfileIsNotRetried(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, err := execute(t, &Activity{}, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: connFor(t, srv, "")}, Method: "GET"})
	appErr, _ := stepError(t, err)
	if appErr.Type() != engine.ErrTLSHandshake || !appErr.NonRetryable() || !strings.Contains(appErr.Error(), "certificate") {
		t.Fatalf("type %s, non-retryable %v: %v", appErr.Type(), appErr.NonRetryable(), appErr)
	}
}
