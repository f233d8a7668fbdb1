// Package oauth2 gets OAuth 2.0 access tokens for connections whose
// credential is oauth2_client_credentials: the client credentials grant of
// RFC 6749 §4.4, with the client authenticated by a secret (RFC 6749 §2.3.1),
// by its TLS client certificate (RFC 8705 §2), or by a signed JWT (RFC 7523).
//
// A token request goes through the connection's own transport, so the token
// endpoint sees the same client certificate as the API, and a token bound to
// that certificate (RFC 8705 §3) is accepted by the API. Tokens are kept in a
// Cache per worker and never leave it: they are not logged, not put in
// errors, and not returned in step results.
package oauth2

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// Client is one OAuth 2.0 client as a step on this worker uses it: the
// connection's credential with its secrets resolved, the token endpoint, and
// the transport the connection's requests go through.
type Client struct {
	// Connection names the connection, for cache keys and messages.
	Connection string
	Credential *engine.Credential
	// TokenURL is the token endpoint, resolved against the connection.
	TokenURL *url.URL
	// Secret is the resolved client secret (client_secret_basic and
	// client_secret_post).
	Secret string
	// Transport sends the token request: the connection's transport.
	Transport http.RoundTripper
	// Certificate is the client certificate Transport presents, nil when
	// it presents none.
	Certificate *tls.Certificate
	// Signer is the key and certificate that sign private_key_jwt client
	// assertions; nil means Certificate.
	Signer *tls.Certificate
}

// ClientAuth is the client's authentication method, with the default
// filled in.
func (c *Client) ClientAuth() string {
	if c.Credential.ClientAuth == "" {
		return engine.DefaultOAuth2ClientAuth
	}
	return c.Credential.ClientAuth
}

// Token is an access token and what is known of it. Its AccessToken and
// RefreshToken must never be logged or returned from the worker.
type Token struct {
	AccessToken string
	// RefreshToken is the refresh token the server issued with it, if any.
	// The client credentials grant does not use it; it is kept so that a
	// partner echoing it back is redacted like the access token.
	RefreshToken string
	// ExpiresAt is when the token expires: from expires_in, else the exp
	// claim of a JWT token; zero when the server said neither.
	ExpiresAt time.Time
	// IssuedAt is when this worker received the token.
	IssuedAt time.Time
	// Scope is the scope the server granted, when it said.
	Scope string
	// BoundTo is the x5t#S256 confirmation of a certificate-bound JWT
	// token (RFC 8705 §3.1), "" for an unbound or opaque token.
	BoundTo string
}

// Thumbprint is the x5t#S256 of a certificate: the unpadded base64url
// SHA-256 of its DER (RFC 8705 §3.1).
func Thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Error is a token request that did not yield a token. Its message names the
// token endpoint and gives the server's own words (RFC 6749 §5.2 error and
// error_description); it never holds a secret.
type Error struct {
	TokenURL string
	// Status is the HTTP status of the answer; 0 when none arrived.
	Status int
	// Code and Description are the server's error and error_description.
	Code, Description string
	// Retry says whether asking again later may help (5xx, 429,
	// temporarily_unavailable, network failures).
	Retry bool
	// Transport is set when no answer arrived: the request failed on the
	// way (connection, TLS handshake, timeout). Err is the cause.
	Transport bool
	Err       error
}

func (e *Error) Error() string {
	if e.Transport {
		return fmt.Sprintf("requesting an access token from %s: %v", e.TokenURL, e.Err)
	}
	msg := fmt.Sprintf("the token endpoint %s refused to issue an access token (HTTP %d)", e.TokenURL, e.Status)
	if e.Status >= 200 && e.Status < 300 && e.Code == "" {
		msg = fmt.Sprintf("the token endpoint %s answered HTTP %d", e.TokenURL, e.Status)
	}
	switch {
	case e.Code != "" && e.Description != "":
		msg += ": " + e.Code + ": " + e.Description
	case e.Code != "":
		msg += ": " + e.Code
	case e.Err != nil:
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// maxTokenResponse caps the token endpoint's answer read into memory.
const maxTokenResponse = 64 << 10

// Fetch asks the token endpoint for a new access token with the client
// credentials grant. now is when the answer is taken to arrive, for
// expires_in.
//
// Every credential the request sends (the client secret, its Basic form, a
// client assertion) and every token it gets is added to the
// secrets.Redactor ctx carries, so that the token endpoint's words and
// whatever a partner echoes back are redacted.
func (c *Client) Fetch(ctx context.Context, now func() time.Time) (*Token, error) {
	cred := c.Credential
	red := secrets.RedactorFrom(ctx)
	tokenURL := c.TokenURL.String()
	form := url.Values{}
	form.Set("grant_type", "client_credentials")
	if len(cred.Scopes) > 0 {
		form.Set("scope", strings.Join(cred.Scopes, " "))
	}
	if cred.Audience != "" {
		form.Set("audience", cred.Audience)
	}
	if cred.Resource != "" {
		form.Set("resource", cred.Resource)
	}
	for _, kv := range cred.Params {
		form.Add(kv.Name, kv.Value)
	}
	var basicUser, basicPass string
	switch auth := c.ClientAuth(); auth {
	case engine.ClientSecretBasic:
		// RFC 6749 §2.3.1: both are form-encoded before they are joined.
		basicUser, basicPass = url.QueryEscape(cred.ClientID), url.QueryEscape(c.Secret)
		red.Add(c.Secret)
		red.AddBasic(basicUser, basicPass)
	case engine.ClientSecretPost:
		form.Set("client_id", cred.ClientID)
		form.Set("client_secret", c.Secret)
		red.Add(c.Secret)
	case engine.TLSClientAuth, engine.SelfSignedTLSClientAuth:
		if c.Certificate == nil {
			return nil, &Error{TokenURL: tokenURL, Err: fmt.Errorf("client_auth %s authenticates by the client certificate, but connection %q presents none: set mutual_auth: true and a protocol profile with a keystore", auth, c.Connection)}
		}
		form.Set("client_id", cred.ClientID)
	case engine.PrivateKeyJWT:
		signer := c.Signer
		if signer == nil {
			signer = c.Certificate
		}
		if signer == nil {
			return nil, &Error{TokenURL: tokenURL, Err: fmt.Errorf("client_auth private_key_jwt needs a key to sign with: give private_key, or use a connection with mutual_auth: true whose keystore holds the key")}
		}
		assertion, err := clientAssertion(signer, cred.ClientID, tokenURL, cred.KeyID, now())
		if err != nil {
			return nil, &Error{TokenURL: tokenURL, Err: fmt.Errorf("signing the client assertion: %w", err)}
		}
		form.Set("client_id", cred.ClientID)
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
		red.Add(assertion)
	default:
		return nil, &Error{TokenURL: tokenURL, Err: fmt.Errorf("unknown client_auth %q (client_secret_basic, client_secret_post, tls_client_auth, self_signed_tls_client_auth or private_key_jwt)", auth)}
	}
	body := []byte(form.Encode())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{TokenURL: tokenURL, Err: fmt.Errorf("building the token request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "outflow")
	if basicUser != "" || basicPass != "" {
		req.SetBasicAuth(basicUser, basicPass)
	}
	resp, err := c.Transport.RoundTrip(req)
	if err != nil {
		return nil, &Error{TokenURL: tokenURL, Transport: true, Retry: true, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return nil, &Error{TokenURL: tokenURL, Transport: true, Retry: true, Err: fmt.Errorf("reading the answer: %w", err)}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errorResponse(tokenURL, resp, []byte(red.String(string(data))))
	}
	tok, err := parseToken(tokenURL, resp, data, now())
	if err != nil {
		// An error in a 200 answer may hold an echoed secret too.
		var oe *Error
		if errors.As(err, &oe) {
			oe.Description = red.String(oe.Description)
			oe.Err = red.Error(oe.Err)
		}
		return nil, err
	}
	red.Add(tok.AccessToken, tok.RefreshToken)
	return tok, nil
}

// errorResponse reads an error answer (RFC 6749 §5.2): the server's error
// code and description when it gave them, else its status and text.
func errorResponse(tokenURL string, resp *http.Response, data []byte) error {
	e := &Error{TokenURL: tokenURL, Status: resp.StatusCode}
	var body struct {
		Error            any    `json:"error"`
		ErrorDescription string `json:"error_description"`
		Message          string `json:"message"`
	}
	if json.Unmarshal(data, &body) == nil {
		if s, ok := body.Error.(string); ok {
			e.Code = s
		}
		e.Description = body.ErrorDescription
		if e.Description == "" {
			e.Description = body.Message
		}
	}
	if loc, err := resp.Location(); err == nil && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		// The request is sent with RoundTrip, which follows no redirect:
		// the client secret or assertion stays with token_url.
		shown := *loc
		shown.User, shown.RawQuery, shown.ForceQuery, shown.Fragment = nil, "", false, ""
		e.Code, e.Description = "", ""
		e.Err = fmt.Errorf("redirect to %s not followed (a token request carries the client's credentials); set token_url to the endpoint itself", shown.String())
		return e
	}
	if e.Code == "" {
		// RFC 6749 §5.2 says 400 or 401; a gateway in front may answer in
		// its own words.
		text := strings.TrimSpace(string(data))
		if len(text) > 300 {
			text = strings.ToValidUTF8(text[:300], "") + "…"
		}
		var granted struct {
			AccessToken string `json:"access_token"`
		}
		if json.Unmarshal(data, &granted) == nil && granted.AccessToken != "" {
			// Never quote an answer that holds a token.
			text = "the answer holds an access_token, but a token is taken only from an HTTP 200 answer (RFC 6749 §5.1)"
		}
		if text == "" {
			text = resp.Status
		}
		e.Err = errors.New(text)
	}
	switch {
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout:
		e.Retry = true
	case e.Code == "temporarily_unavailable":
		e.Retry = true
	}
	return e
}

// parseToken reads a successful answer (RFC 6749 §5.1).
func parseToken(tokenURL string, resp *http.Response, data []byte, now time.Time) (*Token, error) {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	var body struct {
		AccessToken  string          `json:"access_token"`
		RefreshToken string          `json:"refresh_token"`
		TokenType    string          `json:"token_type"`
		ExpiresIn    json.RawMessage `json:"expires_in"`
		Scope        string          `json:"scope"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		what := "a JSON object"
		if mt != "" && mt != "application/json" {
			what += " (it sent " + mt + ")"
		}
		return nil, &Error{TokenURL: tokenURL, Status: resp.StatusCode, Err: fmt.Errorf("the answer is not %s: %v", what, err)}
	}
	if body.AccessToken == "" {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			// An error in a 200 answer: some gateways do that.
			return nil, errorResponse(tokenURL, resp, data)
		}
		return nil, &Error{TokenURL: tokenURL, Status: resp.StatusCode, Err: errors.New("the answer has no access_token")}
	}
	if body.TokenType != "" && !strings.EqualFold(body.TokenType, "bearer") {
		return nil, &Error{TokenURL: tokenURL, Status: resp.StatusCode, Err: fmt.Errorf("the token_type is %q; Outflow sends bearer tokens (RFC 6750) only", body.TokenType)}
	}
	tok := &Token{AccessToken: body.AccessToken, RefreshToken: body.RefreshToken, IssuedAt: now, Scope: body.Scope}
	if len(body.ExpiresIn) > 0 && string(body.ExpiresIn) != "null" {
		secs, err := expiresIn(body.ExpiresIn)
		if err != nil {
			return nil, &Error{TokenURL: tokenURL, Status: resp.StatusCode, Err: err}
		}
		tok.ExpiresAt = now.Add(time.Duration(secs) * time.Second)
	}
	if claims, ok := jwtClaims(body.AccessToken); ok {
		if tok.ExpiresAt.IsZero() && claims.Exp > 0 {
			tok.ExpiresAt = time.Unix(int64(claims.Exp), 0)
		}
		tok.BoundTo = claims.Cnf.X5tS256
	}
	return tok, nil
}

// expiresIn reads expires_in, a number of seconds; some servers send it as
// a string.
func expiresIn(raw json.RawMessage) (int64, error) {
	var n json.Number
	var s string
	if json.Unmarshal(raw, &s) == nil {
		n = json.Number(strings.TrimSpace(s))
	} else if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("expires_in is not a number of seconds: %s", raw)
	}
	secs, err := strconv.ParseFloat(string(n), 64)
	if err != nil || secs < 0 || secs > 1<<31 {
		return 0, fmt.Errorf("expires_in is not a number of seconds: %s", raw)
	}
	return int64(secs), nil
}

// CheckBinding checks that a certificate-bound token is bound to cert, the
// certificate the API call presents. An unbound or opaque token passes.
func CheckBinding(tok *Token, cert *tls.Certificate, connection string) error {
	if tok.BoundTo == "" {
		return nil
	}
	if cert == nil || cert.Leaf == nil {
		return fmt.Errorf("the access token is bound to the client certificate with x5t#S256 %s (RFC 8705), but connection %q presents no client certificate, so the partner will refuse it; set mutual_auth: true with the profile whose keystore holds that certificate", tok.BoundTo, connection)
	}
	if got := Thumbprint(cert.Leaf); got != tok.BoundTo {
		return &BindingError{Connection: connection, TokenBoundTo: tok.BoundTo, Presented: got, Subject: cert.Leaf.Subject.String()}
	}
	return nil
}

// BindingError is a certificate-bound token whose certificate is not the one
// the API call presents.
type BindingError struct {
	Connection   string
	TokenBoundTo string // x5t#S256 in the token's cnf claim
	Presented    string // x5t#S256 of the certificate the call presents
	Subject      string
	// Refetched is set when a new token was fetched with the current
	// certificate and it is still bound to another one.
	Refetched bool
}

func (e *BindingError) Error() string {
	cause := "the keystore was replaced after the token was issued"
	if e.Refetched {
		cause = "the token endpoint saw a different client certificate than the API call presents: a proxy that terminates TLS in front of the token endpoint, or a token_url reached through another protocol profile"
	}
	return fmt.Sprintf("the access token is bound to client certificate x5t#S256 %s, but connection %q presents %s (x5t#S256 %s), so the partner will refuse the token; likely cause: %s",
		e.TokenBoundTo, e.Connection, e.Subject, e.Presented, cause)
}
