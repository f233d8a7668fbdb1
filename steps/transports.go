package steps

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/httpcall"
	"github.com/outflow-dev/outflow/steps/oauth2"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/telemetry"
	"github.com/outflow-dev/outflow/steps/tlsclient"
)

// Transports resolves a connection to an HTTP transport on this worker: the
// protocol profile's cached mTLS transport, or a shared one for connections
// without a profile. It is safe for concurrent use.
type Transports struct {
	Cache   *tlsclient.Cache
	Secrets *secrets.Resolver
	// Agent is set on agent workers: who they are (applies_to) and the key
	// material their own config holds (store: agent). Nil on default workers.
	Agent *Agent
	// Tokens keeps the OAuth 2.0 access tokens of this worker's
	// connections.
	Tokens *oauth2.Cache
	// Tracer, when set, puts a client span around every partner request.
	Tracer trace.Tracer
	plain  *http.Transport
	stored storedKeystores
}

// NewTransports returns transports with a fresh cache, resolving secrets
// through res (env and file providers when nil).
func NewTransports(res *secrets.Resolver) *Transports {
	if res == nil {
		res = secrets.New("")
	}
	return &Transports{
		Cache:   tlsclient.NewCache(nil),
		Secrets: res,
		Tokens:  &oauth2.Cache{},
		plain: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:   true,
			MaxIdleConns:        256,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 15 * time.Second,
		},
	}
}

// RoundTripper returns the transport for a connection.
func (t *Transports) RoundTripper(ctx context.Context, conn *engine.Connection, profile *engine.ProtocolProfile, baseDir string) (http.RoundTripper, error) {
	if profile == nil {
		return telemetry.TraceRoundTripper(t.plain, t.Tracer, conn.Name, ""), nil
	}
	// Where the key material lives (store:) and who may use it
	// (applies_to) is decided here, on the worker that runs the step.
	p, err := t.placeProfile(ctx, conn, profile, baseDir)
	if err != nil {
		return nil, err
	}
	if !conn.MutualAuth && p.Keystore != nil {
		// Without mutual_auth the profile only says whom to trust: present no
		// client certificate.
		cp := *p
		cp.Keystore = nil
		p = &cp
	}
	rt, err := t.Cache.Transport(ctx, p, baseDir, t.Secrets.Resolve)
	if err != nil {
		return nil, err
	}
	return telemetry.TraceRoundTripper(rt, t.Tracer, conn.Name, profile.Name), nil
}

// TokenCache returns the worker's OAuth 2.0 token cache.
func (t *Transports) TokenCache() *oauth2.Cache { return t.Tokens }

// Observe prepares a request context that records what happens on its TLS
// connection.
func (t *Transports) Observe(ctx context.Context) (context.Context, httpcall.Observation) {
	ctx, probe := tlsclient.WithProbe(ctx)
	return ctx, observation{probe}
}

type observation struct{ probe *tlsclient.Probe }

func (o observation) Facts(state *tls.ConnectionState) *engine.TLSFacts { return o.probe.Facts(state) }

func (o observation) Diagnose(err error, profile *engine.ProtocolProfile) error {
	if profile == nil {
		return err
	}
	return tlsclient.Diagnose(err, profile, o.probe)
}

var (
	_ httpcall.Transports  = (*Transports)(nil)
	_ httpcall.TLSObserver = (*Transports)(nil)
	_ httpcall.TokenCacher = (*Transports)(nil)
)
