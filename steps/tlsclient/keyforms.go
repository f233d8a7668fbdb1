package tlsclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/hsm"
	"github.com/outflow-dev/outflow/steps/keystore"
	secretstore "github.com/outflow-dev/outflow/steps/secrets"
)

// The keystore forms beyond one keystore file: a certificate and key in
// separate files, a certificate issued by Vault's PKI engine, a key in a
// PKCS#11 token.

// resolveKeystoreForms makes the files of the other forms absolute and
// resolves their secrets.
func resolveKeystoreForms(cfg *profileConfig, baseDir string, secret func(string, *engine.SecretRef) (string, error)) error {
	ks := cfg.profile.Keystore
	var err error
	switch ks.Form() {
	case engine.KeystoreFiles:
		cfg.certPath, cfg.keyPath = absPath(baseDir, ks.Certificate), absPath(baseDir, ks.Key)
		if ks.Chain != "" {
			cfg.chainPath = absPath(baseDir, ks.Chain)
		}
		// An encrypted key's password may be given as either.
		if cfg.keyPassword, err = secret("keystore.key_password", ks.KeyPassword); err != nil {
			return err
		}
		if cfg.keyPassword == "" {
			if cfg.keyPassword, err = secret("keystore.password", ks.Password); err != nil {
				return err
			}
		}
	case engine.KeystorePKCS11:
		cfg.certPath = absPath(baseDir, ks.Certificate)
		if ks.Chain != "" {
			cfg.chainPath = absPath(baseDir, ks.Chain)
		}
		if cfg.pin, err = secret("keystore.pkcs11.pin", ks.PKCS11.PIN); err != nil {
			return err
		}
	}
	return nil
}

// keystoreForm builds the material of the other forms; nil when the
// profile presents no certificate.
func (c *Cache) keystoreForm(ctx context.Context, cfg *profileConfig, warnWithin time.Duration, log *slog.Logger) (*material, error) {
	p := cfg.profile
	ks := p.Keystore
	switch ks.Form() {
	case engine.KeystoreFiles:
		m, err := newFilesMaterial(cfg.certPath, cfg.keyPath, cfg.chainPath, cfg.keyPassword, warnWithin, log)
		if err != nil {
			return nil, fmt.Errorf("loading certificate %q and key %q for profile %q: %w", cfg.certPath, cfg.keyPath, p.Name, err)
		}
		return m, nil
	case engine.KeystorePKCS11:
		m, err := newPKCS11Material(hsm.Config{Module: ks.PKCS11.Module, TokenLabel: ks.PKCS11.TokenLabel, KeyLabel: ks.PKCS11.KeyLabel, PIN: cfg.pin},
			cfg.certPath, cfg.chainPath, warnWithin, log)
		if err != nil {
			return nil, fmt.Errorf("loading the PKCS#11 key of profile %q: %w", p.Name, err)
		}
		return m, nil
	case engine.KeystoreVaultPKI:
		if c.Issuer == nil {
			return nil, &keystore.Error{Code: CodeVaultPKIUnavailable, Message: fmt.Sprintf(
				"profile %q has its certificate issued by Vault (keystore.vault_pki), and this worker has no Vault: set secrets.vault in its config (outflow worker --config)", p.Name)}
		}
		m := &material{what: "vault " + vaultPath(ks.VaultPKI), source: "vault " + vaultPath(ks.VaultPKI), warnWithin: warnWithin, log: log, now: c.now,
			issue: issuer(c.Issuer, ks.VaultPKI)}
		m.mu.Lock()
		defer m.mu.Unlock()
		if err := m.init(); err != nil {
			return nil, fmt.Errorf("issuing the client certificate of profile %q: %w", p.Name, err)
		}
		return m, nil
	}
	return nil, nil
}

// ErrNoVault is what a CertificateIssuer answers on a worker without Vault.
var ErrNoVault = errors.New("no vault on this worker")

// CodeVaultPKIUnavailable: a profile wants a Vault-issued certificate on a
// worker without Vault.
const CodeVaultPKIUnavailable keystore.Code = "vault_pki_unavailable"

// CodeVaultPKI: Vault did not issue a usable certificate.
const CodeVaultPKI keystore.Code = "vault_pki"

func vaultPath(v *engine.VaultPKI) string { return strings.Trim(v.Mount, "/") + "/issue/" + v.Role }

// issuer asks Vault for a certificate and reads it as a keystore. Errors
// are *keystore.Error, wrapping Vault's.
func issuer(iss CertificateIssuer, v *engine.VaultPKI) func(context.Context) (*keystore.Store, error) {
	req := secretstore.PKIRequest{Mount: v.Mount, Role: v.Role, CommonName: v.CommonName, AltNames: v.AltNames, TTL: v.TTL.D()}
	return func(ctx context.Context) (*keystore.Store, error) {
		issued, err := iss.IssueCertificate(ctx, req)
		if errors.Is(err, ErrNoVault) {
			return nil, &keystore.Error{Code: CodeVaultPKIUnavailable, Message: fmt.Sprintf(
				"the certificate is issued by Vault (keystore.vault_pki: %s), and this worker has no Vault: set secrets.vault in its config (outflow worker --config)", vaultPath(v))}
		}
		if err != nil {
			msg := fmt.Sprintf("vault did not issue a certificate from %s", vaultPath(v))
			var pe *secretstore.PKIError
			if errors.As(err, &pe) && pe.Unreachable {
				msg = fmt.Sprintf("vault cannot be reached to issue a certificate from %s", vaultPath(v))
			}
			return nil, &keystore.Error{Code: CodeVaultPKI, Message: msg, Err: err}
		}
		store, err := keystore.Load(issued.PEMBundle(), "", "", "")
		if err != nil {
			return nil, &keystore.Error{Code: CodeVaultPKI, Message: fmt.Sprintf("the certificate vault issued from %s cannot be used", vaultPath(v)), Err: err}
		}
		return store, nil
	}
}

// newPKCS11Material presents the certificate file cert (with more of the
// chain from chain) with the token's key. The certificate file is watched
// like a keystore: a renewed certificate for the same key is presented from
// the next handshake; one for another key is refused and the last good one
// kept.
func newPKCS11Material(cfg hsm.Config, cert, chain string, warnWithin time.Duration, log *slog.Logger) (*material, error) {
	key, err := hsm.Open(cfg)
	if err != nil {
		return nil, err
	}
	files := []string{cert}
	if chain != "" {
		files = append(files, chain)
	}
	m := &material{what: fmt.Sprintf("certificate %s with %s", cert, key), source: fmt.Sprintf("pkcs11 token %q key %q", cfg.TokenLabel, cfg.KeyLabel),
		files: files, warnWithin: warnWithin, log: log,
		parse: func(data [][]byte) (*keystore.Store, error) {
			leaf, err := firstCertificate(data[0])
			if err != nil {
				return nil, fmt.Errorf("reading certificate %s: %w", cert, err)
			}
			signer, err := key.Bind(leaf)
			if err != nil {
				return nil, err
			}
			return keystore.LoadExternal(joinPEM(data...), signer, keystore.KeyPKCS11)
		}}
	if err := m.init(); err != nil {
		return nil, err
	}
	return m, nil
}
