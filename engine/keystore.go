package engine

// The forms a Keystore takes, as KeystoreForm names them.
const (
	// KeystoreFile is one JKS, PKCS#12 or PEM file (Keystore.Path).
	KeystoreFile = "file"
	// KeystoreFiles is a certificate and its key as separate PEM files,
	// as Kubernetes TLS secrets, cert-manager and Vault agents write them.
	KeystoreFiles = "certificate_key"
	// KeystoreVaultPKI is a certificate and key issued on demand by
	// Vault's PKI secrets engine, kept in memory only.
	KeystoreVaultPKI = "vault_pki"
	// KeystorePKCS11 is a key that stays in a PKCS#11 token (a hardware
	// security module) with its certificate in a file.
	KeystorePKCS11 = "pkcs11"
)

// Form says which form the keystore takes (KeystoreFile, ...). A keystore
// that sets fields of several forms is refused by the loader; Form then
// answers for the first of PKCS11, VaultPKI, Key, Path.
func (k *Keystore) Form() string {
	switch {
	case k == nil:
		return ""
	case k.PKCS11 != nil:
		return KeystorePKCS11
	case k.VaultPKI != nil:
		return KeystoreVaultPKI
	case k.Key != "" || (k.Certificate != "" && k.Path == ""):
		return KeystoreFiles
	}
	return KeystoreFile
}

// Files lists the files of the keystore the worker reads, in the order
// path, certificate, key, chain; empty ones are left out.
func (k *Keystore) Files() []string {
	if k == nil {
		return nil
	}
	var out []string
	for _, f := range []string{k.Path, k.Certificate, k.Key, k.Chain} {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// VaultPKI asks Vault's PKI secrets engine for the client certificate: the
// worker calls POST /v1/MOUNT/issue/ROLE when it first needs one, keeps the
// key in memory only, and asks again at two thirds of the certificate's
// lifetime.
type VaultPKI struct {
	// Mount is where the PKI engine is enabled ("pki").
	Mount string `json:"mount"`
	// Role is the PKI role that issues the certificate.
	Role string `json:"role"`
	// CommonName is the certificate's common name.
	CommonName string `json:"common_name"`
	// AltNames are subject alternative names: DNS names and email
	// addresses go as alt_names, IP addresses as ip_sans.
	AltNames []string `json:"alt_names,omitempty"`
	// TTL is the lifetime asked for; zero leaves it to the role.
	TTL Duration `json:"ttl,omitempty"`
}

// PKCS11 names a private key in a PKCS#11 token. The key never leaves the
// token: TLS handshakes sign through the module.
type PKCS11 struct {
	// Module is the path of the PKCS#11 library on the worker
	// (/usr/lib/softhsm/libsofthsm2.so).
	Module string `json:"module"`
	// TokenLabel names the token; KeyLabel the private key object in it.
	TokenLabel string     `json:"token_label"`
	KeyLabel   string     `json:"key_label"`
	PIN        *SecretRef `json:"pin,omitempty"`
}
