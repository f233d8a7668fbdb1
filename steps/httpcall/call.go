// Package httpcall is the HTTP plumbing the partner-calling steps share:
// the exchange (Do) with its classification of failures, credentials and
// OAuth 2.0 tokens (Authorizer, ApplyCredential), URLs kept on the
// connection (BuildURL), the call deadline and heartbeat, and the redaction
// of what a step attempt hands back (RedactOutcome). The REST activity
// (steps/rest), the SOAP activity (steps/soap), telemetry and the offline
// mocks use it; it imports none of them.
package httpcall

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/temporal"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// Transports gives the HTTP transport of a connection on this worker. The
// implementation caches transports so that keep-alive connections serve many
// steps.
type Transports interface {
	RoundTripper(ctx context.Context, conn *engine.Connection, profile *engine.ProtocolProfile, baseDir string) (http.RoundTripper, error)
}

type stepPathKey struct{}

// WithStepPath returns ctx carrying the path of the step a request serves,
// such as "customer/get" or "ack[2]/post". The rest and soap activities set
// it before they call Do, so that a Transports can tell steps apart: the
// offline test runner answers each step from that step's mocks.
func WithStepPath(ctx context.Context, path string) context.Context {
	return context.WithValue(ctx, stepPathKey{}, path)
}

// StepPathFrom returns the step path ctx carries, or "" when it carries none.
func StepPathFrom(ctx context.Context) string {
	s, _ := ctx.Value(stepPathKey{}).(string)
	return s
}

// drainLimit is how much of an over-limit body is read and thrown away so the
// connection can be reused. A longer body is not downloaded: closing it
// unread closes the connection (HTTP/1.1) or resets the stream (HTTP/2), which
// costs a handshake, far less than reading a gigabyte to keep one connection.
const drainLimit = 1 << 20

var defaultTransport http.RoundTripper = &http.Transport{
	Proxy:               http.ProxyFromEnvironment,
	DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	ForceAttemptHTTP2:   true,
	MaxIdleConns:        100,
	MaxIdleConnsPerHost: 32,
	IdleConnTimeout:     90 * time.Second,
	TLSHandshakeTimeout: 15 * time.Second,
}

func basicFacts(state *tls.ConnectionState, newConn bool) *engine.TLSFacts {
	return &engine.TLSFacts{
		Version:       tls.VersionName(state.Version),
		CipherSuite:   tls.CipherSuiteName(state.CipherSuite),
		Resumed:       state.DidResume,
		ServerName:    state.ServerName,
		NewConnection: newConn,
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BuildURL joins a step path under the connection's base URL. The host always
// comes from the connection: a path that names a scheme or host is refused.
func BuildURL(conn *engine.Connection, profile *engine.ProtocolProfile, p string, query []engine.KV) (*url.URL, error) {
	if conn.Host == "" {
		return nil, fmt.Errorf("connection %q has no host", conn.Name)
	}
	scheme := conn.Scheme
	if scheme == "" {
		scheme = "https"
	}
	port := conn.Port
	if port == 0 && profile != nil {
		port = profile.Port
	}
	host := conn.Host
	if port != 0 && !(scheme == "https" && port == 443) && !(scheme == "http" && port == 80) {
		host = net.JoinHostPort(conn.Host, strconv.Itoa(port))
	} else if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	rel, err := url.Parse(p)
	if err != nil {
		return nil, fmt.Errorf("step path %q is not a valid URL path: %w", p, err)
	}
	if rel.Scheme != "" || rel.Host != "" || rel.User != nil || strings.HasPrefix(p, "//") {
		return nil, fmt.Errorf("step path %q names a host; a step may only give a path under connection %q (%s://%s)", p, conn.Name, scheme, host)
	}
	joined := path.Join("/", conn.BasePath, rel.Path)
	if strings.HasSuffix(rel.Path, "/") && !strings.HasSuffix(joined, "/") {
		joined += "/"
	}
	base := "/" + strings.Trim(conn.BasePath, "/")
	if base != "/" && joined != base && !strings.HasPrefix(joined, base+"/") {
		return nil, fmt.Errorf("step path %q leaves the base path %q of connection %q", p, conn.BasePath, conn.Name)
	}
	u := &url.URL{Scheme: scheme, Host: host, Path: joined}
	q := rel.Query()
	for _, kv := range query {
		q.Add(kv.Name, kv.Value)
	}
	u.RawQuery = q.Encode()
	return u, nil
}

// QueryCredential names the query parameter a connection's credential is
// sent in, or "" when it is sent otherwise.
func QueryCredential(c *engine.Credential) string {
	if c == nil || c.Type != "api_key" || c.In != "query" {
		return ""
	}
	if c.Key == "" {
		return "X-API-Key"
	}
	return c.Key
}

// DropQueryCredential removes the connection's query credential from u, so
// a URL a partner gave back can be kept without it.
func DropQueryCredential(u *url.URL, c *engine.Credential) {
	if key := QueryCredential(c); key != "" && u.Query().Has(key) {
		q := u.Query()
		q.Del(key)
		u.RawQuery = q.Encode()
	}
}

// SameHostPort compares the hosts and ports of two URLs, a missing port
// standing for the scheme's default.
func SameHostPort(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if strings.EqualFold(u.Scheme, "http") {
			return "80"
		}
		return "443"
	}
	return strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// ApplyCredential adds a connection's credential to a request, resolving its
// secret through res on this worker.
func ApplyCredential(ctx context.Context, res *secrets.Resolver, r *http.Request, c *engine.Credential) error {
	if c == nil {
		return nil
	}
	get := func(ref *engine.SecretRef, what string) (string, error) {
		if ref == nil {
			return "", fmt.Errorf("credential %s has no %s", c.Type, what)
		}
		if res == nil {
			return "", &secrets.Error{Ref: ref.Ref, Err: errors.New("no secret resolver on this worker")}
		}
		return res.Resolve(ctx, ref.Ref)
	}
	switch c.Type {
	case engine.OAuth2ClientCredentials:
		return fmt.Errorf("credential %s needs a token request: send through an Authorizer", c.Type)
	case "basic":
		pw, err := get(c.Password, "password")
		if err != nil {
			return err
		}
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.Username+":"+pw)))
		secrets.RedactorFrom(ctx).AddBasic(c.Username, pw)
	case "bearer":
		tok, err := get(c.Token, "token")
		if err != nil {
			return err
		}
		r.Header.Set("Authorization", "Bearer "+tok)
	case "api_key":
		v, err := get(c.Value, "value")
		if err != nil {
			return err
		}
		key := c.Key
		if key == "" {
			key = "X-API-Key"
		}
		if c.In == "query" {
			q := r.URL.Query()
			q.Set(key, v)
			r.URL.RawQuery = q.Encode()
		} else {
			r.Header.Set(key, v)
		}
	default:
		return fmt.Errorf("unknown credential type %q (basic, bearer or api_key)", c.Type)
	}
	return nil
}

// Redacted is what a redacted header value reads as.
const Redacted = secrets.RedactedValue

var sensitiveHeaders = map[string]bool{
	"authorization": true, "proxy-authorization": true, "cookie": true, "set-cookie": true,
	"x-api-key": true, "api-key": true, "x-auth-token": true, "x-access-token": true,
}

// IsSensitiveHeader reports whether a header carries credentials.
func IsSensitiveHeader(name string, cred *engine.Credential) bool {
	n := strings.ToLower(name)
	if sensitiveHeaders[n] {
		return true
	}
	if cred != nil && cred.Type == "api_key" && strings.EqualFold(cred.Key, name) {
		return true
	}
	return strings.Contains(n, "secret") || strings.Contains(n, "token") || strings.Contains(n, "password")
}

// RedactHeaders returns request or response headers as the record keeps
// them: lower-case names, values joined, credentials (including the
// connection's own API-key header, which a partner may echo) redacted.
func RedactHeaders(h http.Header, cred *engine.Credential) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if IsSensitiveHeader(k, cred) {
			out[strings.ToLower(k)] = Redacted
			continue
		}
		out[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	return out
}

func ResponseHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		if IsSensitiveHeader(k, nil) {
			out[strings.ToLower(k)] = Redacted
			continue
		}
		out[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	return out
}

// readCapped reads at most limit bytes and reports the body's size, exact
// up to limit+drainLimit bytes and a lower bound beyond. Memory stays bounded
// whatever the partner sends, and at most drainLimit bytes are read past limit.
func readCapped(r io.Reader, limit int64) (data []byte, size int64, truncated bool, err error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, limit))
	if err != nil {
		return buf.Bytes(), n, false, err
	}
	rest, err := io.Copy(io.Discard, io.LimitReader(r, drainLimit+1))
	size = n + rest
	if rest > 0 {
		// The step has all it keeps; a failure while draining the rest
		// only means the connection is not reused.
		return buf.Bytes(), size, true, nil
	}
	return buf.Bytes(), size, false, err
}

func CapString(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}

// IsJSON reports whether a body is JSON: by its content type, or by its
// first byte when the partner named none.
func IsJSON(contentType string, data []byte) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		return true
	}
	t := bytes.TrimSpace(data)
	return mt == "" && len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

// PartnerWords extracts a short message from an error body: a JSON message
// field when there is one, else the text, at most 300 characters of UTF-8.
func PartnerWords(data []byte) string {
	var v map[string]any
	if json.Unmarshal(data, &v) == nil {
		for _, k := range []string{"message", "error_description", "error", "detail", "title"} {
			if s, ok := v[k].(string); ok && s != "" {
				return shortWords(s)
			}
		}
	}
	return shortWords(string(data))
}

// shortWords trims a partner's text to 300 characters and makes it UTF-8,
// as a Temporal failure message must be: a partner may answer in Latin-1,
// and cutting at a byte count may split a character.
func shortWords(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "\uFFFD")
	if utf8.RuneCountInString(s) > 300 {
		s = string([]rune(s)[:300]) + "…"
	}
	return s
}

// retryAfter reads a Retry-After header (seconds or HTTP date).
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		if n > math.MaxInt64/int(time.Second) {
			return 0, false // past what a delay can hold: not honoured, the retry policy applies
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

func classifyTransportError(ctx context.Context, err error) (typ string, retry bool) {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err) {
		return engine.ErrTimeout, true
	}
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	if errors.As(err, &certErr) || errors.As(err, &recErr) || errors.As(err, &alert) || strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:") {
		return engine.ErrTLSHandshake, true
	}
	if strings.Contains(err.Error(), "invalid header field") {
		// net/http's refusal of a header it cannot send: nothing left the worker.
		return engine.ErrConfig, false
	}
	return engine.ErrConnection, true
}

// NewAppError is the activity failure of a step: its message, error type,
// whether Temporal may retry it, its details (the step result) and, when
// next is positive, the delay before the next attempt.
func NewAppError(msg, typ string, retry bool, details any, next time.Duration) error {
	// A message that is not UTF-8 (a partner's status line or header in
	// Latin-1) cannot be sent to Temporal: the failure would be lost.
	msg = strings.ToValidUTF8(msg, "\uFFFD")
	opts := temporal.ApplicationErrorOptions{NonRetryable: !retry, NextRetryDelay: next}
	if details != nil {
		opts.Details = []any{details}
	}
	return temporal.NewApplicationErrorWithOptions(msg, typ, opts)
}
