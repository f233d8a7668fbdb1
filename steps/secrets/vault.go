package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Vault resolves "vault:" references from the KV version 2 secrets engine of
// a HashiCorp Vault server. It is safe for concurrent use.
//
// A reference is MOUNT/PATH#FIELD, written either as Vault's API path
// ("secret/data/partner#password") or as the kv command takes it
// ("secret/partner#password"). MOUNT is the first segment of the path,
// unless VaultOptions.Mounts lists a longer mount it starts with. #FIELD may
// be left out when the secret has a single field.
//
// It speaks Vault's HTTP API with net/http rather than Vault's Go client:
// two endpoints are needed (KV v2 read and AppRole login); the client
// library brings a dozen modules, reads VAULT_* variables (VAULT_TOKEN,
// VAULT_SKIP_VERIFY, VAULT_HEADERS…) from the environment behind the
// configuration's back, and follows a redirect to any host with the token.
// A redirect from Vault is never followed (see RedirectError).
type Vault struct {
	opts VaultOptions

	mu      sync.Mutex
	token   string
	expires time.Time // zero: the token does not expire, or is not ours to renew
}

// VaultOptions configure a Vault provider.
type VaultOptions struct {
	// Address is Vault's base URL, such as https://vault.example:8200.
	Address string
	// Namespace is sent as X-Vault-Namespace (Vault Enterprise, HCP Vault);
	// empty for none.
	Namespace string
	// Token returns the token to authenticate with when AppRole is nil. It is
	// called for every request, so a token file rewritten by Vault Agent is
	// picked up.
	Token func(ctx context.Context) (string, error)
	// AppRole logs in with a role ID and a secret ID, and logs in again when
	// the token it got expires or is refused.
	AppRole *AppRole
	// Mounts lists KV v2 mounts whose path has several segments
	// ("team/kv"), so references under them are split right.
	Mounts []string
	// Client sends the requests. Nil means a client with a 30 second timeout
	// and the system's roots; set its transport for a private CA or client
	// certificates. The provider uses a copy that follows no redirect.
	Client *http.Client
}

// AppRole is Vault's machine login: a role ID (an identifier, like a user
// name) and a secret ID (a credential).
type AppRole struct {
	// Mount is where the AppRole auth method is enabled; default "approle".
	Mount    string
	RoleID   string
	SecretID func(ctx context.Context) (string, error)
}

// NewVault checks the options and returns a provider. It makes no request:
// a worker starts even while Vault is unreachable, and the steps that need
// it fail (and retry) until it answers.
func NewVault(o VaultOptions) (*Vault, error) {
	u, err := url.Parse(o.Address)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("vault address %q is not an http(s) URL such as https://vault.example:8200", o.Address)
	}
	o.Address = strings.TrimRight(o.Address, "/")
	switch {
	case o.AppRole == nil && o.Token == nil:
		return nil, errors.New("vault needs a token or an AppRole login")
	case o.AppRole != nil && o.Token != nil:
		return nil, errors.New("vault takes a token or an AppRole login, not both")
	case o.AppRole != nil && (o.AppRole.RoleID == "" || o.AppRole.SecretID == nil):
		return nil, errors.New("vault AppRole login needs role_id and secret_id")
	}
	if o.AppRole != nil && o.AppRole.Mount == "" {
		o.AppRole.Mount = "approle"
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	o.Client = withoutRedirects(o.Client)
	return &Vault{opts: o}, nil
}

const vaultStore = "vault (secrets.vault.address)"

// vaultRef is a parsed reference.
type vaultRef struct {
	mount, path, field string
}

func (r vaultRef) String() string { return r.mount + "/" + r.path }

// parseVaultRef splits MOUNT/PATH#FIELD; mounts lists multi-segment mounts.
func parseVaultRef(name string, mounts []string) (vaultRef, error) {
	var r vaultRef
	p := name
	if i := strings.LastIndexByte(p, '#'); i >= 0 {
		p, r.field = p[:i], p[i+1:]
		if r.field == "" {
			return r, errors.New("nothing after #: name the field, or leave out # for a secret with one field")
		}
	}
	p = strings.Trim(p, "/")
	for _, m := range mounts {
		m = strings.Trim(m, "/")
		if m != "" && strings.HasPrefix(p, m+"/") && len(m) > len(r.mount) {
			r.mount = m
		}
	}
	if r.mount == "" {
		m, _, ok := strings.Cut(p, "/")
		if !ok {
			return r, errors.New("a vault reference is MOUNT/PATH#FIELD, such as secret/data/partner#password")
		}
		r.mount = m
	}
	r.path = strings.TrimPrefix(p[len(r.mount):], "/")
	// The API path names the data endpoint; the kv command's path does not.
	r.path = strings.TrimPrefix(r.path, "data/")
	if r.path == "" || strings.Contains(r.path, "//") {
		return r, fmt.Errorf("no secret path after mount %q; a vault reference is MOUNT/PATH#FIELD", r.mount)
	}
	// Vault would clean "a/../b" to "b": a reference reads the path it
	// names, which an agent's secrets.allow can then limit by prefix.
	for seg := range strings.SplitSeq(r.mount+"/"+r.path, "/") {
		if seg == "." || seg == ".." {
			return r, fmt.Errorf("a vault reference names its path without . or .. segments")
		}
	}
	return r, nil
}

// Resolve reads one field of a KV v2 secret.
func (v *Vault) Resolve(ctx context.Context, name string) (string, error) {
	ref, err := parseVaultRef(name, v.opts.Mounts)
	if err != nil {
		return "", err
	}
	data, err := v.read(ctx, ref)
	if err != nil {
		return "", err
	}
	field := ref.field
	if field == "" {
		if len(data) != 1 {
			return "", fmt.Errorf("vault secret %s has %d fields (%s); name one with #FIELD", ref, len(data), fieldNames(data))
		}
		for k := range data {
			field = k
		}
	}
	raw, ok := data[field]
	if !ok {
		return "", fmt.Errorf("vault secret %s has no field %q (fields: %s)", ref, field, fieldNames(data))
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	// Numbers, booleans and objects are given as their JSON text.
	return string(raw), nil
}

func fieldNames(data map[string]json.RawMessage) string {
	if len(data) == 0 {
		return "none"
	}
	names := make([]string, 0, len(data))
	for k := range data {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// read fetches the latest version of a secret, logging in again once when
// an AppRole token is refused.
func (v *Vault) read(ctx context.Context, ref vaultRef) (map[string]json.RawMessage, error) {
	for attempt := 0; ; attempt++ {
		token, err := v.currentToken(ctx)
		if err != nil {
			return nil, err
		}
		data, status, err := v.get(ctx, ref, token)
		if status == http.StatusForbidden && v.opts.AppRole != nil && attempt == 0 {
			// The token may have been revoked or may have expired before
			// its lease said: log in again and retry once.
			v.forget(token)
			continue
		}
		return data, err
	}
}

func (v *Vault) get(ctx context.Context, ref vaultRef, token string) (map[string]json.RawMessage, int, error) {
	u := v.opts.Address + "/v1/" + escapePath(ref.mount) + "/data/" + escapePath(ref.path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("building the vault request: %w", err)
	}
	v.headers(req, token)
	resp, err := v.opts.Client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("reading vault secret %s: %w", ref, err)
	}
	defer resp.Body.Close()
	if err := refuseRedirect(vaultStore, resp); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("reading vault secret %s: %w", ref, err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("reading vault secret %s: %w", ref, err)
	}
	var out struct {
		Data *struct {
			Data     map[string]json.RawMessage `json:"data"`
			Metadata struct {
				DeletionTime string `json:"deletion_time"`
				Destroyed    bool   `json:"destroyed"`
			} `json:"metadata"`
		} `json:"data"`
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		// KV v2 answers 404 with the metadata when the latest version was
		// deleted, and with no data when there is no secret at all.
		if json.Unmarshal(body, &out) == nil && out.Data != nil && (out.Data.Metadata.DeletionTime != "" || out.Data.Metadata.Destroyed) {
			return nil, resp.StatusCode, fmt.Errorf("the latest version of vault secret %s is deleted", ref)
		}
		return nil, resp.StatusCode, fmt.Errorf("no vault secret at %s (KV v2 mount %q, path %q)", ref, ref.mount, ref.path)
	case http.StatusForbidden:
		return nil, resp.StatusCode, fmt.Errorf("vault refused to read %s (403 %s): the token has no policy that reads %s/data/%s, or it expired",
			ref, vaultErrors(body), ref.mount, ref.path)
	default:
		return nil, resp.StatusCode, fmt.Errorf("vault answered %s reading %s: %s", resp.Status, ref, vaultErrors(body))
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Data == nil {
		return nil, resp.StatusCode, fmt.Errorf("vault's answer for %s is not a KV v2 secret (is %q a KV version 2 mount?)", ref, ref.mount)
	}
	if out.Data.Data == nil {
		return nil, resp.StatusCode, fmt.Errorf("the latest version of vault secret %s is deleted", ref)
	}
	return out.Data.Data, resp.StatusCode, nil
}

// vaultErrors extracts Vault's error messages, which name paths and
// policies but never secret values.
func vaultErrors(body []byte) string {
	var e struct {
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Errors) > 0 {
		return strings.Join(e.Errors, "; ")
	}
	return "no error message"
}

func (v *Vault) headers(req *http.Request, token string) {
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	if v.opts.Namespace != "" {
		req.Header.Set("X-Vault-Namespace", v.opts.Namespace)
	}
	// Vault asks clients to send it on every request, to tell API calls
	// apart from browser requests.
	req.Header.Set("X-Vault-Request", "true")
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// currentToken returns the configured token, or the AppRole login's token,
// logging in when there is none or it is about to expire.
func (v *Vault) currentToken(ctx context.Context) (string, error) {
	if v.opts.AppRole == nil {
		t, err := v.opts.Token(ctx)
		if err != nil {
			return "", fmt.Errorf("reading the vault token: %w", err)
		}
		return strings.TrimSpace(t), nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.token != "" && (v.expires.IsZero() || time.Now().Before(v.expires)) {
		return v.token, nil
	}
	token, ttl, err := v.login(ctx)
	if err != nil {
		return "", err
	}
	v.token, v.expires = token, time.Time{}
	if ttl > 0 {
		// Log in again a little before the lease ends, not after a refusal.
		v.expires = time.Now().Add(ttl * 9 / 10)
	}
	return token, nil
}

// forget drops a refused token so the next read logs in again.
func (v *Vault) forget(token string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.token == token {
		v.token = ""
	}
}

func (v *Vault) login(ctx context.Context) (string, time.Duration, error) {
	ar := v.opts.AppRole
	secretID, err := ar.SecretID(ctx)
	if err != nil {
		return "", 0, fmt.Errorf("reading the vault AppRole secret_id: %w", err)
	}
	body, _ := json.Marshal(map[string]string{"role_id": ar.RoleID, "secret_id": strings.TrimSpace(secretID)})
	u := v.opts.Address + "/v1/auth/" + escapePath(strings.Trim(ar.Mount, "/")) + "/login"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", 0, fmt.Errorf("building the vault login request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	v.headers(req, "")
	resp, err := v.opts.Client.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("logging in to vault with AppRole: %w", err)
	}
	defer resp.Body.Close()
	if err := refuseRedirect(vaultStore, resp); err != nil {
		return "", 0, fmt.Errorf("logging in to vault with AppRole: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, fmt.Errorf("logging in to vault with AppRole: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", 0, fmt.Errorf("logging in to vault with AppRole (auth/%s): vault answered %s: %s", ar.Mount, resp.Status, vaultErrors(data))
	}
	var out struct {
		Auth *struct {
			ClientToken   string `json:"client_token"`
			LeaseDuration int64  `json:"lease_duration"`
		} `json:"auth"`
	}
	if err := json.Unmarshal(data, &out); err != nil || out.Auth == nil || out.Auth.ClientToken == "" {
		return "", 0, fmt.Errorf("logging in to vault with AppRole (auth/%s): the answer holds no client token", ar.Mount)
	}
	return out.Auth.ClientToken, time.Duration(out.Auth.LeaseDuration) * time.Second, nil
}
