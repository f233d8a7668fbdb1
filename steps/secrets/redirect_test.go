package secrets

// A secret store that answers with a redirect — a Vault standby, a
// misconfigured load balancer, an attacker on the path — must not get the
// worker's credentials sent elsewhere. The stores here are the KV v2 /
// AppRole and CCP fakes of vault_test.go and cyberark_test.go behind TLS
// that demands a client certificate; the redirect target is a second,
// working copy of the store (so a followed redirect would have succeeded),
// on another loopback port over TLS, or over plain http. The target must
// see no connection at all: no token, no secret_id, no client certificate.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

// watched counts what reached a server: TCP connections, TLS handshakes
// in which the client presented a certificate, requests, and the
// credentials requests carried.
type watched struct {
	conns, certs, requests atomic.Int64
	mu                     sync.Mutex
	seen                   []string
}

func (w *watched) handler(inner http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.requests.Add(1)
		w.mu.Lock()
		w.seen = append(w.seen, r.Method+" "+r.URL.Path+" token="+r.Header.Get("X-Vault-Token"))
		w.mu.Unlock()
		inner.ServeHTTP(rw, r)
	})
}

func (w *watched) nothing() bool {
	return w.conns.Load() == 0 && w.certs.Load() == 0 && w.requests.Load() == 0
}

func (w *watched) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%d connections, %d client certificates, %d requests %v", w.conns.Load(), w.certs.Load(), w.requests.Load(), w.seen)
}

// storeServer serves h over TLS demanding a client certificate from ca,
// or over plain http when plain is set, and watches what reaches it.
func storeServer(t *testing.T, ca *devpki.CA, h http.Handler, plain bool) (*httptest.Server, *watched) {
	t.Helper()
	w := &watched{}
	srv := httptest.NewUnstartedServer(w.handler(h))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			w.conns.Add(1)
		}
	}
	if plain {
		srv.Start()
	} else {
		cert, err := ca.IssueServer("store.localhost", []string{"127.0.0.1"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool(),
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) > 0 {
					w.certs.Add(1)
				}
				return nil
			}}
		srv.StartTLS()
	}
	t.Cleanup(srv.Close)
	return srv, w
}

// redirecting answers every request with status and a Location on target,
// as a standby or a proxy would.
func redirecting(status int, target string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", target+r.URL.RequestURI())
		w.WriteHeader(status)
	})
}

// storeClient is the worker's client of a store: its client certificate
// and the CA, as worker.Config.httpClient builds it, redirects left at
// net/http's default (follow up to ten).
func storeClient(t *testing.T, ca *devpki.CA) *http.Client {
	t.Helper()
	leaf, err := ca.IssueClient("outflow-agent", nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{leaf.TLSCertificate()}, RootCAs: ca.Pool()}}}
}

func TestSecretStoresNeverFollowRedirects(t *testing.T) {
	ca, err := devpki.NewCA("Store CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	type store struct {
		name    string
		handler func(t *testing.T) http.Handler // a working store
		resolve func(t *testing.T, url string, c *http.Client) (string, error)
		secret  string // what a followed redirect would have read
		setting string
	}
	vaultWith := func(t *testing.T) *fakeVault {
		fv, _ := newFakeVault(t)
		fv.put("secret/partner", map[string]any{"password": "vault-pa55"})
		return fv
	}
	stores := []store{
		{name: "vault token", secret: "vault-pa55", setting: "secrets.vault.address",
			handler: func(t *testing.T) http.Handler { return http.HandlerFunc(vaultWith(t).serve) },
			resolve: func(t *testing.T, url string, c *http.Client) (string, error) {
				v, err := NewVault(VaultOptions{Address: url, Token: staticToken("root-token-9a7e"), Client: c})
				if err != nil {
					t.Fatal(err)
				}
				return v.Resolve(context.Background(), "secret/partner#password")
			}},
		{name: "vault approle", secret: "vault-pa55", setting: "secrets.vault.address",
			handler: func(t *testing.T) http.Handler { return http.HandlerFunc(vaultWith(t).serve) },
			resolve: func(t *testing.T, url string, c *http.Client) (string, error) {
				v, err := NewVault(VaultOptions{Address: url, Client: c,
					AppRole: &AppRole{RoleID: "role-1", SecretID: staticToken("sid-0f3c")}})
				if err != nil {
					t.Fatal(err)
				}
				return v.Resolve(context.Background(), "secret/partner#password")
			}},
		{name: "cyberark", secret: "ks-pa55", setting: "secrets.cyberark.url",
			handler: func(t *testing.T) http.Handler { return newFakeCCP(t, ca, "outflow-agent").srv.Config.Handler },
			resolve: func(t *testing.T, url string, c *http.Client) (string, error) {
				p, err := NewCyberArk(CyberArkOptions{URL: url, AppID: "outflow", Client: c})
				if err != nil {
					t.Fatal(err)
				}
				return p.Resolve(context.Background(), "Partners/partner-keystore")
			}},
	}
	for _, st := range stores {
		for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
			for _, plain := range []bool{false, true} {
				target := "another port"
				if plain {
					target = "plain http"
				}
				t.Run(fmt.Sprintf("%s/%d to %s", st.name, status, target), func(t *testing.T) {
					client := storeClient(t, ca)
					// The target works: the client reads the secret there directly.
					other, seen := storeServer(t, ca, st.handler(t), plain)
					if !plain {
						if got, err := st.resolve(t, other.URL, client); err != nil || got != st.secret {
							t.Fatalf("the redirect target does not work: %q %v", got, err)
						}
						other2, seen2 := storeServer(t, ca, st.handler(t), plain)
						other, seen = other2, seen2
					}
					front, frontSeen := storeServer(t, ca, redirecting(status, other.URL), false)

					got, err := st.resolve(t, front.URL, client)
					if err == nil || got != "" {
						t.Fatalf("the redirect was followed: %q %v", got, err)
					}
					if !seen.nothing() {
						t.Fatalf("the redirect target was reached: %s", seen)
					}
					if frontSeen.requests.Load() == 0 {
						t.Fatal("the store was never asked")
					}
					var re *RedirectError
					if !errors.As(err, &re) {
						t.Fatalf("error %v is not a *RedirectError", err)
					}
					msg := err.Error()
					t.Log(msg)
					for _, want := range []string{fmt.Sprint(status), "not followed", other.URL + "/", st.setting} {
						if !strings.Contains(msg, want) {
							t.Errorf("%q lacks %q", msg, want)
						}
					}
					wantWhy := "(another server)"
					if plain {
						wantWhy = "(down to plain http)"
					}
					if !strings.Contains(msg, wantWhy) {
						t.Errorf("%q lacks %q", msg, wantWhy)
					}
					for _, secret := range []string{"root-token-9a7e", "sid-0f3c", "AppID=", st.secret} {
						if strings.Contains(msg, secret) {
							t.Errorf("the error carries %q: %s", secret, msg)
						}
					}
				})
			}
		}
	}
}

// TestStoreClientIsLeftAsGiven: the provider follows no redirect with its
// own copy of the client, and leaves the caller's client as it was.
func TestStoreClientIsLeftAsGiven(t *testing.T) {
	c := &http.Client{}
	if _, err := NewVault(VaultOptions{Address: "https://vault.example", Token: staticToken("t"), Client: c}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCyberArk(CyberArkOptions{URL: "https://ccp.example", AppID: "a", Client: c}); err != nil {
		t.Fatal(err)
	}
	if c.CheckRedirect != nil {
		t.Fatal("the caller's client was changed")
	}
}
