package keystore

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
)

// parsedKey is a decrypted private key found in a file, before it is paired
// with its certificate.
type parsedKey struct {
	alias  string
	key    crypto.Signer
	format string
	// leafHint is the certificate the container says belongs to the key
	// (JKS chain, PKCS#12 local key ID); nil when the file does not say.
	leafHint *x509.Certificate
}

// gluedBlocks finds an END line run into the next BEGIN line: what `cat`
// produces from files that lack a final newline.
var gluedBlocks = regexp.MustCompile(`(-----END [^-\r\n]{1,64}-----)[ \t]*(-----BEGIN )`)

// normalizePEM makes the text parseable by encoding/pem and notes what it
// had to fix: Windows line endings, blocks glued on one line, indentation
// (PEM pasted into YAML).
func normalizePEM(data []byte) ([]byte, []Problem) {
	var notes []Problem
	if bytes.Contains(data, []byte("\r\n")) {
		notes = append(notes, Problem{Code: CodeCRLF, Severity: SeverityInfo,
			Message: "the file has Windows line endings (CRLF); Outflow reads it, but some Linux tools fail to parse it: " +
				"convert with dos2unix or sed -i 's/\\r$//' FILE"})
	}
	if gluedBlocks.Match(data) {
		notes = append(notes, Problem{Code: CodeGluedPEM, Severity: SeverityWarning,
			Message: "an \"-----END ...-----\" line runs into the next \"-----BEGIN\" on the same line (files concatenated without a final newline); " +
				"Outflow splits them, other tools skip the second block: put each BEGIN on its own line"})
		data = gluedBlocks.ReplaceAll(data, []byte("$1\n$2"))
	}
	lines := bytes.Split(data, []byte("\n"))
	for i, l := range lines {
		lines[i] = bytes.TrimSpace(l)
	}
	return bytes.Join(lines, []byte("\n")), notes
}

func readPEM(data []byte, keyPassword string) (*Store, error) {
	text, notes := normalizePEM(data)
	s := &Store{Format: FormatPEM, unnamed: true}

	var certs []*x509.Certificate
	var keys []parsedKey
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	blocks := 0
	for rest := text; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		blocks++
		switch b.Type {
		case "CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE":
			c, err := parseCertificateBlock(b)
			if err != nil {
				notes = append(notes, Problem{Code: CodeBadCertificate, Severity: SeverityError,
					Message: fmt.Sprintf("certificate block %d cannot be parsed (%v); it is skipped", blocks, err)})
				continue
			}
			certs = append(certs, c)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
			k, err := parseKeyBlock(b, keyPassword)
			if err != nil {
				s.keyUnread = true
				fail(err)
				continue
			}
			keys = append(keys, k)
		case "EC PARAMETERS":
			// openssl ecparam -genkey writes the curve before the key; the
			// key block names it again.
		default:
			notes = append(notes, Problem{Code: CodeIgnoredBlock, Severity: SeverityInfo,
				Message: fmt.Sprintf("a PEM block of type %q is ignored: it is neither a certificate nor a private key", b.Type)})
		}
	}
	if begins := bytes.Count(text, []byte("-----BEGIN ")); begins > blocks {
		notes = append(notes, Problem{Code: CodeUnreadableBlock, Severity: SeverityWarning,
			Message: fmt.Sprintf("%d of the %d PEM blocks cannot be decoded (damaged base64, a missing END line, or lines edited by hand); they are skipped",
				begins-blocks, begins)})
	}
	if len(certs) == 0 && len(keys) == 0 && firstErr == nil {
		return nil, newError(CodeUnknownFormat, nil, "the file holds no certificate or private key: it looks like %s", describePEM(text))
	}

	entries, orderNotes := pairKeys(keys, certs, true)
	notes = append(notes, orderNotes...)
	s.Entries = entries
	s.addUnusedTrusted(certs, func(*x509.Certificate) string { return "" })
	s.notes = notes
	return s, firstErr
}

func parseCertificateBlock(b *pem.Block) (*x509.Certificate, error) {
	der := b.Bytes
	if b.Type == "TRUSTED CERTIFICATE" {
		// OpenSSL's trusted form appends trust settings after the
		// certificate; the certificate is the first DER value.
		var raw asn1.RawValue
		if _, err := asn1.Unmarshal(der, &raw); err != nil {
			return nil, err
		}
		der = raw.FullBytes
	}
	return x509.ParseCertificate(der)
}

func parseKeyBlock(b *pem.Block, password string) (parsedKey, error) {
	der := b.Bytes
	var format string
	switch b.Type {
	case "PRIVATE KEY":
		format = KeyPKCS8
	case "ENCRYPTED PRIVATE KEY":
		format = KeyPKCS8Encrypted
		if password == "" {
			return parsedKey{}, errPasswordMissing(b.Type)
		}
		plain, err := decryptPKCS8(der, password)
		if err != nil {
			return parsedKey{}, keyDecryptError(b.Type, err)
		}
		der = plain
	case "RSA PRIVATE KEY", "EC PRIVATE KEY":
		format = KeyPKCS1
		if b.Type == "EC PRIVATE KEY" {
			format = KeySEC1
		}
		//lint:ignore SA1019 users still have keys from `openssl genrsa -des3`; reading them is the point.
		if x509.IsEncryptedPEMBlock(b) {
			if format == KeyPKCS1 {
				format = KeyPKCS1Encrypted
			}
			if password == "" {
				return parsedKey{}, errPasswordMissing(b.Type)
			}
			//lint:ignore SA1019 see above
			plain, err := x509.DecryptPEMBlock(b, []byte(password))
			if err != nil {
				if errors.Is(err, x509.IncorrectPasswordError) {
					err = errWrongPassword
				}
				return parsedKey{}, keyDecryptError(b.Type, err)
			}
			der = plain
		}
	}
	key, parsedAs, err := parseKeyDER(der, b.Type)
	if format == KeyPKCS8 || format == KeyPKCS1 || format == KeySEC1 {
		format = parsedAs // the label can be wrong; say what the bytes are
	}
	if err != nil {
		if format == KeyPKCS8Encrypted || format == KeyPKCS1Encrypted {
			// Decryption with a wrong password ends in valid padding
			// about once in 256 tries; the garbage then fails to parse.
			return parsedKey{}, keyDecryptError(b.Type, errWrongPassword)
		}
		return parsedKey{}, err
	}
	return parsedKey{key: key, format: format}, nil
}

var errWrongPassword = errors.New("wrong password")

func errPasswordMissing(blockType string) error {
	return newError(CodePasswordMissing, nil, "the private key is encrypted (%q) and no password was given: set keystore.key_password, or keystore.password", blockType)
}

func keyDecryptError(blockType string, err error) error {
	if errors.Is(err, errWrongPassword) {
		return newError(CodeWrongKeyPassword, nil, "the password does not decrypt the private key (%q): check keystore.key_password, "+
			"or keystore.password when no key_password is set", blockType)
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return newError(CodeCorrupt, err, "decrypting the private key (%q)", blockType)
}

// parseKeyDER reads a private key in whichever encoding it is, trying the
// label's encoding first: files are mislabelled often enough.
func parseKeyDER(der []byte, label string) (crypto.Signer, string, error) {
	type parser struct {
		format string
		parse  func([]byte) (any, error)
	}
	parsers := []parser{
		{KeyPKCS8, x509.ParsePKCS8PrivateKey},
		{KeyPKCS1, func(b []byte) (any, error) { return x509.ParsePKCS1PrivateKey(b) }},
		{KeySEC1, func(b []byte) (any, error) { return x509.ParseECPrivateKey(b) }},
	}
	switch label {
	case "RSA PRIVATE KEY":
		parsers[0], parsers[1] = parsers[1], parsers[0]
	case "EC PRIVATE KEY":
		parsers[0], parsers[2] = parsers[2], parsers[0]
	}
	var firstErr error
	for _, p := range parsers {
		k, err := p.parse(der)
		if err == nil {
			signer, ok := k.(crypto.Signer)
			if !ok {
				return nil, "", newError(CodeUnsupported, nil, "the private key is of type %T, which cannot sign a TLS handshake", k)
			}
			return signer, p.format, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, "", newError(CodeCorrupt, firstErr, "parsing the private key (%q)", label)
}

// readDER reads a binary file that is not PKCS#12: one or more DER
// certificates (a .cer or .der file), or a bare private key.
func readDER(data []byte) (*Store, error) {
	s := &Store{Format: FormatDER, unnamed: true}
	if certs, err := x509.ParseCertificates(data); err == nil && len(certs) > 0 {
		s.Entries = trustedEntries(certs, func(*x509.Certificate) bool { return false }, func(*x509.Certificate) string { return "" })
		return s, nil
	}
	if key, format, err := parseKeyDER(data, "PRIVATE KEY"); err == nil {
		s.Entries = []*Entry{{Kind: KindPrivateKey, key: key, KeyType: keyType(key.Public()), KeyFormat: format}}
		return s, nil
	}
	return nil, newError(CodeUnknownFormat, nil, "the file is not a keystore Outflow can read: it looks like %s", describeDER(data))
}
