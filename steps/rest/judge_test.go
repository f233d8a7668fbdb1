package rest

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// A partner that answers 200 with an error in its body: fail_when and
// retry_when turn it into a ResponseRejected failure in the activity, with
// the partner's words, redacted like any other failure.
func TestFailWhenAndRetryWhenJudgeTheResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Partner-State", "busy")
		switch r.URL.Path {
		case "/locked":
			_, _ = io.WriteString(w, `{"status":"ERROR","code":"LOCKED","echo":"`+r.Header.Get("Authorization")+`"}`)
		case "/ok":
			_, _ = io.WriteString(w, `{"status":"OK"}`)
		}
	}))
	defer srv.Close()
	t.Setenv("OUTFLOW_JUDGE_PW", "judge-secret-77")
	conn := connFor(t, srv, "")
	conn.Credential = &engine.Credential{Type: "bearer", Token: &engine.SecretRef{Ref: "env:OUTFLOW_JUDGE_PW"}}
	a := &Activity{Secrets: secrets.New("")}
	call := func(path, failWhen, retryWhen string) (*engine.StepResult, error) {
		return execute(t, a, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn, FailWhen: failWhen, RetryWhen: retryWhen}, Method: "GET", Path: path})
	}
	for _, tc := range []struct {
		name, path, failWhen, retryWhen string
		rejected, retryable             bool
	}{
		{"fail_when holds", "/locked", `${{ response.json.status == "ERROR" }}`, "", true, false},
		{"retry_when holds", "/locked", `${{ response.json.status == "ERROR" }}`, `${{ response.json.code == "LOCKED" && response.headers["x-partner-state"] == "busy" }}`, true, true},
		{"neither holds", "/ok", `${{ response.json.status == "ERROR" }}`, `${{ response.status_code == 503 }}`, false, false},
		{"body read as text", "/locked", `${{ response.body contains "LOCKED" }}`, "", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := call(tc.path, tc.failWhen, tc.retryWhen)
			if !tc.rejected {
				if err != nil || res.Response.StatusCode != 200 {
					t.Fatalf("err = %v", err)
				}
				return
			}
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) || appErr.Type() != engine.ErrResponseRejected {
				t.Fatalf("err = %v, want ResponseRejected", err)
			}
			if appErr.NonRetryable() == tc.retryable {
				t.Errorf("non-retryable = %v", appErr.NonRetryable())
			}
			if !strings.Contains(appErr.Message(), `"code":"LOCKED"`) || !strings.Contains(appErr.Message(), "200") {
				t.Errorf("message lacks the partner's words: %s", appErr.Message())
			}
			if strings.Contains(appErr.Message(), "judge-secret-77") {
				t.Errorf("secret in the failure: %s", appErr.Message())
			}
			var failed engine.StepResult
			if err := appErr.Details(&failed); err != nil || failed.Response == nil || failed.Response.StatusCode != 200 {
				t.Errorf("failure carries no response: %v", err)
			}
		})
	}
	_, err := call("/ok", `${{ response.json.status.nope.deeper() }}`, "")
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != engine.ErrExpression || !appErr.NonRetryable() {
		t.Fatalf("a fail_when that cannot be evaluated fails the step without retry, got %v", err)
	}
}
