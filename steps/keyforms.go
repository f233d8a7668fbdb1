package steps

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/hsm"
	"github.com/outflow-dev/outflow/steps/keystore"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/tlsclient"
)

// The keystore forms beyond one keystore file, where steps run and where
// certificates are checked: a certificate and key as separate files, a
// certificate issued by Vault's PKI engine, a key in a PKCS#11 token.

// vaultIssuer issues certificates with the Vault provider of the
// transports' secret resolver, looked up at each issuance: the worker's
// config registers it after the transports are made.
type vaultIssuer struct{ t *Transports }

func (v vaultIssuer) IssueCertificate(ctx context.Context, req secrets.PKIRequest) (*secrets.PKICertificate, error) {
	if v.t.Secrets == nil {
		return nil, tlsclient.ErrNoVault
	}
	vault, ok := v.t.Secrets.VaultPKI()
	if !ok {
		return nil, tlsclient.ErrNoVault
	}
	return vault.IssueCertificate(ctx, req)
}

// keystoreFilesExist checks, on this worker, every file a keystore names.
func keystoreFilesExist(baseDir string, p *engine.ProtocolProfile, a *Agent, hint string) error {
	for _, f := range p.Keystore.Files() {
		if err := keystoreExists(absPath(baseDir, f), p, a, hint); err != nil {
			return err
		}
	}
	return nil
}

// withFilesUnder returns a copy of ks whose relative files are under dir.
func withFilesUnder(ks *engine.Keystore, dir string) *engine.Keystore {
	cp := *ks
	for _, f := range []*string{&cp.Path, &cp.Certificate, &cp.Key, &cp.Chain} {
		if *f != "" {
			*f = absPath(dir, *f)
		}
	}
	return &cp
}

// PKIRoleReader reads what a Vault PKI role issues, without issuing:
// secrets.Vault.
type PKIRoleReader interface {
	ReadPKIRole(ctx context.Context, mount, role string) (*secrets.PKIRole, error)
}

// CheckOptions say how CheckProfileWith checks.
type CheckOptions struct {
	Resolve SecretFunc
	Now     time.Time
	Within  time.Duration
	// Vault reads the roles of vault_pki keystores (outflow certs check
	// --config); nil leaves them unchecked, with a note.
	Vault PKIRoleReader
	// Issued returns the certificate a worker presents for a profile
	// (vault_pki keystores: the one Vault last issued), if any.
	Issued func(profile string) (tlsclient.ClientCertificate, bool)
}

// where says where the key material of a keystore is read, when that is
// worth saying: not in the project folder.
func where(ks *engine.Keystore, store string) string {
	switch ks.Form() {
	case engine.KeystoreVaultPKI:
		return fmt.Sprintf("the client certificate is issued by Vault (%s/issue/%s) on the worker that runs the step, and its key kept in that worker's memory",
			strings.Trim(ks.VaultPKI.Mount, "/"), ks.VaultPKI.Role)
	case engine.KeystorePKCS11:
		return fmt.Sprintf("the key stays in PKCS#11 token %q (module %s) on the worker that runs the step; the certificate is read from %s there",
			ks.PKCS11.TokenLabel, ks.PKCS11.Module, ks.Certificate)
	}
	if store != "" && store != "project" {
		return ""
	}
	var abs []string
	for _, f := range ks.Files() {
		if filepath.IsAbs(f) {
			abs = append(abs, f)
		}
	}
	if len(abs) == 0 {
		return ""
	}
	return fmt.Sprintf("%s read on the machine of the worker that runs the step (absolute path: not part of the project)", strings.Join(abs, ", "))
}

// checkKeystoreForm checks the key material of the other forms into pc.
func checkKeystoreForm(ctx context.Context, pc *ProfileCheck, p *engine.ProtocolProfile, baseDir string, o CheckOptions) {
	ks := p.Keystore
	switch ks.Form() {
	case engine.KeystoreFiles:
		checkFilesForm(ctx, pc, ks, baseDir, o)
	case engine.KeystorePKCS11:
		checkPKCS11Form(ctx, pc, ks, baseDir, o)
	case engine.KeystoreVaultPKI:
		checkVaultForm(ctx, pc, p, o)
	}
}

func problem(code keystore.Code, sev keystore.Severity, format string, args ...any) keystore.Problem {
	return keystore.Problem{Code: code, Severity: sev, Message: fmt.Sprintf(format, args...)}
}

// readForCheck reads a file of a keystore; a file missing here is a
// warning (it may exist only where the step runs), other errors are errors.
func readForCheck(pc *ProfileCheck, what, file string) ([]byte, bool) {
	data, err := os.ReadFile(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
		pc.Problems = append(pc.Problems, problem("keystore_missing", keystore.SeverityWarning,
			"%s %s does not exist on this machine; it must exist on the workers that run the steps", what, file))
		return nil, false
	case err != nil:
		pc.Problems = append(pc.Problems, problem("keystore_unreadable", keystore.SeverityError, "reading %s %s: %v", what, file, err))
		return nil, false
	}
	return data, true
}

func checkFilesForm(ctx context.Context, pc *ProfileCheck, ks *engine.Keystore, baseDir string, o CheckOptions) {
	cert, key := absPath(baseDir, ks.Certificate), absPath(baseDir, ks.Key)
	parts := [][]byte{}
	for _, f := range []struct{ what, path string }{{"certificate", cert}, {"key", key}, {"chain", ks.Chain}} {
		if f.path == "" {
			continue
		}
		data, ok := readForCheck(pc, f.what, absPath(baseDir, f.path))
		if !ok {
			return
		}
		parts = append(parts, data, []byte("\n"))
	}
	pw, err := secretOf(ctx, o.Resolve, ks.KeyPassword)
	if err == nil && pw == "" {
		pw, err = secretOf(ctx, o.Resolve, ks.Password)
	}
	if err != nil {
		pc.NotChecked = fmt.Sprintf("key %s not opened here: %v", key, err)
		return
	}
	rep := keystore.Inspect(joinBytes(parts), "", pw, "", o.Now, o.Within)
	pc.Problems = append(pc.Problems, rep.Problems...)
	addCerts(pc, rep, cert, o.Now)
}

func checkPKCS11Form(ctx context.Context, pc *ProfileCheck, ks *engine.Keystore, baseDir string, o CheckOptions) {
	cert := absPath(baseDir, ks.Certificate)
	certData, ok := readForCheck(pc, "certificate", cert)
	if !ok {
		return
	}
	if ks.Chain != "" {
		chain, ok := readForCheck(pc, "chain", absPath(baseDir, ks.Chain))
		if !ok {
			return
		}
		certData = joinBytes([][]byte{certData, []byte("\n"), chain})
	}
	pin, err := secretOf(ctx, o.Resolve, ks.PKCS11.PIN)
	if err != nil {
		pc.NotChecked = fmt.Sprintf("token %q not opened here: %v", ks.PKCS11.TokenLabel, err)
		return
	}
	cfg := hsm.Config{Module: ks.PKCS11.Module, TokenLabel: ks.PKCS11.TokenLabel, KeyLabel: ks.PKCS11.KeyLabel, PIN: pin}
	key, err := hsm.Open(cfg)
	if err != nil {
		var ke *keystore.Error
		if errors.As(err, &ke) && (ke.Code == hsm.CodeUnsupported || ke.Code == hsm.CodeModule) {
			// This machine may not be where the token is.
			pc.Problems = append(pc.Problems, keystore.Problem{Code: ke.Code, Severity: keystore.SeverityWarning, Message: ke.Message})
		} else {
			pc.Problems = append(pc.Problems, problemOf(err))
		}
		// The certificate's dates can be checked all the same.
		rep := keystore.Inspect(certData, "", "", "", o.Now, o.Within)
		addCerts(pc, rep, cert, o.Now)
		return
	}
	leaf, err := keystore.Load(certData, "", "", "")
	var first *keystore.Entry
	if err == nil && len(leaf.Entries) > 0 {
		first = leaf.Entries[0]
	}
	if first == nil || len(first.Chain) == 0 {
		pc.Problems = append(pc.Problems, problem(keystore.CodeNoCertificate, keystore.SeverityError, "the certificate file %s holds no certificate", cert))
		return
	}
	signer, err := key.Bind(first.Chain[0])
	if err != nil {
		pc.Problems = append(pc.Problems, problemOf(err))
		rep := keystore.Inspect(certData, "", "", "", o.Now, o.Within)
		addCerts(pc, rep, cert, o.Now)
		return
	}
	rep := keystore.InspectExternal(certData, signer, keystore.KeyPKCS11, o.Now, o.Within)
	pc.Problems = append(pc.Problems, rep.Problems...)
	addCerts(pc, rep, cert, o.Now)
}

func checkVaultForm(ctx context.Context, pc *ProfileCheck, p *engine.ProtocolProfile, o CheckOptions) {
	v := p.Keystore.VaultPKI
	path := strings.Trim(v.Mount, "/") + "/issue/" + v.Role
	if o.Issued != nil {
		if cc, ok := o.Issued(p.Name); ok {
			pc.Certs = append(pc.Certs, CertStatus{Role: "client", Subject: cc.Subject, NotAfter: cc.NotAfter,
				DaysLeft: daysBetween(o.Now, cc.NotAfter), File: fmt.Sprintf("vault %s (serial %s)", path, cc.Serial)})
		}
	}
	if o.Vault == nil {
		// A worker checking before a run says nothing until the first step
		// had a certificate issued.
		if len(pc.Certs) == 0 && o.Issued == nil {
			pc.NotChecked = fmt.Sprintf("the certificate is issued by Vault (%s) when a step first needs it; give outflow certs check --config with secrets.vault to check the role", path)
		}
		return
	}
	role, err := o.Vault.ReadPKIRole(ctx, v.Mount, v.Role)
	if err != nil {
		pc.Problems = append(pc.Problems, problem("vault_unreachable", keystore.SeverityError, "%v", err))
		return
	}
	for _, c := range role.CAChain {
		pc.Certs = append(pc.Certs, certStatus("chain", keystore.CertInfoOf(c), "vault "+strings.Trim(v.Mount, "/")+"/ca_chain", o.Now))
		if left := c.NotAfter.Sub(o.Now); left < o.Within {
			pc.Problems = append(pc.Problems, problem(keystore.CodeExpiringSoon, keystore.SeverityWarning,
				"the CA %s of Vault mount %s expires on %s: certificates it issues cannot outlive it", c.Subject, v.Mount, c.NotAfter.UTC().Format(time.DateOnly)))
		}
	}
	if role.CAChainError != "" {
		pc.Problems = append(pc.Problems, problem("vault_pki_ca", keystore.SeverityWarning, "the CA chain of Vault mount %s cannot be read: %s", v.Mount, role.CAChainError))
	}
	switch {
	case role.RoleStatus == http.StatusNotFound || role.RoleStatus == http.StatusBadRequest:
		pc.Problems = append(pc.Problems, problem("vault_pki_role", keystore.SeverityError, "Vault has no PKI role %q on mount %s: %s", v.Role, v.Mount, role.RoleUnreadable))
	case role.RoleUnreadable != "":
		pc.Problems = append(pc.Problems, problem("vault_pki_role", keystore.SeverityWarning,
			"the PKI role %s/roles/%s cannot be read with this token (%s); a token that may issue but not read roles is common, and the first step shows whether issuing works", v.Mount, v.Role, role.RoleUnreadable))
	default:
		for _, n := range append([]string{v.CommonName}, v.AltNames...) {
			if n != "" && !roleAllows(role, n) {
				pc.Problems = append(pc.Problems, problem("vault_pki_name", keystore.SeverityError,
					"the PKI role %s does not allow the name %q (allowed domains: %s; subdomains %v, bare domains %v): Vault will refuse the certificate", v.Role, n, strings.Join(role.AllowedDomains, ", "), role.AllowSubdomains, role.AllowBareDomains))
			}
		}
		if !role.ClientFlag {
			pc.Problems = append(pc.Problems, problem(keystore.CodeNoClientAuthEKU, keystore.SeverityError,
				"the PKI role %s issues certificates without the clientAuth usage (client_flag false): partners will reject them", v.Role))
		}
		if ttl := v.TTL.D(); ttl > 0 && role.MaxTTL > 0 && ttl > role.MaxTTL {
			pc.Problems = append(pc.Problems, problem("vault_pki_ttl", keystore.SeverityWarning,
				"the ttl %s is longer than the role's max_ttl %s: Vault issues for %s", ttl, role.MaxTTL, role.MaxTTL))
		}
		pc.Problems = append(pc.Problems, problem("vault_pki_role", keystore.SeverityInfo,
			"PKI role %s/roles/%s: key %s %d, ttl %s, max_ttl %s", v.Mount, v.Role, role.KeyType, role.KeyBits, durationOr(role.TTL, "the mount's"), durationOr(role.MaxTTL, "the mount's")))
	}
}

func roleAllows(r *secrets.PKIRole, name string) bool {
	if r.AllowAny {
		return true
	}
	for _, d := range r.AllowedDomains {
		if r.AllowBareDomains && name == d || r.AllowSubdomains && strings.HasSuffix(name, "."+d) {
			return true
		}
		if strings.HasPrefix(d, "*.") && strings.HasSuffix(name, d[1:]) {
			return true
		}
	}
	return false
}

func durationOr(d time.Duration, zero string) string {
	if d == 0 {
		return zero
	}
	return d.String()
}

func daysBetween(now, t time.Time) int {
	return int(t.Sub(now).Hours() / 24)
}

func addCerts(pc *ProfileCheck, rep keystore.Report, file string, now time.Time) {
	for _, e := range rep.Entries {
		if e.Kind == keystore.KindPrivateKey && !e.Selected {
			continue
		}
		for i, c := range e.Chain {
			role := "chain"
			switch {
			case e.Kind != keystore.KindPrivateKey:
				role = "trust"
			case i == 0:
				role = "client"
			}
			pc.Certs = append(pc.Certs, certStatus(role, c, file, now))
		}
	}
}

func problemOf(err error) keystore.Problem {
	var ke *keystore.Error
	if errors.As(err, &ke) {
		return ke.Problem()
	}
	return keystore.Problem{Code: "keystore_unreadable", Severity: keystore.SeverityError, Message: err.Error()}
}

func secretOf(ctx context.Context, resolve SecretFunc, ref *engine.SecretRef) (string, error) {
	if ref == nil || ref.Ref == "" {
		return "", nil
	}
	if resolve == nil {
		return "", errors.New("no secret resolver")
	}
	return resolve(ctx, ref.Ref)
}

func joinBytes(parts [][]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// issuedBy finds the certificate a worker's transports present for a
// profile: a Vault-issued one is checked as last issued, without asking
// Vault again.
func issuedBy(tr *Transports) func(string) (tlsclient.ClientCertificate, bool) {
	if tr == nil || tr.Cache == nil {
		return nil
	}
	return func(profile string) (tlsclient.ClientCertificate, bool) {
		for _, cc := range tr.Cache.ClientCertificates() {
			if cc.Profile == profile && cc.Source != "" {
				return cc, true
			}
		}
		return tlsclient.ClientCertificate{}, false
	}
}

// formField is the profile field a problem of a keystore of the other
// forms is about; "" leaves it to Field's rules for keystore files.
func formField(form string, code keystore.Code) string {
	switch form {
	case engine.KeystoreFiles:
		switch code {
		case keystore.CodePasswordMissing, keystore.CodeWrongKeyPassword, keystore.CodeWrongStorePassword:
			return "keystore.password"
		case keystore.CodeKeyMismatch, keystore.CodeKeyFormat:
			return "keystore.key"
		case keystore.CodeMissingIntermediate:
			return "keystore.chain"
		case codeTruststoreMissing, codeTruststoreUnreadable:
			return ""
		}
		return "keystore.certificate"
	case engine.KeystorePKCS11:
		switch code {
		case hsm.CodePINIncorrect, hsm.CodePINLocked:
			return "keystore.pkcs11.pin"
		case hsm.CodeKeyNotFound, hsm.CodeKeyType:
			return "keystore.pkcs11.key_label"
		case hsm.CodeTokenNotFound:
			return "keystore.pkcs11.token_label"
		case hsm.CodeModule, hsm.CodeUnsupported:
			return "keystore.pkcs11.module"
		case codeTruststoreMissing, codeTruststoreUnreadable:
			return ""
		}
		return "keystore.certificate"
	case engine.KeystoreVaultPKI:
		switch code {
		case "vault_pki_name":
			return "keystore.vault_pki.common_name"
		case "vault_pki_ttl":
			return "keystore.vault_pki.ttl"
		case "vault_pki_role":
			return "keystore.vault_pki.role"
		case codeTruststoreMissing, codeTruststoreUnreadable:
			return ""
		}
		return "keystore.vault_pki"
	}
	return ""
}
