// Package oauth2test is an OAuth 2.0 authorization server and a protected
// API for tests, written from RFC 6749 (client credentials grant, §4.4;
// error answers, §5.2), RFC 8705 (mutual-TLS client authentication, §2, and
// certificate-bound access tokens, §3) and RFC 7523 (private_key_jwt client
// assertions). Both run on one TLS server that requires a client
// certificate on every connection.
//
// The token endpoint (/oauth2/token) authenticates registered clients by
// secret (Basic or form), by a certificate issued by the test CA whose
// subject matches the registration (tls_client_auth), by the exact
// registered certificate (self_signed_tls_client_auth), or by a JWT signed
// with the registered certificate's key (private_key_jwt). It issues JWT
// access tokens signed with HMAC-SHA256 and bound to the certificate the
// client presented (cnf.x5t#S256). Protect wraps a handler so that it
// accepts only a valid, unexpired, unrevoked token whose binding matches
// the certificate of the connection it arrives on.
package oauth2test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

// TokenPath is where the token endpoint is served.
const TokenPath = "/oauth2/token"

// Client is a registered client.
type Client struct {
	ID string
	// Method is the token_endpoint_auth_method: client_secret_basic,
	// client_secret_post, tls_client_auth, self_signed_tls_client_auth or
	// private_key_jwt.
	Method string
	// Secret, for the client_secret_* methods.
	Secret string
	// SubjectDN is the subject a tls_client_auth client's certificate must
	// have (RFC 8705 §2.1.2, tls_client_auth_subject_dn), as
	// pkix.Name.String() writes it.
	SubjectDN string
	// Certificate is the self-signed certificate of a
	// self_signed_tls_client_auth client, or the certificate whose key signs
	// a private_key_jwt client's assertions.
	Certificate *x509.Certificate
	// Scopes the client may ask for; empty means any.
	Scopes []string
}

// Server is the authorization server and the protected API.
type Server struct {
	// CA issues the server's certificate and the clients' certificates;
	// tls_client_auth trusts it.
	CA *devpki.CA
	// URL is the server's base URL, such as https://127.0.0.1:40123.
	URL string
	// Lifetime of issued tokens (expires_in). Default: an hour.
	Lifetime time.Duration
	// Opaque makes the server issue opaque tokens (random strings it
	// remembers) instead of JWTs.
	Opaque bool
	// Unbound issues tokens without a cnf claim.
	Unbound bool

	srv  *httptest.Server
	mac  []byte
	mu   sync.Mutex
	reg  map[string]*Client
	fail []Failure
	// boundTo overrides the cnf of the next tokens (to simulate a token
	// endpoint that saw another certificate).
	boundTo string
	opaque  map[string]tokenClaims
	revoked map[string]bool
	issued  []string
	// accessTokens are the tokens issued, for tests to search for.
	accessTokens []string
	jtis         map[string]bool
	// refuseAll, when set, is the reason the API refuses every token.
	refuseAll string
	// counters
	tokens, apiCalls, rejected int
	lastForm                   url.Values
}

// Failure is an answer the token endpoint gives to the next token request
// instead of a token.
type Failure struct {
	Status int
	// Error and Description are the RFC 6749 §5.2 error and
	// error_description.
	Error, Description string
	// Body, when set, is sent as it is (text/plain) instead.
	Body string
}

type tokenClaims struct {
	Iss      string         `json:"iss"`
	Sub      string         `json:"sub"`
	Aud      string         `json:"aud,omitempty"`
	Scope    string         `json:"scope,omitempty"`
	Iat      int64          `json:"iat"`
	Exp      int64          `json:"exp"`
	Jti      string         `json:"jti"`
	Cnf      map[string]any `json:"cnf,omitempty"`
	Audience string         `json:"-"`
}

// Start starts a server whose API is api wrapped by Protect (nil: an API
// that answers GET /api/whoami with the client and certificate it saw).
func Start(api http.Handler) (*Server, error) {
	ca, err := devpki.NewCA("OAuth Test CA", nil)
	if err != nil {
		return nil, err
	}
	leaf, err := ca.IssueServer("127.0.0.1", []string{"127.0.0.1", "localhost"}, nil)
	if err != nil {
		return nil, err
	}
	s := &Server{CA: ca, mac: make([]byte, 32), reg: map[string]*Client{}, opaque: map[string]tokenClaims{}, revoked: map[string]bool{}, jtis: map[string]bool{}}
	if _, err := rand.Read(s.mac); err != nil {
		return nil, err
	}
	if api == nil {
		api = http.HandlerFunc(whoami)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+TokenPath, s.token)
	mux.Handle("/", s.Protect(api))
	s.srv = httptest.NewUnstartedServer(mux)
	s.srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{leaf.TLSCertificate()},
		// Every connection must present a certificate; which ones are
		// accepted is decided per request (tls_client_auth trusts the CA,
		// self_signed_tls_client_auth the registered certificate).
		ClientAuth: tls.RequireAnyClientCert,
		MinVersion: tls.VersionTLS12,
	}
	s.srv.StartTLS()
	s.URL = s.srv.URL
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// CloseClientConnections closes the connections clients keep open.
func (s *Server) CloseClientConnections() { s.srv.CloseClientConnections() }

// CAPEM is the CA certificate, for a client's trust store.
func (s *Server) CAPEM() []byte { return s.CA.CertPEM() }

// Register adds or replaces a client.
func (s *Server) Register(c Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := c
	s.reg[c.ID] = &cp
}

// FailNext makes the next token requests fail, one failure each.
func (s *Server) FailNext(f ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, f...)
}

// BindNextTokensTo makes the token endpoint bind the tokens it issues to
// thumbprint instead of the presented certificate ("" restores).
func (s *Server) BindNextTokensTo(thumbprint string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.boundTo = thumbprint
}

// RevokeAll revokes every token issued so far: the API answers 401 to them.
func (s *Server) RevokeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, jti := range s.issued {
		s.revoked[jti] = true
	}
}

// RefuseAllTokens makes the API answer 401 with reason to every token, valid
// or not; "" restores normal checks.
func (s *Server) RefuseAllTokens(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseAll = reason
}

// AccessTokens are the access tokens issued so far, for tests that search
// records and histories for them.
func (s *Server) AccessTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.accessTokens...)
}

// TokenRequests counts the token requests answered with a token.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens
}

// APICalls counts the API requests let through; Rejected the ones refused.
func (s *Server) APICalls() (accepted, rejected int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiCalls, s.rejected
}

// LastTokenForm is the form of the last token request, client_secret and
// client_assertion removed.
func (s *Server) LastTokenForm() url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastForm
}

// Thumbprint is a certificate's x5t#S256.
func Thumbprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// oauthError answers as RFC 6749 §5.2 says.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the body is not a form")
		return
	}
	form := r.PostForm
	s.mu.Lock()
	rec := url.Values{}
	for k, v := range form {
		if k != "client_secret" && k != "client_assertion" {
			rec[k] = v
		}
	}
	s.lastForm = rec
	if len(s.fail) > 0 {
		f := s.fail[0]
		s.fail = s.fail[1:]
		s.mu.Unlock()
		if f.Body != "" {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(f.Status)
			_, _ = w.Write([]byte(f.Body))
			return
		}
		oauthError(w, f.Status, f.Error, f.Description)
		return
	}
	s.mu.Unlock()

	if gt := form.Get("grant_type"); gt != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not supported; use client_credentials", gt))
		return
	}
	client, status, code, desc := s.authenticate(r, form)
	if client == nil {
		oauthError(w, status, code, desc)
		return
	}
	scope := form.Get("scope")
	if len(client.Scopes) > 0 {
		for _, sc := range strings.Fields(scope) {
			if !contains(client.Scopes, sc) {
				oauthError(w, http.StatusBadRequest, "invalid_scope", fmt.Sprintf("scope %q is not allowed for client %s", sc, client.ID))
				return
			}
		}
	}
	lifetime := s.Lifetime
	if lifetime == 0 {
		lifetime = time.Hour
	}
	now := time.Now()
	jti := make([]byte, 12)
	_, _ = rand.Read(jti)
	c := tokenClaims{Iss: s.URL, Sub: client.ID, Aud: form.Get("audience"), Scope: scope, Iat: now.Unix(), Exp: now.Add(lifetime).Unix(), Jti: hex.EncodeToString(jti)}
	s.mu.Lock()
	bind := s.boundTo
	s.mu.Unlock()
	if bind == "" && len(r.TLS.PeerCertificates) > 0 {
		bind = Thumbprint(r.TLS.PeerCertificates[0])
	}
	if !s.Unbound && bind != "" {
		c.Cnf = map[string]any{"x5t#S256": bind}
	}
	var access string
	if s.Opaque {
		access = "opaque-" + hex.EncodeToString(jti)
		s.mu.Lock()
		s.opaque[access] = c
		s.mu.Unlock()
	} else {
		access = s.sign(c)
	}
	s.mu.Lock()
	s.tokens++
	s.issued = append(s.issued, c.Jti)
	s.accessTokens = append(s.accessTokens, access)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": access, "token_type": "Bearer", "expires_in": int(lifetime.Seconds()), "scope": scope,
	})
}

// authenticate finds and authenticates the client (RFC 6749 §2.3, RFC 8705
// §2, RFC 7523 §3). A client must use exactly its registered method.
func (s *Server) authenticate(r *http.Request, form url.Values) (c *Client, status int, code, desc string) {
	user, pass, hasBasic := r.BasicAuth()
	var id, method string
	switch {
	case hasBasic:
		u, err1 := url.QueryUnescape(user)
		p, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return nil, 400, "invalid_request", "the Basic credentials are not form-encoded"
		}
		id, pass, method = u, p, "client_secret_basic"
		if form.Has("client_secret") {
			return nil, 400, "invalid_request", "the client used more than one authentication method"
		}
	case form.Has("client_assertion"):
		id, method = form.Get("client_id"), "private_key_jwt"
	case form.Has("client_secret"):
		id, pass, method = form.Get("client_id"), form.Get("client_secret"), "client_secret_post"
	default:
		id = form.Get("client_id")
	}
	s.mu.Lock()
	reg := s.reg[id]
	s.mu.Unlock()
	if reg == nil {
		return nil, 401, "invalid_client", fmt.Sprintf("unknown client %q", id)
	}
	if method == "" {
		method = reg.Method // tls_client_auth or self_signed: no secret
		if method != "tls_client_auth" && method != "self_signed_tls_client_auth" {
			return nil, 401, "invalid_client", "client authentication missing"
		}
	}
	if method != reg.Method {
		return nil, 401, "invalid_client", fmt.Sprintf("client %s is registered for %s, not %s", id, reg.Method, method)
	}
	var peer *x509.Certificate
	var chain []*x509.Certificate
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		peer, chain = r.TLS.PeerCertificates[0], r.TLS.PeerCertificates[1:]
	}
	switch method {
	case "client_secret_basic", "client_secret_post":
		if subtle.ConstantTimeCompare([]byte(pass), []byte(reg.Secret)) != 1 {
			return nil, 401, "invalid_client", "client authentication failed: wrong client secret"
		}
	case "tls_client_auth":
		if peer == nil {
			return nil, 401, "invalid_client", "no client certificate"
		}
		inter := x509.NewCertPool()
		for _, c := range chain {
			inter.AddCert(c)
		}
		if _, err := peer.Verify(x509.VerifyOptions{Roots: s.CA.Pool(), Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			return nil, 401, "invalid_client", "the client certificate is not issued by a trusted CA: " + err.Error()
		}
		if peer.Subject.String() != reg.SubjectDN {
			return nil, 401, "invalid_client", fmt.Sprintf("the client certificate subject %q does not match the registered tls_client_auth_subject_dn %q", peer.Subject.String(), reg.SubjectDN)
		}
	case "self_signed_tls_client_auth":
		if peer == nil || reg.Certificate == nil || !peer.Equal(reg.Certificate) {
			return nil, 401, "invalid_client", "the client certificate is not the one registered for this client"
		}
	case "private_key_jwt":
		if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			return nil, 400, "invalid_request", "unsupported client_assertion_type"
		}
		if err := s.checkAssertion(form.Get("client_assertion"), reg); err != nil {
			return nil, 401, "invalid_client", "client assertion rejected: " + err.Error()
		}
	}
	return reg, 0, "", ""
}

// checkAssertion verifies a private_key_jwt client assertion (RFC 7523 §3).
func (s *Server) checkAssertion(jwt string, reg *Client) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return errors.New("not a JWT")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	var cl struct {
		Iss, Sub, Aud, Jti string
		Exp, Iat           int64
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return err
	}
	if err := decodeSegment(parts[1], &cl); err != nil {
		return err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	if reg.Certificate == nil {
		return errors.New("no key registered")
	}
	input := []byte(parts[0] + "." + parts[1])
	digest := sha256.Sum256(input)
	switch k := reg.Certificate.PublicKey.(type) {
	case *ecdsa.PublicKey:
		if hdr.Alg != "ES256" || len(sig) != 64 {
			return fmt.Errorf("alg %s with a P-256 key", hdr.Alg)
		}
		r, sv := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(k, digest[:], r, sv) {
			return errors.New("bad signature")
		}
	case *rsa.PublicKey:
		if hdr.Alg != "RS256" || rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) != nil {
			return errors.New("bad signature")
		}
	case ed25519.PublicKey:
		if hdr.Alg != "EdDSA" || !ed25519.Verify(k, input, sig) {
			return errors.New("bad signature")
		}
	default:
		return errors.New("unsupported key")
	}
	if cl.Iss != reg.ID || cl.Sub != reg.ID {
		return errors.New("iss and sub must be the client id")
	}
	if cl.Aud != s.URL+TokenPath {
		return fmt.Errorf("aud %q is not the token endpoint", cl.Aud)
	}
	if time.Now().Unix() > cl.Exp {
		return errors.New("expired")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cl.Jti == "" || s.jtis[cl.Jti] {
		return errors.New("jti missing or used before")
	}
	s.jtis[cl.Jti] = true
	return nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (s *Server) sign(c tokenClaims) string {
	h, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "at+jwt"})
	p, _ := json.Marshal(c)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	m := hmac.New(sha256.New, s.mac)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify checks a token's signature and returns its claims.
func (s *Server) verify(tok string) (tokenClaims, error) {
	var c tokenClaims
	s.mu.Lock()
	oc, isOpaque := s.opaque[tok]
	s.mu.Unlock()
	if isOpaque {
		return oc, nil
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c, errors.New("the token is not one this server issued")
	}
	m := hmac.New(sha256.New, s.mac)
	m.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, m.Sum(nil)) {
		return c, errors.New("the token signature is invalid")
	}
	return c, decodeSegment(parts[1], &c)
}

type claimsKey struct{}

// Protect lets a request through to next only with a valid bearer token
// bound to the certificate of its connection (RFC 8705 §3); otherwise it
// answers 401 with an RFC 6750 challenge and a JSON body saying why.
func (s *Server) Protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func(desc string) {
			s.mu.Lock()
			s.rejected++
			s.mu.Unlock()
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="invalid_token", error_description=%q`, desc))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_token", "error_description": desc})
		}
		auth := r.Header.Get("Authorization")
		scheme, tok, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			refuse("no bearer token")
			return
		}
		c, err := s.verify(tok)
		if err != nil {
			refuse(err.Error())
			return
		}
		s.mu.Lock()
		revoked, refuseAll := s.revoked[c.Jti], s.refuseAll
		s.mu.Unlock()
		if refuseAll != "" {
			refuse(refuseAll)
			return
		}
		if revoked {
			refuse("the access token has been revoked")
			return
		}
		if time.Now().Unix() >= c.Exp {
			refuse("the access token expired")
			return
		}
		if bound, _ := c.Cnf["x5t#S256"].(string); bound != "" {
			if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
				refuse("the token is certificate-bound but no client certificate was presented")
				return
			}
			if got := Thumbprint(r.TLS.PeerCertificates[0]); got != bound {
				refuse(fmt.Sprintf("the token is bound to certificate %s but the connection presented %s", bound, got))
				return
			}
		}
		s.mu.Lock()
		s.apiCalls++
		s.mu.Unlock()
		next.ServeHTTP(w, r.WithContext(contextWith(r, c)))
	})
}

func contextWith(r *http.Request, c tokenClaims) context.Context {
	return context.WithValue(r.Context(), claimsKey{}, c)
}

func whoami(w http.ResponseWriter, r *http.Request) {
	c, _ := r.Context().Value(claimsKey{}).(tokenClaims)
	out := map[string]any{"client_id": c.Sub, "scope": c.Scope}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		out["certificate"] = r.TLS.PeerCertificates[0].Subject.CommonName
		out["x5t#S256"] = Thumbprint(r.TLS.PeerCertificates[0])
	}
	if b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20)); err == nil && len(b) > 0 {
		out["body"] = string(b)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
