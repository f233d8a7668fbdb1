package flows

import (
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

// The forms of a protocol profile's keystore: a keystore file (path), a
// certificate and key as separate files, a certificate issued by Vault's
// PKI engine (vault_pki), a key in a PKCS#11 token (pkcs11). Files may be
// project files (relative, never leaving the project folder) or files on
// the worker's machine (absolute paths, read where the step runs).

// VaultPKI asks Vault's PKI secrets engine for the client certificate.
type VaultPKI struct {
	// Where the PKI secrets engine is enabled, such as `pki`.
	Mount string `yaml:"mount" jsonschema:"required"`
	// The PKI role that issues the certificate.
	Role string `yaml:"role" jsonschema:"required"`
	// The certificate's common name; the role must allow it.
	CommonName string `yaml:"common_name" jsonschema:"required"`
	// More names for the certificate: DNS names and email addresses, and IP addresses (sent as `ip_sans`).
	AltNames []string `yaml:"alt_names,omitempty"`
	// The certificate's lifetime, such as `24h`. Default: the role's. Vault caps it at the role's `max_ttl`.
	TTL Duration `yaml:"ttl,omitempty"`
}

// PKCS11 names a private key kept in a PKCS#11 token.
type PKCS11 struct {
	// The PKCS#11 library on the worker's machine, an absolute path such as
	// `/usr/lib/softhsm/libsofthsm2.so`.
	Module string `yaml:"module" jsonschema:"required"`
	// The label of the token that holds the key.
	TokenLabel string `yaml:"token_label" jsonschema:"required"`
	// The label of the private key in the token.
	KeyLabel string `yaml:"key_label" jsonschema:"required"`
	// The token's user PIN.
	PIN *SecretRef `yaml:"pin" jsonschema:"required"`
}

// keystoreForms lists the forms a keystore sets, by their YAML keys.
func keystoreForms(ks *Keystore) []string {
	var out []string
	if ks.Path != "" {
		out = append(out, "path")
	}
	if ks.Key != "" || (ks.Certificate != "" && ks.PKCS11 == nil && ks.Path == "" && ks.VaultPKI == nil) {
		out = append(out, "certificate and key")
	}
	if ks.VaultPKI != nil {
		out = append(out, "vault_pki")
	}
	if ks.PKCS11 != nil {
		out = append(out, "pkcs11")
	}
	return out
}

// checkKeystore checks a profile's keystore: one form, its fields, and
// where its files are.
func (c *checker) checkKeystore(doc *document, p *ProtocolProfile) {
	ks := p.Keystore
	if ks == nil {
		return
	}
	forms := keystoreForms(ks)
	switch {
	case len(forms) == 0:
		if !doc.troubled["keystore"] {
			c.errorf(doc, doc.keyPos("keystore"), "keystore", "a keystore needs one of path (a keystore file), certificate and key (PEM files), vault_pki or pkcs11")
		}
		return
	case len(forms) > 1:
		c.errorf(doc, doc.keyPos("keystore"), "keystore", "a keystore takes one form, and this one gives %s: keep one", strings.Join(forms, " and "))
		return
	}
	store := p.Store
	if store == "" {
		store = "project"
	}
	if store == "vault" && forms[0] != "path" {
		c.errorf(doc, doc.valPos("store"), "store", "store: vault fetches a keystore file (path) from a secret store; a keystore given as %s needs no store: leave it out", forms[0])
		return
	}
	file := func(key, value string) {
		if store != "project" {
			if strings.TrimSpace(value) == "" {
				c.errorf(doc, doc.valPos("keystore."+key), "keystore."+key, "empty path; name a file")
			}
			return
		}
		c.checkWorkerOrProjectPath(doc, "keystore."+key, value)
	}
	notFor := func(form string, keys ...string) {
		set := map[string]bool{"password": ks.Password != nil, "key_password": ks.KeyPassword != nil, "alias": ks.Alias != "", "chain": ks.Chain != "", "certificate": ks.Certificate != ""}
		for _, k := range keys {
			if set[k] {
				c.errorf(doc, doc.keyPos("keystore."+k), "keystore."+k, "%s is not used with %s; remove it", k, form)
			}
		}
	}
	switch forms[0] {
	case "path":
		if store == "project" {
			c.checkWorkerOrProjectPath(doc, "keystore.path", ks.Path)
		}
		notFor("path (a keystore file holds its chain)", "chain", "certificate")
	case "certificate and key":
		switch {
		case ks.Certificate == "":
			c.errorf(doc, doc.keyPos("keystore.key"), "keystore.certificate", "key needs certificate: the PEM file of the certificate the key belongs to (tls.crt)")
		case ks.Key == "":
			c.errorf(doc, doc.keyPos("keystore.certificate"), "keystore.key", "certificate needs key: the PEM file of its private key (tls.key), or pkcs11: for a key in a token")
		}
		if ks.Certificate != "" {
			file("certificate", ks.Certificate)
		}
		if ks.Key != "" {
			file("key", ks.Key)
		}
		if ks.Chain != "" {
			file("chain", ks.Chain)
		}
		notFor("certificate and key files (one key, no entries to choose)", "alias")
	case "vault_pki":
		c.checkVaultPKI(doc, ks.VaultPKI)
		notFor("vault_pki (Vault makes the key and the worker keeps it in memory)", "password", "key_password", "alias", "chain", "certificate")
	case "pkcs11":
		c.checkPKCS11(doc, ks.PKCS11)
		if ks.Certificate == "" {
			c.errorf(doc, doc.keyPos("keystore.pkcs11"), "keystore.certificate", "pkcs11 needs certificate: the PEM file of the certificate of the token's key")
		} else {
			file("certificate", ks.Certificate)
		}
		if ks.Chain != "" {
			file("chain", ks.Chain)
		}
		notFor("pkcs11 (the PIN opens the token)", "password", "key_password", "alias")
	}
}

// checkWorkerOrProjectPath checks a file of a store: project profile: an
// absolute path is read on the worker's machine; a relative one is a
// project file and must stay in the project folder.
func (c *checker) checkWorkerOrProjectPath(doc *document, p, file string) {
	switch {
	case strings.TrimSpace(file) == "":
		c.errorf(doc, doc.valPos(p), p, "empty path; name a file relative to the project folder, or an absolute path on the worker's machine")
	case isAbsPath(file):
	case !fs.ValidPath(path.Clean(file)):
		c.errorf(doc, doc.valPos(p), p, "path %q leaves the project folder; keep project files inside it, or give an absolute path to read a file on the worker's machine", file)
	}
}

func isAbsPath(file string) bool {
	return path.IsAbs(file) || (len(file) > 2 && file[1] == ':' && (file[2] == '\\' || file[2] == '/'))
}

// checkVaultPKI checks what the decoder does not: mount, role and
// common_name are required fields it reports when missing.
func (c *checker) checkVaultPKI(doc *document, v *VaultPKI) {
	const base = "keystore.vault_pki"
	for _, r := range []struct{ key, value string }{{"mount", strings.Trim(v.Mount, "/")}, {"role", v.Role}} {
		p := base + "." + r.key
		if v := r.value; v != "" && (strings.ContainsAny(v, " ?#%\\") || strings.Contains(v, "..")) {
			c.errorf(doc, doc.valPos(p), p, "%q is not a Vault path: %s names a mount or role, such as pki or partner-client", v, r.key)
		}
	}
	if engine.IsTemplate(v.CommonName) {
		c.errorf(doc, doc.valPos(base+".common_name"), base+".common_name", "a profile's fields are fixed values, not expressions")
	}
	for i, n := range v.AltNames {
		p := indexPath(base+".alt_names", i)
		if strings.TrimSpace(n) == "" || strings.ContainsAny(n, ", ") {
			c.errorf(doc, doc.valPos(p), p, "invalid name %q: one DNS name, email address or IP address per entry", n)
		}
	}
	if v.TTL > 0 && time.Duration(v.TTL) < 3*time.Minute {
		c.warnf(doc, doc.valPos(base+".ttl"), base+".ttl", "a certificate for less than 3 minutes is renewed every two minutes or less: that is a call to Vault each time")
	}
}

// checkPKCS11 checks what the decoder does not: module, token_label,
// key_label and pin are required fields it reports when missing.
func (c *checker) checkPKCS11(doc *document, k *PKCS11) {
	const base = "keystore.pkcs11"
	if k.Module != "" && !isAbsPath(k.Module) {
		c.errorf(doc, doc.valPos(base+".module"), base+".module", "module %q must be an absolute path: the library is loaded on the worker's machine, never from the project", k.Module)
	}
}

// checkTruststorePaths keeps relative trust files inside the project.
func (c *checker) checkTruststorePaths(doc *document, ts *Truststore) {
	for i, tp := range ts.Paths {
		p := indexPath("truststore.paths", i)
		if strings.TrimSpace(tp) != "" && !isAbsPath(tp) && !fs.ValidPath(path.Clean(tp)) {
			c.warnf(doc, doc.valPos(p), p, "path %q leaves the project folder; keep project files inside it, or give an absolute path to read a file on the worker's machine", tp)
		}
	}
}

// checkPrivateKeyJWT keeps credential.private_key to a keystore file.
func (c *checker) checkPrivateKeyJWT(doc *document, ks *Keystore) {
	if forms := keystoreForms(ks); len(forms) > 0 && (len(forms) > 1 || forms[0] != "path") {
		c.errorf(doc, doc.keyPos("credential.private_key"), "credential.private_key", "private_key takes a keystore file (path:); %s are for a protocol profile's keystore", strings.Join(forms, " and "))
		return
	}
	c.checkProjectPath(doc, "credential.private_key.path", ks.Path, "give a path relative to the project folder")
}

// compileKeystore is a keystore in the plan.
func compileKeystore(ks *Keystore) *engine.Keystore {
	out := &engine.Keystore{Path: ks.Path, Password: secretRef(ks.Password), KeyPassword: secretRef(ks.KeyPassword), Alias: ks.Alias,
		Certificate: ks.Certificate, Key: ks.Key, Chain: ks.Chain}
	if v := ks.VaultPKI; v != nil {
		out.VaultPKI = &engine.VaultPKI{Mount: strings.Trim(v.Mount, "/"), Role: v.Role, CommonName: v.CommonName,
			AltNames: append([]string(nil), v.AltNames...), TTL: engine.Duration(v.TTL)}
		if len(out.VaultPKI.AltNames) == 0 {
			out.VaultPKI.AltNames = nil
		}
	}
	if k := ks.PKCS11; k != nil {
		out.PKCS11 = &engine.PKCS11{Module: k.Module, TokenLabel: k.TokenLabel, KeyLabel: k.KeyLabel, PIN: secretRef(k.PIN)}
	}
	return out
}
