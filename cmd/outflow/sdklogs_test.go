package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

const failingFlow = `kind: Connection
name: api
url: http://%s
---
kind: Flow
name: failing
steps:
  - id: flaky
    rest: {connection: api, method: GET, path: /flaky}
  - id: submit
    rest: {connection: api, method: POST, path: /orders, body: {id: 1}}
`

// captureStderr points os.Stderr at a file while fn runs and returns what
// was written there: loggers that write to the process's stderr directly.
func captureStderr(t *testing.T, fn func()) string {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	orig := os.Stderr
	os.Stderr = f
	defer func() { os.Stderr = orig }()
	fn()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A run whose step is retried once (503) and whose next step fails for
// good (422) prints the CLI's progress lines, not the SDK's raw log line
// for every failed attempt; --log-level debug shows those.
func TestRunLeavesTheSDKsLogsToLogLevel(t *testing.T) {
	var flaky atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/flaky":
			if flaky.Add(1) == 1 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte(`{}`))
		default:
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"error": "order 1 is closed"}`))
		}
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	writeProjectFile(t, dir, "flow.yaml", fmt.Sprintf(failingFlow, srv.Listener.Addr().String()))

	var out, errOut string
	var code int
	raw := captureStderr(t, func() { out, errOut, code = cli(t, "run", "failing", "--project", dir) })
	if code != 1 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if flaky.Load() != 2 {
		t.Fatalf("flaky called %d times, want a retry", flaky.Load())
	}
	for where, text := range map[string]string{"command stderr": errOut, "process stderr": raw} {
		if strings.Contains(text, "Activity error") || strings.Contains(text, "level=ERROR") {
			t.Errorf("%s has the SDK's log lines:\n%s", where, text)
		}
	}
	if !strings.Contains(errOut, "✗ submit") || !strings.Contains(errOut, "422") || !strings.Contains(errOut, "order 1 is closed") {
		t.Errorf("progress lines do not report the failure:\n%s", errOut)
	}

	flaky.Store(0)
	out, errOut, code = cli(t, "run", "failing", "--project", dir, "--log-level", "debug")
	if code != 1 || !strings.Contains(errOut, `msg="Activity error."`) || !strings.Contains(errOut, "✗ submit") {
		t.Errorf("--log-level debug: exit %d, want the SDK's lines beside the progress lines:\n%s%s", code, out, errOut)
	}
	_, errOut, code = cli(t, "run", "failing", "--project", dir, "--log-level", "loud")
	if code != 1 || !strings.Contains(errOut, `log level "loud": want debug, info, warn or error`) {
		t.Errorf("--log-level loud: exit %d\n%s", code, errOut)
	}
}
