package tlsclient

// Vault here is vaulttest, a server written from Vault's API documentation:
// no Vault-compatible server can be built where these tests run (see the
// package comment of vaulttest).

import (
	"context"
	"crypto/tls"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore"
	secretstore "github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/secrets/vaulttest"
)

const vaultToken = "hvs.tlsclient-test-token-31"

// fakeClock is a clock tests move forward.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

type vaultSetup struct {
	vault   *vaulttest.Server
	partner *partner
	cache   *Cache
	clock   *fakeClock
	logs    *syncBuffer
	profile *engine.ProtocolProfile
}

func newVaultSetup(t *testing.T, ttl time.Duration) *vaultSetup {
	t.Helper()
	v := vaulttest.New(t, "pki", vaultToken, map[string]vaulttest.Role{
		"partner": {AllowedDomains: []string{"outflow.example"}, AllowSubdomains: true, AllowBareDomains: true, MaxTTL: 72 * time.Hour},
	})
	issuer, err := secretstore.NewVault(secretstore.VaultOptions{Address: v.URL, Client: v.Client(),
		Token: func(context.Context) (string, error) { return vaultToken, nil }})
	if err != nil {
		t.Fatal(err)
	}
	// Vault and the partner keep the test's time, which it moves forward:
	// certificates are issued, and checked, on that clock.
	clock := &fakeClock{t: time.Now()}
	v.SetClock(clock.now)
	p := newPartner(t, v.Root, nil, nil, func(c *tls.Config, _ *partner) { c.Time = clock.now })
	log, logs := logBuffer()
	// Without resumption every new connection makes a full handshake, so
	// that each shows which certificate it presented.
	c := &Cache{Logger: log, Issuer: issuer, now: clock.now, DisableResumption: true}
	profile := &engine.ProtocolProfile{Name: "vault-issued", Truststore: &engine.Truststore{Paths: []string{p.caFile}},
		Keystore: &engine.Keystore{VaultPKI: &engine.VaultPKI{Mount: "pki", Role: "partner", CommonName: "worker.outflow.example", TTL: engine.Duration(ttl)}}}
	return &vaultSetup{vault: v, partner: p, cache: c, clock: clock, logs: logs, profile: profile}
}

func (s *vaultSetup) get(t *testing.T) (*engine.TLSFacts, error) {
	t.Helper()
	tr, err := s.cache.Transport(t.Context(), s.profile, "", defaultSecrets)
	if err != nil {
		return nil, err
	}
	ctx, probe := WithProbe(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.partner.URL, nil)
	resp, err := newClient(tr).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New(resp.Status)
	}
	return probe.Facts(resp.TLS), drain(resp, nil)
}

// material returns the profile's key material in the cache.
func (s *vaultSetup) material(t *testing.T) *material {
	t.Helper()
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	for _, e := range s.cache.entries {
		return e.material
	}
	t.Fatal("no transport")
	return nil
}

// renewalDue moves the clock just past the time the current certificate
// is renewed (two thirds of its lifetime as the clock saw it issued).
func (s *vaultSetup) renewalDue(t *testing.T) {
	t.Helper()
	m := s.material(t)
	m.mu.Lock()
	at, notAfter := m.renewAt, m.loaded.cert.Leaf.NotAfter
	m.mu.Unlock()
	if !at.Before(notAfter) {
		t.Fatalf("renewal at %s, after expiry %s", at, notAfter)
	}
	s.clock.set(at.Add(time.Second))
}

func (s *vaultSetup) issues() int { return s.vault.Requests("POST /v1/pki/issue/partner") }

// waitFor polls cond until it holds; the test's deadline bounds it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-t.Context().Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestVaultIssuedCertificate: the first handshake presents a certificate
// Vault issued for the profile; later steps reuse it without asking again;
// the step's facts carry its serial, expiry and source.
func TestVaultIssuedCertificate(t *testing.T) {
	s := newVaultSetup(t, time.Hour)
	for i := range 50 {
		f, err := s.get(t)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			issued := s.vault.Issued()
			if len(issued) != 1 || f.ClientCertificate == nil || !strings.EqualFold(f.ClientCertificate.Serial, issued[0].Serial) {
				t.Fatalf("facts %+v, issued %+v", f.ClientCertificate, issued)
			}
			if f.ClientCertificate.Source != "vault pki/issue/partner" || !f.ClientCertificate.NotAfter.Equal(issued[0].NotAfter.UTC()) {
				t.Errorf("facts: %+v", f.ClientCertificate)
			}
		}
	}
	if n := s.issues(); n != 1 {
		t.Errorf("%d certificates issued for 50 requests, want 1", n)
	}
	if cc := s.cache.ClientCertificates(); len(cc) != 1 || cc[0].Source != "vault pki/issue/partner" || cc[0].Serial == "" {
		t.Errorf("ClientCertificates: %+v", cc)
	}
	for _, is := range s.vault.Issued() {
		key := strings.Split(strings.TrimSpace(is.PrivateKey), "\n")[1]
		if strings.Contains(s.logs.String(), key) {
			t.Error("the issued private key reached the log")
		}
	}
	if strings.Contains(s.logs.String(), vaultToken) {
		t.Error("the vault token reached the log")
	}
}

// TestVaultCertificateRenewal: at two thirds of its lifetime the
// certificate is issued again in the background. A request under way on a
// connection made with the old certificate finishes; the next request on
// that pooled connection goes over a new one with the new certificate; and
// steps calling from many goroutines through a renewal do not fail.
func TestVaultCertificateRenewal(t *testing.T) {
	s := newVaultSetup(t, 3*time.Hour)
	entered, release := make(chan struct{}), make(chan struct{})
	s.partner.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		s.partner.mu.Lock()
		s.partner.serials = append(s.partner.serials, r.TLS.PeerCertificates[0].SerialNumber.String())
		s.partner.mu.Unlock()
	})
	tr, err := s.cache.Transport(t.Context(), s.profile, "", defaultSecrets)
	if err != nil {
		t.Fatal(err)
	}
	start := s.clock.now()
	f, err := s.get(t)
	if err != nil {
		t.Fatal(err)
	}
	first := f.ClientCertificate.Serial

	s.clock.set(start.Add(2*time.Hour - time.Minute)) // just before two thirds
	if _, err := s.get(t); err != nil {
		t.Fatal(err)
	}
	if n := s.issues(); n != 1 {
		t.Fatalf("renewed before two thirds of the lifetime (%d issued)", n)
	}

	// A slow request holds the pooled connection while the renewal runs.
	slow := make(chan error, 1)
	go func() { slow <- drain(newClient(tr).Get(s.partner.URL + "/slow")) }()
	<-entered
	if n := s.partner.newConns.Load(); n != 1 {
		t.Fatalf("%d connections, want the slow request on the pooled one", n)
	}
	s.clock.set(start.Add(2*time.Hour + time.Minute))
	if _, err := s.cache.Transport(t.Context(), s.profile, "", defaultSecrets); err != nil { // a step starts
		t.Fatal(err)
	}
	waitFor(t, "the renewal", func() bool { return strings.Contains(s.logs.String(), "issued a new client certificate") })
	close(release)
	if err := <-slow; err != nil {
		t.Fatalf("the request under way during the renewal failed: %v", err)
	}
	f, err = s.get(t)
	if err != nil {
		t.Fatalf("the request after the renewal: %v", err)
	}
	if f.ClientCertificate == nil {
		t.Fatalf("facts without client certificate: %+v", f)
	}
	second := s.vault.Issued()[1]
	if f.ClientCertificate.Serial == first || !strings.EqualFold(f.ClientCertificate.Serial, second.Serial) || !f.NewConnection {
		t.Errorf("after the renewal: facts %s (new connection %v; first %s, renewed %s)", f.ClientCertificate.Serial, f.NewConnection, first, second.Serial)
	}
	if !strings.EqualFold(keystoreSerial(s.partner.lastSerial()), second.Serial) {
		t.Errorf("the partner saw serial %s, want %s", s.partner.lastSerial(), second.Serial)
	}

	// A pooled connection made with the old certificate is not used once
	// the new one is there, even if it was not idle when the renewal closed
	// the idle ones: here the renewal closes none.
	m := s.material(t)
	m.mu.Lock()
	onRenew := m.onRenew
	m.onRenew = nil
	m.mu.Unlock()
	if _, err := s.get(t); err != nil { // a pooled connection with the second certificate
		t.Fatal(err)
	}
	s.renewalDue(t)
	if _, err := s.cache.Transport(t.Context(), s.profile, "", defaultSecrets); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second renewal", func() bool {
		return s.issues() == 3 && strings.Count(s.logs.String(), "issued a new client certificate") == 2
	})
	f, err = s.get(t)
	if err != nil {
		t.Fatal(err)
	}
	third := s.vault.Issued()[2]
	if !strings.EqualFold(f.ClientCertificate.Serial, third.Serial) || !f.NewConnection {
		t.Errorf("after the second renewal: facts %s (new connection %v), want %s", f.ClientCertificate.Serial, f.NewConnection, third.Serial)
	}
	m.mu.Lock()
	m.onRenew = onRenew
	m.mu.Unlock()

	// Steps keep calling from many goroutines through the next renewal.
	stop := make(chan struct{})
	var calls, failures atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				calls.Add(1)
				if _, err := s.get(t); err != nil {
					failures.Add(1)
					t.Error(err)
				}
			}
		})
	}
	s.renewalDue(t)
	waitFor(t, "the third renewal", func() bool { return s.issues() == 4 })
	before := calls.Load()
	waitFor(t, "calls after the renewal", func() bool { return calls.Load() > before+20 })
	close(stop)
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d of %d calls failed during the renewal", failures.Load(), calls.Load())
	}
	s.cache.CloseIdleConnections()
	f, err = s.get(t)
	if err != nil {
		t.Fatal(err)
	}
	if fourth := s.vault.Issued()[3]; !strings.EqualFold(f.ClientCertificate.Serial, fourth.Serial) {
		t.Errorf("after the third renewal the facts show %s, want %s", f.ClientCertificate.Serial, fourth.Serial)
	}
	if n := s.issues(); n != 4 {
		t.Errorf("%d certificates issued, want 4", n)
	}
}

// keystoreSerial turns the partner's decimal serial into Vault's hex form.
func keystoreSerial(decimal string) string {
	n, ok := new(big.Int).SetString(decimal, 10)
	if !ok {
		return decimal
	}
	return keystore.SerialHex(n)
}

// TestVaultRenewalFailure: while Vault cannot issue, the current
// certificate is presented and the renewal is retried; once it has expired
// and Vault still cannot issue, handshakes fail saying why.
func TestVaultRenewalFailure(t *testing.T) {
	s := newVaultSetup(t, 3*time.Hour)
	start := s.clock.now()
	if _, err := s.get(t); err != nil {
		t.Fatal(err)
	}
	s.vault.SetDown(true)
	s.clock.set(start.Add(2*time.Hour + time.Minute))
	if _, err := s.get(t); err != nil {
		t.Fatalf("a call failed while vault was down and the certificate still valid: %v", err)
	}
	waitFor(t, "the failed renewal", func() bool { return strings.Contains(s.logs.String(), "a new client certificate cannot be issued yet") })
	if !strings.Contains(s.logs.String(), "Vault is sealed") {
		t.Errorf("log does not say why: %s", s.logs)
	}
	// Within the back-off, no new request to Vault.
	asked := s.vault.AllRequests()
	if _, err := s.get(t); err != nil {
		t.Fatal(err)
	}
	if s.vault.AllRequests() != asked {
		t.Error("vault asked again within the back-off")
	}

	// Expired, and Vault still down: the handshake waits for the renewal,
	// which fails, and the request fails with the reason.
	s.clock.set(start.Add(3*time.Hour + time.Minute))
	// A pooled connection stays authenticated: the server checked the
	// certificate at its handshake. A new connection needs a certificate.
	s.cache.CloseIdleConnections()
	_, err := s.get(t)
	if err == nil || !strings.Contains(err.Error(), "expired on") || !strings.Contains(err.Error(), "cannot be issued") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("expired and not renewable: %v", err)
	}
	if !strings.Contains(s.logs.String(), "has expired and a new one cannot be issued") {
		t.Errorf("expiry not logged: %s", s.logs)
	}

	// Vault back: the next handshake after the back-off gets a new one.
	s.vault.SetDown(false)
	s.clock.set(start.Add(3*time.Hour + 3*time.Minute))
	f, err := s.get(t)
	if err != nil {
		t.Fatal(err)
	}
	issued := s.vault.Issued()
	if len(issued) != 2 || !strings.EqualFold(f.ClientCertificate.Serial, issued[1].Serial) {
		t.Errorf("after vault came back: facts %s, issued %d", f.ClientCertificate.Serial, len(issued))
	}
}

// TestVaultIssuanceRefused: a role that refuses, a worker without Vault.
func TestVaultIssuanceRefused(t *testing.T) {
	s := newVaultSetup(t, time.Hour)
	s.profile.Keystore.VaultPKI.CommonName = "evil.example"
	_, err := s.get(t)
	var ke *keystore.Error
	if !errors.As(err, &ke) || ke.Code != CodeVaultPKI || !strings.Contains(err.Error(), "common name evil.example not allowed by this role") ||
		!strings.Contains(err.Error(), `profile "vault-issued"`) {
		t.Fatalf("refused: %v", err)
	}
	if strings.Contains(err.Error(), vaultToken) {
		t.Error("error shows the token")
	}
	s.profile.Keystore.VaultPKI.CommonName = "worker.outflow.example"
	s.vault.SetDown(true)
	if _, err := s.get(t); err == nil || !strings.Contains(err.Error(), "vault answered 503") {
		t.Fatalf("down: %v", err)
	}

	noVault := &Cache{Logger: quietLogger()}
	_, err = noVault.Transport(t.Context(), s.profile, "", defaultSecrets)
	if !errors.As(err, &ke) || ke.Code != CodeVaultPKIUnavailable || !strings.Contains(err.Error(), "set secrets.vault") {
		t.Fatalf("no vault: %v", err)
	}
}
