package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/secrets"
)

const (
	hookSecret  = "whsec-9f8e7d6c5b4a"
	bearerToken = "tok-1a2b3c4d5e6f"
	basicPass   = "pw-0c0ffee0"
)

func testSecrets(t *testing.T) *secrets.Resolver {
	t.Setenv("GW_HOOK_SECRET", hookSecret)
	t.Setenv("GW_BEARER", bearerToken)
	t.Setenv("GW_BASIC", basicPass)
	return secrets.New(t.TempDir())
}

func hmacHex(secret, msg string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// TestAuthModes: every inbound mode accepts the right credentials and
// refuses the wrong ones with 401 or 403, saying why without the secret.
func TestAuthModes(t *testing.T) {
	res := testSecrets(t)
	now := time.Unix(1_800_000_000, 0)
	body := `{"delivery_id":"d1"}`
	github := &engine.InboundAuth{HMAC: &engine.HMACAuth{Header: "X-Hub-Signature-256", Secret: engine.SecretRef{Ref: "env:GW_HOOK_SECRET"}, Prefix: "sha256="}}
	stripe := &engine.InboundAuth{HMAC: &engine.HMACAuth{Header: "Stripe-Signature", Secret: engine.SecretRef{Ref: "env:GW_HOOK_SECRET"}, TimestampHeader: "X-Timestamp", Tolerance: engine.Duration(5 * time.Minute)}}
	sha1Auth := &engine.InboundAuth{HMAC: &engine.HMACAuth{Header: "X-Sig", Secret: engine.SecretRef{Ref: "env:GW_HOOK_SECRET"}, Algorithm: "sha1"}}
	shopify := &engine.InboundAuth{HMAC: &engine.HMACAuth{Header: "X-Shopify-Hmac-Sha256", Secret: engine.SecretRef{Ref: "env:GW_HOOK_SECRET"}, Encoding: "base64"}}
	bearer := &engine.InboundAuth{Bearer: &engine.BearerAuth{Token: engine.SecretRef{Ref: "env:GW_BEARER"}}}
	basic := &engine.InboundAuth{Basic: &engine.BasicAuth{Username: "partner", Password: engine.SecretRef{Ref: "env:GW_BASIC"}}}
	missing := &engine.InboundAuth{Bearer: &engine.BearerAuth{Token: engine.SecretRef{Ref: "env:GW_NOT_SET"}}}
	ts := strconv.FormatInt(now.Unix(), 10)
	stale := strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)
	sha1Sig := func() string {
		m := hmac.New(sha1.New, []byte(hookSecret))
		m.Write([]byte(body))
		return hex.EncodeToString(m.Sum(nil))
	}()
	b64 := func() string {
		m := hmac.New(sha256.New, []byte(hookSecret))
		m.Write([]byte(body))
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}()
	cases := []struct {
		name    string
		auth    *engine.InboundAuth
		headers map[string]string
		user    []string
		status  int // 0: accepted
		reason  string
	}{
		{"github ok", github, map[string]string{"X-Hub-Signature-256": "sha256=" + hmacHex(hookSecret, body)}, nil, 0, ""},
		{"github upper-case hex ok", github, map[string]string{"X-Hub-Signature-256": "sha256=" + strings.ToUpper(hmacHex(hookSecret, body))}, nil, 0, ""},
		{"github wrong signature", github, map[string]string{"X-Hub-Signature-256": "sha256=" + hmacHex("another secret", body)}, nil, 401, "wrong signature"},
		{"github no header", github, nil, nil, 401, "no signature header"},
		{"github no prefix", github, map[string]string{"X-Hub-Signature-256": hmacHex(hookSecret, body)}, nil, 401, "without prefix"},
		{"stripe ok", stripe, map[string]string{"Stripe-Signature": hmacHex(hookSecret, ts+"."+body), "X-Timestamp": ts}, nil, 0, ""},
		{"stripe stale timestamp", stripe, map[string]string{"Stripe-Signature": hmacHex(hookSecret, stale+"."+body), "X-Timestamp": stale}, nil, 401, "outside the tolerance"},
		{"stripe timestamp swapped", stripe, map[string]string{"Stripe-Signature": hmacHex(hookSecret, stale+"."+body), "X-Timestamp": ts}, nil, 401, "wrong signature"},
		{"stripe no timestamp", stripe, map[string]string{"Stripe-Signature": hmacHex(hookSecret, body)}, nil, 401, "timestamp header"},
		{"sha1 ok", sha1Auth, map[string]string{"X-Sig": sha1Sig}, nil, 0, ""},
		{"shopify base64 ok", shopify, map[string]string{"X-Shopify-Hmac-Sha256": b64}, nil, 0, ""},
		{"bearer ok", bearer, map[string]string{"Authorization": "Bearer " + bearerToken}, nil, 0, ""},
		{"bearer missing", bearer, nil, nil, 401, "no bearer token"},
		{"bearer wrong", bearer, map[string]string{"Authorization": "Bearer nope"}, nil, 401, "wrong bearer token"},
		{"bearer as basic", bearer, nil, []string{"x", bearerToken}, 401, "no bearer token"},
		{"basic ok", basic, nil, []string{"partner", basicPass}, 0, ""},
		{"basic wrong user", basic, nil, []string{"other", basicPass}, 401, "wrong basic credentials"},
		{"basic wrong password", basic, nil, []string{"partner", "guess"}, 401, "wrong basic credentials"},
		{"basic missing", basic, nil, nil, 401, "no basic credentials"},
		{"secret not resolvable", missing, map[string]string{"Authorization": "Bearer x"}, nil, 500, "GW_NOT_SET"},
		{"mtls without tls", &engine.InboundAuth{MTLS: &engine.MTLSAuth{}}, nil, nil, 401, "without TLS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := &authenticator{auth: tc.auth, secrets: res, now: func() time.Time { return now }}
			r := httptest.NewRequest(http.MethodPost, "/hooks/x", strings.NewReader(body))
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if tc.user != nil {
				r.SetBasicAuth(tc.user[0], tc.user[1])
			}
			err := a.check(context.Background(), r, []byte(body))
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			status := 500
			var ae *authError
			if errors.As(err, &ae) {
				status = ae.Status
			}
			if status != tc.status || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("got %d %v, want %d %q", status, err, tc.status, tc.reason)
			}
			for _, s := range []string{hookSecret, bearerToken, basicPass} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("the reason holds a secret: %v", err)
				}
			}
		})
	}
}

// pki is a CA the gateway trusts, one it does not, and clients of both.
type pki struct {
	ca, other       *devpki.CA
	caFile          string
	partner, other2 *devpki.Leaf
	withSAN         *devpki.Leaf
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca, err := devpki.NewCA("Gateway Test CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := devpki.NewCA("Another CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	partner, err := ca.IssueClient("partner", nil)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := other.IssueClient("partner", nil)
	if err != nil {
		t.Fatal(err)
	}
	withSAN, err := ca.IssueServer("san-client", []string{"callbacks.partner.example"}, &devpki.Options{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "clients-ca.pem")
	if err := os.WriteFile(f, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return &pki{ca: ca, other: other, caFile: f, partner: partner, other2: stranger, withSAN: withSAN}
}

// TestMTLSAllowLists checks the chain and the allow-lists on the
// certificates a TLS handshake hands over (the handshake itself is tested
// against a real TLS server in TestGatewayMutualTLS).
func TestMTLSAllowLists(t *testing.T) {
	p := newPKI(t)
	cases := []struct {
		name   string
		m      engine.MTLSAuth
		leaf   *devpki.Leaf
		status int
	}{
		{"trusted", engine.MTLSAuth{ClientCA: []string{p.caFile}}, p.partner, 0},
		{"another CA", engine.MTLSAuth{ClientCA: []string{p.caFile}}, p.other2, 403},
		{"subject allowed", engine.MTLSAuth{ClientCA: []string{p.caFile}, AllowSubjects: []string{p.partner.Cert.Subject.String()}}, p.partner, 0},
		{"subject not allowed", engine.MTLSAuth{ClientCA: []string{p.caFile}, AllowSubjects: []string{"CN=someone else"}}, p.partner, 403},
		{"san allowed", engine.MTLSAuth{ClientCA: []string{p.caFile}, AllowSANs: []string{"callbacks.partner.example"}}, p.withSAN, 0},
		{"san not allowed", engine.MTLSAuth{ClientCA: []string{p.caFile}, AllowSANs: []string{"callbacks.partner.example"}}, p.partner, 403},
		{"no certificate", engine.MTLSAuth{ClientCA: []string{p.caFile}}, nil, 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m
			a, err := newAuthenticator(&engine.InboundAuth{MTLS: &m}, nil, "")
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/hooks/x", nil)
			r.TLS = &tls.ConnectionState{}
			if tc.leaf != nil {
				r.TLS.PeerCertificates = []*x509.Certificate{tc.leaf.Cert}
			}
			err = a.check(context.Background(), r, nil)
			var ae *authError
			switch {
			case tc.status == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.status != 0 && (!errors.As(err, &ae) || ae.Status != tc.status):
				t.Fatalf("got %v, want %d", err, tc.status)
			}
		})
	}
	if _, err := newAuthenticator(&engine.InboundAuth{MTLS: &engine.MTLSAuth{ClientCA: []string{"missing.pem"}}}, nil, t.TempDir()); err == nil {
		t.Fatal("a missing client_ca was accepted")
	}
}
