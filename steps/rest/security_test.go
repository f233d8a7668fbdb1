package rest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// TestRecordRedactsCredentialHeaders sends a step whose credentials travel
// in Authorization, Cookie and a custom API-key header, to a partner that
// answers with Set-Cookie and echoes the key: the partner gets every value,
// the step result (what the record keeps) none.
func TestRecordRedactsCredentialHeaders(t *testing.T) {
	const apiKey, cookie, session, proxyAuth = "k3y-value-91f2", "sid=c00kie-value-77", "s3ssion-value-5d", "Basic cHJveHk6cHc="
	var mu sync.Mutex
	seen := http.Header{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		seen.Set("X-Query-Key", r.URL.Query().Get("api_key"))
		mu.Unlock()
		w.Header().Set("Set-Cookie", "session="+session+"; HttpOnly")
		w.Header().Set("X-Partner-Key", r.Header.Get("X-Partner-Key"))
		w.Header().Set("X-Session-Token", session)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	t.Setenv("OUTFLOW_TEST_PARTNER_KEY", apiKey)
	a := &Activity{Secrets: secrets.New("")}

	for _, in := range []string{"header", "query"} {
		conn := connFor(t, srv, "/v2")
		conn.Credential = &engine.Credential{Type: "api_key", In: in, Key: "X-Partner-Key", Value: &engine.SecretRef{Ref: "env:OUTFLOW_TEST_PARTNER_KEY"}}
		if in == "query" {
			conn.Credential.Key = "api_key"
		}
		res, err := execute(t, a, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn}, Method: "GET", Path: "/orders", Headers: []engine.KV{{Name: "Cookie", Value: cookie}, {Name: "Proxy-Authorization", Value: proxyAuth}, {Name: "X-Trace", Value: "t-1"}}})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got := seen
		mu.Unlock()
		if in == "header" && got.Get("X-Partner-Key") != apiKey || in == "query" && got.Get("X-Query-Key") != apiKey {
			t.Fatalf("%s: the partner did not get the API key: %v", in, got)
		}
		if got.Get("Cookie") != cookie || got.Get("Proxy-Authorization") != proxyAuth {
			t.Fatalf("%s: the partner did not get the step's headers: %v", in, got)
		}
		req, resp := res.Request.Headers, res.Response.Headers
		for name, h := range map[string]map[string]string{"request cookie": req, "request proxy-authorization": req, "response set-cookie": resp, "response x-session-token": resp} {
			header := name[strings.Index(name, " ")+1:]
			if h[header] != Redacted {
				t.Errorf("%s: %s = %q, want %s", in, name, h[header], Redacted)
			}
		}
		if in == "header" && (req["x-partner-key"] != Redacted || resp["x-partner-key"] == apiKey) {
			t.Errorf("custom API-key header not redacted: request %q, response %q", req["x-partner-key"], resp["x-partner-key"])
		}
		if req["x-trace"] != "t-1" {
			t.Errorf("an ordinary header was redacted too: %v", req)
		}
		b, _ := json.Marshal(res)
		for _, secret := range []string{apiKey, "c00kie-value-77", session, "cHJveHk6cHc="} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s: %q is in the step result: %s", in, secret, b)
			}
		}
		if in == "query" {
			u, _ := url.Parse(res.Request.URL)
			if u.Query().Has("api_key") {
				t.Errorf("the recorded URL carries the query API key: %s", res.Request.URL)
			}
		}
	}
}

// TestAPIKeyInQueryStaysOutOfErrors fails a step whose API key travels in
// the query, at the transport: the error, which reaches history and logs,
// does not carry the URL the key was added to.
func TestAPIKeyInQueryStaysOutOfErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	conn := connFor(t, srv, "")
	srv.Close() // nothing listens there any more
	t.Setenv("OUTFLOW_TEST_QUERY_KEY", "q-key-0ae3")
	conn.Credential = &engine.Credential{Type: "api_key", In: "query", Key: "key", Value: &engine.SecretRef{Ref: "env:OUTFLOW_TEST_QUERY_KEY"}}
	_, err := execute(t, &Activity{Secrets: secrets.New("")}, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn}, Method: "GET", Path: "/x"})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != engine.ErrConnection {
		t.Fatalf("err = %v, want a Connection failure", err)
	}
	if strings.Contains(err.Error(), "q-key-0ae3") {
		t.Fatalf("the API key is in the error: %v", err)
	}
	var details engine.StepResult
	if appErr.Details(&details) == nil {
		b, _ := json.Marshal(details)
		if strings.Contains(string(b), "q-key-0ae3") {
			t.Fatalf("the API key is in the failure details: %s", b)
		}
	}
}

// TestNoPathLeavesTheConnectionHost renders hostile step paths (as an
// expression could produce them) against a connection and sends the ones
// that are accepted to the connection's server: every request that is sent
// stays on the connection's host and under its base path.
func TestNoPathLeavesTheConnectionHost(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Host+" "+r.URL.EscapedPath())
		mu.Unlock()
	}))
	defer srv.Close()
	conn := connFor(t, srv, "/v2")
	host := strings.TrimPrefix(srv.URL, "http://")
	a := &Activity{Secrets: secrets.New("")}
	for _, p := range []string{
		"https://evil.example/x", "http://evil.example", "//evil.example/x", "///evil.example/x", "https:evil.example",
		"@evil.example", "/@evil.example/x", "user:pw@evil.example", "http://" + host + "@evil.example/",
		"..%2f..%2fadmin", "/..%2F..%2Fadmin", "%2e%2e/%2e%2e/admin", "/../../admin", "/v2/../../admin",
		`\\evil.example\x`, `\/evil.example/x`, "/\\evil.example", "ftp://evil.example/", "javascript:alert(1)",
		"file:///etc/passwd", "/x#@evil.example", "/x?next=https://evil.example", " //evil.example", "\t//evil.example",
		"%2F%2Fevil.example/x", "/%2F%2Fevil.example", "mailto:x@evil.example", "evil.example:443/x",
	} {
		u, buildErr := BuildURL(conn, nil, p, nil)
		_, err := execute(t, a, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn}, Method: "GET", Path: p})
		if buildErr != nil {
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) || appErr.Type() != engine.ErrConfig || !appErr.NonRetryable() {
				t.Errorf("path %q: refused by BuildURL (%v) but the step gave %v", p, buildErr, err)
			}
			continue
		}
		if u.Host != host || !strings.HasPrefix(u.Path, "/v2/") {
			t.Errorf("path %q became %s: off the connection %s/v2", p, u, host)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, g := range got {
		h, path, _ := strings.Cut(g, " ")
		if h != host || !strings.HasPrefix(path, "/v2/") {
			t.Errorf("a request reached %s%s", h, path)
		}
	}
	t.Logf("%d hostile paths sent to the connection's own host, the rest refused", len(got))
}
