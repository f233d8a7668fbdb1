package keystore

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// KeyPKCS11 is the KeyFormat of a key held in a PKCS#11 token.
const KeyPKCS11 = "PKCS#11 token object (it never leaves the token)"

// LoadExternal reads a PEM or DER bundle of certificates whose private key
// is held elsewhere — in a PKCS#11 token — and makes key the key of the
// bundle's certificate for it: the one whose public key is key.Public(),
// else the first end-entity certificate (then marked as not matching).
// keyFormat describes where the key is (KeyPKCS11). The store is then used
// as any other: TLSCertificate presents key, Problems checks the chain.
//
// A private key found in the bundle is not used, and reported: the key is
// meant to stay in the token.
func LoadExternal(data []byte, key crypto.Signer, keyFormat string) (*Store, error) {
	s, err := read(data, "", "")
	if err != nil {
		return nil, err
	}
	certs := s.Certificates()
	if len(certs) == 0 {
		return nil, newError(CodeNoCertificate, nil, "the certificate file holds no certificate")
	}
	for _, e := range s.PrivateKeyEntries() {
		s.notes = append(s.notes, Problem{Code: CodeIgnoredBlock, Severity: SeverityWarning,
			Message: fmt.Sprintf("the certificate file also holds a private key (%s), which is not used: the key in the token is; "+
				"keep private keys out of the certificate file", e.KeyType)})
	}
	pk := parsedKey{key: key, format: keyFormat}
	entries, notes := pairKeys([]parsedKey{pk}, certs, false)
	s.Entries = entries
	s.notes = append(s.notes, notes...)
	s.addUnusedTrusted(certs, func(*x509.Certificate) string { return "" })
	s.unnamed = true
	s.selected, s.selectErr = entries[0], nil
	return s, nil
}

// InspectExternal is Inspect for a certificate file whose key is held
// elsewhere (LoadExternal). It never fails: what cannot be read becomes a
// problem.
func InspectExternal(data []byte, key crypto.Signer, keyFormat string, now time.Time, warnWithin time.Duration) Report {
	r := Report{CheckedAt: now, Entries: []EntryReport{}}
	s, err := LoadExternal(data, key, keyFormat)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			r.Problems = []Problem{e.Problem()}
		} else {
			r.Problems = []Problem{{Code: CodeCorrupt, Severity: SeverityError, Message: err.Error()}}
		}
		return r
	}
	return s.report(r, nil, now, warnWithin)
}
