package tlsclient

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzTrustFile reads arbitrary trust store files — PEM, DER, JKS and
// PKCS#12, with any password — as a protocol profile's truststore: a file
// it accepts gives certificates that parse again as themselves, no more of
// them than the file has room for; a refusal names the file and never
// holds the password.
func FuzzTrustFile(f *testing.F) {
	for _, name := range []string{"root-ca.pem", "root-ca.der", "int-ca.pem", "truststore.jks", "truststore-keytool.p12", "truststore-openssl.p12",
		"bundle-ordered.pem", "bundle-crlf.pem", "kb0696002-trusted-only.jks", "client-openssl.p12", "public-key.pem", "client.csr"} {
		data, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, "changeit")
		f.Add(data, "wrong-password")
	}
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), "")
	f.Add([]byte("<html>not a trust store</html>"), "changeit")
	path := filepath.Join(f.TempDir(), "partner-ca.pem")
	f.Fuzz(func(t *testing.T, data []byte, password string) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		certs, err := readTrustFile(path, password)
		if err == nil {
			if len(certs) == 0 || len(certs) > len(data)/64+1 {
				t.Fatalf("%d certificates from %d bytes", len(certs), len(data))
			}
			for _, c := range certs {
				again, err := x509.ParseCertificate(c.Raw)
				if err != nil || !again.Equal(c) {
					t.Fatalf("a trusted certificate does not parse again: %v", err)
				}
			}
			return
		}
		msg := err.Error()
		if !strings.Contains(msg, path) {
			t.Fatalf("the refusal does not name the file: %v", err)
		}
		// Read with another password of the same length: a message that
		// holds the password only with the first took it from there.
		if len(password) < 4 || !strings.Contains(msg, password) {
			return
		}
		_, err2 := readTrustFile(path, strings.Repeat("#", len(password)))
		if err2 != nil && !strings.Contains(err2.Error(), password) {
			t.Fatalf("the refusal holds the password %q: %v", password, err)
		}
	})
}
