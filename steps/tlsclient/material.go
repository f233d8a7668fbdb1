package tlsclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/outflow-dev/outflow/steps/keystore"
)

// material is a profile's client certificate: read from files and re-read
// when they change (a keystore; a certificate and key; a certificate whose
// key is in a PKCS#11 token), or issued by Vault and issued again before it
// expires. Checking files costs a stat per file per handshake; they are read
// again only when a size, modification time or identity changed, and parsed
// again only when the content did.
type material struct {
	// what names the key material in logs ("keystore /etc/pki/client.p12").
	what string
	// files are read and given to parse, in order, when one changes; none
	// for issued material.
	files []string
	parse func(data [][]byte) (*keystore.Store, error)
	// issue, for issued material, gets a new certificate; the material
	// asks for one at two thirds of the current one's lifetime.
	issue func(ctx context.Context) (*keystore.Store, error)
	// source says where the key is, for the TLS facts of the new forms
	// ("vault pki/issue/partner", "pkcs11 token ..."); empty for keystores.
	source string
	// onRenew runs after an issued certificate replaced the one before.
	onRenew    func()
	warnWithin time.Duration
	log        *slog.Logger
	now        func() time.Time

	mu      sync.Mutex
	infos   []os.FileInfo
	hash    [sha256.Size]byte
	badHash [sha256.Size]byte // content that failed to load, not retried
	loaded  *loaded
	// warned is when expiry was last warned about: a worker runs for
	// months, so the warning repeats daily once the certificate is close.
	warned time.Time
	// renewAt is when an issued certificate is asked for again; renewing
	// is true while that runs; retryAt delays the next try after a
	// failure, whose error lastErr is.
	renewAt, retryAt time.Time
	renewing         chan struct{} // closed when the renewal under way ends
	lastErr          error
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
	// source says where the key is, for the TLS facts of the new forms
	// ("vault pki/issue/partner", "pkcs11 token ..."); empty for keystores.
	source string
}

// maxKeyFile bounds what is read of a keystore, certificate or key file:
// real ones are kilobytes; a path that names something else (a log, a
// device) must not fill the worker's memory.
const maxKeyFile = 8 << 20

// readKeyFile reads a regular file of at most maxKeyFile bytes. A device,
// a pipe or a folder would block or make no sense.
func readKeyFile(path string) ([]byte, os.FileInfo, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file (%s): name the keystore or certificate file itself", path, info.Mode().Type())
	}
	if info.Size() > maxKeyFile {
		return nil, nil, fmt.Errorf("%s is %d bytes, larger than any keystore (at most %d MiB): is it the right file?", path, info.Size(), maxKeyFile>>20)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > maxKeyFile {
		return nil, nil, fmt.Errorf("%s grew past %d MiB while being read", path, maxKeyFile>>20)
	}
	return data, info, nil
}

// newMaterial reads the keystore file at path (JKS, PKCS#12 or PEM).
func newMaterial(path, password, keyPassword, alias string, warnWithin time.Duration, log *slog.Logger) (*material, error) {
	m := &material{what: "keystore " + path, files: []string{path}, warnWithin: warnWithin, log: log,
		parse: func(data [][]byte) (*keystore.Store, error) {
			return keystore.Load(data[0], password, keyPassword, alias)
		}}
	if err := m.init(); err != nil {
		return nil, err
	}
	return m, nil
}

// newFilesMaterial reads a certificate and a key from separate PEM files,
// with more of the chain from a third when chain is not empty.
func newFilesMaterial(cert, key, chain, keyPassword string, warnWithin time.Duration, log *slog.Logger) (*material, error) {
	files := []string{cert, key}
	if chain != "" {
		files = append(files, chain)
	}
	m := &material{what: fmt.Sprintf("certificate %s and key %s", cert, key), files: files, warnWithin: warnWithin, log: log,
		parse: func(data [][]byte) (*keystore.Store, error) {
			return keystore.Load(joinPEM(data...), "", keyPassword, "")
		}}
	if err := m.init(); err != nil {
		return nil, err
	}
	return m, nil
}

// joinPEM puts PEM files one after the other, each on its own lines.
func joinPEM(parts ...[]byte) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		b.Write(p)
		if len(p) > 0 && p[len(p)-1] != '\n' {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func (m *material) clock() time.Time {
	if m.now != nil {
		return m.now()
	}
	return time.Now()
}

// init loads the material the first time; an error fails the transport.
func (m *material) init() error {
	if m.issue != nil {
		store, err := m.issue(context.Background())
		if err != nil {
			return err
		}
		return m.install(store)
	}
	data, infos, err := m.read()
	if err != nil {
		return err
	}
	store, err := m.parse(data)
	if err != nil {
		return err
	}
	if err := m.load(store); err != nil {
		return err
	}
	m.infos, m.hash = infos, digest(data)
	return nil
}

func (m *material) read() ([][]byte, []os.FileInfo, error) {
	data := make([][]byte, len(m.files))
	infos := make([]os.FileInfo, len(m.files))
	for i, f := range m.files {
		var err error
		if data[i], infos[i], err = readKeyFile(f); err != nil {
			return nil, nil, err
		}
	}
	return data, infos, nil
}

// digest hashes the files' contents, each with its length so that moving
// bytes from one file to the next is a change.
func digest(data [][]byte) [sha256.Size]byte {
	h := sha256.New()
	for _, d := range data {
		fmt.Fprintf(h, "%d:", len(d))
		h.Write(d)
	}
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out
}

// load makes store's selected entry current if it yields a client
// certificate.
func (m *material) load(store *keystore.Store) error {
	cert, err := store.TLSCertificate()
	if err != nil {
		return err
	}
	now := m.clock()
	var notes []string
	for _, p := range store.Problems(now, m.warnWithin) {
		if p.Severity == keystore.SeverityInfo || !aboutPresented(p, cert.Leaf, store.Selected()) {
			continue
		}
		if m.issue != nil && p.Code == keystore.CodeExpiringSoon {
			continue // issued for a short time on purpose, and renewed
		}
		notes = append(notes, p.Message)
		m.log.Warn("client certificate problem: "+p.Message, "keystore", m.what, "code", p.Code)
	}
	next := &loaded{cert: &cert, notes: notes, generation: 1, source: m.source}
	if m.loaded != nil {
		next.generation = m.loaded.generation + 1
	}
	for _, c := range store.Selected().Chain {
		next.issuerNames = append(next.issuerNames, c.RawIssuer)
	}
	m.loaded = next
	if cert.Leaf.NotAfter.Sub(now) < m.warnWithin {
		m.warned = now // the problems logged above said it
	}
	return nil
}

// install makes an issued certificate current and schedules its renewal
// at two thirds of its lifetime, counted from now (issuers backdate
// NotBefore against clock skew).
func (m *material) install(store *keystore.Store) error {
	if err := m.load(store); err != nil {
		return err
	}
	now := m.clock()
	leaf := m.loaded.cert.Leaf
	m.renewAt = now.Add(leaf.NotAfter.Sub(now) * 2 / 3)
	m.retryAt, m.lastErr = time.Time{}, nil
	return nil
}

// warnExpiry logs, at most daily, that the presented certificate expires
// within the warning window or has expired.
func (m *material) warnExpiry(now time.Time) {
	if m.issue != nil {
		return // renewed before it expires; failures to renew are logged
	}
	leaf := m.loaded.cert.Leaf
	left := leaf.NotAfter.Sub(now)
	if left >= m.warnWithin || now.Sub(m.warned) < 24*time.Hour {
		return
	}
	m.warned = now
	if left < 0 {
		m.log.Error("the client certificate has expired: servers will reject it; renew it and replace the keystore file",
			"keystore", m.what, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter)
		return
	}
	m.log.Warn("the client certificate expires soon; renew it and replace the keystore file (no restart needed)",
		"keystore", m.what, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter, "days_left", int(left.Hours()/24))
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

// current returns the key material to present. If the files were replaced
// by ones that cannot be used, the last good material stays current and a
// warning is logged once for that content: a half-written file, a rotation
// half done (a new certificate with the old key) or a wrong password must
// not take a working integration down. Issued material is renewed in the
// background once two thirds of its lifetime have passed.
func (m *material) current() *loaded {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock()
	if m.issue != nil {
		m.renewIfDue(now)
		return m.loaded
	}
	m.refresh()
	m.warnExpiry(now)
	return m.loaded
}

func (m *material) refresh() {
	infos := make([]os.FileInfo, len(m.files))
	same := true
	for i, f := range m.files {
		info, err := os.Stat(f)
		if err != nil {
			m.log.Warn("keystore cannot be read; the certificate loaded before is still presented", "keystore", m.what, "error", err)
			return
		}
		infos[i] = info
		same = same && i < len(m.infos) && sameFile(info, m.infos[i])
	}
	if same {
		return
	}
	data, infos, err := m.read()
	if err != nil {
		m.log.Warn("keystore cannot be read; the certificate loaded before is still presented", "keystore", m.what, "error", err)
		return
	}
	sum := digest(data)
	switch sum {
	case m.hash:
		m.infos = infos // touched, not changed
		return
	case m.badHash:
		return
	}
	store, err := m.parse(data)
	if err == nil {
		err = m.load(store)
	}
	if err != nil {
		m.badHash = sum
		if len(m.files) > 1 {
			m.log.Warn("the certificate and key files changed but do not make a usable pair (a rotation half done: a new certificate with the old key, or the other way round); "+
				"the pair loaded before is still presented until both files are replaced: "+err.Error(), "keystore", m.what)
			return
		}
		m.log.Warn("keystore changed on disk but cannot be used; the certificate loaded before is still presented: "+err.Error(), "keystore", m.what)
		return
	}
	m.infos, m.hash = infos, sum
	leaf := m.loaded.cert.Leaf
	m.log.Info("keystore changed on disk; presenting the new client certificate from the next handshake",
		"keystore", m.what, "subject", leaf.Subject.String(), "serial", keystore.SerialHex(leaf.SerialNumber), "not_after", leaf.NotAfter)
}

// renewIfDue starts the renewal of an issued certificate when it is due.
// Handshakes go on presenting the current certificate, still valid for a
// third of its lifetime, while the new one is fetched; only when it has
// expired (a worker idle for longer than the lifetime) do they wait for the
// new one.
func (m *material) renewIfDue(now time.Time) {
	expired := !now.Before(m.loaded.cert.Leaf.NotAfter)
	if m.renewing == nil && !now.Before(m.renewAt) && !now.Before(m.retryAt) {
		done := make(chan struct{})
		m.renewing = done
		go m.renew(done)
	}
	if done := m.renewing; done != nil && expired {
		m.mu.Unlock()
		<-done
		m.mu.Lock()
	}
}

// renewalDue reports whether an issued certificate should be asked for
// again now and no renewal is under way.
func (m *material) renewalDue() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock()
	return m.renewing == nil && !now.Before(m.renewAt) && !now.Before(m.retryAt)
}

// renew asks for a new certificate and installs it.
func (m *material) renew(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	store, err := m.issue(ctx)
	cancel()
	m.mu.Lock()
	defer m.mu.Unlock()
	defer close(done)
	m.renewing = nil
	if err == nil {
		err = m.install(store)
	}
	now := m.clock()
	leaf := m.loaded.cert.Leaf
	if err != nil {
		m.lastErr = err
		wait := leaf.NotAfter.Sub(now) / 10
		wait = min(max(wait, time.Second), time.Minute)
		m.retryAt = now.Add(wait)
		if !now.Before(leaf.NotAfter) {
			m.log.Error("the issued client certificate has expired and a new one cannot be issued; servers will reject the old one: "+err.Error(),
				"keystore", m.what, "not_after", leaf.NotAfter, "retry_in", wait.Round(time.Second))
			return
		}
		m.log.Warn("a new client certificate cannot be issued yet; the current one is presented until it expires: "+err.Error(),
			"keystore", m.what, "not_after", leaf.NotAfter, "retry_in", wait.Round(time.Second))
		return
	}
	m.log.Info("issued a new client certificate; presenting it from the next handshake",
		"keystore", m.what, "serial", keystore.SerialHex(leaf.SerialNumber), "not_after", leaf.NotAfter)
	if m.onRenew != nil {
		m.onRenew()
	}
}

// expiredError says why expired issued material is still presented.
func (m *material) expiredError(l *loaded) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.issue == nil || m.lastErr == nil || m.clock().Before(l.cert.Leaf.NotAfter) {
		return nil
	}
	return &keystore.Error{Code: keystore.CodeExpired, Message: fmt.Sprintf("the client certificate issued for %s expired on %s and a new one cannot be issued",
		m.what, l.cert.Leaf.NotAfter.UTC().Format(time.RFC3339)), Err: m.lastErr}
}

func sameFile(a, b os.FileInfo) bool {
	return b != nil && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && os.SameFile(a, b)
}

// readTrustFile reads the certificates of one trust file: PEM, DER, or a
// keystore of trusted certificates.
func readTrustFile(path, password string) ([]*x509.Certificate, error) {
	data, _, err := readKeyFile(path)
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

// firstCertificate returns the first certificate of a PEM or DER file.
func firstCertificate(data []byte) (*x509.Certificate, error) {
	store, err := keystore.Load(data, "", "", "")
	if err != nil {
		return nil, err
	}
	for _, e := range store.Entries {
		if len(e.Chain) > 0 {
			return e.Chain[0], nil
		}
	}
	return nil, errors.New("no certificate")
}
