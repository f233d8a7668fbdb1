package keystore

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

const (
	jksMagic   = 0xfeedfeed
	jceksMagic = 0xcececece
)

var oidPKCS7 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7}

// sniff tells the format from the first bytes. It returns "" when the
// content is none of the formats Outflow reads.
func sniff(data []byte) Format {
	if len(data) >= 4 && binary.BigEndian.Uint32(data) == jksMagic {
		return FormatJKS
	}
	if isPKCS12(data) {
		return FormatPKCS12
	}
	if bytes.Contains(data, []byte("-----BEGIN ")) && !isUTF16(data) {
		return FormatPEM
	}
	if len(data) > 0 && data[0] == 0x30 && !isText(data) {
		return FormatDER // an ASN.1 SEQUENCE: a certificate or a key
	}
	return ""
}

// isPKCS12 recognises a PFX PDU: SEQUENCE { INTEGER 3, ContentInfo (a PKCS#7
// type) ... }. A DER certificate also starts with a SEQUENCE, so the version
// and content type are what tell them apart.
func isPKCS12(data []byte) bool {
	in := cryptobyte.String(data)
	var pfx, authSafe cryptobyte.String
	var version int
	var oid asn1.ObjectIdentifier
	return in.ReadASN1(&pfx, cbasn1.SEQUENCE) &&
		pfx.ReadASN1Integer(&version) && version == 3 &&
		pfx.ReadASN1(&authSafe, cbasn1.SEQUENCE) &&
		authSafe.ReadASN1ObjectIdentifier(&oid) &&
		len(oid) == len(oidPKCS7)+1 && oid[:len(oidPKCS7)].Equal(oidPKCS7)
}

func isUTF16(data []byte) bool {
	if bytes.HasPrefix(data, []byte{0xff, 0xfe}) || bytes.HasPrefix(data, []byte{0xfe, 0xff}) {
		return true
	}
	// Without a byte order mark: ASCII text with a zero byte after (or
	// before) every character.
	if len(data) < 8 {
		return false
	}
	zeros := 0
	for i := 1; i < 8; i += 2 {
		if data[i] == 0 || data[i-1] == 0 {
			zeros++
		}
	}
	return zeros == 4
}

// describe says, in a phrase that follows "it looks like", what data is when
// it is no keystore. It never quotes the content: a broken key file could
// still hold secret bytes.
func describe(data []byte) string {
	return describeDepth(data, 0)
}

func describeDepth(data []byte, depth int) string {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		if len(data) == 0 {
			return "an empty file (0 bytes)"
		}
		return fmt.Sprintf("an empty file (%d bytes of white space)", len(data))
	}
	if len(data) >= 4 && binary.BigEndian.Uint32(data) == jceksMagic {
		return "a JCEKS keystore, Java's older proprietary format; convert it to PKCS#12: " +
			"keytool -importkeystore -srckeystore FILE -srcstoretype JCEKS -destkeystore out.p12 -deststoretype PKCS12"
	}
	if isUTF16(data) {
		return "UTF-16 text, as PowerShell's Out-File and Set-Content -Encoding Unicode write it; " +
			"save the file again as ASCII (Set-Content -Encoding ASCII)"
	}
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return "a ZIP archive; unpack it and use the keystore inside"
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		return "a gzip-compressed file; decompress it first"
	}
	head := strings.ToLower(string(trimmed[:min(len(trimmed), 1024)]))
	switch {
	case strings.HasPrefix(head, "<!doctype html") || strings.Contains(head, "<html"):
		return "an HTML page, not a keystore: a browser, proxy or wiki probably saved its login or error page instead of the file; download the file itself again"
	case strings.HasPrefix(head, "<?xml") || strings.HasPrefix(head, "<"):
		return "an XML document, not a keystore"
	case strings.HasPrefix(head, "{") || strings.HasPrefix(head, "["):
		return "JSON text, not a keystore (a secret store's response saved whole?); extract the keystore value from it"
	}
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		return describePEM(data)
	}
	if data[0] == 0x30 && !isText(data) {
		return describeDER(data)
	}
	if depth == 0 && isBase64Text(trimmed) {
		if raw, err := base64.StdEncoding.DecodeString(stripSpace(trimmed)); err == nil && len(raw) > 0 {
			inner := sniff(raw)
			if inner == "" {
				return "base64 text of " + describeDepth(raw, depth+1)
			}
			return fmt.Sprintf("base64-encoded %s data, not the file itself; decode it first (base64 -d FILE > keystore)", inner)
		}
	}
	if isText(trimmed) {
		return "text without any \"-----BEGIN ...-----\" line, so not PEM"
	}
	return fmt.Sprintf("%d bytes of binary data in none of those formats", len(data))
}

func describePEM(data []byte) string {
	var kinds []string
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		kinds = append(kinds, b.Type)
	}
	if len(kinds) == 0 {
		return "PEM text whose blocks cannot be decoded (a damaged or truncated file, or lines were re-wrapped)"
	}
	for _, k := range kinds {
		switch k {
		case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
			return "a certificate signing request (CSR), not a certificate: send it to the CA, " +
				"then use the certificate the CA returns together with the private key the CSR was made with"
		case "PUBLIC KEY", "RSA PUBLIC KEY":
			return "a public key alone: a client keystore needs the private key and the certificate"
		case "PKCS7":
			return "a PKCS#7 (.p7b) certificate bundle; convert it: openssl pkcs7 -print_certs -in FILE -out chain.pem"
		case "OPENSSH PRIVATE KEY":
			return "an OpenSSH private key, which TLS cannot use: TLS needs an X.509 certificate and its key"
		case "X509 CRL":
			return "a certificate revocation list, not a certificate"
		case "PGP PUBLIC KEY BLOCK", "PGP PRIVATE KEY BLOCK":
			return "a PGP key, which TLS cannot use"
		}
	}
	return fmt.Sprintf("PEM blocks of type %s, which hold no certificate or private key Outflow can use", strings.Join(kinds, ", "))
}

func describeDER(data []byte) string {
	if _, err := x509.ParseCertificateRequest(data); err == nil {
		return "a certificate signing request (CSR) in DER form, not a certificate: send it to the CA and use the certificate it returns"
	}
	if _, err := x509.ParsePKIXPublicKey(data); err == nil {
		return "a public key alone (DER): a client keystore needs the private key and the certificate"
	}
	in := cryptobyte.String(data)
	var ci cryptobyte.String
	var oid asn1.ObjectIdentifier
	if in.ReadASN1(&ci, cbasn1.SEQUENCE) && ci.ReadASN1ObjectIdentifier(&oid) && oid.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}) {
		return "a PKCS#7 (.p7b) certificate bundle in DER form; convert it: openssl pkcs7 -inform DER -print_certs -in FILE -out chain.pem"
	}
	return fmt.Sprintf("%d bytes of DER (ASN.1) data that is no certificate, private key or PKCS#12 file", len(data))
}

func isBase64Text(b []byte) bool {
	if len(b) < 16 {
		return false
	}
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=', c == '\n', c == '\r', c == ' ', c == '\t':
		default:
			return false
		}
	}
	return true
}

func stripSpace(b []byte) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, string(b))
}

func isText(b []byte) bool {
	sample := b[:min(len(b), 512)]
	for _, c := range sample {
		if c < 0x09 || c > 0x0d && c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
