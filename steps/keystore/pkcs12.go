package keystore

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// readPKCS12 reads a PKCS#12 (.p12, .pfx) file. go-pkcs12 offers three
// readers, each for one layout, so they are tried from the most informative:
//
//   - ToPEM keeps entry names (friendly names) and allows several keys, but
//     rejects Java's trusted-certificate attribute and wants exactly two
//     safes (one with keys, one with certificates);
//   - DecodeChain takes one key and any certificates, without names (Java
//     keystores converted by keytool, which carry trusted entries);
//   - DecodeTrustStore takes certificates marked trusted by Java (a keytool
//     trust store).
//
// PKCS#12 has one password for the file and its keys, so there is no
// separate key password to tell apart.
func readPKCS12(data []byte, password string) (*Store, error) {
	s := &Store{Format: FormatPKCS12}

	// ToPEM is deprecated for the PEM it writes (PKCS#1 and SEC 1 keys
	// labelled "PRIVATE KEY"), which is never written out here: it is the
	// one call that returns every key and certificate of the file with its
	// friendlyName and localKeyId, and parseKeyDER reads the key bytes
	// whatever their label.
	//lint:ignore SA1019 the blocks are read, never written out (see above)
	blocks, err := pkcs12.ToPEM(data, password)
	if err == nil {
		return s, s.fromPEMBlocks(blocks)
	}
	if isPasswordError(err) {
		return nil, p12PasswordError(password)
	}

	key, leaf, cas, err := pkcs12.DecodeChain(data, password)
	switch {
	case err == nil:
		signer, perr := signerOf(key)
		if perr != nil {
			return nil, perr
		}
		certs := append([]*x509.Certificate{leaf}, cas...)
		s.unnamed = true
		s.Entries, _ = pairKeys([]parsedKey{{key: signer}}, certs, false)
		s.addUnusedTrusted(certs, func(*x509.Certificate) string { return "" })
		return s, nil
	case isPasswordError(err):
		return nil, p12PasswordError(password)
	case strings.Contains(err.Error(), "expected exactly one key bag"):
		return nil, newError(CodeUnsupported, err, "this PKCS#12 file holds several private keys together with trusted certificates, "+
			"a layout Outflow cannot take apart; export the one entry you need: "+
			"keytool -importkeystore -srckeystore FILE -srcstoretype PKCS12 -srcalias ALIAS -destkeystore one.p12 -deststoretype PKCS12")
	case !strings.Contains(err.Error(), "private key missing"):
		return nil, newError(CodeCorrupt, err, "reading the PKCS#12 file")
	}

	trusted, err := pkcs12.DecodeTrustStore(data, password)
	if err != nil {
		if isPasswordError(err) {
			return nil, p12PasswordError(password)
		}
		return nil, newError(CodeUnsupported, err, "this PKCS#12 file holds certificates but no private key, and its certificates are not marked "+
			"trusted the way keytool marks them (openssl pkcs12 -export -nokeys writes such files); Outflow cannot read that layout: "+
			"for a trust store use the CA certificates as PEM (openssl pkcs12 -in FILE -nokeys -out ca.pem), "+
			"for a client keystore export the private key too")
	}
	s.unnamed = true
	s.Entries = trustedEntries(trusted, func(*x509.Certificate) bool { return false }, func(*x509.Certificate) string { return "" })
	return s, nil
}

func isPasswordError(err error) bool {
	return errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption)
}

// p12PasswordError replaces the library's password error, whose text adds
// nothing a user can act on.
func p12PasswordError(password string) error {
	if password == "" {
		return newError(CodePasswordMissing, nil, "the PKCS#12 file is password-protected and no password was given: set keystore.password")
	}
	return newError(CodeWrongStorePassword, nil, "the PKCS#12 password is wrong (PKCS#12 files use one password for the file and its keys): check keystore.password")
}

// fromPEMBlocks builds the entries from go-pkcs12's bag dump: keys and
// certificates carry their friendly name (the alias) and local key ID (what
// ties a key to its certificate).
func (s *Store) fromPEMBlocks(blocks []*pem.Block) error {
	var certs []*x509.Certificate
	byKeyID := map[string]*x509.Certificate{}
	names := map[*x509.Certificate]string{}
	for _, b := range blocks {
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			s.notes = append(s.notes, Problem{Code: CodeBadCertificate, Severity: SeverityError,
				Message: fmt.Sprintf("a certificate in the PKCS#12 file cannot be parsed (%v); it is skipped", err)})
			continue
		}
		certs = append(certs, c)
		names[c] = b.Headers["friendlyName"]
		if id := b.Headers["localKeyId"]; id != "" {
			byKeyID[id] = c
		}
	}
	var keys []parsedKey
	for _, b := range blocks {
		if b.Type != "PRIVATE KEY" {
			continue
		}
		signer, _, err := parseKeyDER(b.Bytes, b.Type)
		if err != nil {
			return err
		}
		alias := b.Headers["friendlyName"]
		if alias == "" {
			s.unnamed = true
		}
		keys = append(keys, parsedKey{alias: alias, key: signer, leafHint: byKeyID[b.Headers["localKeyId"]]})
	}
	s.Entries, _ = pairKeys(keys, certs, false)
	s.addUnusedTrusted(certs, func(c *x509.Certificate) string { return names[c] })
	return nil
}

// addUnusedTrusted lists the certificates no private-key entry uses as
// trusted-certificate entries.
func (s *Store) addUnusedTrusted(certs []*x509.Certificate, alias func(*x509.Certificate) string) {
	used := func(c *x509.Certificate) bool {
		for _, e := range s.Entries {
			if slices.ContainsFunc(e.Chain, c.Equal) {
				return true
			}
		}
		return false
	}
	s.Entries = append(s.Entries, trustedEntries(certs, used, alias)...)
}

// signerOf checks that a key go-pkcs12 decoded can sign a handshake.
func signerOf(key any) (crypto.Signer, error) {
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, newError(CodeUnsupported, nil, "the private key is of type %T, which cannot sign a TLS handshake", key)
	}
	return signer, nil
}
