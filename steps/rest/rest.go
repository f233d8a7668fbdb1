// Package rest is the REST step: an activity that calls a partner through a
// connection alias, resolving credentials and TLS on the worker that runs it.
package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/outflow-dev/outflow/steps/httpcall"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.temporal.io/sdk/activity"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// Activity runs REST steps. Its fields are set once when the worker starts;
// it is safe for concurrent use.
type Activity struct {
	Secrets    *secrets.Resolver
	Transports httpcall.Transports
	// BaseDir, when set, is where this worker finds project files (keystores);
	// otherwise the plan's project folder is used.
	BaseDir string
	// Identity names this worker in step records.
	Identity string
}

// maxRequestBodyInRecord caps the request body kept in the record.
const maxRequestBodyInRecord = 4 << 10

// execute runs one REST step; Execute redacts what it hands back.
func (a *Activity) execute(ctx context.Context, req *engine.RestRequest) (*engine.StepResult, error) {
	info := activity.GetInfo(ctx)
	ctx = httpcall.WithStepPath(ctx, req.StepPath)
	res := &engine.StepResult{Attempt: int(info.Attempt), Worker: a.Identity}
	defer httpcall.KeepAlive(ctx)()
	// The call ends a little before the step's timeout, so that the step
	// itself reports what it sent and how far it got.
	ctx, cancel := httpcall.WithCallDeadline(ctx)
	defer cancel()
	fail := func(typ string, retry bool, err error) (*engine.StepResult, error) {
		typ, retry, err = httpcall.TimedOut(ctx, typ, retry, err)
		return nil, httpcall.NewAppError(err.Error(), typ, retry, res, 0)
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
			httpcall.DropQueryCredential(target, req.Connection.Credential)
		}
	} else {
		target, err = httpcall.BuildURL(req.Connection, req.Profile, req.Path, req.Query)
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
	authz := &httpcall.Authorizer{Secrets: a.Secrets, Transports: a.Transports, BaseDir: baseDir, Connection: req.Connection, Profile: req.Profile}
	if err := authz.Apply(ctx, hreq); err != nil {
		res.Request = engine.RequestSummary{Method: method, URL: target.String(), Headers: httpcall.RedactHeaders(hreq.Header, req.Connection.Credential)}
		res.Auth = authz.Facts()
		var xe *httpcall.ExchangeError
		errors.As(err, &xe)
		return fail(xe.Type, xe.Retry, xe.Err)
	}
	// target never carries an api_key sent as a query parameter: only hreq.URL does.
	res.Request = engine.RequestSummary{Method: method, URL: target.String(), Headers: httpcall.RedactHeaders(hreq.Header, req.Connection.Credential)}
	if len(body) > 0 {
		res.Request.Body = httpcall.CapString(body, maxRequestBodyInRecord)
	}

	ex, err := authz.Do(ctx, hreq, req.BodyLimit, method+" "+res.Request.URL)
	res.Auth = authz.Facts()
	if ex != nil {
		res.Timings, res.TLS = ex.Timings, ex.TLS.WithoutKnown(req.KnownTLS)
	}
	var xe *httpcall.ExchangeError
	if errors.As(err, &xe) && ex == nil {
		return fail(xe.Type, xe.Retry, xe.Err)
	}
	resp, data, size, truncated := ex.Response, ex.Data, ex.Size, ex.Truncated
	rs := &engine.ResponseSummary{StatusCode: resp.StatusCode, Headers: httpcall.RedactHeaders(resp.Header, req.Connection.Credential), BodySize: size, BodyTruncated: truncated}
	redactLinkCredential(rs.Headers, req.Connection.Credential)
	if truncated {
		rs.BodyLimit = ex.Limit
	}
	if !truncated && httpcall.IsJSON(resp.Header.Get("Content-Type"), data) {
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
		return nil, httpcall.StatusError(resp, data, msg, res)
	}
	// fail_when and retry_when judge the answer here, before redaction (in
	// Execute) and before it reaches the workflow.
	if err := engine.JudgeResponse(&req.CallHeader, res); err != nil {
		return nil, err
	}
	// validate_response checks the answer against the OpenAPI document.
	if err := checkResponse(req, rs, resp.Header.Get("Content-Type"), method+" "+res.Request.URL); err != nil {
		return fail(engine.ErrResponseRejected, false, err)
	}
	return res, nil
}

// FollowLink resolves a link a partner gave (the next page of a list),
// absolute or relative to base, the URL of the response that held it. Like
// BuildURL it never leaves the connection: a link to another scheme, host,
// port or outside the base path is refused.
func FollowLink(conn *engine.Connection, profile *engine.ProtocolProfile, base, link string) (*url.URL, error) {
	root, err := httpcall.BuildURL(conn, profile, "/", nil)
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
	if u.User != nil || !strings.EqualFold(u.Scheme, root.Scheme) || !httpcall.SameHostPort(u, root) {
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

// redactLinkCredential redacts an api_key query parameter that a partner
// echoed into the links of its Link header.
func redactLinkCredential(h map[string]string, c *engine.Credential) {
	key := httpcall.QueryCredential(c)
	if key == "" || h["link"] == "" {
		return
	}
	re := regexp.MustCompile(`([?&;]` + regexp.QuoteMeta(url.QueryEscape(key)) + `=)[^&>;,\s]*`)
	h["link"] = re.ReplaceAllString(h["link"], "${1}"+url.QueryEscape(httpcall.Redacted))
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

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}
