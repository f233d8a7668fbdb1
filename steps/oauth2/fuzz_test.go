package oauth2

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/outflow-dev/outflow/engine"
)

// tokenAnswer answers the token request with one canned response, without
// a network: a fuzz target tries thousands of answers a second. The tests
// in oauth2_test.go talk to a real authorization server over mTLS; this
// fuzzes what Fetch makes of an answer.
type tokenAnswer struct {
	status      int
	contentType string
	body        []byte
}

func (a tokenAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: a.status, Status: strconv.Itoa(a.status) + " " + http.StatusText(a.status), Header: http.Header{"Content-Type": {a.contentType}},
		Body: io.NopCloser(bytes.NewReader(a.body)), Request: r}, nil
}

// FuzzTokenAnswer gives Fetch any answer from a token endpoint. A token it
// accepts is the answer's access_token, of type bearer, expiring no earlier
// than it arrived; a refusal is an *Error that names the endpoint, retries
// only what may pass later (5xx, 408, 429, temporarily_unavailable), is
// UTF-8 when the answer is, and does not depend on the access token the
// answer holds, so the token cannot be in it.
func FuzzTokenAnswer(f *testing.F) {
	for _, s := range []struct {
		status            int
		contentType, body string
	}{
		{200, "application/json", `{"access_token":"eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE5MDAwMDAwMDAsImNuZiI6eyJ4NXQjUzI1NiI6ImFiYyJ9fQ.c2ln","token_type":"Bearer","expires_in":3600,"scope":"orders:read"}`},
		{200, "application/json;charset=UTF-8", `{"access_token":"opaque-7f3a","token_type":"bearer","expires_in":"3600"}`},
		{200, "application/json", `{"access_token":"opaque-7f3a","token_type":"mac"}`},
		{200, "application/json", `{"access_token":"opaque-7f3a","expires_in":-1}`},
		{200, "application/json", `{"access_token":"opaque-7f3a","expires_in":1e99}`},
		{200, "application/json", `{"error":"temporarily_unavailable","error_description":"try later"}`},
		{200, "text/html", `<html>login</html>`},
		{400, "application/json", `{"error":"invalid_client","error_description":"client authentication failed"}`},
		{401, "application/json", `{"error":{"code":"x"},"message":"no"}`},
		{403, "text/plain; charset=iso-8859-1", "Zugriff verweigert f\xfcr Mandant"},
		{502, "text/plain", strings.Repeat("bad gateway ", 30) + "é"},
		{429, "", ``},
		{400, "text/plain; charset=utf-8", "Die Anmeldung des Mandanten ist fehlgeschlagen. " + strings.Repeat("-", 248) + "Ungültige Zugangsdaten."},
	} {
		f.Add(s.status, s.contentType, []byte(s.body))
	}
	u, _ := url.Parse("https://as.partner.example/oauth2/token")
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		if status < 200 || status > 599 {
			return
		}
		fetch := func(body []byte) (*Token, error) {
			c := &Client{Connection: "bank", TokenURL: u, Secret: "client-s3cret-value", Transport: tokenAnswer{status, contentType, body},
				Credential: &engine.Credential{Type: engine.OAuth2ClientCredentials, ClientID: "outflow", ClientAuth: engine.ClientSecretPost}}
			return c.Fetch(context.Background(), func() time.Time { return now })
		}
		tok, err := fetch(body)
		var answer struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(body, &answer)
		if err == nil {
			if status != 200 || tok.AccessToken == "" || tok.AccessToken != answer.AccessToken || !tok.IssuedAt.Equal(now) {
				t.Fatalf("token %+v from a %d answer %q", tok, status, body)
			}
			if !tok.ExpiresAt.IsZero() && tok.ExpiresAt.Before(now) && !strings.Contains(string(body), "expires_in") {
				return // the exp claim of a JWT may be past; expires_in may not
			}
			if !tok.ExpiresAt.IsZero() && tok.ExpiresAt.Before(now) {
				t.Fatalf("expires %v, before it arrived (%v): %q", tok.ExpiresAt, now, body)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.TokenURL != u.String() || e.Transport {
			t.Fatalf("refusal %#v", err)
		}
		msg := err.Error()
		if utf8.Valid(body) && !utf8.ValidString(msg) {
			t.Fatalf("the message of a UTF-8 answer is not UTF-8: %q", msg)
		}
		if status != 200 {
			retry := status >= 500 || status == 429 || status == 408 || e.Code == "temporarily_unavailable"
			if e.Retry != retry {
				t.Fatalf("status %d, code %q: retry %v", status, e.Code, e.Retry)
			}
		}
		// The same answer with another token, written where the token was:
		// a message that holds the token only with the first one took it
		// from the access_token field.
		raw, _ := json.Marshal(answer.AccessToken)
		if len(answer.AccessToken) < 4 || bytes.Count(body, raw) != 1 || !strings.Contains(msg, answer.AccessToken) {
			return
		}
		_, err2 := fetch(bytes.Replace(body, raw, []byte(`"~another token~"`), 1))
		if err2 == nil || !strings.Contains(err2.Error(), answer.AccessToken) {
			t.Fatalf("the refusal holds the access token %q: %v", answer.AccessToken, err)
		}
	})
}
