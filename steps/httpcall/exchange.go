package httpcall

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/tlsclient"
)

// TLSObserver is implemented by Transports that can tell what happened on a
// request's TLS connection (the client certificate presented, the server
// chain, whether the connection was new) and explain handshake failures.
type TLSObserver interface {
	Observe(ctx context.Context) (context.Context, Observation)
}

// Observation is what a TLSObserver learned about one request.
type Observation interface {
	Facts(state *tls.ConnectionState) *engine.TLSFacts
	// Diagnose turns a handshake failure into its cause in plain words,
	// keeping err wrapped.
	Diagnose(err error, profile *engine.ProtocolProfile) error
}

// Exchange is one HTTP request and its response as a step sees it: the body
// read up to a limit, timings and TLS facts.
type Exchange struct {
	Response  *http.Response // Body already read and closed
	Data      []byte
	Size      int64
	Truncated bool
	Limit     int64 // the limit Data was read up to
	Timings   engine.Timings
	TLS       *engine.TLSFacts
}

// ExchangeError is a failed exchange with its stable type and whether
// retrying may help.
type ExchangeError struct {
	Type  string
	Retry bool
	Err   error
}

func (e *ExchangeError) Error() string { return e.Err.Error() }
func (e *ExchangeError) Unwrap() error { return e.Err }

// Do sends req over the connection's transport on this worker and reads the
// response body up to limit bytes, so memory stays bounded whatever the
// partner sends. what names the call in errors ("GET https://…").
// The returned Exchange is non-nil whenever a response arrived, also with an
// error (a body cut short).
func Do(ctx context.Context, transports Transports, baseDir string, conn *engine.Connection, profile *engine.ProtocolProfile,
	req *http.Request, limit int64, what string) (*Exchange, error) {
	var rt http.RoundTripper = defaultTransport
	if transports != nil {
		var err error
		rt, err = transports.RoundTripper(ctx, conn, profile, baseDir)
		if err != nil {
			var se *secrets.Error
			if errors.As(err, &se) {
				return nil, &ExchangeError{Type: engine.ErrSecret, Err: err}
			}
			return nil, &ExchangeError{Type: engine.ErrCertificate, Err: err}
		}
	}
	var (
		start                              = time.Now()
		dnsStart, connStart, tlsStart      time.Time
		dnsDur, connDur, tlsDur, firstByte time.Duration
		reused                             bool
	)
	trace := &httptrace.ClientTrace{
		DNSStart:             func(httptrace.DNSStartInfo) { dnsStart = time.Now() },
		DNSDone:              func(httptrace.DNSDoneInfo) { dnsDur = time.Since(dnsStart) },
		ConnectStart:         func(string, string) { connStart = time.Now() },
		ConnectDone:          func(string, string, error) { connDur = time.Since(connStart) },
		TLSHandshakeStart:    func() { tlsStart = time.Now() },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { tlsDur = time.Since(tlsStart) },
		GotConn:              func(ci httptrace.GotConnInfo) { reused = ci.Reused },
		GotFirstResponseByte: func() { firstByte = time.Since(start) },
	}
	if err := checkHeaders(req.Header); err != nil {
		return nil, &ExchangeError{Type: engine.ErrConfig, Err: fmt.Errorf("calling %s: %w", what, err)}
	}
	prog := &progress{done: ctx.Done(), bodyLength: -1}
	rctx := httptrace.WithClientTrace(ctx, prog.trace())
	var obs Observation
	if o, ok := transports.(TLSObserver); ok {
		rctx, obs = o.Observe(rctx)
	}
	resp, err := rt.RoundTrip(req.WithContext(httptrace.WithClientTrace(rctx, trace)))
	ex := &Exchange{Timings: engine.Timings{DNSMillis: ms(dnsDur), ConnectMillis: ms(connDur), TLSMillis: ms(tlsDur)}}
	if err != nil {
		if d := stepTimedOut(ctx); d != nil {
			return nil, &ExchangeError{Type: engine.ErrTimeout, Retry: true, Err: fmt.Errorf("calling %s: %w: %s", what, d, prog)}
		}
		typ, retry, err := classifyTransport(ctx, err, obs, profile)
		return nil, &ExchangeError{Type: typ, Retry: retry, Err: fmt.Errorf("calling %s: %w", what, err)}
	}
	prog.gotResponse(resp)
	defer resp.Body.Close()
	if limit <= 0 {
		limit = engine.DefaultBodyLimit
	}
	var readErr error
	ex.Response = resp
	ex.Limit = limit
	ex.Data, ex.Size, ex.Truncated, readErr = readCapped(&countingReader{r: resp.Body, p: prog}, limit)
	if ex.Truncated && resp.ContentLength > ex.Size {
		ex.Size = resp.ContentLength
	}
	ex.Timings.FirstByteMillis = ms(firstByte)
	ex.Timings.TotalMillis = ms(time.Since(start))
	if resp.TLS != nil {
		if obs != nil {
			ex.TLS = obs.Facts(resp.TLS)
		} else {
			ex.TLS = basicFacts(resp.TLS, !reused)
		}
	}
	// Only a handshake known to have presented nothing warns: a resumed
	// session carries the identity of the full handshake it came from, and
	// one whose origin was not observed proves nothing either way.
	if ex.TLS != nil && conn.MutualAuth && ex.TLS.NewConnection && ex.TLS.ClientAuth == engine.ClientAuthNone {
		ex.TLS.Notes = append(ex.TLS.Notes, "mutual_auth is on but the server did not ask for a client certificate: "+
			"no certificate was presented, so the partner does not authenticate Outflow by it (check the host and port, or whether mTLS is enforced on this endpoint)")
	}
	if readErr != nil {
		if d := stepTimedOut(ctx); d != nil {
			return ex, &ExchangeError{Type: engine.ErrTimeout, Retry: true, Err: fmt.Errorf("reading the response of %s: %w: %s", what, d, prog)}
		}
		typ := engine.ErrConnection
		if ctx.Err() != nil || os.IsTimeout(readErr) {
			typ = engine.ErrTimeout
		}
		return ex, &ExchangeError{Type: typ, Retry: true, Err: fmt.Errorf("reading the response of %s: %w (%s)", what, readErr, prog)}
	}
	return ex, nil
}

// classifyTransport types a request that got no response: a timeout, a TLS
// failure (explained by obs when there is one) or a connection error. A TLS
// failure that the same request will meet again — a server certificate not
// trusted, a host name it does not cover, a client certificate the server
// refused with an alert — is not retried; a handshake that timed out or a
// connection reset is.
func classifyTransport(ctx context.Context, err error, obs Observation, profile *engine.ProtocolProfile) (string, bool, error) {
	typ, retry := classifyTransportError(ctx, err)
	if typ != engine.ErrTLSHandshake {
		return typ, retry, err
	}
	if obs != nil {
		err = obs.Diagnose(err, profile)
	}
	var diag *tlsclient.Error
	if errors.As(err, &diag) {
		return diag.ErrorType(), diag.Retryable(), err
	}
	return typ, !tlsclient.Deterministic(err), err
}

// StatusError is the failure for an unexpected HTTP status: 4xx other than
// 408 and 429 do not retry, nor do redirects (3xx), which steps never follow
// and which come again on every attempt; the rest retry, after the
// partner's Retry-After.
func StatusError(resp *http.Response, data []byte, msg string, details any) error {
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		msg += ": redirect not followed"
		if loc := redirectTarget(resp); loc != "" {
			msg += " (Location: " + loc + ")"
		}
		msg += "; a step never follows redirects, so that no request or credential goes to another URL than the connection's: " +
			"point the connection or the step's path at the new location, or list the status in expect to take the answer as it is"
		return NewAppError(msg, engine.ErrHTTPStatus, false, details, 0)
	}
	words := PartnerWords(data)
	if words == "" && resp.StatusCode == http.StatusUnauthorized {
		words = challengeWords(resp.Header.Get("WWW-Authenticate"))
	}
	if words != "" {
		msg += ": " + words
	}
	if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 408 && resp.StatusCode != 429 {
		return NewAppError(msg, engine.ErrHTTPClient, false, details, 0)
	}
	d, _ := retryAfter(resp.Header.Get("Retry-After"), time.Now())
	return NewAppError(msg, engine.ErrHTTPStatus, true, details, d)
}

// redirectTarget is a redirect's Location without its query and fragment,
// which may carry tokens.
func redirectTarget(resp *http.Response) string {
	loc := resp.Header.Get("Location")
	if loc == "" {
		return ""
	}
	u, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	if resp.Request != nil && resp.Request.URL != nil {
		u = resp.Request.URL.ResolveReference(u)
	}
	u.RawQuery, u.Fragment, u.RawFragment, u.User = "", "", "", nil
	return u.String()
}

// challengeWords reads the error and error_description of a bearer
// challenge (RFC 6750 §3), the partner's words when a 401 has no body.
func challengeWords(h string) string {
	scheme, params, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	var code, desc string
	for params != "" {
		params = strings.TrimLeft(params, " ,")
		name, rest, ok := strings.Cut(params, "=")
		if !ok {
			break
		}
		name = strings.TrimSpace(name)
		var value string
		if strings.HasPrefix(rest, "\"") {
			end := 1
			for end < len(rest) && rest[end] != '"' {
				if rest[end] == '\\' {
					end++
				}
				end++
			}
			value = strings.ReplaceAll(rest[1:min(end, len(rest))], "\\", "")
			params = rest[min(end+1, len(rest)):]
		} else {
			value, params, _ = strings.Cut(rest, ",")
		}
		switch strings.ToLower(name) {
		case "error":
			code = value
		case "error_description":
			desc = value
		}
	}
	switch {
	case code != "" && desc != "":
		return code + ": " + desc
	case code != "":
		return code
	}
	return desc
}

// countingReader tells p how much of a body has been read.
type countingReader struct {
	r io.Reader
	n int64
	p *progress
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	c.p.readBody(c.n)
	return n, err
}

// checkHeaders refuses a request whose header names or values HTTP does
// not allow (a newline or another control character in a value, a space in
// a name), which the transport would refuse as if the connection failed.
// It names the header, never the value: it may hold a secret, and a secret
// read from a file with its trailing newline is the usual cause.
func checkHeaders(h http.Header) error {
	for name, values := range h {
		if !httpguts.ValidHeaderFieldName(name) {
			return fmt.Errorf("the header name %q is not a valid HTTP header name (letters, digits and !#$%%&'*+-.^_`|~ only)", name)
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("the value of header %s holds a character HTTP does not allow in a header (a newline or another control character); "+
					"if it comes from a secret, check the secret for a trailing newline", name)
			}
		}
	}
	return nil
}
