// Package mock is a httpcall.Transports that answers every request from canned
// responses, chosen by the step the request serves, and never opens a
// socket. The offline test runner gives it to the real rest and soap
// activities, so that a test exercises the same request building, response
// reading, SOAP parsing, status handling and retries as a run against the
// partner.
package mock

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"sync"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/httpcall"
	"github.com/outflow-dev/outflow/steps/oauth2"
)

// Reply is one canned answer: a response, or a network failure.
type Reply struct {
	// Status is the HTTP status code; 0 means 200.
	Status  int
	Headers map[string]string
	// Body is sent as it is when it is a string or []byte. Any other value
	// is sent as JSON, or for a SOAP request as the elements of the SOAP
	// Body (see Envelope).
	Body any
	// Error, when set, fails the call instead: "connection", "timeout" or
	// "tls".
	Error string
	// Times is how many calls the reply answers; 0 means one, or every
	// further call for the last reply of a rule.
	Times int
}

// Rule answers the calls of the steps whose path matches Step, in turn
// from Replies. A [*] in Step matches any foreach index ("ack[*]/post").
type Rule struct {
	Step    string
	Replies []Reply
}

// Errors the simulated network failures read as; each wraps the error
// classification of package rest expects.
var (
	errRefused = errors.New("connect: connection refused (mocked)")
	errTLS     = errors.New("tls: handshake failure (mocked)")
)

// timeoutError is a net.Error that timed out. It is returned unwrapped:
// os.IsTimeout, which classifies step failures, does not look inside
// wrapped errors.
type timeoutError struct{ host string }

func (e timeoutError) Error() string { return "read tcp " + e.host + ": i/o timeout (mocked)" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// Call is one request the transport answered.
type Call struct {
	Step   string
	Method string
	URL    string
	Status int    // 0 when Error is set
	Error  string // the simulated failure, if any
}

// Transport answers requests from rules. A request whose step has no rule
// fails; nothing is ever sent. It is safe for concurrent use.
type Transport struct {
	rules []Rule

	mu       sync.Mutex
	count    map[string]int // step path → calls answered
	attempts map[string]int // step path → calls made, answered or not
	used     map[int]bool   // rule index → answered a call
	calls    []Call
}

var (
	_ httpcall.Transports  = (*Transport)(nil)
	_ httpcall.TokenCacher = (*Transport)(nil)
	_ http.RoundTripper    = (*Transport)(nil)
)

// OfflineToken is the access token steps of an OAuth 2.0 connection send
// to mocks: no token endpoint is asked.
const OfflineToken = "offline-access-token"

// offlineTokens issues OfflineToken for every client.
var offlineTokens = &oauth2.Cache{Issue: func(context.Context, *oauth2.Client) (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: OfflineToken}, nil
}}

// TokenCache returns a cache that issues OfflineToken without a token
// request, so that mocks answer only the steps' own calls.
func (t *Transport) TokenCache() *oauth2.Cache { return offlineTokens }

// New returns a transport answering from rules. A rule whose step is a
// path without [*] is preferred over a pattern; among patterns, the one
// given first wins.
func New(rules []Rule) *Transport {
	return &Transport{rules: rules, count: map[string]int{}, attempts: map[string]int{}, used: map[int]bool{}}
}

// RoundTripper returns the transport itself whatever the connection and
// profile: no keystore is read and no secret is needed to answer a mock.
func (t *Transport) RoundTripper(context.Context, *engine.Connection, *engine.ProtocolProfile, string) (http.RoundTripper, error) {
	return t, nil
}

// rule finds the rule of a step path, or -1.
func (t *Transport) rule(step string) int {
	for i := range t.rules {
		if t.rules[i].Step == step {
			return i
		}
	}
	for i := range t.rules {
		if engine.MatchStepPath(t.rules[i].Step, step) {
			return i
		}
	}
	return -1
}

// pick returns the reply that answers call n (0-based) of a rule, or false
// when the rule's replies are used up.
func pick(r *Rule, n int) (Reply, bool) {
	for i, rp := range r.Replies {
		times := rp.Times
		if times <= 0 {
			if i == len(r.Replies)-1 {
				return rp, true
			}
			times = 1
		}
		if n < times {
			return rp, true
		}
		n -= times
	}
	return Reply{}, false
}

// Check says why the next call of step would not be answered: no rule
// names it, or its replies are used up. The runner asks before a step's
// activity runs, so that the step fails at once with these words rather
// than being retried as if the network had failed.
func (t *Transport) Check(step string) error {
	i := t.rule(step)
	if i < 0 {
		return fmt.Errorf("no mock for step %q: offline tests use no network, so every rest and soap step that runs needs one; add a mock for %q under mocks", step, step)
	}
	r := &t.rules[i]
	t.mu.Lock()
	n := t.count[step]
	t.mu.Unlock()
	if _, ok := pick(r, n); !ok {
		return fmt.Errorf("step %q is called %s, but its mocks (%s) answer only %d %s; add a response, or leave times off the last one so that it answers every further call",
			step, ordinal(n+1), r.Step, n, plural(n, "call", "calls"))
	}
	return nil
}

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return "a " + strconv.Itoa(n) + suffix + " time"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Calls returns how many calls step made, those its mocks could not
// answer included.
func (t *Transport) Calls(step string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.attempts[step]
}

// Log returns the calls answered, in order.
func (t *Transport) Log() []Call {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Call(nil), t.calls...)
}

// Unused lists the rules that answered no call, such as a mock of a step
// the run never reached.
func (t *Transport) Unused() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for i, r := range t.rules {
		if !t.used[i] {
			out = append(out, r.Step)
		}
	}
	return out
}

// RoundTrip answers req from the rule of the step its context names
// (httpcall.StepPathFrom).
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		// The request was already recorded by the step; read it as a server
		// would, so that a body that cannot be read fails here too.
		_, err := io.Copy(io.Discard, req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the request body: %w", err)
		}
	}
	step := httpcall.StepPathFrom(req.Context())
	if step == "" {
		return nil, errors.New("mock transport: the request names no step; offline tests answer only the requests of rest and soap steps")
	}
	t.mu.Lock()
	t.attempts[step]++
	t.mu.Unlock()
	i := t.rule(step)
	if i < 0 {
		return nil, t.Check(step)
	}
	t.mu.Lock()
	n := t.count[step]
	rp, ok := pick(&t.rules[i], n)
	if ok {
		t.count[step] = n + 1
		t.used[i] = true
	}
	t.mu.Unlock()
	if !ok {
		return nil, t.Check(step)
	}
	call := Call{Step: step, Method: req.Method, URL: req.URL.String()}
	defer func() {
		t.mu.Lock()
		t.calls = append(t.calls, call)
		t.mu.Unlock()
	}()
	switch rp.Error {
	case "":
	case "connection":
		call.Error = rp.Error
		return nil, fmt.Errorf("dial tcp %s: %w", req.URL.Host, errRefused)
	case "timeout":
		call.Error = rp.Error
		return nil, timeoutError{req.URL.Host}
	case "tls":
		call.Error = rp.Error
		return nil, fmt.Errorf("handshake with %s: %w", req.URL.Host, errTLS)
	default:
		return nil, fmt.Errorf("mock of step %q: unknown error %q (connection, timeout or tls)", step, rp.Error)
	}
	resp, err := respond(req, rp)
	if err != nil {
		return nil, fmt.Errorf("mock of step %q: %w", step, err)
	}
	call.Status = resp.StatusCode
	return resp, nil
}

// respond builds the response of a reply to req.
func respond(req *http.Request, rp Reply) (*http.Response, error) {
	status := rp.Status
	if status == 0 {
		status = http.StatusOK
	}
	h := http.Header{}
	for k, v := range rp.Headers {
		h.Set(k, v)
	}
	soapVersion := soapVersionOf(req)
	var body []byte
	var contentType string
	switch b := rp.Body.(type) {
	case nil:
	case string:
		body = []byte(b)
		if soapVersion != "" {
			contentType = soapContentType(soapVersion)
		}
	case []byte:
		body = b
	default:
		if soapVersion != "" {
			env, err := Envelope(soapVersion, rp.Body)
			if err != nil {
				return nil, err
			}
			body, contentType = env, soapContentType(soapVersion)
		} else {
			j, err := json.Marshal(rp.Body)
			if err != nil {
				return nil, fmt.Errorf("encoding the body as JSON: %w", err)
			}
			body, contentType = j, "application/json"
		}
	}
	if contentType != "" && h.Get("Content-Type") == "" {
		h.Set("Content-Type", contentType)
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// soapVersionOf tells a SOAP request by its headers: "1.1" (text/xml with
// SOAPAction), "1.2" (application/soap+xml), or "" for anything else.
func soapVersionOf(req *http.Request) string {
	mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type"))
	switch {
	case mt == "application/soap+xml":
		return "1.2"
	case mt == "text/xml" && req.Header.Get("SOAPAction") != "":
		return "1.1"
	}
	return ""
}

func soapContentType(version string) string {
	if version == "1.2" {
		return "application/soap+xml; charset=utf-8"
	}
	return "text/xml; charset=utf-8"
}

// sortedKeys lists a map's keys in order, so that envelopes are the same
// from run to run.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
