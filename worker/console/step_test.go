package console

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

// TestStepPageShowsEveryFact renders a step page from a record with TLS,
// OAuth, a truncated body and pages, and checks each fact is on it and no
// secret is.
func TestStepPageShowsEveryFact(t *testing.T) {
	c := newTestConsole(t, AuthConfig{Mode: AuthNone}, nil)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	exp := t0.Add(time.Hour)
	st := &engine.StepRecord{
		ID: "orders", Kind: "rest", Connection: "partner-api", Status: "failed", Attempts: 3, Start: t0, Duration: engine.Duration(2 * time.Second),
		Worker:  "w1@host",
		Request: &engine.RequestSummary{Method: "GET", URL: "https://api.example/v2/orders", Headers: map[string]string{"Authorization": "Bearer sk-live-SECRET", "Accept": "application/json"}},
		Response: &engine.ResponseSummary{StatusCode: 503, Headers: map[string]string{"Set-Cookie": "sid=SESSIONSECRET"},
			Body: `{"message": "maintenance until 04:00"`, BodySize: 300000, BodyTruncated: true, BodyLimit: 262144},
		TLS: &engine.TLSFacts{Version: "TLS 1.3", CipherSuite: "TLS_AES_128_GCM_SHA256", NewConnection: true,
			ClientCertificate: &engine.CertFacts{Subject: "CN=svc-outflow", Issuer: "CN=Partner CA", NotAfter: t0.AddDate(1, 0, 0), FingerprintSHA256: "ab:cd"},
			ServerChain:       []engine.CertFacts{{Subject: "CN=api.example", Issuer: "CN=Partner CA", NotAfter: t0.AddDate(1, 0, 0)}}},
		Auth:  &engine.AuthFacts{Type: "oauth2_client_credentials", TokenURL: "https://auth.example/token", ClientAuth: "tls_client_auth", Scopes: []string{"orders:read"}, TokenExpiresAt: &exp, TokenCached: true},
		Error: &engine.ErrorInfo{Type: "HTTPStatus", Message: "GET https://api.example/v2/orders answered 503: maintenance until 04:00"},
		Pages: []engine.PageRecord{{Number: 1, URL: "https://api.example/v2/orders?page=1", StatusCode: 200, Items: 50}},
	}
	ex := &execution{ID: "sync-1", RunID: "r1", Status: "failed", Start: t0, Record: &engine.Record{WorkflowID: "sync-1", Steps: []*engine.StepRecord{st}}}
	d := stepData{Ex: ex, Step: st, Request: redactHeaders(st.Request.Headers), Response: redactHeaders(st.Response.Headers),
		ReqBody: renderBody(nil, "", ""), RespBody: renderBody(nil, st.Response.Body, "application/json"),
		Curl: curlCommand(st.Request, st.TLS), AuthSummary: st.Auth.Summary()}
	d.RespBody.Size, d.RespBody.Truncated, d.RespBody.Limit = st.Response.BodySize, true, st.Response.BodyLimit
	var buf bytes.Buffer
	if err := c.pages["step"].t.ExecuteTemplate(&buf, "layout", view{Identity: Identity{Name: "local", Role: RoleOperator}, Data: d}); err != nil {
		t.Fatal(err)
	}
	h := buf.String()
	for _, want := range []string{
		"TLS 1.3", "TLS_AES_128_GCM_SHA256", "new connection", "CN=svc-outflow", "issued by CN=Partner CA", "CN=api.example",
		"oauth2_client_credentials", "https://auth.example/token", "tls_client_auth", "orders:read", "from this worker",
		"truncated at 256.0 KiB", "maintenance until 04:00", "HTTPStatus", `id="attempts">3`, "?page=1", "w1@host", "Copy as curl",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("the step page lacks %q", want)
		}
	}
	for _, secret := range []string{"sk-live-SECRET", "SESSIONSECRET"} {
		if strings.Contains(h, secret) {
			t.Errorf("the step page shows %q", secret)
		}
	}
}
