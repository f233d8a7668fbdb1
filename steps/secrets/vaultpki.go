package secrets

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Vault's PKI secrets engine issues certificates on demand: the worker asks
// POST /v1/MOUNT/issue/ROLE for a client certificate and its key, which
// Vault makes and does not keep. The same Vault provider (address, TLS,
// token or AppRole login) serves KV reads and issuance.

// PKIRequest asks a PKI role for a certificate.
type PKIRequest struct {
	// Mount is where the PKI engine is enabled ("pki"), Role the role that
	// issues.
	Mount, Role string
	// CommonName is the certificate's subject common name.
	CommonName string
	// AltNames are subject alternative names; those that are IP addresses
	// are sent as ip_sans, the others as alt_names.
	AltNames []string
	// TTL is the lifetime asked for; zero leaves it to the role.
	TTL time.Duration
}

func (r PKIRequest) path() string { return strings.Trim(r.Mount, "/") + "/issue/" + r.Role }

// PKICertificate is a certificate Vault issued, with its private key. The
// key exists nowhere else: keep it in memory, never on disk or in logs.
type PKICertificate struct {
	// Certificate is the PEM leaf; IssuingCA and CAChain the PEM issuers
	// (CAChain from the issuing CA up, as Vault gives it).
	Certificate string
	IssuingCA   string
	CAChain     []string
	// PrivateKey is the PEM key (PKCS#1, SEC1 or PKCS#8, as the role's
	// key type and Vault's defaults make it).
	PrivateKey string
	// Serial is Vault's colon-separated hex serial number.
	Serial     string
	Expiration time.Time
}

// PEMBundle returns leaf, chain and key as one PEM text, the form the
// keystore loader reads.
func (c *PKICertificate) PEMBundle() []byte {
	var b bytes.Buffer
	for _, s := range append([]string{c.Certificate}, c.chain()...) {
		b.WriteString(strings.TrimSpace(s))
		b.WriteByte('\n')
	}
	b.WriteString(strings.TrimSpace(c.PrivateKey))
	b.WriteByte('\n')
	return b.Bytes()
}

func (c *PKICertificate) chain() []string {
	if len(c.CAChain) > 0 {
		return c.CAChain
	}
	if c.IssuingCA != "" {
		return []string{c.IssuingCA}
	}
	return nil
}

// PKIError is Vault's refusal, or failure, to issue or describe a
// certificate. It names the path and what Vault said, never a token.
type PKIError struct {
	// Path is MOUNT/issue/ROLE or MOUNT/roles/ROLE.
	Path string
	// Status is Vault's HTTP status; 0 when Vault did not answer.
	Status int
	// Unreachable is true when no answer came (network, TLS, timeout).
	Unreachable bool
	Message     string
	Err         error
}

func (e *PKIError) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *PKIError) Unwrap() error { return e.Err }

// IssueCertificate asks the role for a certificate and key. With an AppRole
// login, a refused token leads to one new login and one more try.
func (v *Vault) IssueCertificate(ctx context.Context, req PKIRequest) (*PKICertificate, error) {
	if strings.Trim(req.Mount, "/") == "" || req.Role == "" {
		return nil, errors.New("vault pki: mount and role are required")
	}
	body := map[string]any{"common_name": req.CommonName, "format": "pem"}
	var dns, ips []string
	for _, n := range req.AltNames {
		if net.ParseIP(n) != nil {
			ips = append(ips, n)
		} else {
			dns = append(dns, n)
		}
	}
	if len(dns) > 0 {
		body["alt_names"] = strings.Join(dns, ",")
	}
	if len(ips) > 0 {
		body["ip_sans"] = strings.Join(ips, ",")
	}
	if req.TTL > 0 {
		body["ttl"] = fmt.Sprintf("%ds", int64(req.TTL/time.Second))
	}
	payload, _ := json.Marshal(body)
	var out struct {
		Data *struct {
			Certificate    string   `json:"certificate"`
			IssuingCA      string   `json:"issuing_ca"`
			CAChain        []string `json:"ca_chain"`
			PrivateKey     string   `json:"private_key"`
			PrivateKeyType string   `json:"private_key_type"`
			SerialNumber   string   `json:"serial_number"`
			Expiration     int64    `json:"expiration"`
		} `json:"data"`
	}
	path := req.path()
	if err := v.pkiCall(ctx, http.MethodPost, path, payload, &out, "issue a certificate from"); err != nil {
		return nil, err
	}
	d := out.Data
	if d == nil || d.Certificate == "" || d.PrivateKey == "" {
		return nil, &PKIError{Path: path, Status: http.StatusOK, Message: fmt.Sprintf("vault's answer from %s holds no certificate and key (is %q a PKI mount?)", path, req.Mount)}
	}
	c := &PKICertificate{Certificate: d.Certificate, IssuingCA: d.IssuingCA, CAChain: d.CAChain, PrivateKey: d.PrivateKey, Serial: d.SerialNumber}
	if d.Expiration > 0 {
		c.Expiration = time.Unix(d.Expiration, 0)
	}
	return c, nil
}

// PKIRole is what a PKI role issues, as Vault describes it, and the CA
// chain of its mount.
type PKIRole struct {
	Mount, Role string
	// TTL and MaxTTL are the role's default and longest lifetimes; zero
	// when the role leaves them to the mount.
	TTL, MaxTTL time.Duration
	KeyType     string
	KeyBits     int
	// AllowedDomains and the flags say which names the role issues for.
	AllowedDomains             []string
	AllowSubdomains, AllowAny  bool
	ClientFlag, ServerFlag     bool
	RoleUnreadable             string // why the role could not be read (a policy that may issue but not read)
	RoleStatus                 int    // Vault's status when the role could not be read: 403, 404 (no such role)
	CAChain                    []*x509.Certificate
	CAChainError               string
	AllowBareDomains, AllowIPs bool
}

// ReadPKIRole reads a role's settings (GET /v1/MOUNT/roles/ROLE) and the
// mount's CA chain (GET /v1/MOUNT/ca_chain), without issuing anything. A
// token allowed to issue but not to read the role still gets the chain,
// with RoleUnreadable saying why the role was not read. It fails only when
// Vault cannot be reached.
func (v *Vault) ReadPKIRole(ctx context.Context, mount, role string) (*PKIRole, error) {
	mount = strings.Trim(mount, "/")
	r := &PKIRole{Mount: mount, Role: role}
	var out struct {
		Data *struct {
			TTL              json.Number `json:"ttl"`
			MaxTTL           json.Number `json:"max_ttl"`
			KeyType          string      `json:"key_type"`
			KeyBits          int         `json:"key_bits"`
			AllowedDomains   []string    `json:"allowed_domains"`
			AllowSubdomains  bool        `json:"allow_subdomains"`
			AllowBareDomains bool        `json:"allow_bare_domains"`
			AllowAnyName     bool        `json:"allow_any_name"`
			AllowIPSANs      bool        `json:"allow_ip_sans"`
			ClientFlag       bool        `json:"client_flag"`
			ServerFlag       bool        `json:"server_flag"`
		} `json:"data"`
	}
	err := v.pkiCall(ctx, http.MethodGet, mount+"/roles/"+role, nil, &out, "read")
	var pe *PKIError
	switch {
	case errors.As(err, &pe) && pe.Unreachable:
		return nil, err
	case err != nil:
		r.RoleUnreadable = err.Error()
		if pe != nil {
			r.RoleStatus = pe.Status
		}
	case out.Data != nil:
		d := out.Data
		r.TTL, r.MaxTTL = seconds(d.TTL), seconds(d.MaxTTL)
		r.KeyType, r.KeyBits = d.KeyType, d.KeyBits
		r.AllowedDomains, r.AllowSubdomains, r.AllowAny, r.AllowBareDomains, r.AllowIPs = d.AllowedDomains, d.AllowSubdomains, d.AllowAnyName, d.AllowBareDomains, d.AllowIPSANs
		r.ClientFlag, r.ServerFlag = d.ClientFlag, d.ServerFlag
	}
	chain, err := v.pkiRaw(ctx, mount+"/ca_chain")
	if err != nil {
		r.CAChainError = err.Error()
		return r, nil
	}
	for rest := chain; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			r.CAChain = append(r.CAChain, c)
		}
	}
	return r, nil
}

// seconds reads Vault's durations: a number of seconds, as roles give them.
func seconds(n json.Number) time.Duration {
	if i, err := n.Int64(); err == nil {
		return time.Duration(i) * time.Second
	}
	if d, err := time.ParseDuration(string(n)); err == nil {
		return d
	}
	return 0
}

// pkiCall sends one authenticated request to /v1/PATH and decodes the JSON
// answer into out; what says what the call was for, in errors ("issue a
// certificate from").
func (v *Vault) pkiCall(ctx context.Context, method, path string, payload []byte, out any, what string) error {
	for attempt := 0; ; attempt++ {
		token, err := v.currentToken(ctx)
		if err != nil {
			return &PKIError{Path: path, Message: fmt.Sprintf("authenticating to vault to %s %s", what, path), Err: err}
		}
		var body io.Reader
		if payload != nil {
			body = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, v.opts.Address+"/v1/"+escapePath(path), body)
		if err != nil {
			return fmt.Errorf("building the vault request: %w", err)
		}
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		v.headers(req, token)
		resp, err := noRedirects(v.opts.Client).Do(req)
		if err != nil {
			return &PKIError{Path: path, Unreachable: true, Message: fmt.Sprintf("vault at %s cannot be reached to %s %s", v.opts.Address, what, path), Err: err}
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return &PKIError{Path: path, Unreachable: true, Message: fmt.Sprintf("reading vault's answer from %s", path), Err: err}
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			if err := json.Unmarshal(data, out); err != nil {
				clear(data)
				return &PKIError{Path: path, Status: resp.StatusCode, Message: fmt.Sprintf("vault's answer from %s is not JSON", path)}
			}
			clear(data)
			return nil
		case resp.StatusCode == http.StatusForbidden && v.opts.AppRole != nil && attempt == 0:
			v.forget(token)
			continue
		case resp.StatusCode == http.StatusForbidden:
			return &PKIError{Path: path, Status: resp.StatusCode, Message: fmt.Sprintf(
				"vault refused to %s %s (403 %s): the token's policy must allow %s on %s, or the token expired",
				what, path, vaultErrors(data), map[string]string{http.MethodPost: "update", http.MethodGet: "read"}[method], path)}
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			return &PKIError{Path: path, Status: resp.StatusCode, Message: fmt.Sprintf(
				"vault answered %s to %s and a redirect is not followed (the request carries the token): set secrets.vault.address to the server that answers itself", resp.Status, path)}
		case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusBadRequest:
			return &PKIError{Path: path, Status: resp.StatusCode, Message: fmt.Sprintf(
				"vault refused to %s %s (%s): %s; check the mount (a PKI engine enabled at %q?), the role, and that the role allows the names asked for",
				what, path, resp.Status, vaultErrors(data), strings.SplitN(path, "/", 2)[0])}
		default:
			return &PKIError{Path: path, Status: resp.StatusCode, Unreachable: resp.StatusCode >= 500,
				Message: fmt.Sprintf("vault answered %s to %s %s: %s", resp.Status, what, path, vaultErrors(data))}
		}
	}
}

// pkiRaw reads one of the PKI engine's unauthenticated PEM endpoints.
func (v *Vault) pkiRaw(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.opts.Address+"/v1/"+escapePath(path), nil)
	if err != nil {
		return nil, err
	}
	v.headers(req, "")
	resp, err := noRedirects(v.opts.Client).Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading vault %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading vault %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("vault answered %s reading %s", resp.Status, path)
	}
	return data, nil
}

// noRedirects is c answering 3xx itself: a redirect would take the token
// to wherever Vault's answer points.
func noRedirects(c *http.Client) *http.Client {
	cp := *c
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

// VaultPKI returns the resolver's Vault provider, which also issues
// certificates, when the worker's config sets one up (secrets.vault).
func (r *Resolver) VaultPKI() (*Vault, bool) {
	r.mu.RLock()
	p := r.providers["vault"]
	r.mu.RUnlock()
	if c, ok := p.(*cache); ok {
		p = c.inner
	}
	v, ok := p.(*Vault)
	return v, ok
}
