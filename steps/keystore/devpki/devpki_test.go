package devpki_test

import (
	"crypto/rsa"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/steps/keystore"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

func TestHierarchyVerifies(t *testing.T) {
	root, err := devpki.NewCA("Dev Root", nil)
	if err != nil {
		t.Fatal(err)
	}
	inter, err := root.NewIntermediate("Dev Issuing CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	server, err := inter.IssueServer("partner", []string{"partner.localhost", "127.0.0.1", "::1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := inter.IssueClient("svc-outflow", &devpki.Options{RSA: true})
	if err != nil {
		t.Fatal(err)
	}

	inters := x509.NewCertPool()
	inters.AddCert(inter.Cert)
	for _, name := range []string{"partner.localhost", "127.0.0.1", "::1"} {
		if _, err := server.Cert.Verify(x509.VerifyOptions{DNSName: name, Roots: inter.Pool(), Intermediates: inters}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	if _, err := client.Cert.Verify(x509.VerifyOptions{Roots: root.Pool(), Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	if _, err := server.Cert.Verify(x509.VerifyOptions{Roots: root.Pool(), Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("a server certificate passes as a client certificate")
	}
	if _, ok := client.Key.(*rsa.PrivateKey); !ok {
		t.Errorf("RSA option gave %T", client.Key)
	}
	if !server.Cert.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || server.Cert.DNSNames[0] != "partner.localhost" {
		t.Errorf("SANs: %v %v", server.Cert.DNSNames, server.Cert.IPAddresses)
	}
	if got := client.TLSCertificate(); len(got.Certificate) != 2 || got.Leaf != client.Cert {
		t.Errorf("TLSCertificate has %d certificates", len(got.Certificate))
	}
}

func TestFilesLoadAsKeystores(t *testing.T) {
	root, _ := devpki.NewCA("Dev Root", nil)
	inter, _ := root.NewIntermediate("Dev Issuing CA", nil)
	client, err := inter.IssueClient("svc-outflow", nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files, err := client.WriteFiles(dir, "client")
	if err != nil {
		t.Fatal(err)
	}
	caCert, caKey, err := root.WriteFiles(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{files.Key, files.Bundle, caKey} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v", f, fi.Mode(), err)
		}
	}

	bundle, _ := os.ReadFile(files.Bundle)
	r := keystore.Inspect(bundle, "", "", "", time.Now(), 30*24*time.Hour)
	if r.HasErrors() || len(r.Entries) != 1 || len(r.Entries[0].Chain) != 3 {
		t.Errorf("bundle: %s", r.Text())
	}
	for _, p := range r.Problems {
		if p.Severity != keystore.SeverityInfo {
			t.Errorf("bundle problem: %+v", p)
		}
	}

	// cert + key files, as separate PEM files are often given
	certPEM, _ := os.ReadFile(files.Cert)
	keyPEM, _ := os.ReadFile(files.Key)
	s, err := keystore.Load(append(certPEM, keyPEM...), "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if cert, err := s.TLSCertificate(); err != nil || len(cert.Certificate) != 2 {
		t.Errorf("cert+key: %d certificates, %v", len(cert.Certificate), err)
	}
	ca, _ := os.ReadFile(caCert)
	if s, err := keystore.Load(ca, "", "", ""); err != nil || len(s.Certificates()) != 1 {
		t.Errorf("CA file: %v", err)
	}
	if filepath.Base(files.Bundle) != "client-bundle.pem" {
		t.Errorf("bundle path %s", files.Bundle)
	}
}

func TestValidityAndCRL(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ca, _ := devpki.NewCA("Dev Root", &devpki.Options{NotBefore: start, NotAfter: start.AddDate(1, 0, 0)})
	if !ca.Cert.NotBefore.Equal(start) || !ca.Cert.NotAfter.Equal(start.AddDate(1, 0, 0)) {
		t.Errorf("validity %v - %v", ca.Cert.NotBefore, ca.Cert.NotAfter)
	}
	leaf, _ := ca.IssueServer("s", []string{"s.localhost"}, &devpki.Options{CRLDistributionPoints: []string{"http://crl.localhost/ca.crl"}})
	if len(leaf.Cert.CRLDistributionPoints) != 1 {
		t.Errorf("CDP = %v", leaf.Cert.CRLDistributionPoints)
	}
	der, err := ca.CRL([]*x509.Certificate{leaf.Cert}, start.Add(time.Hour), start.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(ca.Cert); err != nil {
		t.Error(err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(leaf.Cert.SerialNumber) != 0 {
		t.Errorf("revoked = %+v", crl.RevokedCertificateEntries)
	}
}
