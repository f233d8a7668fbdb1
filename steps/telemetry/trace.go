package telemetry

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/outflow-dev/outflow/steps/httpcall"
)

// TracerName is the instrumentation scope of Outflow's partner-call spans.
const TracerName = "github.com/outflow-dev/outflow/steps"

// TraceRoundTripper returns rt with a client span around every request: a
// child of the span in the request's context (the Temporal activity's, with
// the tracing interceptor). Attributes name the connection, profile, step,
// method, host, path, status and TLS version; never the query string (it
// may carry an API key), headers or bodies. A nil tracer returns rt.
func TraceRoundTripper(rt http.RoundTripper, tracer trace.Tracer, connection, profile string) http.RoundTripper {
	if tracer == nil {
		return rt
	}
	return &tracedRoundTripper{next: rt, tracer: tracer, connection: connection, profile: profile}
}

type tracedRoundTripper struct {
	next                http.RoundTripper
	tracer              trace.Tracer
	connection, profile string
}

func (t *tracedRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", req.Method),
		attribute.String("server.address", req.URL.Hostname()),
		attribute.String("url.scheme", req.URL.Scheme),
		attribute.String("url.path", req.URL.Path),
		attribute.String("outflow.connection", t.connection),
	}
	if port, err := strconv.Atoi(req.URL.Port()); err == nil {
		attrs = append(attrs, attribute.Int("server.port", port))
	}
	if t.profile != "" {
		attrs = append(attrs, attribute.String("outflow.protocol_profile", t.profile))
	}
	if step := httpcall.StepPathFrom(req.Context()); step != "" {
		attrs = append(attrs, attribute.String("outflow.step", step))
	}
	ctx, span := t.tracer.Start(req.Context(), req.Method, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	defer span.End()
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		msg := errorWithoutURL(err)
		span.SetStatus(codes.Error, msg)
		span.AddEvent("exception", trace.WithAttributes(attribute.String("exception.message", msg)))
		return resp, err
	}
	span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode), attribute.String("network.protocol.version", protoVersion(resp)))
	if resp.TLS != nil {
		span.SetAttributes(attribute.String("tls.protocol.version", tlsVersion(resp.TLS.Version)), attribute.Bool("tls.resumed", resp.TLS.DidResume))
	}
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, "HTTP "+strconv.Itoa(resp.StatusCode))
	}
	return resp, nil
}

// errorWithoutURL drops the URL a *url.Error carries: its query string may
// hold a credential.
func errorWithoutURL(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

func protoVersion(resp *http.Response) string {
	return strings.TrimPrefix(resp.Proto, "HTTP/")
}

func tlsVersion(v uint16) string {
	return strings.TrimPrefix(tls.VersionName(v), "TLS ")
}

// CloseIdleConnections closes the idle connections of the transport below,
// as a certificate-bound token refetch after a rotation needs.
func (t *tracedRoundTripper) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Unwrap returns the transport below, so that what it presents (the client
// certificate) can be read through the tracing.
func (t *tracedRoundTripper) Unwrap() http.RoundTripper { return t.next }
