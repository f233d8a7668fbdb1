package secrets

// No Vault server can be installed where these tests run, so they talk to
// an httptest server that speaks the parts of Vault's HTTP API the provider
// uses, as Vault's API documentation describes them: KV version 2 reads
// (GET /v1/:mount/data/:path) and AppRole login (POST /v1/auth/approle/login).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeVault is a Vault server with KV v2 mounts and an AppRole login.
type fakeVault struct {
	t         *testing.T
	namespace string
	roleID    string
	secretID  string
	ttl       int // lease_duration of AppRole tokens, seconds

	mu       sync.Mutex
	kv       map[string]map[string]any // "mount/path" -> data; nil data means deleted
	tokens   map[string]bool
	logins   int
	reads    int
	issued   int
	lastPath string
}

func newFakeVault(t *testing.T) (*fakeVault, *httptest.Server) {
	fv := &fakeVault{t: t, roleID: "role-1", secretID: "sid-0f3c", ttl: 3600,
		kv: map[string]map[string]any{}, tokens: map[string]bool{"root-token-9a7e": true}}
	srv := httptest.NewServer(http.HandlerFunc(fv.serve))
	t.Cleanup(srv.Close)
	return fv, srv
}

func (fv *fakeVault) put(path string, data map[string]any) {
	fv.mu.Lock()
	defer fv.mu.Unlock()
	fv.kv[path] = data
}

func (fv *fakeVault) revokeAll() {
	fv.mu.Lock()
	defer fv.mu.Unlock()
	for k := range fv.tokens {
		if strings.HasPrefix(k, "approle-") {
			delete(fv.tokens, k)
		}
	}
}

func vaultJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (fv *fakeVault) serve(w http.ResponseWriter, r *http.Request) {
	fv.mu.Lock()
	defer fv.mu.Unlock()
	if fv.namespace != "" && r.Header.Get("X-Vault-Namespace") != fv.namespace {
		// Outside its namespace, a path does not exist.
		vaultJSON(w, http.StatusNotFound, map[string]any{"errors": []string{}})
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/v1/auth/approle/login" {
		var in struct {
			RoleID   string `json:"role_id"`
			SecretID string `json:"secret_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		fv.logins++
		if in.RoleID != fv.roleID || in.SecretID != fv.secretID {
			vaultJSON(w, http.StatusBadRequest, map[string]any{"errors": []string{"invalid role or secret ID"}})
			return
		}
		fv.issued++
		tok := fmt.Sprintf("approle-%d", fv.issued)
		fv.tokens[tok] = true
		vaultJSON(w, http.StatusOK, map[string]any{"auth": map[string]any{
			"client_token": tok, "accessor": "acc", "policies": []string{"default", "partner-read"},
			"lease_duration": fv.ttl, "renewable": true,
		}})
		return
	}
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/v1/") {
		vaultJSON(w, http.StatusNotFound, map[string]any{"errors": []string{}})
		return
	}
	if !fv.tokens[r.Header.Get("X-Vault-Token")] {
		vaultJSON(w, http.StatusForbidden, map[string]any{"errors": []string{"permission denied"}})
		return
	}
	fv.reads++
	// /v1/<mount>/data/<path>: the mount is what precedes the "data"
	// segment that the KV v2 engine serves secrets under.
	p := strings.TrimPrefix(r.URL.Path, "/v1/")
	fv.lastPath = p
	i := strings.Index(p, "/data/")
	if i < 0 {
		vaultJSON(w, http.StatusNotFound, map[string]any{"errors": []string{}})
		return
	}
	key := p[:i] + "/" + p[i+len("/data/"):]
	data, ok := fv.kv[key]
	switch {
	case !ok:
		vaultJSON(w, http.StatusNotFound, map[string]any{"errors": []string{}})
	case data == nil:
		vaultJSON(w, http.StatusNotFound, map[string]any{"data": map[string]any{"data": nil,
			"metadata": map[string]any{"created_time": "2026-01-01T00:00:00Z", "deletion_time": "2026-01-02T00:00:00Z", "destroyed": false, "version": 2}}})
	default:
		vaultJSON(w, http.StatusOK, map[string]any{"request_id": "r", "lease_duration": 0, "renewable": false,
			"data": map[string]any{"data": data, "metadata": map[string]any{"created_time": "2026-01-01T00:00:00Z", "deletion_time": "", "destroyed": false, "version": 1}}})
	}
}

func staticToken(tok string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return tok, nil }
}

func TestVaultTokenReadsKVv2(t *testing.T) {
	fv, srv := newFakeVault(t)
	fv.namespace = "team-a"
	fv.put("secret/partner", map[string]any{"password": "pa55-partner", "port": 8443})
	fv.put("secret/single", map[string]any{"token": "only-value"})
	fv.put("team/kv/app", map[string]any{"key": "deep-value"})
	v, err := NewVault(VaultOptions{Address: srv.URL + "/", Namespace: "team-a", Token: staticToken("root-token-9a7e"), Mounts: []string{"team/kv"}})
	if err != nil {
		t.Fatal(err)
	}
	res := New("")
	res.Register("vault", v)
	ctx := context.Background()
	for ref, want := range map[string]string{
		"vault:secret/data/partner#password": "pa55-partner", // the API path
		"vault:secret/partner#password":      "pa55-partner", // as `vault kv get -mount=secret partner` takes it
		"vault:secret/partner#port":          "8443",         // non-strings as JSON
		"vault:secret/single":                "only-value",   // a single field needs no #FIELD
		"vault:team/kv/app#key":              "deep-value",   // a mount of two segments
	} {
		got, err := res.Resolve(ctx, ref)
		if err != nil {
			t.Errorf("%s: %v", ref, err)
			continue
		}
		if got != want {
			t.Errorf("%s = %q, want %q", ref, got, want)
		}
	}
	if _, err := res.Resolve(ctx, "vault:team/kv/app#key"); err != nil || fv.lastPath != "team/kv/data/app" {
		t.Errorf("multi-segment mount read %q (%v), want team/kv/data/app", fv.lastPath, err)
	}
}

// TestVaultMissingSecretNamesTheReference checks that every failure names
// the reference and never carries a value: not the secret's other fields,
// not the token.
func TestVaultMissingSecretNamesTheReference(t *testing.T) {
	fv, srv := newFakeVault(t)
	fv.put("secret/partner", map[string]any{"username": "svc-user-x", "password": "pa55-partner"})
	fv.put("secret/gone", nil)
	v, err := NewVault(VaultOptions{Address: srv.URL, Token: staticToken("root-token-9a7e")})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := NewVault(VaultOptions{Address: srv.URL, Token: staticToken("expired-token-77")})
	if err != nil {
		t.Fatal(err)
	}
	res, badRes := New(""), New("")
	res.Register("vault", v)
	badRes.Register("vault", bad)
	cases := []struct {
		res  *Resolver
		ref  string
		want []string
	}{
		{res, "vault:secret/data/nope#password", []string{"no vault secret at secret/nope"}},
		{res, "vault:secret/partner#pasword", []string{`no field "pasword"`, "password, username"}},
		{res, "vault:secret/partner", []string{"has 2 fields", "name one with #FIELD"}},
		{res, "vault:secret/gone#password", []string{"deleted"}},
		{res, "vault:partner", []string{"MOUNT/PATH#FIELD"}},
		{badRes, "vault:secret/partner#password", []string{"403", "permission denied", "secret/data/partner"}},
		{New(""), "vault:secret/partner#password", []string{`no secret provider "vault"`, "secrets.vault"}},
	}
	for _, c := range cases {
		_, err := c.res.Resolve(context.Background(), c.ref)
		var se *Error
		if !errors.As(err, &se) || se.Ref != c.ref {
			t.Errorf("%s: error %v does not name the reference", c.ref, err)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, fmt.Sprintf("%q", c.ref)) {
			t.Errorf("%s: message %q does not quote the reference", c.ref, msg)
		}
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: message %q lacks %q", c.ref, msg, w)
			}
		}
		for _, secret := range []string{"pa55-partner", "svc-user-x", "root-token-9a7e", "expired-token-77"} {
			if strings.Contains(msg, secret) {
				t.Errorf("%s: message carries a secret value: %q", c.ref, msg)
			}
		}
	}
}

func TestVaultAppRoleLogsInAgainWhenRefused(t *testing.T) {
	fv, srv := newFakeVault(t)
	fv.put("secret/partner", map[string]any{"password": "pa55-partner"})
	v, err := NewVault(VaultOptions{Address: srv.URL, AppRole: &AppRole{RoleID: "role-1", SecretID: staticToken("sid-0f3c")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		if got, err := v.Resolve(ctx, "secret/partner#password"); err != nil || got != "pa55-partner" {
			t.Fatalf("resolve = %q, %v", got, err)
		}
	}
	if fv.logins != 1 {
		t.Fatalf("%d logins for 3 reads, want 1 (the token is reused while its lease lasts)", fv.logins)
	}
	fv.revokeAll()
	if got, err := v.Resolve(ctx, "secret/partner#password"); err != nil || got != "pa55-partner" {
		t.Fatalf("after revocation: %q, %v", got, err)
	}
	if fv.logins != 2 {
		t.Fatalf("%d logins after the token was revoked, want 2", fv.logins)
	}

	// A lease about to end is renewed by logging in before it is refused.
	fv.ttl = 1
	short, _ := NewVault(VaultOptions{Address: srv.URL, AppRole: &AppRole{RoleID: "role-1", SecretID: staticToken("sid-0f3c")}})
	if _, err := short.Resolve(ctx, "secret/partner#password"); err != nil {
		t.Fatal(err)
	}
	short.mu.Lock()
	short.expires = time.Now().Add(-time.Millisecond)
	short.mu.Unlock()
	before := fv.logins
	if _, err := short.Resolve(ctx, "secret/partner#password"); err != nil {
		t.Fatal(err)
	}
	if fv.logins != before+1 {
		t.Fatalf("an expired lease did not log in again")
	}

	wrong, _ := NewVault(VaultOptions{Address: srv.URL, AppRole: &AppRole{RoleID: "role-1", SecretID: staticToken("sid-wrong-1234")}})
	_, err = wrong.Resolve(ctx, "secret/partner#password")
	if err == nil || !strings.Contains(err.Error(), "AppRole") || !strings.Contains(err.Error(), "invalid role or secret ID") {
		t.Fatalf("wrong secret_id: %v", err)
	}
	if strings.Contains(err.Error(), "sid-wrong-1234") {
		t.Fatalf("the error carries the secret_id: %v", err)
	}
}

func TestVaultOptionsAreChecked(t *testing.T) {
	for _, o := range []VaultOptions{
		{Address: "vault.example:8200", Token: staticToken("x")},
		{Address: "https://vault.example"},
		{Address: "https://vault.example", Token: staticToken("x"), AppRole: &AppRole{RoleID: "r", SecretID: staticToken("s")}},
		{Address: "https://vault.example", AppRole: &AppRole{RoleID: "r"}},
	} {
		if _, err := NewVault(o); err == nil {
			t.Errorf("NewVault(%+v) accepted", o)
		}
	}
}

// TestVaultCachedWithinTTL checks that a burst of steps costs one request
// and that a value is fetched again once its TTL is over.
func TestVaultCachedWithinTTL(t *testing.T) {
	fv, srv := newFakeVault(t)
	fv.put("secret/partner", map[string]any{"password": "v1"})
	v, _ := NewVault(VaultOptions{Address: srv.URL, Token: staticToken("root-token-9a7e")})
	p := Cached(v, time.Minute).(*cache)
	now := time.Now()
	p.now = func() time.Time { return now }
	res := New("")
	res.Register("vault", p)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := res.Resolve(context.Background(), "vault:secret/partner#password"); err != nil || got != "v1" {
				t.Errorf("resolve = %q, %v", got, err)
			}
		}()
	}
	wg.Wait()
	if fv.reads != 1 {
		t.Fatalf("%d reads for 20 concurrent lookups, want 1", fv.reads)
	}
	fv.put("secret/partner", map[string]any{"password": "v2"})
	now = now.Add(59 * time.Second)
	if got, _ := res.Resolve(context.Background(), "vault:secret/partner#password"); got != "v1" {
		t.Fatalf("within the TTL: %q, want the cached v1", got)
	}
	now = now.Add(2 * time.Second)
	if got, _ := res.Resolve(context.Background(), "vault:secret/partner#password"); got != "v2" {
		t.Fatalf("after the TTL: %q, want the rotated v2", got)
	}
	// Failures are not cached: a secret created after a miss is found.
	if _, err := res.Resolve(context.Background(), "vault:secret/later#x"); err == nil {
		t.Fatal("a missing secret resolved")
	}
	fv.put("secret/later", map[string]any{"x": "now-here"})
	if got, err := res.Resolve(context.Background(), "vault:secret/later#x"); err != nil || got != "now-here" {
		t.Fatalf("after creating it: %q, %v", got, err)
	}
}
