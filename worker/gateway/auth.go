package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

// Secrets resolves secret references (steps/secrets.Resolver).
type Secrets interface {
	Resolve(ctx context.Context, ref string) (string, error)
}

// authError is a refused request: Status is 401 (no or wrong credentials)
// or 403 (credentials of someone not allowed); Reason is for logs and
// metrics, never with a secret value in it.
type authError struct {
	Status int
	Reason string
}

func (e *authError) Error() string { return e.Reason }

func unauthorized(reason string) error {
	return &authError{Status: http.StatusUnauthorized, Reason: reason}
}
func forbidden(reason string) error { return &authError{Status: http.StatusForbidden, Reason: reason} }

// authenticator checks requests against one auth block. Secrets are
// resolved at each request (the resolver caches), so a rotated secret
// applies without a restart.
type authenticator struct {
	auth    *engine.InboundAuth
	secrets Secrets
	roots   *x509.CertPool
	now     func() time.Time
}

// newAuthenticator reads what the block needs from files (client CAs,
// relative to dir) and refuses a block it cannot enforce.
func newAuthenticator(a *engine.InboundAuth, s Secrets, dir string) (*authenticator, error) {
	au := &authenticator{auth: a, secrets: s, now: time.Now}
	if a == nil {
		return au, nil
	}
	if a.HMAC != nil {
		if a.HMAC.Header == "" || a.HMAC.Secret.Ref == "" {
			return nil, errors.New("hmac needs header and secret")
		}
		if _, err := hashOf(a.HMAC.Algorithm); err != nil {
			return nil, err
		}
	}
	if m := a.MTLS; m != nil {
		if len(m.ClientCA) == 0 {
			return nil, errors.New("mtls needs client_ca")
		}
		au.roots = x509.NewCertPool()
		for _, f := range m.ClientCA {
			if !filepath.IsAbs(f) {
				f = filepath.Join(dir, f)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, fmt.Errorf("reading client_ca: %w", err)
			}
			n := 0
			for {
				var b *pem.Block
				b, data = pem.Decode(data)
				if b == nil {
					break
				}
				if b.Type != "CERTIFICATE" {
					continue
				}
				c, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					return nil, fmt.Errorf("reading client_ca %s: %w", f, err)
				}
				au.roots.AddCert(c)
				n++
			}
			if n == 0 {
				return nil, fmt.Errorf("reading client_ca %s: no PEM certificate in it", f)
			}
		}
	}
	return au, nil
}

func hashOf(alg string) (func() hash.Hash, error) {
	switch alg {
	case "", "sha256":
		return sha256.New, nil
	case "sha1":
		return sha1.New, nil
	case "sha512":
		return sha512.New, nil
	}
	return nil, fmt.Errorf("unknown hmac algorithm %q (known: %s)", alg, strings.Join(engine.HMACAlgorithms, ", "))
}

// check authenticates r, whose body is body; every mode given must pass.
// A secret that cannot be resolved fails closed (500, said in the log).
func (a *authenticator) check(ctx context.Context, r *http.Request, body []byte) error {
	if a == nil || a.auth == nil {
		return nil
	}
	if m := a.auth.MTLS; m != nil {
		if err := a.checkMTLS(r, m); err != nil {
			return err
		}
	}
	if h := a.auth.HMAC; h != nil {
		if err := a.checkHMAC(ctx, r, body, h); err != nil {
			return err
		}
	}
	if b := a.auth.Bearer; b != nil {
		want, err := a.secrets.Resolve(ctx, b.Token.Ref)
		if err != nil {
			return fmt.Errorf("resolving the bearer token: %w", err)
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || got == "" {
			return unauthorized("no bearer token")
		}
		if !equal(got, want) {
			return unauthorized("wrong bearer token")
		}
	}
	if b := a.auth.Basic; b != nil {
		want, err := a.secrets.Resolve(ctx, b.Password.Ref)
		if err != nil {
			return fmt.Errorf("resolving the basic password: %w", err)
		}
		user, pw, ok := r.BasicAuth()
		if !ok {
			return unauthorized("no basic credentials")
		}
		// Both compared, so that timing says nothing about which was wrong.
		if !equal(user, b.Username) || !equal(pw, want) {
			return unauthorized("wrong basic credentials")
		}
	}
	return nil
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func (a *authenticator) checkHMAC(ctx context.Context, r *http.Request, body []byte, h *engine.HMACAuth) error {
	secret, err := a.secrets.Resolve(ctx, h.Secret.Ref)
	if err != nil {
		return fmt.Errorf("resolving the hmac secret: %w", err)
	}
	sig := r.Header.Get(h.Header)
	if sig == "" {
		return unauthorized("no signature header " + h.Header)
	}
	sig, ok := strings.CutPrefix(sig, h.Prefix)
	if !ok {
		return unauthorized("signature without prefix " + h.Prefix)
	}
	newHash, _ := hashOf(h.Algorithm)
	m := hmac.New(newHash, []byte(secret))
	if h.TimestampHeader != "" {
		ts := r.Header.Get(h.TimestampHeader)
		secs, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return unauthorized("no or malformed timestamp header " + h.TimestampHeader)
		}
		tol := h.Tolerance.D()
		if tol <= 0 {
			tol = engine.DefaultHMACTolerance.D()
		}
		if d := a.now().Sub(time.Unix(secs, 0)); d > tol || d < -tol {
			return unauthorized(fmt.Sprintf("timestamp %s away from now, outside the tolerance of %s", d.Round(time.Second), tol))
		}
		m.Write([]byte(ts + "."))
	}
	m.Write(body)
	var want []byte
	switch h.Encoding {
	case "base64":
		want = []byte(base64.StdEncoding.EncodeToString(m.Sum(nil)))
	default:
		want = []byte(hex.EncodeToString(m.Sum(nil)))
		sig = strings.ToLower(sig)
	}
	if !hmac.Equal(want, []byte(sig)) {
		return unauthorized("wrong signature")
	}
	return nil
}

func (a *authenticator) checkMTLS(r *http.Request, m *engine.MTLSAuth) error {
	if r.TLS == nil {
		return unauthorized("mutual TLS required, and the request came without TLS")
	}
	if len(r.TLS.PeerCertificates) == 0 {
		return unauthorized("no client certificate")
	}
	leaf := r.TLS.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: a.roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: a.now()}); err != nil {
		return forbidden("client certificate " + leaf.Subject.String() + " not trusted: " + err.Error())
	}
	if len(m.AllowSubjects) > 0 && slices.Contains(m.AllowSubjects, leaf.Subject.String()) {
		return nil
	}
	if len(m.AllowSANs) > 0 {
		sans := append(append([]string(nil), leaf.DNSNames...), leaf.EmailAddresses...)
		for _, u := range leaf.URIs {
			sans = append(sans, u.String())
		}
		for _, s := range sans {
			if slices.Contains(m.AllowSANs, s) {
				return nil
			}
		}
	}
	if len(m.AllowSubjects) > 0 || len(m.AllowSANs) > 0 {
		return forbidden("client certificate " + leaf.Subject.String() + " is not on the allow-list")
	}
	return nil
}
