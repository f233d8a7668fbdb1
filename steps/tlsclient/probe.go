package tlsclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http/httptrace"
	"sync"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore"
)

// Probe records what happened on the TLS connection of one request: whether
// it was new, whether the server asked for a client certificate, which one
// was presented. Steps put one in the request's context (WithProbe) and use
// it for the TLS facts of the step's output and for Diagnose. A Probe is safe
// for concurrent use.
//
// Connection details are known for connections dialed by a request that
// carried a Probe; a request on a pooled connection dialed without one
// learns only that the connection was reused.
type Probe struct {
	mu      sync.Mutex
	dialing *connInfo // dialed for this request, even if the dial failed
	used    *connInfo // the connection the request went over
	gotConn bool
	reused  bool
}

// connInfo is what one connection's handshake revealed.
type connInfo struct {
	mu            sync.Mutex
	handshakeDone bool
	version       uint16
	resumed       bool
	requested     bool
	presented     *loaded // nil when no certificate was sent
	acceptableCAs [][]byte
	// origin is, on a resumed session, what the full handshake the session
	// came from presented; nil when that handshake was not observed.
	origin *identity
	// sessions remembers what full handshakes presented, for the
	// connections that resume their sessions; nil without resumption.
	sessions *sessionCache
	// serverName is the profile's server_name, dialHost the host dialed:
	// with the SNI they name the server a session belongs to.
	serverName, dialHost string
	sessionKey           string // set once the handshake is done
}

type probeKey struct{}

// WithProbe returns a context for a request whose TLS connection should be
// observed, and the Probe that observes it.
func WithProbe(ctx context.Context) (context.Context, *Probe) {
	p := &Probe{}
	ctx = context.WithValue(ctx, probeKey{}, p)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn:          p.gotConnection,
		TLSHandshakeDone: p.handshakeDone,
	}), p
}

func probeFrom(ctx context.Context) *Probe {
	if ctx == nil {
		return nil
	}
	p, _ := ctx.Value(probeKey{}).(*Probe)
	return p
}

// trackedConn is the TCP connection under a TLS one, carrying what its
// handshake revealed so that later requests on the pooled connection can
// learn it.
type trackedConn struct {
	net.Conn
	info *connInfo
}

func trackConn(ctx context.Context, conn net.Conn, sessions *sessionCache, serverName, addr string) net.Conn {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	tc := &trackedConn{Conn: conn, info: &connInfo{sessions: sessions, serverName: serverName, dialHost: host}}
	if p := probeFrom(ctx); p != nil {
		p.mu.Lock()
		p.dialing = tc.info
		p.mu.Unlock()
	}
	return tc
}

func (p *Probe) gotConnection(info httptrace.GotConnInfo) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gotConn, p.reused = true, info.Reused
	if c, ok := info.Conn.(*tls.Conn); ok {
		if tc, ok := c.NetConn().(*trackedConn); ok {
			p.used = tc.info
		}
	}
}

// handshakeDone records the handshake of the connection this probe's
// request dialed. That is not always the connection the request goes over:
// when a pooled one frees up first, the request takes it, and the dialed
// one, handshaking still, goes to the pool for a later request.
func (p *Probe) handshakeDone(state tls.ConnectionState, err error) {
	p.mu.Lock()
	c := p.dialing
	p.mu.Unlock()
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handshakeDone, c.resumed, c.version = err == nil, state.DidResume, state.Version
	if err != nil || c.sessions == nil {
		return
	}
	// The key names the server as the session cache does: the profile's
	// server_name, else the host in the SNI, else (an IP address) the host
	// dialed.
	c.sessionKey = c.serverName
	if c.sessionKey == "" {
		c.sessionKey = state.ServerName
	}
	if c.sessionKey == "" {
		c.sessionKey = c.dialHost
	}
	if state.DidResume {
		// A resumed session carries the identity of the full handshake it
		// came from: the server did not ask again, and need not.
		if id, ok := c.sessions.recall(c.sessionKey); ok {
			c.origin = &id
		}
		return
	}
	c.sessions.remember(c.sessionKey, identity{presented: c.presented})
}

func (p *Probe) certificateRequested(cri *tls.CertificateRequestInfo, cur *loaded) {
	p.mu.Lock()
	c := p.dialing
	p.mu.Unlock()
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requested, c.acceptableCAs, c.presented = true, cri.AcceptableCAs, cur
	if c.handshakeDone && c.sessionKey != "" && !c.resumed {
		// Asked by renegotiation after the handshake (TLS 1.2 servers that
		// decide by path): sessions of this server now carry the certificate.
		c.sessions.remember(c.sessionKey, identity{presented: cur})
	}
}

// connection returns what is known of the request's connection: the one it
// went over, else the one dialed for it.
func (p *Probe) connection() *connInfo {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.used != nil {
		return p.used
	}
	return p.dialing
}

// NewConnection reports whether the request needed a new connection rather
// than a pooled one.
func (p *Probe) NewConnection() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gotConn && !p.reused
}

// ClientCertificateRequested reports whether the server asked for a client
// certificate in the handshake of the request's connection; known is false
// when that handshake was not observed or was a resumption (which carries
// the earlier authentication over without asking again).
func (p *Probe) ClientCertificateRequested() (requested, known bool) {
	c := p.connection()
	if c == nil {
		return false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requested, c.requested || c.handshakeDone && !c.resumed
}

// Facts describes the request's TLS session: Facts of state, with the new
// connection flag and the client certificate this probe observed.
func (p *Probe) Facts(state *tls.ConnectionState) *engine.TLSFacts {
	f := Facts(state, p.NewConnection())
	if f == nil {
		return nil
	}
	if c := p.connection(); c != nil {
		c.mu.Lock()
		presented, auth := c.presented, ""
		switch {
		case presented != nil:
			auth = engine.ClientAuthMTLS
		case c.resumed && c.origin != nil:
			if presented = c.origin.presented; presented != nil {
				auth = engine.ClientAuthMTLSResumed
			} else {
				auth = engine.ClientAuthNone
			}
		case c.handshakeDone && !c.resumed:
			auth = engine.ClientAuthNone
		}
		c.mu.Unlock()
		if presented != nil && presented.cert != nil && presented.cert.Leaf != nil {
			cf := certFacts(presented.cert.Leaf)
			f.ClientCertificate = &cf
		}
		f.ClientAuth = auth
	}
	return f
}

// Facts describes a TLS session for the step's output data: version,
// cipher suite, resumption, the server's chain. newConn says whether the
// request needed a new connection. It returns nil for a plain HTTP request
// (nil state).
func Facts(state *tls.ConnectionState, newConn bool) *engine.TLSFacts {
	if state == nil {
		return nil
	}
	f := &engine.TLSFacts{
		Version:        tls.VersionName(state.Version),
		CipherSuite:    tls.CipherSuiteName(state.CipherSuite),
		Resumed:        state.DidResume,
		ServerName:     state.ServerName,
		NegotiatedALPN: state.NegotiatedProtocol,
		NewConnection:  newConn,
	}
	for _, c := range state.PeerCertificates {
		f.ServerChain = append(f.ServerChain, certFacts(c))
	}
	return f
}

func certFacts(c *x509.Certificate) engine.CertFacts {
	return engine.CertFacts{
		Subject:           c.Subject.String(),
		Issuer:            c.Issuer.String(),
		Serial:            keystore.SerialHex(c.SerialNumber),
		FingerprintSHA256: keystore.Fingerprint(c),
		NotAfter:          c.NotAfter.UTC(),
	}
}
