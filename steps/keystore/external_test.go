package keystore

import (
	"crypto"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

// heldKey stands for a key kept in a token: a signer that is not one of
// Go's key types.
type heldKey struct{ inner crypto.Signer }

func (k heldKey) Public() crypto.PublicKey { return k.inner.Public() }
func (k heldKey) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return k.inner.Sign(r, d, o)
}

func TestLoadExternal(t *testing.T) {
	ca, _ := devpki.NewCA("External CA", nil)
	inter, _ := ca.NewIntermediate("External Intermediate", nil)
	leaf, err := inter.IssueClient("held", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := inter.IssueClient("other", nil)
	// The certificate file: leaf and chain, out of order, as files are.
	certFile := append(append(inter.CertPEM(), leaf.CertPEM()...), ca.CertPEM()...)

	s, err := LoadExternal(certFile, heldKey{leaf.Key}, KeyPKCS11)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := s.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cert.PrivateKey.(heldKey); !ok || !cert.Leaf.Equal(leaf.Cert) || len(cert.Certificate) != 2 {
		t.Errorf("certificate: key %T, leaf %s, %d certificates (want leaf and intermediate)", cert.PrivateKey, cert.Leaf.Subject, len(cert.Certificate))
	}
	rep := InspectExternal(certFile, heldKey{leaf.Key}, KeyPKCS11, time.Now(), 24*time.Hour)
	if rep.HasErrors() || len(rep.Entries) != 1 || rep.Entries[0].KeyFormat != KeyPKCS11 || !rep.Entries[0].Selected {
		t.Errorf("report: %+v", rep)
	}

	// A certificate of another key.
	s, err = LoadExternal(other.CertPEM(), heldKey{leaf.Key}, KeyPKCS11)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.TLSCertificate(); err == nil || !strings.Contains(err.Error(), "does not belong to the certificate") {
		t.Errorf("mismatch: %v", err)
	}
	rep = InspectExternal(other.CertPEM(), heldKey{leaf.Key}, KeyPKCS11, time.Now(), 24*time.Hour)
	if !rep.HasErrors() || rep.Problems[0].Code != CodeKeyMismatch {
		t.Errorf("mismatch report: %+v", rep.Problems)
	}

	// A key in the certificate file is not used, and said so.
	bundle, _ := leaf.BundlePEM()
	s, err = LoadExternal(bundle, heldKey{leaf.Key}, KeyPKCS11)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range s.Problems(time.Now(), 0) {
		found = found || strings.Contains(p.Message, "also holds a private key")
	}
	if !found {
		t.Error("a private key in the certificate file was not reported")
	}
	if _, err := LoadExternal([]byte("not a certificate"), heldKey{leaf.Key}, KeyPKCS11); err == nil {
		t.Error("garbage loaded")
	}
}
