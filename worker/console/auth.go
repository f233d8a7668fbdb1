package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Role is what an identity may do: read-only people look, operators also
// act (cancel, terminate, test-run, pause schedules).
type Role string

// Roles, in one list for flags, messages and docs.
const (
	RoleReadOnly Role = "read-only"
	RoleOperator Role = "operator"
)

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case RoleReadOnly, RoleOperator:
		return Role(s), nil
	case "readonly", "read":
		return RoleReadOnly, nil
	}
	return "", fmt.Errorf("console: unknown role %q (known: %s, %s)", s, RoleReadOnly, RoleOperator)
}

// Identity is who made a request, as the authentication mode knows them.
type Identity struct {
	Name string
	Role Role
	// Method is the authentication mode that vouched for the identity.
	Method AuthMode
}

// String names the identity in logs and in what Temporal records.
func (id Identity) String() string { return fmt.Sprintf("%s (%s, %s)", id.Name, id.Method, id.Role) }

// CanOperate says the identity may run operations.
func (id Identity) CanOperate() bool { return id.Role == RoleOperator }

// AuthMode is how the console authenticates people.
type AuthMode string

// Authentication modes.
const (
	// AuthNone trusts whoever reaches the listener; only on loopback.
	AuthNone   AuthMode = "none"
	AuthBearer AuthMode = "bearer"
	AuthBasic  AuthMode = "basic"
	AuthMTLS   AuthMode = "mtls"
)

// AuthModes lists the modes, for flags and messages.
var AuthModes = []AuthMode{AuthNone, AuthBearer, AuthBasic, AuthMTLS}

// Token is a bearer token, given as its value (resolved from a secret
// reference by the caller) and kept only as a SHA-256 digest.
type Token struct {
	Name  string
	Role  Role
	Value string
}

// User is a basic-auth user with a bcrypt password hash.
type User struct {
	Name string
	Role Role
	Hash string
}

// AllowRule admits client certificates that match: "cn:NAME", "dns:NAME",
// "email:ADDR", "uri:URI" or a whole subject as Go prints it
// ("CN=alice,O=Ops").
type AllowRule struct {
	Match string
	Role  Role
}

// AuthConfig says how the console authenticates people.
type AuthConfig struct {
	Mode AuthMode
	// LocalRole is the role of everyone in mode none (operator if empty).
	LocalRole Role
	Tokens    []Token
	Users     []User
	// ClientCAs verify client certificates in mode mtls; Allow then says
	// which of them get in and with what role.
	ClientCAs *x509.CertPool
	Allow     []AllowRule
}

// CheckListen is the console's listening policy: on a loopback address any
// mode will do; anywhere else it needs an authentication mode other than
// none, and TLS, so that passwords and tokens do not cross the network in
// the clear. host is the host part of the listening address.
func CheckListen(host string, a AuthConfig, hasTLS bool) error {
	if IsLoopbackHost(host) {
		return a.validate(hasTLS)
	}
	if a.Mode == AuthNone || a.Mode == "" {
		return fmt.Errorf("console: listening on %q, which is not a loopback address, needs an authentication mode (--auth %s, %s or %s)",
			host, AuthBearer, AuthBasic, AuthMTLS)
	}
	if !hasTLS {
		return fmt.Errorf("console: listening on %q with --auth %s needs TLS (--tls-cert and --tls-key): credentials would cross the network in the clear", host, a.Mode)
	}
	return a.validate(hasTLS)
}

func (a AuthConfig) validate(hasTLS bool) error {
	switch a.Mode {
	case AuthNone, "":
		return nil
	case AuthBearer:
		if len(a.Tokens) == 0 {
			return errors.New("console: --auth bearer needs at least one --token")
		}
		for _, t := range a.Tokens {
			if len(t.Value) < 16 {
				return fmt.Errorf("console: bearer token %q is shorter than 16 characters", t.Name)
			}
		}
	case AuthBasic:
		if len(a.Users) == 0 {
			return errors.New("console: --auth basic needs at least one --basic-user")
		}
		for _, u := range a.Users {
			if _, err := bcrypt.Cost([]byte(u.Hash)); err != nil {
				return fmt.Errorf("console: user %q: the password hash is not a bcrypt hash: %w", u.Name, err)
			}
		}
	case AuthMTLS:
		if !hasTLS {
			return errors.New("console: --auth mtls needs TLS (--tls-cert and --tls-key)")
		}
		if a.ClientCAs == nil {
			return errors.New("console: --auth mtls needs --client-ca")
		}
		if len(a.Allow) == 0 {
			return errors.New("console: --auth mtls needs an allow-list (--allow ROLE:MATCH); without one every certificate of the CA would get in")
		}
	default:
		return fmt.Errorf("console: unknown authentication mode %q (known: none, bearer, basic, mtls)", a.Mode)
	}
	return nil
}

// IsLoopbackHost reports whether host (a name or an address, without
// port) is a loopback address. "localhost" counts; other names do not,
// since they may resolve anywhere.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// authenticator turns a request into an identity.
type authenticator struct {
	cfg AuthConfig
	// loopback is the policy's view of where requests may come from in
	// mode none: a request from anywhere else is refused.
	loopback func(remoteAddr string) bool
	tokens   []tokenDigest
	sessions *sessions
}

type tokenDigest struct {
	name   string
	role   Role
	digest [32]byte
}

func newAuthenticator(cfg AuthConfig) *authenticator {
	a := &authenticator{cfg: cfg, sessions: newSessions(), loopback: remoteIsLoopback}
	for _, t := range cfg.Tokens {
		a.tokens = append(a.tokens, tokenDigest{name: t.Name, role: t.Role, digest: sha256.Sum256([]byte(t.Value))})
	}
	return a
}

func remoteIsLoopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	return IsLoopbackHost(host)
}

// errUnauthenticated: no credentials, or wrong ones (401); errForbidden:
// credentials that are right but not allowed here (403).
var (
	errUnauthenticated = errors.New("console: authentication required")
	errForbidden       = errors.New("console: not allowed")
)

func (a *authenticator) identify(r *http.Request) (Identity, error) {
	switch a.cfg.Mode {
	case AuthNone, "":
		if !a.loopback(r.RemoteAddr) {
			return Identity{}, fmt.Errorf("%w: the console has no authentication and answers only on loopback, not %s", errForbidden, r.RemoteAddr)
		}
		role := a.cfg.LocalRole
		if role == "" {
			role = RoleOperator
		}
		return Identity{Name: "local", Role: role, Method: AuthNone}, nil
	case AuthBearer:
		tok := ""
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
			tok = strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
		}
		if tok != "" {
			if id, ok := a.token(tok); ok {
				return id, nil
			}
			return Identity{}, errUnauthenticated
		}
		if c, err := r.Cookie(sessionCookie); err == nil {
			if id, ok := a.sessions.get(c.Value); ok {
				return id, nil
			}
		}
		return Identity{}, errUnauthenticated
	case AuthBasic:
		user, pw, ok := r.BasicAuth()
		if !ok {
			return Identity{}, errUnauthenticated
		}
		for _, u := range a.cfg.Users {
			if subtle.ConstantTimeCompare([]byte(u.Name), []byte(user)) == 1 {
				if bcrypt.CompareHashAndPassword([]byte(u.Hash), []byte(pw)) == nil {
					return Identity{Name: u.Name, Role: u.Role, Method: AuthBasic}, nil
				}
				return Identity{}, errUnauthenticated
			}
		}
		// Spend the time a known user would cost, so that timing does not
		// tell which names exist.
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(pw))
		return Identity{}, errUnauthenticated
	case AuthMTLS:
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			return Identity{}, fmt.Errorf("%w: a client certificate from the configured CA is required", errUnauthenticated)
		}
		leaf := r.TLS.VerifiedChains[0][0]
		for _, rule := range a.cfg.Allow {
			if certMatches(leaf, rule.Match) {
				return Identity{Name: certName(leaf), Role: rule.Role, Method: AuthMTLS}, nil
			}
		}
		return Identity{}, fmt.Errorf("%w: the client certificate %q is not in the allow-list", errForbidden, leaf.Subject.String())
	}
	return Identity{}, errUnauthenticated
}

var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("outflow-console-timing"), bcrypt.MinCost)

func (a *authenticator) token(tok string) (Identity, bool) {
	d := sha256.Sum256([]byte(tok))
	for _, t := range a.tokens {
		if subtle.ConstantTimeCompare(d[:], t.digest[:]) == 1 {
			return Identity{Name: t.name, Role: t.role, Method: AuthBearer}, true
		}
	}
	return Identity{}, false
}

func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}

// certMatches applies one allow-list entry to a verified client certificate.
func certMatches(c *x509.Certificate, match string) bool {
	kind, val, ok := strings.Cut(match, ":")
	if ok {
		switch strings.ToLower(kind) {
		case "cn":
			return c.Subject.CommonName == val
		case "dns":
			for _, n := range c.DNSNames {
				if strings.EqualFold(n, val) {
					return true
				}
			}
			return false
		case "email":
			for _, n := range c.EmailAddresses {
				if strings.EqualFold(n, val) {
					return true
				}
			}
			return false
		case "uri":
			for _, u := range c.URIs {
				if u.String() == val {
					return true
				}
			}
			return false
		}
	}
	return c.Subject.String() == match
}

// ParseAllowRule reads "ROLE:MATCH", such as "operator:cn:alice" or
// "read-only:CN=bob,O=Ops".
func ParseAllowRule(s string) (AllowRule, error) {
	role, match, ok := strings.Cut(s, ":")
	if !ok || match == "" {
		return AllowRule{}, fmt.Errorf("console: --allow %q: want ROLE:MATCH, such as operator:cn:alice or read-only:dns:ops.example.com", s)
	}
	r, err := ParseRole(role)
	if err != nil {
		return AllowRule{}, err
	}
	return AllowRule{Match: match, Role: r}, nil
}

// ParseUser reads "NAME:ROLE:BCRYPT-HASH".
func ParseUser(s string) (User, error) {
	parts := strings.SplitN(s, ":", 3)
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
		return User{}, errors.New("console: a basic user is NAME:ROLE:BCRYPT-HASH (make the hash with `outflow console hash-password`)")
	}
	r, err := ParseRole(parts[1])
	if err != nil {
		return User{}, err
	}
	if _, err := bcrypt.Cost([]byte(parts[2])); err != nil {
		return User{}, fmt.Errorf("console: user %q: the password hash is not a bcrypt hash: %w", parts[0], err)
	}
	return User{Name: parts[0], Role: r, Hash: parts[2]}, nil
}

// ServerTLS is the console's TLS configuration: its certificate, and in
// mode mtls the client certificates it asks for and verifies.
func ServerTLS(cert tls.Certificate, a AuthConfig) *tls.Config {
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if a.Mode == AuthMTLS {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = a.ClientCAs
	}
	return cfg
}

// sessions are the bearer logins of browsers: a random id in a cookie
// stands for the identity its token proved, for sessionTTL.
type sessions struct {
	mu sync.Mutex
	m  map[string]session
}

type session struct {
	id      Identity
	expires time.Time
}

const (
	sessionCookie = "outflow_session"
	sessionTTL    = 12 * time.Hour
)

func newSessions() *sessions { return &sessions{m: map[string]session{}} }

func (s *sessions) add(id Identity) string {
	key := randomString(32)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for k, v := range s.m {
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	s.m[key] = session{id: id, expires: now.Add(sessionTTL)}
	return key
}

func (s *sessions) get(key string) (Identity, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok || time.Now().After(v.expires) {
		return Identity{}, false
	}
	return v.id, true
}

func (s *sessions) remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}

// csrf makes and checks the token every form carries: an HMAC, under a key
// made when the console starts, of a random value in a cookie and the
// identity. A page of another site can neither read the token nor make it.
type csrf struct{ key []byte }

const csrfCookie = "outflow_csrf"

func (c *csrf) token(nonce string, id Identity) string {
	m := hmac.New(sha256.New, c.key)
	fmt.Fprintf(m, "%s\x00%s\x00%s", nonce, id.Method, id.Name)
	return fmt.Sprintf("%x", m.Sum(nil))
}

func (c *csrf) valid(nonce string, id Identity, got string) bool {
	if nonce == "" || got == "" {
		return false
	}
	return hmac.Equal([]byte(c.token(nonce, id)), []byte(got))
}
