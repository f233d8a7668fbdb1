package secrets_test

// These tests talk to vaulttest, a server written from Vault's API
// documentation (no Vault-compatible server can be built here; see the
// package comment of vaulttest).

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/secrets/vaulttest"
)

const pkiToken = "hvs.pki-test-token-5d1e"

func pkiServer(t *testing.T) *vaulttest.Server {
	return vaulttest.New(t, "pki", pkiToken, map[string]vaulttest.Role{
		"partner": {AllowedDomains: []string{"outflow.example"}, AllowSubdomains: true, AllowBareDomains: true, TTL: time.Hour, MaxTTL: 24 * time.Hour},
		"rsa":     {AllowAnyName: true, RSA: true},
	})
}

func tokenVault(t *testing.T, srv *vaulttest.Server, token string) *secrets.Vault {
	t.Helper()
	v, err := secrets.NewVault(secrets.VaultOptions{Address: srv.URL, Client: srv.Client(),
		Token: func(context.Context) (string, error) { return token, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVaultIssuesCertificates(t *testing.T) {
	srv := pkiServer(t)
	v := tokenVault(t, srv, pkiToken)
	c, err := v.IssueCertificate(t.Context(), secrets.PKIRequest{Mount: "pki", Role: "partner", CommonName: "worker.outflow.example",
		AltNames: []string{"api.outflow.example", "10.1.2.3"}, TTL: 90 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode([]byte(c.Certificate))
	leaf, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "worker.outflow.example" || len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "api.outflow.example" ||
		len(leaf.IPAddresses) != 1 || leaf.IPAddresses[0].String() != "10.1.2.3" {
		t.Errorf("names: %s %v %v", leaf.Subject, leaf.DNSNames, leaf.IPAddresses)
	}
	if left := time.Until(c.Expiration); left < 89*time.Minute || left > 91*time.Minute || !c.Expiration.Equal(leaf.NotAfter) {
		t.Errorf("expiration %s (leaf %s)", c.Expiration, leaf.NotAfter)
	}
	if c.Serial == "" || !strings.Contains(c.Serial, ":") || len(c.CAChain) != 2 || !strings.Contains(c.PrivateKey, "EC PRIVATE KEY") {
		t.Errorf("answer: serial %q, %d chain certs, key %.30q", c.Serial, len(c.CAChain), c.PrivateKey)
	}
	if !strings.Contains(string(c.PEMBundle()), c.PrivateKey[:40]) {
		t.Error("bundle lacks the key")
	}
	if got := srv.Requests("POST /v1/pki/issue/partner"); got != 1 {
		t.Errorf("%d issue requests", got)
	}
	// The TTL is capped by the role, as Vault does.
	c, err = v.IssueCertificate(t.Context(), secrets.PKIRequest{Mount: "pki", Role: "partner", CommonName: "outflow.example", TTL: 48 * time.Hour})
	if err != nil || time.Until(c.Expiration) > 24*time.Hour {
		t.Errorf("capped ttl: %v %v", c, err)
	}
}

func TestVaultPKIWithAppRole(t *testing.T) {
	srv := pkiServer(t)
	v, err := secrets.NewVault(secrets.VaultOptions{Address: srv.URL, Client: srv.Client(),
		AppRole: &secrets.AppRole{RoleID: srv.RoleID, SecretID: func(context.Context) (string, error) { return srv.SecretID, nil }}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := v.IssueCertificate(t.Context(), secrets.PKIRequest{Mount: "pki", Role: "rsa", CommonName: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Requests("POST /v1/auth/approle/login"); n != 1 {
		t.Errorf("%d logins for 3 certificates", n)
	}
	if srv.Issued()[0].PrivateKey == "" || !strings.Contains(srv.Issued()[0].PrivateKey, "RSA PRIVATE KEY") {
		t.Error("rsa role did not issue an RSA key")
	}
}

// TestVaultPKIRefusals: each refusal names the path and what to check,
// never the token.
func TestVaultPKIRefusals(t *testing.T) {
	srv := pkiServer(t)
	good := tokenVault(t, srv, pkiToken)
	issue := func(v *secrets.Vault, mount, role, cn string) error {
		_, err := v.IssueCertificate(t.Context(), secrets.PKIRequest{Mount: mount, Role: role, CommonName: cn})
		return err
	}
	tests := []struct {
		name        string
		err         error
		status      int
		unreachable bool
		want        []string
	}{
		{"wrong token", issue(tokenVault(t, srv, "hvs.wrong-token-0000"), "pki", "partner", "outflow.example"), 403, false,
			[]string{"vault refused to issue a certificate from pki/issue/partner (403 permission denied)", "policy must allow update on pki/issue/partner"}},
		{"unknown role", issue(good, "pki", "partners", "outflow.example"), 400, false, []string{"unknown role: partners", "check the mount"}},
		{"name not allowed", issue(good, "pki", "partner", "evil.example"), 400, false, []string{"common name evil.example not allowed by this role"}},
		{"no such mount", issue(good, "pki-int", "partner", "outflow.example"), 404, false, []string{"no handler for route", `a PKI engine enabled at "pki-int"`}},
	}
	srv.SetDown(true)
	tests = append(tests, struct {
		name        string
		err         error
		status      int
		unreachable bool
		want        []string
	}{"sealed", issue(good, "pki", "partner", "outflow.example"), 503, true, []string{"503", "Vault is sealed"}})
	srv.SetDown(false)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	gone, _ := secrets.NewVault(secrets.VaultOptions{Address: closed.URL, Token: func(context.Context) (string, error) { return pkiToken, nil }})
	tests = append(tests, struct {
		name        string
		err         error
		status      int
		unreachable bool
		want        []string
	}{"unreachable", issue(gone, "pki", "partner", "outflow.example"), 0, true, []string{"vault at " + closed.URL + " cannot be reached"}})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pe *secrets.PKIError
			if !errors.As(tt.err, &pe) {
				t.Fatalf("%v (%T) is not a *PKIError", tt.err, tt.err)
			}
			if pe.Status != tt.status || pe.Unreachable != tt.unreachable {
				t.Errorf("status %d unreachable %v, want %d %v", pe.Status, pe.Unreachable, tt.status, tt.unreachable)
			}
			for _, w := range tt.want {
				if !strings.Contains(tt.err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, tt.err)
				}
			}
			if strings.Contains(tt.err.Error(), pkiToken) || strings.Contains(tt.err.Error(), "hvs.wrong") {
				t.Errorf("error shows a token: %v", tt.err)
			}
		})
	}
}

// TestVaultPKIRedirectNotFollowed: a redirect would carry the token to
// another server; it is refused, and the other server sees nothing.
func TestVaultPKIRedirectNotFollowed(t *testing.T) {
	var reached atomic.Int64
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) }))
	t.Cleanup(elsewhere.Close)
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirecting.Close)
	v, _ := secrets.NewVault(secrets.VaultOptions{Address: redirecting.URL, Token: func(context.Context) (string, error) { return pkiToken, nil }})
	_, err := v.IssueCertificate(t.Context(), secrets.PKIRequest{Mount: "pki", Role: "partner", CommonName: "x"})
	if err == nil || !strings.Contains(err.Error(), "a redirect is not followed") {
		t.Fatalf("redirect: %v", err)
	}
	if reached.Load() != 0 {
		t.Error("the redirect was followed")
	}
}

func TestVaultReadsPKIRole(t *testing.T) {
	srv := pkiServer(t)
	r, err := tokenVault(t, srv, pkiToken).ReadPKIRole(t.Context(), "pki", "partner")
	if err != nil {
		t.Fatal(err)
	}
	if r.TTL != time.Hour || r.MaxTTL != 24*time.Hour || r.KeyType != "ec" || !r.ClientFlag || r.RoleUnreadable != "" {
		t.Errorf("role: %+v", r)
	}
	if len(r.CAChain) != 2 || r.CAChain[0].Subject.CommonName != "Vault Test Intermediate CA" {
		t.Errorf("chain: %v", r.CAChain)
	}
	if srv.Requests("POST /v1/pki/issue/partner") != 0 {
		t.Error("reading the role issued a certificate")
	}
	// A token that may not read the role still gets the (public) chain.
	r, err = tokenVault(t, srv, "hvs.other").ReadPKIRole(t.Context(), "pki", "partner")
	if err != nil || !strings.Contains(r.RoleUnreadable, "403") || len(r.CAChain) != 2 {
		t.Errorf("unreadable role: %+v %v", r, err)
	}
}

func TestResolverHandsOutItsVault(t *testing.T) {
	srv := pkiServer(t)
	v := tokenVault(t, srv, pkiToken)
	res := secrets.New("")
	if _, ok := res.VaultPKI(); ok {
		t.Error("a resolver without vault has one")
	}
	res.Register("vault", secrets.Cached(v, time.Minute))
	if got, ok := res.VaultPKI(); !ok || got != v {
		t.Errorf("VaultPKI: %v %v", got, ok)
	}
}
