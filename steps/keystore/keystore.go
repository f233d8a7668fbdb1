// Package keystore reads client keystores and trust stores — JKS, PKCS#12 and
// PEM or DER certificate bundles — and explains in plain words what is wrong
// with them. It does no network I/O: package tlsclient uses it at run time,
// and `outflow certs inspect` shows its Report.
//
// The format is detected from the content, never from the file name, because
// users rename files freely (a .pfx is PKCS#12, a .crt may hold PEM or DER, a
// "keystore" may be an HTML login page saved by a browser).
package keystore

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
)

// Format names a keystore file format.
type Format string

const (
	FormatJKS    Format = "JKS"
	FormatPKCS12 Format = "PKCS#12"
	FormatPEM    Format = "PEM"
	FormatDER    Format = "DER"
)

// EntryKind says what an entry holds.
type EntryKind string

const (
	// KindPrivateKey is a private key with its certificate chain: what a
	// client presents in mutual TLS.
	KindPrivateKey EntryKind = "private-key"
	// KindTrustedCert is a certificate alone: something to trust, never
	// something to present.
	KindTrustedCert EntryKind = "trusted-cert"
)

// How a private key was encoded in a PEM or DER file; see Entry.KeyFormat.
const (
	KeyPKCS1          = "PKCS#1"
	KeyPKCS1Encrypted = "PKCS#1 with legacy PEM encryption"
	KeyPKCS8          = "PKCS#8"
	KeyPKCS8Encrypted = "encrypted PKCS#8"
	KeySEC1           = "SEC1 (EC)"
)

// Entry is one entry of a store: a private key with its chain, or a trusted
// certificate.
type Entry struct {
	// Alias is the entry's name. PEM and DER files have none; PKCS#12 files
	// have one only when the tool that wrote them stored a friendly name.
	Alias string
	Kind  EntryKind
	// Chain is the entry's certificate first (the leaf, for a private key),
	// then its issuers as far as the store holds them, in order, whatever
	// order the file had them in.
	Chain []*x509.Certificate
	// KeyType is "RSA 2048", "ECDSA P-256", "Ed25519"; empty for trusted
	// certificates.
	KeyType string
	// KeyFormat is how a PEM or DER file encoded the key (KeyPKCS1, ...);
	// empty for JKS and PKCS#12, whose containers protect the key.
	KeyFormat string

	key      crypto.Signer
	public   crypto.PublicKey // known before decryption (JKS), from the stored leaf
	mismatch bool             // the key does not belong to Chain[0]
	decrypt  func() error     // decrypts key on demand (JKS)
}

func (e *Entry) publicKey() crypto.PublicKey {
	if e.key != nil {
		return e.key.Public()
	}
	return e.public
}

// Store is the content of one keystore or bundle file. Reading it is safe
// from several goroutines once Load has returned.
type Store struct {
	Format  Format
	Entries []*Entry

	selected  *Entry
	selectErr *Error
	notes     []Problem
	// unnamed is true when the format carries no aliases (PEM, DER, and
	// PKCS#12 files read without their names).
	unnamed bool
	// keyUnread is true when the file holds a private key that could not
	// be read (an encrypted one without its password): it is missing from
	// Entries, but not from the file.
	keyUnread bool
}

// Load reads a keystore of any supported format and picks its private-key
// entry: the one named alias, or the only one when alias is empty.
// keyPassword decrypts the key where the format allows a separate one (JKS,
// encrypted PEM keys); when empty, password is used, as keytool does.
//
// A store without a private key loads (it may be a trust store); asking it
// for a TLSCertificate explains what is missing. An alias that matches no
// entry is an error listing the aliases there are.
func Load(data []byte, password, keyPassword, alias string) (*Store, error) {
	s, err := read(data, password, keyPassword)
	if err != nil {
		return nil, err
	}
	if err := s.choose(alias); err != nil {
		return nil, err
	}
	return s, nil
}

// read parses the file. On error it may also return the part of the store it
// could read (a JKS read without the right password still lists its entries),
// for Inspect.
func read(data []byte, password, keyPassword string) (*Store, error) {
	switch f := sniff(data); f {
	case FormatJKS:
		return readJKS(data, password, keyPassword)
	case FormatPKCS12:
		return readPKCS12(data, password)
	case FormatPEM:
		if keyPassword == "" {
			keyPassword = password
		}
		return readPEM(data, keyPassword)
	case FormatDER:
		return readDER(data)
	}
	return nil, newError(CodeUnknownFormat, nil, "the file is not a keystore Outflow can read (JKS, PKCS#12, PEM or DER): it looks like %s", describe(data))
}

// choose selects the private-key entry and decrypts its key if the format
// defers that (JKS).
func (s *Store) choose(alias string) error {
	keys := s.PrivateKeyEntries()
	var pick *Entry
	switch {
	case alias != "":
		pick = s.find(alias)
		if pick == nil && s.unnamed && len(keys) == 1 {
			pick = keys[0]
			s.notes = append(s.notes, Problem{Code: CodeAliasUnchecked, Severity: SeverityInfo,
				Message: fmt.Sprintf("alias %q could not be checked: this %s file stores no entry names; its only private key is used", alias, s.Format)})
		}
		if pick == nil {
			return s.fail(newError(CodeUnknownAlias, nil, "the keystore has no entry named %q; %s", alias, s.aliasList()))
		}
		if pick.Kind != KindPrivateKey {
			return s.fail(&Error{Code: CodeAliasNotKeyEntry, Alias: pick.Alias, Message: fmt.Sprintf(
				"entry %q is a trusted certificate, not a private key: a trusted certificate cannot be presented to a server. "+
					"The CA-signed certificate must be imported onto the alias that holds the private key "+
					"(keytool -importcert -trustcacerts -alias <key alias>); %s", pick.Alias, s.aliasList())})
		}
	case len(keys) == 1:
		pick = keys[0]
	case len(keys) > 1:
		s.selectErr = newError(CodeAmbiguousAlias, nil, "the keystore has %d private keys; choose one with keystore.alias: %s", len(keys), s.aliasList())
		return nil
	default:
		return nil
	}
	if pick.decrypt != nil {
		if err := pick.decrypt(); err != nil {
			return s.fail(err)
		}
	}
	s.selected = pick
	return nil
}

func (s *Store) fail(err error) error {
	if e, ok := err.(*Error); ok {
		s.selectErr = e
	}
	return err
}

// find returns the entry named alias: an exact match, else the only match
// ignoring case (keytool lower-cases JKS and PKCS#12 aliases, people don't).
func (s *Store) find(alias string) *Entry {
	var folded []*Entry
	for _, e := range s.Entries {
		if e.Alias == alias {
			return e
		}
		if strings.EqualFold(e.Alias, alias) {
			folded = append(folded, e)
		}
	}
	if len(folded) == 1 {
		return folded[0]
	}
	return nil
}

func (s *Store) aliasList() string {
	var keys, trusted []string
	for _, e := range s.Entries {
		name := quoteAlias(e.Alias)
		if e.Kind == KindPrivateKey {
			keys = append(keys, name)
		} else {
			trusted = append(trusted, name)
		}
	}
	list := func(names []string) string {
		if len(names) == 0 {
			return "none"
		}
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("private-key entries: %s; trusted-certificate entries: %s", list(keys), list(trusted))
}

// PrivateKeyEntries returns the entries holding a private key, in file order.
func (s *Store) PrivateKeyEntries() []*Entry {
	var out []*Entry
	for _, e := range s.Entries {
		if e.Kind == KindPrivateKey {
			out = append(out, e)
		}
	}
	return out
}

// Selected returns the private-key entry Load picked, or nil when the store
// has none or several and no alias chose.
func (s *Store) Selected() *Entry { return s.selected }

// Certificates returns every distinct certificate of the store, in entry
// order: what a trust store made of this file trusts.
func (s *Store) Certificates() []*x509.Certificate {
	var out []*x509.Certificate
	for _, e := range s.Entries {
		for _, c := range e.Chain {
			if !slices.ContainsFunc(out, c.Equal) {
				out = append(out, c)
			}
		}
	}
	return out
}

// TLSCertificate returns the selected entry as a tls.Certificate: the leaf
// and its intermediates in order (the self-signed root is left out, servers
// have their own), the private key, and the parsed leaf. It fails, saying
// why in plain words, when there is no usable private key: none at all (a
// store of trusted certificates), several and no alias, no certificate for
// the key, or a key that does not belong to the certificate.
func (s *Store) TLSCertificate() (tls.Certificate, error) {
	if s.selectErr != nil {
		return tls.Certificate{}, s.selectErr
	}
	e := s.selected
	if e == nil {
		return tls.Certificate{}, s.noKeyError()
	}
	if len(e.Chain) == 0 {
		p := entryProblems(e)[0]
		return tls.Certificate{}, &Error{Code: p.Code, Alias: e.Alias, Message: p.Message}
	}
	if e.mismatch {
		for _, p := range entryProblems(e) {
			if p.Code == CodeKeyMismatch {
				return tls.Certificate{}, &Error{Code: p.Code, Alias: e.Alias, Message: p.Message}
			}
		}
	}
	chain := e.Chain
	if len(chain) > 1 && isSelfSigned(chain[len(chain)-1]) {
		chain = chain[:len(chain)-1]
	}
	cert := tls.Certificate{PrivateKey: e.key, Leaf: e.Chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return cert, nil
}

func (s *Store) noKeyError() *Error {
	for _, p := range s.trustedOnlyProblems(nil) {
		if p.Code == CodeNoPrivateKey {
			return &Error{Code: p.Code, Message: p.Message}
		}
	}
	n := len(s.Certificates())
	if s.Format == FormatPEM || s.Format == FormatDER {
		return newError(CodeNoPrivateKey, nil, "the %s file holds %d certificate(s) and no private key: "+
			"a client keystore needs the private key too (a \"BEGIN PRIVATE KEY\" block in the bundle)", s.Format, n)
	}
	return newError(CodeNoPrivateKey, nil, "the keystore has no private key, only %d trusted certificate(s): it can serve as a truststore, "+
		"not as a client keystore; use the keystore that holds the private key and its CA-signed certificate", n)
}
