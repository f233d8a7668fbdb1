package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/secrets"
)

func TestRedactFailureKeepsWhatTheWorkflowDecidesBy(t *testing.T) {
	red := secrets.NewRedactor(nil)
	red.Add("tok-5e1d-redact-failure")
	res := &engine.StepResult{Response: &engine.ResponseSummary{StatusCode: 503, Body: "busy, tok-5e1d-redact-failure"}}
	err := newAppError("GET /x answered 503: busy, tok-5e1d-redact-failure", engine.ErrHTTPStatus, true, res, 7*time.Second)
	got := RedactFailure(red, err)
	var appErr *temporal.ApplicationError
	if !errors.As(got, &appErr) {
		t.Fatalf("got %T", got)
	}
	if appErr.Message() != "GET /x answered 503: busy, [redacted]" || appErr.Type() != engine.ErrHTTPStatus || appErr.NonRetryable() || appErr.NextRetryDelay() != 7*time.Second {
		t.Fatalf("message %q, type %s, non-retryable %v, delay %s", appErr.Message(), appErr.Type(), appErr.NonRetryable(), appErr.NextRetryDelay())
	}
	var details *engine.StepResult
	if appErr.Details(&details) != nil || details.Response.Body != "busy, [redacted]" {
		t.Fatalf("details: %+v", details)
	}
	clean := newAppError("GET /x answered 404", engine.ErrHTTPClient, false, &engine.StepResult{}, 0)
	if RedactFailure(red, clean) != clean {
		t.Fatal("a failure without a secret must come back as it is")
	}
	if RedactFailure(nil, err) != err || RedactFailure(red, nil) != nil {
		t.Fatal("nothing to redact, nothing changed")
	}
}

// TestCutBodyLosesTheStartOfASecret: a body read up to its limit that ends
// in the first part of a token keeps none of it.
func TestCutBodyLosesTheStartOfASecret(t *testing.T) {
	const token = "tok-9c4a-cut-in-two-by-the-limit"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "you sent "+r.Header.Get("Authorization")+strings.Repeat(".", 64))
	}))
	defer srv.Close()
	t.Setenv("OUTFLOW_TEST_CUT_TOKEN", token)
	conn := connFor(t, srv, "")
	conn.Credential = &engine.Credential{Type: "bearer", Token: &engine.SecretRef{Ref: "env:OUTFLOW_TEST_CUT_TOKEN"}}
	limit := int64(len("you sent Bearer ") + 12)
	res, err := execute(t, &Activity{Secrets: secrets.New("")}, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn, BodyLimit: limit}, Method: "GET", Path: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Response.BodyTruncated || res.Response.Body != "you sent Bearer [redacted]" {
		t.Fatalf("body %q (truncated %v)", res.Response.Body, res.Response.BodyTruncated)
	}
}

// TestShortSecretWarnsOnce: a secret too short to be redacted by value is
// named in the worker's log, once per process.
func TestShortSecretWarnsOnce(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "you sent "+r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	t.Setenv("OUTFLOW_TEST_SHORT_TOKEN", "t0k")
	conn := connFor(t, srv, "")
	conn.Credential = &engine.Credential{Type: "bearer", Token: &engine.SecretRef{Ref: "env:OUTFLOW_TEST_SHORT_TOKEN"}}
	logs := &lockedBuffer{}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewJSONHandler(logs, nil))))
	a := &Activity{Secrets: secrets.New("")}
	for range 2 {
		env := s.NewTestActivityEnvironment()
		env.RegisterActivityWithOptions(a.Execute, activity.RegisterOptions{Name: engine.RestActivity})
		v, err := env.ExecuteActivity(engine.RestActivity, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn}, Method: "GET", Path: "/x"})
		if err != nil {
			t.Fatal(err)
		}
		var res engine.StepResult
		if err := v.Get(&res); err != nil {
			t.Fatal(err)
		}
		// Documented: too short to be searched for in what the partner says.
		if res.Response.Body != "you sent Bearer t0k" {
			t.Fatalf("body %q", res.Response.Body)
		}
	}
	var warnings int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var e map[string]any
		if json.Unmarshal([]byte(line), &e) == nil && strings.Contains(e["msg"].(string), "too short to be redacted") {
			warnings++
			if e["reference"] != "env:OUTFLOW_TEST_SHORT_TOKEN" || e["level"] != "WARN" {
				t.Errorf("warning: %v", e)
			}
		}
	}
	if warnings != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", warnings, logs.String())
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
