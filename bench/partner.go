package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/outflow-dev/outflow/examples/partner"
)

// benchPartner is the example partner API served over TLS that requires a
// client certificate, instrumented to count what a pool of clients costs it:
// TCP connections accepted, TLS handshakes (full and resumed), and the
// arrival time of every request.
type benchPartner struct {
	addr string
	dir  string // holds certs/client.p12 and certs/partner-ca.pem
	// keystorePassword and password are what the clients present.
	keystorePassword string
	username         string
	password         string

	srv *http.Server

	conns, full, resumed atomic.Int64

	mu       sync.Mutex
	arrivals []time.Time
}

// partnerCounts is a snapshot of the partner's counters.
type partnerCounts struct {
	Conns, Full, Resumed, Requests int64
}

func (c partnerCounts) sub(o partnerCounts) partnerCounts {
	return partnerCounts{c.Conns - o.Conns, c.Full - o.Full, c.Resumed - o.Resumed, c.Requests - o.Requests}
}

func startPartner(dir string) (*benchPartner, error) {
	certs, err := partner.GenerateCerts(dir)
	if err != nil {
		return nil, fmt.Errorf("generating partner certificates: %w", err)
	}
	bp := &benchPartner{dir: dir, keystorePassword: certs.KeystorePassword, username: "svc-outflow", password: partner.RandomSecret()}

	// GetConfigForClient runs once per ClientHello, so it sees every
	// handshake; VerifyConnection on the config it returns runs once the
	// handshake has settled and says whether a session was resumed.
	// Session tickets keep working because the returned config inherits
	// the ticket keys of the listener's config.
	perConn := certs.ServerTLS.Clone()
	perConn.VerifyConnection = func(cs tls.ConnectionState) error {
		if cs.DidResume {
			bp.resumed.Add(1)
		} else {
			bp.full.Add(1)
		}
		return nil
	}
	serverTLS := certs.ServerTLS.Clone()
	serverTLS.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return perConn, nil }

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the partner: %w", err)
	}
	bp.addr = ln.Addr().String()
	api := partner.New(bp.username, bp.password).Handler()
	bp.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			now := time.Now()
			bp.mu.Lock()
			bp.arrivals = append(bp.arrivals, now)
			bp.mu.Unlock()
			api.ServeHTTP(w, r)
		}),
		TLSConfig:         serverTLS,
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				bp.conns.Add(1)
			}
		},
	}
	go func() {
		if err := bp.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "bench partner:", err)
		}
	}()
	return bp, nil
}

func (bp *benchPartner) close() { _ = bp.srv.Close() }

func (bp *benchPartner) counts() partnerCounts {
	bp.mu.Lock()
	n := int64(len(bp.arrivals))
	bp.mu.Unlock()
	return partnerCounts{Conns: bp.conns.Load(), Full: bp.full.Load(), Resumed: bp.resumed.Load(), Requests: n}
}

// takeArrivals returns the request arrival times since the last call.
func (bp *benchPartner) takeArrivals() []time.Time {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	out := bp.arrivals
	bp.arrivals = nil
	return out
}

func (bp *benchPartner) port() int {
	_, p, _ := net.SplitHostPort(bp.addr)
	var n int
	fmt.Sscan(p, &n)
	return n
}

// plainTLS is the client side of the same mTLS a plain Go program would
// set up by hand: the client keystore and the partner's CA.
func (bp *benchPartner) plainTLS() (*tls.Config, error) {
	p12, err := os.ReadFile(filepath.Join(bp.dir, "certs", "client.p12"))
	if err != nil {
		return nil, err
	}
	key, cert, chain, err := pkcs12.DecodeChain(p12, bp.keystorePassword)
	if err != nil {
		return nil, fmt.Errorf("reading the client keystore: %w", err)
	}
	caPEM, err := os.ReadFile(filepath.Join(bp.dir, "certs", "partner-ca.pem"))
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no CA certificate in partner-ca.pem")
	}
	leaf := tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	for _, c := range chain {
		leaf.Certificate = append(leaf.Certificate, c.Raw)
	}
	return &tls.Config{
		Certificates:       []tls.Certificate{leaf},
		RootCAs:            roots,
		MinVersion:         tls.VersionTLS12,
		ClientSessionCache: tls.NewLRUClientSessionCache(64),
	}, nil
}

// plainIdlePerHost is how many idle connections the plain client keeps per
// host: 16 like Outflow's mTLS transports (steps/tlsclient), so both pool
// the same way, unless -plain-idle-per-host says otherwise.
var plainIdlePerHost = 16

// plainTransport is a keep-alive transport sized like Outflow's mTLS
// transports.
func (bp *benchPartner) plainTransport() (*http.Transport, error) {
	conf, err := bp.plainTLS()
	if err != nil {
		return nil, err
	}
	return &http.Transport{
		TLSClientConfig:     conf,
		ForceAttemptHTTP2:   false,
		MaxIdleConns:        max(100, plainIdlePerHost),
		MaxIdleConnsPerHost: plainIdlePerHost,
		IdleConnTimeout:     90 * time.Second,
	}, nil
}
