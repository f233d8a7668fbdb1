package keystore

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const pass = "changeit"

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(fixture(t, name))
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fixtureNow is a moment when every long-lived fixture is valid, whenever
// make-fixtures.sh last ran.
func fixtureNow(t testing.TB) time.Time {
	return fixtureCert(t, "root-ca.pem").NotBefore.Add(24 * time.Hour)
}

func codeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestLoadEveryFormat(t *testing.T) {
	intCA := fixtureCert(t, "int-ca.pem")
	tests := []struct {
		file, password, keyPassword, alias string
		format                             Format
		wantAlias, wantCN, wantKey         string
	}{
		{"kb0696002-good.jks", pass, "", "", FormatJKS, "outflowclient", "outflow-kb-client", "RSA 2048"},
		{"kb0696002-good.jks", pass, "", "OutflowClient", FormatJKS, "outflowclient", "outflow-kb-client", "RSA 2048"},
		{"kb0696002-good-keytool.p12", pass, "", "", FormatPKCS12, "", "outflow-kb-client", "RSA 2048"},
		{"kb0696002-good-keytool.p12", pass, "", "OutflowClient", FormatPKCS12, "", "outflow-kb-client", "RSA 2048"},
		{"client-openssl.p12", pass, "", "", FormatPKCS12, "outflow-client", "outflow-client", "RSA 2048"},
		{"client-legacy.p12", pass, "", "outflow-client", FormatPKCS12, "outflow-client", "outflow-client", "RSA 2048"},
		{"jks-key-password.jks", pass, "keypass1", "", FormatJKS, "outflowclient", "outflow-kb-client", "RSA 2048"},
		{"jks-two-keys.jks", pass, "", "Alpha", FormatJKS, "alpha", "outflow-alpha", "RSA 2048"},
		{"jks-two-keys.jks", pass, "", "beta", FormatJKS, "beta", "outflow-beta", "RSA 2048"},
		{"two-keys-keytool.p12", pass, "", "ALPHA", FormatPKCS12, "alpha", "outflow-alpha", "RSA 2048"},
		{"bundle-ordered.pem", "", "", "", FormatPEM, "", "outflow-client", "RSA 2048"},
		{"bundle-key-first.pem", "", "", "", FormatPEM, "", "outflow-client", "RSA 2048"},
		{"bundle-out-of-order.pem", "", "", "", FormatPEM, "", "outflow-client", "RSA 2048"},
		{"bundle-crlf.pem", "", "", "", FormatPEM, "", "outflow-client", "RSA 2048"},
		{"bundle-pkcs1.pem", "", "", "", FormatPEM, "", "outflow-client", "RSA 2048"},
		{"bundle-pkcs8-encrypted.pem", "", pass, "", FormatPEM, "", "outflow-client", "RSA 2048"},
		{"bundle-pkcs8-encrypted.pem", pass, "", "", FormatPEM, "", "outflow-client", "RSA 2048"},
		{"bundle-pkcs8-des3.pem", "", pass, "", FormatPEM, "", "outflow-client", "RSA 2048"},
		{"bundle-pkcs1-encrypted.pem", "", pass, "", FormatPEM, "", "outflow-client", "RSA 2048"},
		{"bundle-ec.pem", "", "", "", FormatPEM, "", "outflow-client-ec", "ECDSA P-256"},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.alias, func(t *testing.T) {
			s, err := Load(fixture(t, tt.file), tt.password, tt.keyPassword, tt.alias)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if s.Format != tt.format {
				t.Errorf("format = %s, want %s", s.Format, tt.format)
			}
			sel := s.Selected()
			if sel == nil {
				t.Fatal("no entry selected")
			}
			if sel.Alias != tt.wantAlias || sel.KeyType != tt.wantKey {
				t.Errorf("selected %q (%s), want %q (%s)", sel.Alias, sel.KeyType, tt.wantAlias, tt.wantKey)
			}
			cert, err := s.TLSCertificate()
			if err != nil {
				t.Fatalf("TLSCertificate: %v", err)
			}
			if cert.Leaf.Subject.CommonName != tt.wantCN {
				t.Errorf("leaf = %s, want CN=%s", cert.Leaf.Subject, tt.wantCN)
			}
			// leaf → intermediate, root left out: what a server needs.
			if len(cert.Certificate) != 2 || !bytes.Equal(cert.Certificate[1], intCA.Raw) {
				t.Errorf("chain has %d certificates, want leaf then the intermediate", len(cert.Certificate))
			}
			if !publicKeysEqual(cert.Leaf.PublicKey, sel.key.Public()) {
				t.Error("key does not match leaf")
			}
		})
	}
}

func TestTrustStores(t *testing.T) {
	root := fixtureCert(t, "root-ca.pem")
	for _, tt := range []struct {
		file  string
		certs int
	}{
		{"truststore.jks", 2},
		{"truststore-keytool.p12", 2},
		{"root-ca.pem", 1},
		{"root-ca.der", 1},
		{"int-ca.pem", 1},
	} {
		t.Run(tt.file, func(t *testing.T) {
			s, err := Load(fixture(t, tt.file), pass, "", "")
			if err != nil {
				t.Fatal(err)
			}
			certs := s.Certificates()
			if len(certs) != tt.certs {
				t.Errorf("%d certificates, want %d", len(certs), tt.certs)
			}
			if tt.file != "int-ca.pem" && !certs[0].Equal(root) && !certs[len(certs)-1].Equal(root) {
				t.Error("root CA missing")
			}
			if _, err := s.TLSCertificate(); codeOf(err) != CodeNoPrivateKey {
				t.Errorf("TLSCertificate error = %v, want %s", err, CodeNoPrivateKey)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	p12 := fixture(t, "client-openssl.p12")
	html := []byte("<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Please log in</body></html>\n")
	utf16 := []byte{0xff, 0xfe}
	for _, r := range string(fixture(t, "root-ca.pem")) {
		utf16 = append(utf16, byte(r), 0)
	}

	tests := []struct {
		name, file                   string
		data                         []byte
		password, keyPassword, alias string
		code                         Code
		mention                      []string
	}{
		{name: "jks wrong store password", file: "kb0696002-good.jks", password: "nope", code: CodeWrongStorePassword},
		{name: "jks key password differs", file: "jks-key-password.jks", password: pass, code: CodeWrongKeyPassword, mention: []string{"key_password"}},
		{name: "jks wrong key password", file: "jks-key-password.jks", password: pass, keyPassword: "nope", code: CodeWrongKeyPassword},
		{name: "jks no password", file: "kb0696002-good.jks", code: CodePasswordMissing},
		{name: "p12 wrong password", file: "client-openssl.p12", password: "nope", code: CodeWrongStorePassword, mention: []string{"one password"}},
		{name: "p12 legacy wrong password", file: "client-legacy.p12", password: "nope", code: CodeWrongStorePassword},
		{name: "keytool p12 wrong password", file: "kb0696002-good-keytool.p12", password: "nope", code: CodeWrongStorePassword},
		{name: "p12 no password", data: p12, code: CodePasswordMissing},
		{name: "pkcs8 wrong password", file: "bundle-pkcs8-encrypted.pem", keyPassword: "nope", code: CodeWrongKeyPassword},
		{name: "pkcs8 3des wrong password", file: "bundle-pkcs8-des3.pem", keyPassword: "nope", code: CodeWrongKeyPassword},
		{name: "pkcs8 no password", file: "bundle-pkcs8-encrypted.pem", code: CodePasswordMissing},
		{name: "pkcs1 wrong password", file: "bundle-pkcs1-encrypted.pem", keyPassword: "nope", code: CodeWrongKeyPassword},
		{name: "unknown alias", file: "jks-two-keys.jks", password: pass, alias: "gamma", code: CodeUnknownAlias, mention: []string{`"alpha"`, `"beta"`}},
		{name: "alias of a trusted entry", file: "kb0696002-good.jks", password: pass, alias: "root-ca", code: CodeAliasNotKeyEntry, mention: []string{"-trustcacerts"}},
		{name: "openssl trust-only p12", file: "truststore-openssl.p12", password: pass, code: CodeUnsupported, mention: []string{"-nokeys"}},
		{name: "jceks", file: "store.jceks", password: pass, code: CodeUnknownFormat, mention: []string{"JCEKS", "-importkeystore"}},
		{name: "csr", file: "client.csr", code: CodeUnknownFormat, mention: []string{"certificate signing request"}},
		{name: "public key", file: "public-key.pem", code: CodeUnknownFormat, mention: []string{"public key alone"}},
		{name: "empty", data: []byte{}, code: CodeUnknownFormat, mention: []string{"empty file"}},
		{name: "blank", data: []byte("\n  \r\n"), code: CodeUnknownFormat, mention: []string{"empty file"}},
		{name: "html", data: html, code: CodeUnknownFormat, mention: []string{"HTML page"}},
		{name: "base64 p12", data: []byte(base64.StdEncoding.EncodeToString(p12)), code: CodeUnknownFormat, mention: []string{"base64-encoded PKCS#12", "base64 -d"}},
		{name: "utf16", data: utf16, code: CodeUnknownFormat, mention: []string{"UTF-16", "Set-Content -Encoding ASCII"}},
		{name: "zip", data: []byte("PK\x03\x04rest of a zip"), code: CodeUnknownFormat, mention: []string{"ZIP"}},
		{name: "text", data: []byte("password=changeit\nalias=client\n"), code: CodeUnknownFormat, mention: []string{"not PEM"}},
		{name: "truncated jks", data: fixture(t, "kb0696002-good.jks")[:500], password: pass, code: CodeCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := tt.data
			if tt.file != "" {
				data = fixture(t, tt.file)
			}
			_, err := Load(data, tt.password, tt.keyPassword, tt.alias)
			if codeOf(err) != tt.code {
				t.Fatalf("error = %v (code %q), want code %s", err, codeOf(err), tt.code)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			for _, secret := range []string{tt.password, tt.keyPassword} {
				if len(secret) > 3 && strings.Contains(err.Error(), secret) {
					t.Errorf("error %q reveals a password", err)
				}
			}
		})
	}
}

func TestTLSCertificateExplainsMissingKey(t *testing.T) {
	tests := []struct {
		file, password string
		code           Code
		mention        []string
	}{
		{"jks-two-keys.jks", pass, CodeAmbiguousAlias, []string{"keystore.alias", `"alpha"`, `"beta"`}},
		{"two-keys-keytool.p12", pass, CodeAmbiguousAlias, []string{`"alpha"`}},
		{"kb0696002-trusted-only.jks", pass, CodeNoPrivateKey, []string{"unsupported protocol", "-trustcacerts", "alias that holds the private key"}},
		{"client.der", "", CodeNoPrivateKey, []string{"no private key"}},
		{"bundle-key-mismatch.pem", "", CodeKeyMismatch, []string{"does not belong"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := Load(fixture(t, tt.file), tt.password, "", "")
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.TLSCertificate()
			if codeOf(err) != tt.code {
				t.Fatalf("error = %v, want code %s", err, tt.code)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}

	t.Run("key without certificate", func(t *testing.T) {
		var keyBlock *pem.Block
		for rest := fixture(t, "bundle-ordered.pem"); ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			if b.Type == "PRIVATE KEY" {
				keyBlock = b
			}
		}
		for _, data := range [][]byte{pem.EncodeToMemory(keyBlock), keyBlock.Bytes} {
			s, err := Load(data, "", "", "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.TLSCertificate(); codeOf(err) != CodeNoCertificate {
				t.Errorf("error = %v, want %s", err, CodeNoCertificate)
			}
		}
	})
}

// glue removes the newline before every BEGIN line but the first, as
// concatenating files without a final newline does.
func glue(b []byte) []byte {
	return bytes.ReplaceAll(b, []byte("-----\n-----BEGIN"), []byte("----------BEGIN"))
}

func TestPEMRepairs(t *testing.T) {
	indented := []byte("    " + strings.ReplaceAll(string(fixture(t, "bundle-ordered.pem")), "\n", "\n    "))
	for name, data := range map[string][]byte{"glued": glue(fixture(t, "bundle-ordered.pem")), "indented": indented} {
		t.Run(name, func(t *testing.T) {
			s, err := Load(data, "", "", "")
			if err != nil {
				t.Fatal(err)
			}
			cert, err := s.TLSCertificate()
			if err != nil || len(cert.Certificate) != 2 {
				t.Fatalf("TLSCertificate = %d certs, %v", len(cert.Certificate), err)
			}
		})
	}
}
