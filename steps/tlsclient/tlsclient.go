// Package tlsclient builds the HTTP transports REST and SOAP steps call
// partners with: mutual TLS from a protocol profile, resolved at run time on
// the worker that runs the step.
//
// One *http.Transport serves each (profile name, profile definition, key
// material), so keep-alive connections and TLS sessions are shared by every
// step and execution using the profile. The client certificate is read from
// disk when a handshake needs it: a keystore replaced on disk is presented
// from the next handshake on, without a restart, and TLS sessions made with
// the old certificate are not resumed.
package tlsclient

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

// SecretResolver returns the value a secret reference ("env:NAME",
// "file:PATH", "vault:...") names. Values never leave the worker: they are
// not logged, not put in errors, and not kept in cache keys.
type SecretResolver func(ctx context.Context, ref string) (string, error)

// DefaultExpiryWarning is how long before a client certificate expires the
// cache starts logging warnings, when the profile sets no expiry_warning.
const DefaultExpiryWarning = 30 * 24 * time.Hour

// Cache hands out one transport per profile and key material. The zero value
// is ready to use; a Cache is safe for concurrent use.
type Cache struct {
	// Logger receives warnings: insecure_skip_verify in use, certificates
	// about to expire, keystores that fail to reload, revocation status
	// unknown under fail_open. Nil means slog.Default().
	Logger *slog.Logger
	// RevocationClient fetches CRLs and OCSP responses. Nil means a plain
	// client with a 10 second timeout.
	RevocationClient *http.Client
	// DisableResumption turns TLS session resumption off, so every new
	// connection makes a full handshake: for servers whose resumption is
	// broken, and for measuring handshakes.
	DisableResumption bool

	mu      sync.Mutex
	entries map[string]*entry
	salt    []byte // keys the hash of secrets in cache keys

	full, resumed atomic.Int64
	byProfile     sync.Map // profile name → *profileHandshakes
}

type profileHandshakes struct{ full, resumed atomic.Int64 }

// NewCache returns a cache that logs to logger (slog.Default() when nil).
// It is the same as &Cache{Logger: logger}.
func NewCache(logger *slog.Logger) *Cache { return &Cache{Logger: logger} }

// HandshakeStats counts the TLS handshakes a Cache's transports made.
type HandshakeStats struct {
	// Full handshakes exchanged certificates; Resumed ones reused a TLS
	// session and skipped that work.
	Full, Resumed int64
}

// Handshakes returns how many handshakes the cache's transports have made
// so far. A handshake is counted once the server's certificate has been
// checked (or, with insecure_skip_verify, received).
func (c *Cache) Handshakes() HandshakeStats {
	return HandshakeStats{Full: c.full.Load(), Resumed: c.resumed.Load()}
}

// HandshakesByProfile returns Handshakes per protocol profile name ("" for
// connections without a profile).
func (c *Cache) HandshakesByProfile() map[string]HandshakeStats {
	out := map[string]HandshakeStats{}
	c.byProfile.Range(func(k, v any) bool {
		ph := v.(*profileHandshakes)
		out[k.(string)] = HandshakeStats{Full: ph.full.Load(), Resumed: ph.resumed.Load()}
		return true
	})
	return out
}

// ClientCertificate is the certificate a profile's transport presents.
type ClientCertificate struct {
	Profile  string
	Subject  string
	NotAfter time.Time
}

// ClientCertificates lists the client certificates the cache's transports
// currently present, one per profile that has a keystore, as last loaded
// (a replaced keystore file shows once a handshake has read it).
func (c *Cache) ClientCertificates() []ClientCertificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []ClientCertificate
	for _, e := range c.entries {
		if e.material == nil {
			continue
		}
		e.material.mu.Lock()
		l := e.material.loaded
		e.material.mu.Unlock()
		if l == nil || l.cert == nil || l.cert.Leaf == nil {
			continue
		}
		out = append(out, ClientCertificate{Profile: e.profile, Subject: l.cert.Leaf.Subject.String(), NotAfter: l.cert.Leaf.NotAfter})
	}
	return out
}

// CloseIdleConnections closes the idle connections of every transport.
func (c *Cache) CloseIdleConnections() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.entries {
		e.transport.CloseIdleConnections()
	}
}

type entry struct {
	profile   string
	transport *http.Transport
	material  *material // nil when the profile has no keystore
}

// Transport returns the transport for profile, building it on first use. It
// resolves the profile's secrets with resolve on every call, so a rotated
// password yields a new transport; paths relative to baseDir are resolved
// against it. A nil profile means system roots and no client certificate.
//
// The transport presents the profile's keystore whenever a server asks for
// a client certificate: a caller whose connection has mutual_auth off should
// pass a copy of the profile without Keystore.
//
// Errors explain the problem in plain words: a *keystore.Error (wrapped) for
// key material that cannot be used, or a resolver error.
func (c *Cache) Transport(ctx context.Context, profile *engine.ProtocolProfile, baseDir string, resolve SecretResolver) (*http.Transport, error) {
	if profile == nil {
		profile = &engine.ProtocolProfile{}
	}
	cfg, err := resolveProfile(ctx, profile, baseDir, resolve)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.salt == nil {
		c.salt = make([]byte, 32)
		rand.Read(c.salt)
	}
	key, err := cfg.cacheKey(c.salt)
	if err != nil {
		return nil, err
	}
	if e := c.entries[key]; e != nil {
		return e.transport, nil
	}
	e, err := c.build(cfg)
	if err != nil {
		return nil, err
	}
	if c.entries == nil {
		c.entries = map[string]*entry{}
	}
	// A profile changed (definition, password or trust files): the old
	// transport's pooled connections would never be used again.
	for k, old := range c.entries {
		if old.profile == profile.Name {
			old.transport.CloseIdleConnections()
			delete(c.entries, k)
		}
	}
	c.entries[key] = e
	return e.transport, nil
}

// profileConfig is a profile with its secrets resolved and paths made
// absolute.
type profileConfig struct {
	profile       *engine.ProtocolProfile
	keystorePath  string
	storePassword string
	keyPassword   string
	trustPaths    []string
	trustPassword string
	trustStamps   []string
}

func resolveProfile(ctx context.Context, p *engine.ProtocolProfile, baseDir string, resolve SecretResolver) (*profileConfig, error) {
	cfg := &profileConfig{profile: p}
	secret := func(what string, ref *engine.SecretRef) (string, error) {
		if ref == nil || ref.Ref == "" {
			return "", nil
		}
		if resolve == nil {
			return "", fmt.Errorf("resolving %s of profile %q: no secret resolver", what, p.Name)
		}
		v, err := resolve(ctx, ref.Ref)
		if err != nil {
			return "", fmt.Errorf("resolving %s of profile %q (%s): %w", what, p.Name, ref.Ref, err)
		}
		return v, nil
	}
	var err error
	if ks := p.Keystore; ks != nil && ks.Path != "" {
		cfg.keystorePath = absPath(baseDir, ks.Path)
		if cfg.storePassword, err = secret("keystore.password", ks.Password); err != nil {
			return nil, err
		}
		if cfg.keyPassword, err = secret("keystore.key_password", ks.KeyPassword); err != nil {
			return nil, err
		}
	}
	if ts := p.Truststore; ts != nil {
		if cfg.trustPassword, err = secret("truststore.password", ts.Password); err != nil {
			return nil, err
		}
		for _, path := range ts.Paths {
			abs := absPath(baseDir, path)
			fi, err := os.Stat(abs)
			if err != nil {
				return nil, fmt.Errorf("reading truststore of profile %q: %w", p.Name, err)
			}
			cfg.trustPaths = append(cfg.trustPaths, abs)
			// Trust files are read when the transport is built; a changed
			// file (new stamp) makes a new transport.
			cfg.trustStamps = append(cfg.trustStamps, fmt.Sprintf("%d/%d", fi.Size(), fi.ModTime().UnixNano()))
		}
	}
	return cfg, nil
}

func absPath(baseDir, p string) string {
	if filepath.IsAbs(p) || baseDir == "" {
		return filepath.Clean(p)
	}
	return filepath.Join(baseDir, p)
}

// cacheKey identifies the transport: the profile's definition (where it was
// defined does not matter), the files, and the secrets, under a keyed hash
// so that the key reveals nothing of them.
func (cfg *profileConfig) cacheKey(salt []byte) (string, error) {
	def := *cfg.profile
	def.Source = ""
	b, err := json.Marshal(struct {
		Def                       engine.ProtocolProfile
		Keystore                  string
		Trust, Stamps             []string
		Store, KeyPass, TrustPass string
	}{def, cfg.keystorePath, cfg.trustPaths, cfg.trustStamps, cfg.storePassword, cfg.keyPassword, cfg.trustPassword})
	if err != nil {
		return "", fmt.Errorf("hashing profile %q: %w", cfg.profile.Name, err)
	}
	mac := hmac.New(sha256.New, salt)
	mac.Write(b)
	clear(b)
	return cfg.profile.Name + "/" + hex.EncodeToString(mac.Sum(nil)), nil
}

func (c *Cache) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

func (c *Cache) build(cfg *profileConfig) (*entry, error) {
	p := cfg.profile
	log := c.logger().With("profile", p.Name)
	minVersion, err := parseMinVersion(p.MinVersion)
	if err != nil {
		return nil, fmt.Errorf("building transport for profile %q: %w", p.Name, err)
	}
	roots, err := loadTrust(cfg, log)
	if err != nil {
		return nil, fmt.Errorf("loading truststore of profile %q: %w", p.Name, err)
	}

	e := &entry{profile: p.Name}
	tlsCfg := &tls.Config{
		MinVersion: minVersion,
		ServerName: p.ServerName,
		RootCAs:    roots,
		// Verification stays on unless the profile itself says otherwise.
		InsecureSkipVerify: p.InsecureSkipVerify,
		// IIS and other servers ask for the client certificate by
		// renegotiating once the request path is known.
		Renegotiation: tls.RenegotiateOnceAsClient,
	}
	if p.InsecureSkipVerify {
		log.Warn("TLS SERVER VERIFICATION IS OFF for this profile (insecure_skip_verify: true): " +
			"any server, or anyone between Outflow and it, can read and change this traffic; use it only in tests")
	}

	warnWithin := p.ExpiryWarning.D()
	if warnWithin == 0 {
		warnWithin = DefaultExpiryWarning
	}
	if cfg.keystorePath != "" {
		ks := p.Keystore
		e.material, err = newMaterial(cfg.keystorePath, cfg.storePassword, cfg.keyPassword, ks.Alias, warnWithin, log)
		if err != nil {
			return nil, fmt.Errorf("loading keystore %q for profile %q: %w", cfg.keystorePath, p.Name, err)
		}
	}
	tlsCfg.GetClientCertificate = e.clientCertificate

	var sessions *sessionCache
	if !c.DisableResumption {
		sessions = &sessionCache{inner: tls.NewLRUClientSessionCache(64), material: e.material}
		tlsCfg.ClientSessionCache = sessions
	}

	var revocation *revocationChecker
	if r := p.Revocation; r != nil && r.Mode != "" && r.Mode != "off" {
		if r.Mode != modeFailOpen && r.Mode != modeFailClosed {
			return nil, fmt.Errorf("building transport for profile %q: revocation mode %q is not off, fail_open or fail_closed", p.Name, r.Mode)
		}
		client := c.RevocationClient
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		revocation = newRevocationChecker(r.Mode, client, log)
	}
	tlsCfg.VerifyConnection = func(cs tls.ConnectionState) error {
		v, _ := c.byProfile.LoadOrStore(p.Name, &profileHandshakes{})
		ph := v.(*profileHandshakes)
		if cs.DidResume {
			c.resumed.Add(1)
			ph.resumed.Add(1)
		} else {
			c.full.Add(1)
			ph.full.Add(1)
		}
		if revocation != nil {
			return revocation.check(cs)
		}
		return nil
	}

	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	e.transport = &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return trackConn(ctx, conn, sessions, p.ServerName, addr), nil
		},
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: 30 * time.Second,
		// Concurrent flows keep as many connections to one partner busy as
		// they run steps at once; with 16 idle per host, 100 concurrent
		// flows handshook ~94 times per 1,000 steps instead of ~5.
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return e, nil
}

func parseMinVersion(v string) (uint16, error) {
	switch v {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("min_version %q is not supported: use \"1.2\" or \"1.3\"", v)
}

// clientCertificate answers a server's certificate request with the current
// key material, and notes the request on the connection for facts and
// diagnosis.
func (e *entry) clientCertificate(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
	var cur *loaded
	if e.material != nil {
		cur = e.material.current()
	}
	if p := probeFrom(cri.Context()); p != nil {
		p.certificateRequested(cri, cur)
	}
	if cur == nil {
		// No keystore: send no certificate and let the server decide.
		return &tls.Certificate{}, nil
	}
	return cur.cert, nil
}

// sessionCache keeps TLS sessions per key-material generation: a session
// resumed after a keystore rotation would go on presenting the old
// certificate (the server remembers it in the session), so sessions of an
// older generation are never offered. Looking a session up is also where a
// rotated keystore is noticed, since it happens at the start of every
// handshake.
//
// It also remembers, per server, what the last full handshake of each
// generation presented: a resumed session carries the identity of the full
// handshake it came from, and that is what the step's TLS facts report.
type sessionCache struct {
	inner    tls.ClientSessionCache
	material *material

	mu         sync.Mutex
	identities map[string]identity // "generation|server" → identity
}

// identity is how a full handshake authenticated Outflow: the certificate
// presented, nil when the server asked for none.
type identity struct {
	presented *loaded
}

// maxIdentities bounds the servers remembered per transport; past it the
// memory starts over (a resumed session then reports no identity rather
// than a wrong one).
const maxIdentities = 1024

// remember records what a full handshake with server presented.
func (s *sessionCache) remember(server string, id identity) {
	gen := s.generation()
	if id.presented != nil {
		gen = id.presented.generation
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.identities == nil || len(s.identities) >= maxIdentities {
		s.identities = map[string]identity{}
	}
	s.identities[fmt.Sprintf("%d|%s", gen, server)] = id
}

// recall returns what the full handshake of the current generation with
// server presented, if one was observed.
func (s *sessionCache) recall(server string) (identity, bool) {
	key := fmt.Sprintf("%d|%s", s.generation(), server)
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.identities[key]
	return id, ok
}

func (s *sessionCache) generation() uint64 {
	if s.material == nil {
		return 0
	}
	return s.material.current().generation
}

func (s *sessionCache) Get(key string) (*tls.ClientSessionState, bool) {
	return s.inner.Get(fmt.Sprintf("%d|%s", s.generation(), key))
}

func (s *sessionCache) Put(key string, cs *tls.ClientSessionState) {
	s.inner.Put(fmt.Sprintf("%d|%s", s.generation(), key), cs)
}

// loadTrust builds the pool of CAs the profile trusts: nil (the system
// roots) without a truststore, else the certificates of every file, plus
// the system roots when system_roots is set.
func loadTrust(cfg *profileConfig, log *slog.Logger) (*x509.CertPool, error) {
	ts := cfg.profile.Truststore
	if ts == nil || len(cfg.trustPaths) == 0 {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if ts.SystemRoots {
		sys, err := systemRoots()
		if err != nil {
			return nil, fmt.Errorf("reading the system roots: %w", err)
		}
		pool = sys.Clone()
	}
	for _, path := range cfg.trustPaths {
		certs, err := readTrustFile(path, cfg.trustPassword)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			pool.AddCert(c)
			if time.Now().After(c.NotAfter) {
				log.Warn("a trusted certificate has expired; servers whose chain needs it will fail", "file", path, "subject", c.Subject.String(), "not_after", c.NotAfter)
			}
		}
	}
	return pool, nil
}

// systemRoots is a variable so tests can stand in a pool for the machine's.
var systemRoots = x509.SystemCertPool

var errNoTrustedCerts = errors.New("the file holds no certificate")

// PresentedCertificate returns the client certificate, with its private
// key, that rt presents at its next handshake: for a transport of a Cache,
// the profile's current key material (a keystore replaced on disk is read
// again). It returns nil when rt presents no certificate. OAuth 2.0 uses it
// to know which certificate a token request and an API call authenticate
// with, before either is sent.
func PresentedCertificate(rt http.RoundTripper) *tls.Certificate {
	for {
		w, ok := rt.(interface{ Unwrap() http.RoundTripper })
		if !ok {
			break
		}
		rt = w.Unwrap()
	}
	t, ok := rt.(*http.Transport)
	if !ok || t.TLSClientConfig == nil {
		return nil
	}
	cfg := t.TLSClientConfig
	var cert *tls.Certificate
	switch {
	case cfg.GetClientCertificate != nil:
		c, err := cfg.GetClientCertificate(&tls.CertificateRequestInfo{})
		if err != nil {
			return nil
		}
		cert = c
	case len(cfg.Certificates) > 0:
		cert = &cfg.Certificates[0]
	}
	if cert == nil || len(cert.Certificate) == 0 {
		return nil
	}
	if cert.Leaf == nil {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil
		}
		c := *cert
		c.Leaf = leaf
		cert = &c
	}
	return cert
}
