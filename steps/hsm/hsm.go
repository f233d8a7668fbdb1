// Package hsm signs with private keys that stay in a PKCS#11 token — a
// hardware security module, a smart card, SoftHSM — so that a TLS handshake
// presents a client certificate whose key never leaves the token.
//
// Talking to a PKCS#11 module means loading a C library, which needs cgo.
// The ordinary build of the outflow command (go build ./cmd/outflow, cgo on
// as Go has it by default on Linux) includes it; a binary built with
// CGO_ENABLED=0 — the static worker image — answers every call with an
// error saying so (CodeUnsupported).
//
// A Key is shared: asking twice for the same module, token, key and PIN
// returns the same Key, whose sessions serve every transport of the
// process. The module is loaded once per process and never unloaded.
package hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/outflow-dev/outflow/steps/keystore"
)

// Config names a private key in a token.
type Config struct {
	// Module is the path of the PKCS#11 library.
	Module string
	// TokenLabel names the token, KeyLabel the private key object in it.
	TokenLabel string
	KeyLabel   string
	// PIN is the user PIN. It is never logged nor put in errors.
	PIN string
}

func (c Config) String() string {
	if c.KeyLabel == "" {
		return fmt.Sprintf("PKCS#11 token %q (module %s)", c.TokenLabel, c.Module)
	}
	return fmt.Sprintf("PKCS#11 key %q in token %q (module %s)", c.KeyLabel, c.TokenLabel, c.Module)
}

// The problems of PKCS#11 keys, as keystore.Error codes.
const (
	// CodeUnsupported: this binary was built without cgo.
	CodeUnsupported keystore.Code = "pkcs11_unsupported"
	// CodeModule: the module cannot be loaded or initialised.
	CodeModule keystore.Code = "pkcs11_module"
	// CodeTokenNotFound: no token has the label.
	CodeTokenNotFound keystore.Code = "pkcs11_token_not_found"
	// CodePINIncorrect: the token refused the PIN.
	CodePINIncorrect keystore.Code = "pkcs11_pin_incorrect"
	// CodePINLocked: the token locked its PIN after too many wrong ones.
	CodePINLocked keystore.Code = "pkcs11_pin_locked"
	// CodeKeyNotFound: no private key in the token has the label.
	CodeKeyNotFound keystore.Code = "pkcs11_key_not_found"
	// CodeKeyType: the key is not RSA or ECDSA.
	CodeKeyType keystore.Code = "pkcs11_key_type"
	// CodeSign: the token failed to sign.
	CodeSign keystore.Code = "pkcs11_sign"
)

// TokenReport is what Inspect found in a token, for `outflow certs inspect`.
type TokenReport struct {
	Module        string `json:"module"`
	Library       string `json:"library,omitempty"` // the module's own description
	TokenLabel    string `json:"token_label"`
	Manufacturer  string `json:"manufacturer,omitempty"`
	Model         string `json:"model,omitempty"`
	Serial        string `json:"serial,omitempty"`
	LoggedIn      bool   `json:"logged_in"` // the PIN opened it: private objects are listed
	Keys          []KeyInfo
	Certificates  []*x509.Certificate `json:"-"`
	OtherTokens   []string            `json:"other_tokens,omitempty"`
	Mechanisms    []string            `json:"mechanisms,omitempty"` // of those TLS needs: RSA-PKCS, RSA-PKCS-PSS, ECDSA
	SelectedKey   *KeyInfo            `json:"selected_key,omitempty"`
	SelectedError string              `json:"selected_error,omitempty"`
}

// KeyInfo describes a private key object.
type KeyInfo struct {
	Label string `json:"label"`
	ID    string `json:"id,omitempty"` // CKA_ID in hex
	Type  string `json:"type"`         // "RSA 2048", "ECDSA P-256"
}

// keyType names a public key the way keystore reports do.
func keyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	}
	return "unknown"
}

func errorf(code keystore.Code, err error, format string, args ...any) *keystore.Error {
	return &keystore.Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// pinDigest identifies a PIN without keeping it: wrong PINs are remembered
// so as not to try them again (a token locks its PIN after a few).
func pinDigest(salt []byte, pin string) [sha256.Size]byte {
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(pin))
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out
}

func quoteAll(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
