// Package rest is the REST step: an activity that calls a partner through a
// connection alias, resolving credentials and TLS on the worker that runs it.
package rest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
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

// Activity runs REST steps. Its fields are set once when the worker starts;
// it is safe for concurrent use.
type Activity struct {
	Secrets    *secrets.Resolver
	Transports Transports
	// BaseDir, when set, is where this worker finds project files (keystores);
	// otherwise the plan's project folder is used.
	BaseDir string
	// Identity names this worker in step records.
	Identity string
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

// maxRequestBodyInRecord caps the request body kept in the record.
const maxRequestBodyInRecord = 4 << 10

// drainLimit is how much of an over-limit body is read and thrown away so the
// connection can be reused. A longer body is not downloaded: closing it
// unread closes the connection (HTTP/1.1) or resets the stream (HTTP/2), which
// costs a handshake, far less than reading a gigabyte to keep one connection.
const drainLimit = 1 << 20

// execute runs one REST step; Execute redacts what it hands back.
func (a *Activity) execute(ctx context.Context, req *engine.RestRequest) (*engine.StepResult, error) {
	info := activity.GetInfo(ctx)
	ctx = WithStepPath(ctx, req.StepPath)
	res := &engine.StepResult{Attempt: int(info.Attempt), Worker: a.Identity}
	defer KeepAlive(ctx)()
	fail := func(typ string, retry bool, err error) (*engine.StepResult, error) {
		return nil, newAppError(err.Error(), typ, retry, res, 0)
	}
	if req.Connection == nil {
		return fail(engine.ErrConfig, false, errors.New("no connection given"))
	}
	var target *url.URL
	var err error
	if req.Link != "" {
		target, err = FollowLink(req.Connection, req.Profile, req.LinkBase, req.Link)
		if err == nil {
			// A partner that echoes an api_key query parameter into its next
			// links must not get it into the record: the credential is added
			// to the request below, as for any other request.
			dropQueryCredential(target, req.Connection.Credential)
		}
	} else {
		target, err = BuildURL(req.Connection, req.Profile, req.Path, req.Query)
	}
	if err != nil {
		return fail(engine.ErrConfig, false, err)
	}
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodGet
	}
	body, contentType, err := encodeBody(req.Body, req.BodyType)
	if err != nil {
		return fail(engine.ErrConfig, false, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, target.String(), bytes.NewReader(body))
	if err != nil {
		return fail(engine.ErrConfig, false, fmt.Errorf("building request: %w", err))
	}
	if body == nil {
		hreq.Body = nil
		hreq.ContentLength = 0
	}
	hreq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	hreq.Header.Set("User-Agent", "outflow")
	if contentType != "" {
		hreq.Header.Set("Content-Type", contentType)
	}
	for _, h := range req.Connection.Headers {
		hreq.Header.Set(h.Name, engine.Stringify(h.Value))
	}
	for _, h := range req.Headers {
		hreq.Header.Add(h.Name, h.Value)
	}
	if req.IdempotencyKey != "" && (method == http.MethodPost || method == http.MethodPatch) && hreq.Header.Get("Idempotency-Key") == "" {
		hreq.Header.Set("Idempotency-Key", req.IdempotencyKey)
	}
	baseDir := a.BaseDir
	if baseDir == "" {
		baseDir = req.ProjectRoot
	}
	authz := &Authorizer{Secrets: a.Secrets, Transports: a.Transports, BaseDir: baseDir, Connection: req.Connection, Profile: req.Profile}
	if err := authz.Apply(ctx, hreq); err != nil {
		res.Request = engine.RequestSummary{Method: method, URL: target.String(), Headers: RedactHeaders(hreq.Header, req.Connection.Credential)}
		res.Auth = authz.Facts()
		var xe *ExchangeError
		errors.As(err, &xe)
		return fail(xe.Type, xe.Retry, xe.Err)
	}
	// target never carries an api_key sent as a query parameter: only hreq.URL does.
	res.Request = engine.RequestSummary{Method: method, URL: target.String(), Headers: RedactHeaders(hreq.Header, req.Connection.Credential)}
	if len(body) > 0 {
		res.Request.Body = CapString(body, maxRequestBodyInRecord)
	}

	ex, err := authz.Do(ctx, hreq, req.BodyLimit, method+" "+res.Request.URL)
	res.Auth = authz.Facts()
	if ex != nil {
		res.Timings, res.TLS = ex.Timings, ex.TLS
	}
	var xe *ExchangeError
	if errors.As(err, &xe) && ex == nil {
		return fail(xe.Type, xe.Retry, xe.Err)
	}
	resp, data, size, truncated := ex.Response, ex.Data, ex.Size, ex.Truncated
	rs := &engine.ResponseSummary{StatusCode: resp.StatusCode, Headers: RedactHeaders(resp.Header, req.Connection.Credential), BodySize: size, BodyTruncated: truncated}
	redactLinkCredential(rs.Headers, req.Connection.Credential)
	if truncated {
		rs.BodyLimit = ex.Limit
	}
	if !truncated && isJSON(resp.Header.Get("Content-Type"), data) {
		var v any
		if json.Unmarshal(data, &v) == nil {
			rs.JSON = v
		}
	}
	if rs.JSON == nil {
		rs.Body = string(data)
	}
	res.Response = rs
	if err != nil {
		return fail(xe.Type, xe.Retry, xe.Err)
	}
	if !statusExpected(resp.StatusCode, req.Expect) {
		msg := fmt.Sprintf("%s %s answered %s", method, res.Request.URL, resp.Status)
		if len(req.Expect) > 0 {
			msg = fmt.Sprintf("%s %s answered %s (expected %s)", method, res.Request.URL, resp.Status, joinInts(req.Expect))
		}
		if resp.StatusCode == http.StatusUnauthorized {
			if why := authz.Explain401(ex); why != "" {
				msg += " (" + why + ")"
			}
		}
		return nil, StatusError(resp, data, msg, res)
	}
	if err := checkResponse(req, rs, resp.Header.Get("Content-Type"), method+" "+res.Request.URL); err != nil {
		return fail(engine.ErrResponseRejected, false, err)
	}
	return res, nil
}

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

// FollowLink resolves a link a partner gave (the next page of a list),
// absolute or relative to base, the URL of the response that held it. Like
// BuildURL it never leaves the connection: a link to another scheme, host,
// port or outside the base path is refused.
func FollowLink(conn *engine.Connection, profile *engine.ProtocolProfile, base, link string) (*url.URL, error) {
	root, err := BuildURL(conn, profile, "/", nil)
	if err != nil {
		return nil, err
	}
	from := root
	if base != "" {
		if from, err = url.Parse(base); err != nil {
			return nil, fmt.Errorf("link base %q: %w", base, err)
		}
	}
	ref, err := url.Parse(strings.TrimSpace(link))
	if err != nil {
		return nil, fmt.Errorf("next link %q is not a valid URL: %w", link, err)
	}
	u := from.ResolveReference(ref)
	u.Fragment, u.RawFragment = "", ""
	if u.User != nil || !strings.EqualFold(u.Scheme, root.Scheme) || !sameHostPort(u, root) {
		return nil, fmt.Errorf("next link %q leaves connection %q (%s://%s); a step only follows links to its connection's host, so the link was not requested", link, conn.Name, root.Scheme, root.Host)
	}
	u.Scheme, u.Host = root.Scheme, root.Host
	clean := path.Clean("/" + u.Path)
	if strings.HasSuffix(u.Path, "/") && !strings.HasSuffix(clean, "/") {
		clean += "/"
	}
	basePath := "/" + strings.Trim(conn.BasePath, "/")
	if basePath != "/" && clean != basePath && !strings.HasPrefix(clean, basePath+"/") {
		return nil, fmt.Errorf("next link %q leaves the base path %q of connection %q, so the link was not requested", link, conn.BasePath, conn.Name)
	}
	u.Path, u.RawPath = clean, ""
	return u, nil
}

// queryCredential names the query parameter a connection's credential is
// sent in, or "" when it is sent otherwise.
func queryCredential(c *engine.Credential) string {
	if c == nil || c.Type != "api_key" || c.In != "query" {
		return ""
	}
	if c.Key == "" {
		return "X-API-Key"
	}
	return c.Key
}

func dropQueryCredential(u *url.URL, c *engine.Credential) {
	if key := queryCredential(c); key != "" && u.Query().Has(key) {
		q := u.Query()
		q.Del(key)
		u.RawQuery = q.Encode()
	}
}

// redactLinkCredential redacts an api_key query parameter that a partner
// echoed into the links of its Link header.
func redactLinkCredential(h map[string]string, c *engine.Credential) {
	key := queryCredential(c)
	if key == "" || h["link"] == "" {
		return
	}
	re := regexp.MustCompile(`([?&;]` + regexp.QuoteMeta(url.QueryEscape(key)) + `=)[^&>;,\s]*`)
	h["link"] = re.ReplaceAllString(h["link"], "${1}"+url.QueryEscape(Redacted))
}

// sameHostPort compares the hosts and ports of two URLs, a missing port
// standing for the scheme's default.
func sameHostPort(a, b *url.URL) bool {
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

func encodeBody(v any, bodyType string) ([]byte, string, error) {
	if v == nil {
		return nil, "", nil
	}
	switch bodyType {
	case "", "json":
		if s, ok := v.(string); ok && bodyType == "" {
			return []byte(s), "text/plain; charset=utf-8", nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, "", fmt.Errorf("encoding the body as JSON: %w", err)
		}
		return b, "application/json", nil
	case "text":
		return []byte(engine.Stringify(v)), "text/plain; charset=utf-8", nil
	case "form":
		m, ok := v.(map[string]any)
		if !ok {
			return nil, "", fmt.Errorf("a form body must be a map of fields, got %T", v)
		}
		form := url.Values{}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if list, ok := m[k].([]any); ok {
				for _, e := range list {
					form.Add(k, engine.Stringify(e))
				}
				continue
			}
			form.Set(k, engine.Stringify(m[k]))
		}
		return []byte(form.Encode()), "application/x-www-form-urlencoded", nil
	}
	return nil, "", fmt.Errorf("unknown body_type %q (json, text or form)", bodyType)
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

func isJSON(contentType string, data []byte) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		return true
	}
	t := bytes.TrimSpace(data)
	return mt == "" && len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

func statusExpected(code int, expect []int) bool {
	if len(expect) == 0 {
		return code >= 200 && code < 300
	}
	for _, e := range expect {
		if e == code {
			return true
		}
	}
	return false
}

// PartnerWords extracts a short message from an error body: a JSON message
// field when there is one, else the text.
func PartnerWords(data []byte) string {
	var v map[string]any
	if json.Unmarshal(data, &v) == nil {
		for _, k := range []string{"message", "error_description", "error", "detail", "title"} {
			if s, ok := v[k].(string); ok && s != "" {
				return s
			}
		}
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// retryAfter reads a Retry-After header (seconds or HTTP date).
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
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
	return engine.ErrConnection, true
}

func newAppError(msg, typ string, retry bool, details any, next time.Duration) error {
	opts := temporal.ApplicationErrorOptions{NonRetryable: !retry, NextRetryDelay: next}
	if details != nil {
		opts.Details = []any{details}
	}
	return temporal.NewApplicationErrorWithOptions(msg, typ, opts)
}
