package tlsclient

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/outflow-dev/outflow/steps/keystore"
)

// material is a profile's client certificate, read from its keystore file
// and re-read when the file changes. Checking costs a stat per handshake;
// the file is read again only when its size, modification time or identity
// changed, and parsed again only when its content did.
type material struct {
	path, password, keyPassword, alias string
	warnWithin                         time.Duration
	log                                *slog.Logger

	mu      sync.Mutex
	info    os.FileInfo
	hash    [sha256.Size]byte
	badHash [sha256.Size]byte // content that failed to load, not retried
	loaded  *loaded
	// warned is when expiry was last warned about: a worker runs for
	// months, so the warning repeats daily once the certificate is close.
	warned time.Time
}

// loaded is one generation of key material; it never changes once made.
type loaded struct {
	cert *tls.Certificate
	// notes are the keystore's error and warning problems, for Diagnose.
	notes []string
	// issuerNames are the raw issuer names along the presented chain: a
	// server's list of acceptable CAs matches one of them if it trusts us.
	issuerNames [][]byte
	generation  uint64
}

func newMaterial(path, password, keyPassword, alias string, warnWithin time.Duration, log *slog.Logger) (*material, error) {
	m := &material{path: path, password: password, keyPassword: keyPassword, alias: alias, warnWithin: warnWithin, log: log}
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := m.load(info, data); err != nil {
		return nil, err
	}
	return m, nil
}

// load parses data and, if it yields a client certificate, makes it current.
func (m *material) load(info os.FileInfo, data []byte) error {
	store, err := keystore.Load(data, m.password, m.keyPassword, m.alias)
	if err != nil {
		return err
	}
	cert, err := store.TLSCertificate()
	if err != nil {
		return err
	}
	now := time.Now()
	var notes []string
	for _, p := range store.Problems(now, m.warnWithin) {
		if p.Severity == keystore.SeverityInfo || !aboutPresented(p, cert.Leaf, store.Selected()) {
			continue
		}
		notes = append(notes, p.Message)
		m.log.Warn("client certificate problem: "+p.Message, "keystore", m.path, "code", p.Code)
	}
	next := &loaded{cert: &cert, notes: notes, generation: 1}
	if m.loaded != nil {
		next.generation = m.loaded.generation + 1
	}
	for _, c := range store.Selected().Chain {
		next.issuerNames = append(next.issuerNames, c.RawIssuer)
	}
	m.info, m.hash, m.loaded = info, sha256.Sum256(data), next
	if cert.Leaf.NotAfter.Sub(now) < m.warnWithin {
		m.warned = now // the problems logged above said it
	}
	return nil
}

// warnExpiry logs, at most daily, that the presented certificate expires
// within the warning window or has expired.
func (m *material) warnExpiry(now time.Time) {
	leaf := m.loaded.cert.Leaf
	left := leaf.NotAfter.Sub(now)
	if left >= m.warnWithin || now.Sub(m.warned) < 24*time.Hour {
		return
	}
	m.warned = now
	if left < 0 {
		m.log.Error("the client certificate has expired: servers will reject it; renew it and replace the keystore file",
			"keystore", m.path, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter)
		return
	}
	m.log.Warn("the client certificate expires soon; renew it and replace the keystore file (no restart needed)",
		"keystore", m.path, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter, "days_left", int(left.Hours()/24))
}

// aboutPresented keeps the problems of the entry that is presented (and the
// store-wide ones), not those of other entries or trusted certificates.
func aboutPresented(p keystore.Problem, leaf *x509.Certificate, sel *keystore.Entry) bool {
	if p.Alias != "" && sel != nil && p.Alias != sel.Alias {
		return false
	}
	if p.Subject == "" || sel == nil {
		return true
	}
	for _, c := range sel.Chain {
		if c.Subject.String() == p.Subject {
			return true
		}
	}
	return false
}

// current returns the key material to present. If the file was replaced by
// one that cannot be used, the last good material stays current and a
// warning is logged once for that content: a half-written file or a wrong
// password must not take a working integration down.
func (m *material) current() *loaded {
	m.mu.Lock()
	defer m.mu.Unlock()
	info, err := os.Stat(m.path)
	if err != nil {
		m.log.Warn("keystore cannot be read; the certificate loaded before is still presented", "keystore", m.path, "error", err)
		return m.loaded
	}
	if sameFile(info, m.info) {
		m.warnExpiry(time.Now())
		return m.loaded
	}
	data, err := os.ReadFile(m.path)
	if err != nil {
		m.log.Warn("keystore cannot be read; the certificate loaded before is still presented", "keystore", m.path, "error", err)
		return m.loaded
	}
	sum := sha256.Sum256(data)
	switch {
	case bytes.Equal(sum[:], m.hash[:]):
		m.info = info // touched, not changed
	case bytes.Equal(sum[:], m.badHash[:]):
	default:
		if err := m.load(info, data); err != nil {
			m.badHash = sum
			m.log.Warn("keystore changed on disk but cannot be used; the certificate loaded before is still presented: "+err.Error(), "keystore", m.path)
			break
		}
		leaf := m.loaded.cert.Leaf
		m.log.Info("keystore changed on disk; presenting the new client certificate from the next handshake",
			"keystore", m.path, "subject", leaf.Subject.String(), "serial", keystore.SerialHex(leaf.SerialNumber), "not_after", leaf.NotAfter)
	}
	m.warnExpiry(time.Now())
	return m.loaded
}

func sameFile(a, b os.FileInfo) bool {
	return b != nil && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && os.SameFile(a, b)
}

// readTrustFile reads the certificates of one trust file: PEM, DER, or a
// keystore of trusted certificates.
func readTrustFile(path, password string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	store, err := keystore.Load(data, password, "", "")
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	certs := store.Certificates()
	if len(certs) == 0 {
		return nil, fmt.Errorf("reading %q: %w", path, errNoTrustedCerts)
	}
	return certs, nil
}
