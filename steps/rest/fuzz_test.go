package rest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"google.golang.org/protobuf/proto"

	"github.com/outflow-dev/outflow/engine"
)

// answerTransports answers every request with one canned response, without
// a network: a fuzz target runs thousands of responses a second, which a
// loopback server cannot serve. What is fuzzed is what the step does with
// the response once net/http has read it; the header block is parsed by
// the same textproto reader net/http uses.
type answerTransports struct {
	answer func(*http.Request) *http.Response
}

func (a answerTransports) RoundTripper(context.Context, *engine.Connection, *engine.ProtocolProfile, string) (http.RoundTripper, error) {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) { return a.answer(r), nil }), nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// parseHeaderBlock reads "Name: value" lines as net/http reads a
// response's header; a block it refuses gives no headers.
func parseHeaderBlock(block string) http.Header {
	h, err := textproto.NewReader(bufio.NewReader(strings.NewReader(strings.TrimRight(block, "\r\n") + "\r\n\r\n"))).ReadMIMEHeader()
	if err != nil {
		return http.Header{}
	}
	return http.Header(h)
}

// failureSendable reports whether err can be reported to the Temporal
// server: the worker turns it into a Failure message and marshals it, and
// a message that is not UTF-8 fails to marshal, so the step's failure is
// lost and the activity times out instead.
func failureSendable(t *testing.T, err error) {
	t.Helper()
	f := temporal.GetDefaultFailureConverter().ErrorToFailure(err)
	if _, merr := proto.Marshal(f); merr != nil {
		t.Fatalf("the step's failure cannot be sent to Temporal (%v): %q", merr, err.Error())
	}
}

// FuzzResponse runs the REST activity against arbitrary answers — status,
// header block, body and body limit — and checks what the step makes of
// them: the body kept up to the limit and its size told, JSON parsed only
// when it is JSON, credentials in headers redacted, the status classified
// (4xx but 408/429 final, the rest retried after a non-negative delay), and
// a failure that Temporal can carry, with a message of bounded size.
func FuzzResponse(f *testing.F) {
	for _, seed := range []struct {
		status int
		header string
		body   string
		limit  uint16
	}{
		{200, "Content-Type: application/json", `{"id":7,"name":"Ada","tags":["a","b"]}`, 0},
		{200, "Content-Type: application/problem+json\r\nETag: \"x\"", `[1,2,{"a":null}]`, 0},
		{200, "", "  {\"sniffed\": true}", 0},
		{200, "Content-Type: text/xml; charset=utf-8", `<?xml version="1.0"?><r><a>1</a></r>`, 0},
		{200, "Content-Type: application/json", `{"truncated": "` + strings.Repeat("x", 100) + `"}`, 32},
		{201, "Location: /v2/orders/9\r\nSet-Cookie: session=s3cr3t; HttpOnly\r\nX-Session-Token: abc", `created`, 0},
		{400, "Content-Type: application/json", `{"message":"customer 7 does not exist","error":"bad"}`, 0},
		{401, "WWW-Authenticate: Bearer realm=\"api\", error=\"invalid_token\", error_description=\"the token expired\"", ``, 0},
		{404, "Content-Type: text/plain; charset=iso-8859-1", "Kunde nicht gefunden: M\xfcller", 0},
		{422, "Content-Type: application/json", `{"detail":"` + strings.Repeat("ü", 200) + `"}`, 0},
		{429, "Retry-After: 120", `slow down`, 0},
		{503, "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT", strings.Repeat("maintenance ", 40), 0},
		{503, "Retry-After: 99999999999", ``, 0},
		{302, "Location: https://elsewhere.example/login", ``, 0},
		{500, "Content-Type: application/json", `{"error":{"code":1}}`, 0},
	} {
		f.Add(seed.status, seed.header, []byte(seed.body), seed.limit)
	}
	conn := &engine.Connection{Name: "partner", Scheme: "https", Host: "api.partner.example", BasePath: "/v2"}
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	env := s.NewTestActivityEnvironment()
	var answer func(*http.Request) *http.Response
	env.RegisterActivityWithOptions((&Activity{Transports: answerTransports{func(r *http.Request) *http.Response { return answer(r) }}}).Execute,
		activity.RegisterOptions{Name: engine.RestActivity})
	f.Fuzz(func(t *testing.T, status int, header string, body []byte, limit uint16) {
		if status < 200 || status > 599 {
			return // net/http handles 1xx itself and refuses other codes
		}
		h := parseHeaderBlock(header)
		answer = func(r *http.Request) *http.Response {
			return &http.Response{StatusCode: status, Status: strconv.Itoa(status) + " " + http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: h.Clone(), Body: io.NopCloser(bytes.NewReader(body)), ContentLength: -1, Request: r}
		}
		bodyLimit := int64(limit)
		v, err := env.ExecuteActivity(engine.RestActivity, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn, BodyLimit: bodyLimit}, Method: "GET", Path: "/orders"})
		var res engine.StepResult
		switch {
		case err == nil:
			if status < 200 || status > 299 {
				t.Fatalf("status %d passed without expect:", status)
			}
			if err := v.Get(&res); err != nil {
				t.Fatal(err)
			}
		default:
			failureSendable(t, err)
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) {
				t.Fatalf("a failure that is not an application error: %v", err)
			}
			if status >= 200 && status <= 299 {
				t.Fatalf("status %d failed: %v", status, err)
			}
			wantType, final := engine.ErrHTTPStatus, false
			switch {
			case status >= 400 && status < 500 && status != 408 && status != 429:
				wantType, final = engine.ErrHTTPClient, true
			case status >= 300 && status < 400:
				final = true // a redirect is not followed, and retrying cannot change that
			}
			if appErr.Type() != wantType || appErr.NonRetryable() != final {
				t.Fatalf("status %d: type %s, non-retryable %v", status, appErr.Type(), appErr.NonRetryable())
			}
			if d := appErr.NextRetryDelay(); d < 0 {
				t.Fatalf("status %d, Retry-After %q: next retry in %v", status, h.Get("Retry-After"), d)
			}
			// The message is the request line, the status and at most a few
			// hundred characters of the partner's words.
			if n := utf8.RuneCountInString(appErr.Message()); n > 600 {
				t.Fatalf("a failure message of %d characters: %.200q…", n, appErr.Message())
			}
			if err := appErr.Details(&res); err != nil {
				t.Fatalf("the failure carries no step result: %v", err)
			}
		}
		rs := res.Response
		if rs == nil || rs.StatusCode != status {
			t.Fatalf("response summary %+v for status %d", rs, status)
		}
		want := bodyLimit
		if want <= 0 {
			want = engine.DefaultBodyLimit
		}
		kept := body
		if int64(len(kept)) > want {
			kept = kept[:want]
		}
		if rs.BodySize != int64(len(body)) || rs.BodyTruncated != (int64(len(body)) > want) {
			t.Fatalf("%d-byte body with limit %d: size %d, truncated %v", len(body), want, rs.BodySize, rs.BodyTruncated)
		}
		if rs.BodyTruncated && rs.BodyLimit != want {
			t.Fatalf("truncated at %d, record says limit %d", want, rs.BodyLimit)
		}
		if rs.JSON != nil {
			var parsed any
			if rs.BodyTruncated || json.Unmarshal(kept, &parsed) != nil {
				t.Fatalf("JSON %v from a body that is not JSON: %q", rs.JSON, kept)
			}
			if !isJSON(h.Get("Content-Type"), kept) {
				t.Fatalf("JSON parsed although content type %q does not say so", h.Get("Content-Type"))
			}
			if !reflect.DeepEqual(normalJSON(t, rs.JSON), normalJSON(t, parsed)) {
				t.Fatalf("JSON %v, body says %v", rs.JSON, parsed)
			}
		} else if want := normalJSON(t, string(kept)); rs.Body != want {
			// The record travels as JSON, which writes bytes that are not
			// UTF-8 as U+FFFD.
			t.Fatalf("body %q, want %q", rs.Body, want)
		}
		for name := range h {
			got, ok := rs.Headers[strings.ToLower(name)]
			if !ok {
				t.Fatalf("header %s dropped: %v", name, rs.Headers)
			}
			if IsSensitiveHeader(name, conn.Credential) && got != Redacted {
				t.Fatalf("header %s kept in the record: %q", name, got)
			}
		}
	})
}

// normalJSON is v as JSON reads it back, so that values of different Go
// types but the same JSON compare equal.
func normalJSON(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// linkConnections are the connections FuzzFollowLink resolves links for:
// with and without a base path, on a default and an explicit port, by name
// and by IPv4 and IPv6 address.
var linkConnections = []*engine.Connection{
	{Name: "partner", Scheme: "https", Host: "api.partner.example", BasePath: "/v2"},
	{Name: "root", Scheme: "https", Host: "api.partner.example"},
	{Name: "port", Scheme: "http", Host: "127.0.0.1", Port: 8080, BasePath: "/api/v1/"},
	{Name: "v6", Scheme: "https", Host: "::1", Port: 8443, BasePath: "/x"},
}

// FuzzFollowLink checks the promise that a step never leaves its
// connection, for every next link a partner can give in a Link header
// (read by engine.NextLink) or in its body: a link that is followed is on
// the connection's scheme, host and port, under its base path, without
// user info, and the request net/http builds from it goes there.
func FuzzFollowLink(f *testing.F) {
	for _, seed := range []struct{ header, base string }{
		{`<https://api.partner.example/v2/orders?page=2>; rel="next", <https://api.partner.example/v2/orders?page=9>; rel="last"`, "https://api.partner.example/v2/orders?page=1"},
		{`</v2/orders?after=abc%3D>; rel=next`, ""},
		{`<?page=3&status=open>; rel="prev next"`, "https://api.partner.example/v2/orders?page=2&status=open"},
		{`<orders/archive?page=2>; rel="next"`, "https://api.partner.example/v2/orders"},
		{`<https://collector.example/v2/orders?page=2>; rel="next"`, "https://api.partner.example/v2/orders"},
		{`<//collector.example/v2/orders>; rel="next"`, ""},
		{`<http://api.partner.example/v2/orders?page=2>; rel="next"`, ""},
		{`<https://api.partner.example:8443/v2/orders>; rel="next"`, ""},
		{`<https://user:pw@api.partner.example/v2/orders>; rel="next"`, ""},
		{`</v2/../admin>; rel="next"`, ""},
		{`</v2/%2e%2e/admin>; rel="next"`, ""},
		{`<https://api.partner.example\@evil.example/v2>; rel="next"`, ""},
		{`<https:api.partner.example/v2/x>; rel="next"`, ""},
		{`<http://127.0.0.1:8080/api/v1/items?cursor=a,b>; rel="next"; title="a, b"`, "http://127.0.0.1:8080/api/v1/items"},
		{`<https://[::1]:8443/x/y>; rel="next"`, "https://[::1]:8443/x"},
		{`<%zz>; rel="next"`, ""},
	} {
		f.Add(seed.header, seed.base)
	}
	f.Fuzz(func(t *testing.T, header, base string) {
		next := engine.NextLink(header)
		for _, link := range []string{next, header} { // a Link header's target, or a next link from the body
			if link == "" {
				continue
			}
			for _, conn := range linkConnections {
				for _, from := range []string{base, ""} {
					u, err := FollowLink(conn, nil, from, link)
					if err != nil {
						continue
					}
					root, _ := BuildURL(conn, nil, "/", nil)
					checkOnConnection(t, conn, root, u, "link "+strconv.Quote(link)+" from "+strconv.Quote(from))
				}
			}
		}
	})
}

// FuzzBuildURL checks the same promise for step paths and query
// parameters, which come from expressions over partner data.
func FuzzBuildURL(f *testing.F) {
	for _, seed := range []struct{ path, name, value string }{
		{"/customers/7", "expand", "orders"},
		{"customers/1?x=1", "y", "2"},
		{"https://evil.example/x", "", ""},
		{"//evil.example/x", "", ""},
		{"http://api.partner.example@evil/", "", ""},
		{"/../../admin", "a", "b&c=d"},
		{"/v2/%2e%2e/admin", "", ""},
		{"/a b/ü?q=1#frag", "sp ace", "ü"},
		{"\\\\evil.example\\x", "", ""},
		{"/x/..%2f..%2fadmin", "", ""},
	} {
		f.Add(seed.path, seed.name, seed.value)
	}
	f.Fuzz(func(t *testing.T, p, name, value string) {
		for _, conn := range linkConnections {
			u, err := BuildURL(conn, nil, p, []engine.KV{{Name: name, Value: value}})
			if err != nil {
				continue
			}
			root, _ := BuildURL(conn, nil, "/", nil)
			checkOnConnection(t, conn, root, u, "path "+strconv.Quote(p))
			if q, _ := url.ParseQuery(u.RawQuery); name != "" && !contains(q[name], value) {
				t.Fatalf("path %q: query %q lost %s=%s", p, u.RawQuery, name, value)
			}
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// checkOnConnection fails t unless u, and the request net/http makes of
// it, stay on conn: its scheme, host and port, under its base path.
func checkOnConnection(t *testing.T, conn *engine.Connection, root, u *url.URL, what string) {
	t.Helper()
	s := u.String()
	req, err := http.NewRequest(http.MethodGet, s, nil)
	if err != nil {
		t.Fatalf("%s: %s is not a request URL: %v", what, s, err)
	}
	for _, got := range []*url.URL{u, req.URL} {
		if got.Scheme != root.Scheme || got.Host != root.Host || got.User != nil || got.Opaque != "" {
			t.Fatalf("%s leaves connection %s (%s): %s (scheme %q host %q user %v opaque %q)", what, conn.Name, root, s, got.Scheme, got.Host, got.User, got.Opaque)
		}
		clean := path.Clean("/" + got.Path)
		base := "/" + strings.Trim(conn.BasePath, "/")
		if base != "/" && clean != base && !strings.HasPrefix(clean, base+"/") {
			t.Fatalf("%s leaves base path %q of connection %s: %s", what, conn.BasePath, conn.Name, s)
		}
		if clean != got.Path && clean+"/" != got.Path {
			t.Fatalf("%s: path %q is not clean", what, got.Path)
		}
	}
	if req.Host != root.Host && req.Host != "" {
		t.Fatalf("%s: request Host %q", what, req.Host)
	}
}

// TestLatin1AnswerFailureReachesTemporal: a partner that answers in
// Latin-1 — its status line and its body — failed the step with a message
// that is not UTF-8, which the worker cannot send to Temporal (a Failure's
// message is a protobuf string): the failure was lost and the activity
// timed out instead. The answer is written on a socket, as net/http's
// server cannot write such a status line.
func TestLatin1AnswerFailureReachesTemporal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					body := "Kunde M\xfcller nicht gefunden"
					_, _ = io.WriteString(c, "HTTP/1.1 404 Nicht gef\xfcnden\r\nContent-Type: text/plain; charset=iso-8859-1\r\nConnection: close\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
				}
			}()
		}
	}()
	conn := &engine.Connection{Name: "partner", Scheme: "http", Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port}
	_, err = execute(t, &Activity{}, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn}, Method: "GET", Path: "/customers/7"})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != engine.ErrHTTPClient || !strings.Contains(appErr.Error(), "nicht gefunden") {
		t.Fatalf("err = %v", err)
	}
	failureSendable(t, err)
}
