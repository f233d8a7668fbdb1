// Package soap is the SOAP step: an activity that calls an operation of a
// partner's SOAP service through a connection alias, resolving credentials
// and TLS on the worker that runs it. Package wsdl (below this one) reads
// WSDLs, builds envelopes and reads responses; it needs neither Temporal
// nor the network, so the client that compiles a project can use it too.
//
// Where a request goes: the connection decides the host, never the WSDL.
//   - The connection has no base path: the scheme, host and port come from
//     the connection, the path and query from the WSDL port's address. A WSDL
//     saved from production (https://partner.example/ws/Orders) is called on
//     the test host of a connection "host: test.partner.example" as
//     https://test.partner.example/ws/Orders.
//   - The connection has a base path: it is the endpoint's whole path and the
//     address's path is ignored, as SoapUI's endpoint override does.
//     "url: https://gw.example/partner/orders" calls exactly that URL.
//   - The connection has no host: the WSDL address is used as it is, with
//     the connection's TLS profile and credential.
package soap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/wsdl"
	"github.com/outflow-dev/outflow/steps/httpcall"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// SoapRequest is the input of the soap activity (engine.SoapRequest).
type SoapRequest = engine.SoapRequest

// Security asks for a WS-Security UsernameToken (engine.SoapSecurity).
type Security = engine.SoapSecurity

// Activity runs SOAP steps. Its fields are set once when the worker starts;
// it is safe for concurrent use.
type Activity struct {
	Secrets    *secrets.Resolver
	Transports httpcall.Transports
	// BaseDir, when set, is where this worker finds project files
	// (keystores); otherwise the plan's project folder is used.
	BaseDir string
	// Identity names this worker in step records.
	Identity string
}

// maxRequestBodyInRecord caps the request envelope kept in the record.
const maxRequestBodyInRecord = 4 << 10

// execute runs one SOAP step. A fault fails the step with type SOAPFault
// and the partner's words; client faults are not retried, server faults
// are. The parsed body is the result's Body; the raw response, capped, is
// kept in Response.Body. Execute redacts what it hands back.
func (a *Activity) execute(ctx context.Context, req *SoapRequest) (*engine.StepResult, error) {
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
		opts := temporal.ApplicationErrorOptions{NonRetryable: !retry, Details: []any{res}}
		// Temporal carries only UTF-8 messages; a partner's status line
		// may be Latin-1.
		return nil, temporal.NewApplicationErrorWithOptions(strings.ToValidUTF8(err.Error(), "\uFFFD"), typ, opts)
	}
	if req.Connection == nil {
		return fail(engine.ErrConfig, false, errors.New("no connection given"))
	}
	if req.Definitions == nil {
		return fail(engine.ErrConfig, false, errors.New("no WSDL definitions given"))
	}
	_, port, op, err := req.Definitions.Lookup(req.Service, req.Port, req.Operation)
	if err != nil {
		return fail(engine.ErrConfig, false, err)
	}
	target, err := Endpoint(req.Connection, req.Profile, port.Address)
	if err != nil {
		return fail(engine.ErrConfig, false, err)
	}
	res.Request = engine.RequestSummary{Method: http.MethodPost, URL: target.String()}

	var token *wsdl.UsernameToken
	if s := req.Security; s != nil {
		if s.PasswordType != "" && s.PasswordType != "text" && s.PasswordType != "digest" {
			return fail(engine.ErrConfig, false, fmt.Errorf("unknown WS-Security password type %q (text or digest)", s.PasswordType))
		}
		pw, err := a.secret(ctx, s.Password, "WS-Security password")
		if err != nil {
			return a.secretFailure(fail, err)
		}
		token = &wsdl.UsernameToken{Username: s.Username, Password: pw, Digest: s.PasswordType == "digest"}
	}
	headers := make([]wsdl.Header, len(req.SOAPHeaders))
	for i, h := range req.SOAPHeaders {
		headers[i] = wsdl.Header{Name: h.Name, Value: h.Value}
	}
	envelope, contentType, action, _, err := wsdl.BuildRequest(req.Definitions, req.Service, port.Name, op.Name, req.Body, headers, token)
	if err != nil {
		return fail(engine.ErrConfig, false, err)
	}
	rememberPasswords(ctx, envelope)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(envelope))
	if err != nil {
		return fail(engine.ErrConfig, false, fmt.Errorf("building request: %w", err))
	}
	hreq.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(envelope)), nil }
	hreq.Header.Set("User-Agent", "outflow")
	hreq.Header.Set("Content-Type", contentType)
	if op.SOAPVersion == wsdl.SOAP11 {
		// SOAP 1.1 requires the header, quoted, even when the action is empty.
		hreq.Header.Set("SOAPAction", strconv.Quote(action))
	}
	for _, h := range req.Connection.Headers {
		hreq.Header.Set(h.Name, engine.Stringify(h.Value))
	}
	for _, h := range req.Headers {
		hreq.Header.Add(h.Name, h.Value)
	}
	baseDir := a.BaseDir
	if baseDir == "" {
		baseDir = req.ProjectRoot
	}
	authz := &httpcall.Authorizer{Secrets: a.Secrets, Transports: a.Transports, BaseDir: baseDir, Connection: req.Connection, Profile: req.Profile}
	credErr := authz.Apply(ctx, hreq)
	res.Request.Headers = httpcall.RedactHeaders(hreq.Header, req.Connection.Credential)
	res.Request.Body = httpcall.CapString(wsdl.RedactEnvelope(envelope), maxRequestBodyInRecord)
	res.Auth = authz.Facts()
	if credErr != nil {
		var xe *httpcall.ExchangeError
		errors.As(credErr, &xe)
		return fail(xe.Type, xe.Retry, xe.Err)
	}

	what := fmt.Sprintf("%s at %s", op.Name, target)
	ex, err := authz.Do(ctx, hreq, req.BodyLimit, what)
	res.Auth = authz.Facts()
	if ex != nil {
		res.Timings, res.TLS = ex.Timings, ex.TLS.WithoutKnown(req.KnownTLS)
	}
	var xe *httpcall.ExchangeError
	if errors.As(err, &xe) && ex == nil {
		return fail(xe.Type, xe.Retry, xe.Err)
	}
	resp, data, size, truncated := ex.Response, ex.Data, ex.Size, ex.Truncated
	limit := req.BodyLimit
	if limit <= 0 {
		limit = engine.DefaultBodyLimit
	}
	res.Response = &engine.ResponseSummary{StatusCode: resp.StatusCode, Headers: httpcall.RedactHeaders(resp.Header, req.Connection.Credential), Body: string(data), BodySize: size, BodyTruncated: truncated}
	if truncated {
		res.Response.BodyLimit = ex.Limit
	}
	if err != nil {
		return fail(xe.Type, xe.Retry, xe.Err)
	}
	if truncated {
		return fail(engine.ErrConfig, false, fmt.Errorf("the response of %s is %d bytes or more, over the body limit of %d bytes; a SOAP envelope cannot be read in part, so raise the body limit", what, size, limit))
	}
	ok2xx := resp.StatusCode >= 200 && resp.StatusCode < 300
	parsed, perr := wsdl.ParseResponse(data, op, req.Definitions)
	var fault *wsdl.Fault
	switch {
	case errors.As(perr, &fault):
		res.Body = map[string]any{"Fault": fault}
		if parsed != nil {
			res.SOAPHeader = parsed.Header
		}
		msg := fmt.Sprintf("calling %s at %s: %s (HTTP %d)", op.Name, target, fault.Error(), resp.StatusCode)
		return fail(engine.ErrSOAPFault, !fault.IsClient(), errors.New(msg))
	case perr != nil && ok2xx && len(bytes.TrimSpace(data)) == 0 && (op.Output == nil || resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusNoContent):
		// A one-way operation, or a service that accepted the request for
		// later: nothing to read.
		return res, nil
	case perr != nil && ok2xx:
		// The partner (or a proxy or login page in front of it) answers
		// the same way every time: retrying only delays the failure.
		return fail(engine.ErrHTTPStatus, false, fmt.Errorf("calling %s at %s: the partner answered %s but not with a SOAP envelope: %v", op.Name, target, resp.Status, perr))
	case !ok2xx:
		msg := fmt.Sprintf("calling %s: the partner answered %s", what, resp.Status)
		if resp.StatusCode == http.StatusUnauthorized {
			if why := authz.Explain401(ex); why != "" {
				msg += " (" + why + ")"
			}
		}
		return nil, httpcall.StatusError(resp, data, msg, res)
	}
	res.Body = parsed.Body
	res.SOAPHeader = parsed.Header
	// fail_when and retry_when judge the answer here, before redaction (in
	// Execute) and before it reaches the workflow.
	if err := engine.JudgeResponse(&req.CallHeader, res); err != nil {
		return nil, err
	}
	return res, nil
}

// Endpoint is where a request goes; see the package documentation.
func Endpoint(conn *engine.Connection, profile *engine.ProtocolProfile, address string) (*url.URL, error) {
	addr, err := url.Parse(strings.TrimSpace(address))
	if err != nil {
		return nil, fmt.Errorf("the WSDL port address %q is not a URL: %w", address, err)
	}
	if conn.Host == "" {
		if addr.Scheme != "http" && addr.Scheme != "https" || addr.Host == "" {
			return nil, fmt.Errorf("connection %q has no host and the WSDL port address %q is not an http(s) URL", conn.Name, address)
		}
		return addr, nil
	}
	if strings.Trim(conn.BasePath, "/") != "" {
		return httpcall.BuildURL(conn, profile, "", nil)
	}
	ref := addr.EscapedPath()
	if addr.RawQuery != "" {
		ref += "?" + addr.RawQuery
	}
	return httpcall.BuildURL(conn, profile, ref, nil)
}

func (a *Activity) secret(ctx context.Context, ref *engine.SecretRef, what string) (string, error) {
	if ref == nil {
		return "", fmt.Errorf("the %s is not set", what)
	}
	if a.Secrets == nil {
		return "", &secrets.Error{Ref: ref.Ref, Err: errors.New("no secret resolver on this worker")}
	}
	return a.Secrets.Resolve(ctx, ref.Ref)
}

func (a *Activity) secretFailure(fail func(string, bool, error) (*engine.StepResult, error), err error) (*engine.StepResult, error) {
	var se *secrets.Error
	if errors.As(err, &se) {
		return fail(engine.ErrSecret, false, err)
	}
	return fail(engine.ErrConfig, false, err)
}

// applyCredential sets HTTP authentication the way the rest step does; a
// SOAP service behind a gateway often wants both that and a UsernameToken.
