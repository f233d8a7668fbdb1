// Package vaulttest is a Vault server for tests that speaks the parts of
// Vault's HTTP API Outflow uses for certificates, written from Vault's API
// documentation: the PKI secrets engine's "generate certificate and key"
// (POST /v1/:mount/issue/:name), "read role" (GET /v1/:mount/roles/:name)
// and "read CA certificate chain" (GET /v1/:mount/ca_chain), and the AppRole
// login (POST /v1/auth/approle/login).
//
// No Vault-compatible server can be built where Outflow's tests run:
// Vault's server module is under the Business Source License since 1.15,
// has replace directives that break it as a dependency, and would link
// hundreds of modules into the tests; OpenBao's server module is not
// served by the Go module proxy here. So tests talk to this one, over TLS,
// as the worker talks to Vault.
package vaulttest

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

// Role is a PKI role.
type Role struct {
	// AllowedDomains, with AllowSubdomains and AllowBareDomains, are the
	// names the role issues for; AllowAnyName lifts the limit.
	AllowedDomains                    []string
	AllowSubdomains, AllowBareDomains bool
	AllowAnyName                      bool
	// TTL is the lifetime when the request gives none; MaxTTL caps it.
	TTL, MaxTTL time.Duration
	// RSA makes RSA 2048 keys (PKCS#1 PEM, as Vault writes them), else
	// ECDSA P-256 (SEC1 PEM).
	RSA bool
}

// Server is the fake Vault. Its fields may be changed between requests
// under Lock.
type Server struct {
	*httptest.Server
	// Root and Intermediate are the PKI mount's CA: Intermediate issues.
	Root, Intermediate *devpki.CA
	// Token is the token requests must carry; AppRole logins with RoleID
	// and SecretID get fresh tokens accepted too.
	Token            string
	RoleID, SecretID string

	mu     sync.Mutex
	now    func() time.Time
	mount  string
	roles  map[string]Role
	tokens map[string]bool
	// Down makes every request fail with 503, as a sealed Vault answers.
	down     bool
	requests map[string]int // by "METHOD path"
	issued   []Issued
}

// Issued is one certificate the server issued.
type Issued struct {
	Serial     string
	CommonName string
	PrivateKey string
	NotAfter   time.Time
}

// New starts a Vault with a PKI engine at mount and the given roles.
func New(t testing.TB, mount, token string, roles map[string]Role) *Server {
	t.Helper()
	root, err := devpki.NewCA("Vault Test Root CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.NewIntermediate("Vault Test Intermediate CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Root: root, Intermediate: inter, Token: token, RoleID: "outflow-role-id", SecretID: "approle-secret-7c1d",
		mount: mount, roles: roles, tokens: map[string]bool{token: true}, requests: map[string]int{}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// CAPEM is the certificate the server's TLS certificate is issued by, for
// a client's trust store.
func (s *Server) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

// SetClock makes the server issue certificates valid from now() on, for
// tests that move time forward; nil means time.Now.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetDown makes the server answer 503 (down) or serve again.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// SetRole adds or replaces a role.
func (s *Server) SetRole(name string, r Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[name] = r
}

// Requests counts the requests to "METHOD /v1/path".
func (s *Server) Requests(methodPath string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[methodPath]
}

// AllRequests counts every request the server answered.
func (s *Server) AllRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.requests {
		n += c
	}
	return n
}

// Issued returns the certificates issued so far.
func (s *Server) Issued() []Issued {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func errorsOf(msg ...string) map[string]any { return map[string]any{"errors": msg} }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[r.Method+" "+r.URL.Path]++
	if s.down {
		reply(w, http.StatusServiceUnavailable, errorsOf("Vault is sealed"))
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/v1/auth/approle/login" {
		var in struct {
			RoleID   string `json:"role_id"`
			SecretID string `json:"secret_id"`
		}
		if json.NewDecoder(r.Body).Decode(&in) != nil || in.RoleID != s.RoleID || in.SecretID != s.SecretID {
			reply(w, http.StatusBadRequest, errorsOf("invalid role or secret ID"))
			return
		}
		tok := fmt.Sprintf("approle-token-%d", len(s.tokens))
		s.tokens[tok] = true
		reply(w, http.StatusOK, map[string]any{"auth": map[string]any{"client_token": tok, "lease_duration": 3600, "renewable": true}})
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/"+s.mount+"/")
	if !ok {
		reply(w, http.StatusNotFound, errorsOf("no handler for route \""+strings.TrimPrefix(r.URL.Path, "/v1/")+"\". route entry not found."))
		return
	}
	if r.Method == http.MethodGet && rest == "ca_chain" {
		// Unauthenticated, PEM, as Vault serves it.
		w.Header().Set("Content-Type", "application/pem-certificate-chain")
		for _, c := range s.Intermediate.Chain() {
			_ = pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
		return
	}
	if !s.tokens[r.Header.Get("X-Vault-Token")] {
		reply(w, http.StatusForbidden, errorsOf("permission denied"))
		return
	}
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(rest, "roles/"):
		role, ok := s.roles[strings.TrimPrefix(rest, "roles/")]
		if !ok {
			reply(w, http.StatusNotFound, errorsOf())
			return
		}
		keyType, bits := "ec", 256
		if role.RSA {
			keyType, bits = "rsa", 2048
		}
		reply(w, http.StatusOK, map[string]any{"data": map[string]any{
			"ttl": int64(role.TTL / time.Second), "max_ttl": int64(role.MaxTTL / time.Second), "key_type": keyType, "key_bits": bits,
			"allowed_domains": role.AllowedDomains, "allow_subdomains": role.AllowSubdomains, "allow_bare_domains": role.AllowBareDomains,
			"allow_any_name": role.AllowAnyName, "allow_ip_sans": true, "client_flag": true, "server_flag": true}})
	case (r.Method == http.MethodPost || r.Method == http.MethodPut) && strings.HasPrefix(rest, "issue/"):
		s.issue(w, r, strings.TrimPrefix(rest, "issue/"))
	default:
		reply(w, http.StatusNotFound, errorsOf())
	}
}

func (s *Server) issue(w http.ResponseWriter, r *http.Request, roleName string) {
	role, ok := s.roles[roleName]
	if !ok {
		reply(w, http.StatusBadRequest, errorsOf("unknown role: "+roleName))
		return
	}
	var in struct {
		CommonName string `json:"common_name"`
		AltNames   string `json:"alt_names"`
		IPSANs     string `json:"ip_sans"`
		TTL        string `json:"ttl"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		reply(w, http.StatusBadRequest, errorsOf("failed to parse JSON input: "+err.Error()))
		return
	}
	if in.CommonName == "" {
		reply(w, http.StatusBadRequest, errorsOf("the common_name field is required, or must be provided in a CSR with \"use_csr_common_name\" set to true, unless \"require_cn\" is set to false"))
		return
	}
	names := []string{in.CommonName}
	for n := range strings.SplitSeq(in.AltNames, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	for _, n := range names {
		if !role.allows(n) {
			reply(w, http.StatusBadRequest, errorsOf(fmt.Sprintf("common name %s not allowed by this role", n)))
			return
		}
	}
	ttl := role.TTL
	if in.TTL != "" {
		d, err := time.ParseDuration(in.TTL)
		if err != nil {
			reply(w, http.StatusBadRequest, errorsOf("invalid ttl: "+err.Error()))
			return
		}
		ttl = d
	}
	if ttl <= 0 {
		ttl = 30 * 24 * time.Hour
	}
	if role.MaxTTL > 0 && ttl > role.MaxTTL {
		ttl = role.MaxTTL
	}
	hosts := append(names[1:], splitList(in.IPSANs)...)
	now := time.Now()
	if s.now != nil {
		now = s.now()
	}
	// Vault backdates certificates by 30 seconds against clock skew.
	leaf, err := s.Intermediate.IssueServer(in.CommonName, hosts, &devpki.Options{RSA: role.RSA, NotBefore: now.Add(-30 * time.Second), NotAfter: now.Add(ttl),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}})
	if err != nil {
		reply(w, http.StatusInternalServerError, errorsOf(err.Error()))
		return
	}
	keyPEM, keyType := vaultKeyPEM(leaf, role.RSA)
	serial := colonHex(leaf.Cert.SerialNumber.Bytes())
	var chain []string
	for _, c := range s.Intermediate.Chain() {
		chain = append(chain, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})))
	}
	s.issued = append(s.issued, Issued{Serial: serial, CommonName: in.CommonName, PrivateKey: keyPEM, NotAfter: leaf.Cert.NotAfter})
	reply(w, http.StatusOK, map[string]any{
		"request_id": fmt.Sprintf("req-%d", len(s.issued)), "lease_id": "", "renewable": false, "lease_duration": 0,
		"data": map[string]any{
			"certificate":      string(leaf.CertPEM()),
			"issuing_ca":       chain[0],
			"ca_chain":         chain,
			"private_key":      keyPEM,
			"private_key_type": keyType,
			"serial_number":    serial,
			"expiration":       leaf.Cert.NotAfter.Unix(),
		},
		"warnings": nil,
	})
}

func (r Role) allows(name string) bool {
	if r.AllowAnyName {
		return true
	}
	for _, d := range r.AllowedDomains {
		if (r.AllowBareDomains && name == d) || (r.AllowSubdomains && strings.HasSuffix(name, "."+d)) {
			return true
		}
	}
	return false
}

func splitList(s string) []string {
	var out []string
	for n := range strings.SplitSeq(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// vaultKeyPEM writes the key as Vault's default private_key_format does:
// PKCS#1 for RSA, SEC1 for EC.
func vaultKeyPEM(leaf *devpki.Leaf, _ bool) (string, string) {
	switch k := leaf.Key.(type) {
	case *rsa.PrivateKey:
		return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})), "rsa"
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			panic(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})), "ec"
	}
	panic(fmt.Sprintf("vaulttest: key of type %T", leaf.Key))
}

// colonHex writes a serial number as Vault does: "39:dd:2e:...".
func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, ":")
}
