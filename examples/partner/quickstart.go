package partner

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

// Certs are what the quickstart generates at start: a throwaway CA, the
// partner's server certificate, and the client keystore Outflow presents.
type Certs struct {
	// KeystorePassword protects certs/client.p12; it lives only in memory
	// and in the environment of the process that generated it.
	KeystorePassword string
	// ServerTLS is the partner's TLS configuration: it requires a client
	// certificate issued by the throwaway CA.
	ServerTLS *tls.Config
}

// GenerateCerts writes certs/client.p12 (the client key and chain) and
// certs/partner-ca.pem (the CA that issued the partner's certificate) under
// dir, and returns the partner's TLS configuration.
func GenerateCerts(dir string) (*Certs, error) {
	certDir := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", certDir, err)
	}
	ca, err := devpki.NewCA("Outflow Quickstart CA", nil)
	if err != nil {
		return nil, err
	}
	server, err := ca.IssueServer("partner.localhost", []string{"127.0.0.1", "localhost", "::1"}, nil)
	if err != nil {
		return nil, err
	}
	client, err := ca.IssueClient("svc-outflow", nil)
	if err != nil {
		return nil, err
	}
	pw := randomSecret()
	p12, err := pkcs12.Modern.Encode(client.Key, client.Cert, ca.Chain(), pw)
	if err != nil {
		return nil, fmt.Errorf("packing the client keystore: %w", err)
	}
	if err := os.WriteFile(filepath.Join(certDir, "client.p12"), p12, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(certDir, "partner-ca.pem"), ca.CertPEM(), 0o644); err != nil {
		return nil, err
	}
	return &Certs{
		KeystorePassword: pw,
		ServerTLS: &tls.Config{
			Certificates: []tls.Certificate{server.TLSCertificate()},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    ca.Pool(),
			MinVersion:   tls.VersionTLS12,
		},
	}, nil
}

func randomSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// RandomSecret returns a fresh random password for demo credentials.
func RandomSecret() string { return randomSecret() }

// Server is a running partner.
type Server struct {
	*Partner
	Addr string
	srv  *http.Server
}

// Serve starts the partner on addr ("127.0.0.1:0" picks a port) with TLS
// (nil tlsConf serves plain HTTP, for tests of non-TLS connections).
func Serve(addr string, tlsConf *tls.Config, p *Partner) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("starting the example partner on %s: %w", addr, err)
	}
	s := &Server{Partner: p, Addr: ln.Addr().String(), srv: &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConf}}
	go func() {
		var err error
		if tlsConf != nil {
			err = s.srv.ServeTLS(ln, "", "")
		} else {
			err = s.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "example partner:", err)
		}
	}()
	return s, nil
}

// Close stops the partner.
func (s *Server) Close() error { return s.srv.Close() }
