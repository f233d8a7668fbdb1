package secrets

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/outflow-dev/outflow/steps/keystore"
)

// ClientTLS is the TLS of a client that presents a certificate read from
// files: a worker's connection to Temporal, and to Vault or CyberArk. The
// client certificate is read again when its files change, at the next
// handshake, so a renewed certificate needs no restart.
type ClientTLS struct {
	// Keystore is one file holding the private key and its certificate
	// chain: a PEM bundle (leaf, intermediates, root and key in any order,
	// LF or CRLF line endings, PKCS#1, PKCS#8 or SEC1 key), a PKCS#12 or a
	// JKS file, detected from the content.
	Keystore string
	// Cert and Key are the certificate chain and the private key as two PEM
	// files, instead of Keystore.
	Cert, Key string
	// Password opens the keystore (PKCS#12, JKS) or decrypts an encrypted
	// PEM key; KeyPassword is the key's when it differs.
	Password, KeyPassword string
	// Alias picks the private-key entry of a keystore holding several.
	Alias string
	// CA lists files of certificates trusted for the server (PEM, DER, or a
	// store of trusted certificates). Empty means the system's roots.
	CA []string
	// ServerName is checked against the server's certificate; empty means
	// the host dialed.
	ServerName string
	// WarnWithin is how long before the client certificate expires a
	// warning is logged; default 30 days.
	WarnWithin time.Duration
	// Logger receives warnings about the certificate and its reloads; nil
	// means slog.Default().
	Logger *slog.Logger
}

// HasCertificate reports whether a client certificate is configured.
func (c *ClientTLS) HasCertificate() bool { return c.Keystore != "" || c.Cert != "" || c.Key != "" }

// Config reads the files and returns a TLS configuration, with the
// keystore's problems that do not prevent its use (warnings: CRLF line
// endings, a PKCS#1 key, a chain out of order, a missing clientAuth usage,
// an expiry within WarnWithin). Problems that do prevent it are the error.
func (c *ClientTLS) Config() (*tls.Config, []keystore.Problem, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if len(c.CA) > 0 {
		pool := x509.NewCertPool()
		for _, f := range c.CA {
			certs, err := readTrusted(f)
			if err != nil {
				return nil, nil, err
			}
			for _, cert := range certs {
				pool.AddCert(cert)
			}
		}
		cfg.RootCAs = pool
	}
	if !c.HasCertificate() {
		return cfg, nil, nil
	}
	switch {
	case c.Keystore != "" && (c.Cert != "" || c.Key != ""):
		return nil, nil, errors.New("loading the client certificate: give keystore, or cert and key, not both")
	case c.Keystore == "" && (c.Cert == "" || c.Key == ""):
		return nil, nil, errors.New("loading the client certificate: cert and key go together; give both, or one keystore file holding both")
	}
	fc := &fileCert{c: *c}
	if fc.c.WarnWithin == 0 {
		fc.c.WarnWithin = 30 * 24 * time.Hour
	}
	if fc.c.Logger == nil {
		fc.c.Logger = slog.Default()
	}
	problems, err := fc.loadNow()
	if err != nil {
		return nil, nil, err
	}
	cfg.GetClientCertificate = fc.get
	return cfg, problems, nil
}

// readTrusted reads the certificates of a trust file.
func readTrusted(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading CA file: %w", err)
	}
	store, err := keystore.Load(data, "", "", "")
	if err != nil {
		return nil, fmt.Errorf("reading CA file %s: %w", path, err)
	}
	certs := store.Certificates()
	if len(certs) == 0 {
		return nil, fmt.Errorf("reading CA file %s: it holds no certificate", path)
	}
	return certs, nil
}

// fileCert is a client certificate read from files and read again when they
// change. Checking costs a stat per file and handshake.
type fileCert struct {
	c ClientTLS

	mu     sync.Mutex
	stamps []string
	sum    [sha256.Size]byte // content of cur
	badSum [sha256.Size]byte // content that failed to load, not retried
	cur    *tls.Certificate
}

func (f *fileCert) files() []string {
	if f.c.Keystore != "" {
		return []string{f.c.Keystore}
	}
	return []string{f.c.Cert, f.c.Key}
}

func (f *fileCert) describe() string { return strings.Join(f.files(), " and ") }

// read returns the files' stamps (size and modification time) and content;
// a certificate and a key file are read as one PEM bundle.
func (f *fileCert) read() ([]string, []byte, error) {
	var stamps []string
	var data []byte
	for _, p := range f.files() {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the client certificate: %w", err)
		}
		stamps = append(stamps, fmt.Sprintf("%d/%d", fi.Size(), fi.ModTime().UnixNano()))
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the client certificate: %w", err)
		}
		if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
			data = append(data, '\n')
		}
		data = append(data, b...)
	}
	return stamps, data, nil
}

func (f *fileCert) stampsNow() []string {
	var stamps []string
	for _, p := range f.files() {
		fi, err := os.Stat(p)
		if err != nil {
			return nil
		}
		stamps = append(stamps, fmt.Sprintf("%d/%d", fi.Size(), fi.ModTime().UnixNano()))
	}
	return stamps
}

// parse turns the content into a certificate, with its usable problems.
func (f *fileCert) parse(data []byte) (*tls.Certificate, []keystore.Problem, error) {
	store, err := keystore.Load(data, f.c.Password, f.c.KeyPassword, f.c.Alias)
	if err != nil {
		return nil, nil, fmt.Errorf("loading the client certificate from %s: %w", f.describe(), err)
	}
	cert, err := store.TLSCertificate()
	if err != nil {
		return nil, nil, fmt.Errorf("loading the client certificate from %s: %w", f.describe(), err)
	}
	var problems []keystore.Problem
	for _, p := range store.Problems(time.Now(), f.c.WarnWithin) {
		switch p.Severity {
		case keystore.SeverityError:
			// An expired or not yet valid certificate is refused by every
			// server: say so now rather than at the handshake.
			if p.Code == keystore.CodeExpired || p.Code == keystore.CodeNotYetValid {
				return nil, nil, fmt.Errorf("loading the client certificate from %s: %s", f.describe(), p.Message)
			}
			problems = append(problems, p)
		case keystore.SeverityWarning:
			problems = append(problems, p)
		}
	}
	return &cert, problems, nil
}

func (f *fileCert) loadNow() ([]keystore.Problem, error) {
	stamps, data, err := f.read()
	if err != nil {
		return nil, err
	}
	cert, problems, err := f.parse(data)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stamps, f.sum, f.cur = stamps, sha256.Sum256(data), cert
	return problems, nil
}

// get answers a server's certificate request with the current certificate,
// reading the files again if they changed. A replaced file that cannot be
// used leaves the previous certificate in place (and is reported once): a
// half-written file must not cut a worker off.
func (f *fileCert) get(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := f.stampsNow(); now != nil && slices.Equal(now, f.stamps) {
		return f.cur, nil
	}
	stamps, data, err := f.read()
	if err != nil {
		f.c.Logger.Warn("client certificate files cannot be read; presenting the certificate loaded before", "files", f.describe(), "error", err)
		return f.cur, nil
	}
	sum := sha256.Sum256(data)
	switch sum {
	case f.sum:
		f.stamps = stamps // touched, not changed
		return f.cur, nil
	case f.badSum:
		return f.cur, nil
	}
	cert, problems, err := f.parse(data)
	if err != nil {
		f.badSum = sum
		f.c.Logger.Warn("client certificate files changed but cannot be used; presenting the certificate loaded before: "+err.Error(), "files", f.describe())
		return f.cur, nil
	}
	for _, p := range problems {
		f.c.Logger.Warn("client certificate: "+p.Message, "files", f.describe(), "code", p.Code)
	}
	f.stamps, f.sum, f.cur = stamps, sum, cert
	f.c.Logger.Info("client certificate files changed; presenting the new certificate", "files", f.describe(),
		"subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter)
	return f.cur, nil
}
