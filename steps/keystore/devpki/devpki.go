// Package devpki makes a throwaway certificate authority and the server and
// client certificates of a development setup: the quickstart partner, tests,
// and `outflow certs dev-ca`. Keys are ECDSA P-256 unless asked otherwise and
// are written unencrypted, so nothing devpki makes should protect anything
// real.
package devpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Default validities: long enough that a dev setup does not break during a
// project, short enough that nobody mistakes it for a real CA.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultLeafValidity = 2 * 365 * 24 * time.Hour
)

// Options adjust a certificate. The zero value (or nil) gives an ECDSA P-256
// key, valid from an hour ago (to absorb clock skew) for the default validity.
type Options struct {
	NotBefore time.Time
	// NotAfter overrides Validity when set.
	NotAfter time.Time
	Validity time.Duration
	// RSA makes an RSA 2048 key instead of ECDSA P-256.
	RSA bool
	// Organization goes into the subject; default "Outflow Dev".
	Organization string
	// CRLDistributionPoints and OCSPServers are written into the
	// certificate, for revocation tests.
	CRLDistributionPoints []string
	OCSPServers           []string
	// ExtKeyUsage replaces the usage Issue* would set.
	ExtKeyUsage []x509.ExtKeyUsage
}

// CA is a certificate authority: a root from NewCA, or an intermediate from
// (*CA).NewIntermediate.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Parents are the CAs above this one, nearest first, ending with the
	// root; empty for a root.
	Parents []*x509.Certificate
}

// Leaf is an issued end-entity certificate with its key.
type Leaf struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Issuers are the CA certificates above Cert, nearest first, ending
	// with the root.
	Issuers []*x509.Certificate
}

// NewCA makes a self-signed root CA.
func NewCA(commonName string, opts *Options) (*CA, error) {
	o := options(opts, DefaultCAValidity)
	key, err := newKey(o.RSA)
	if err != nil {
		return nil, err
	}
	tmpl, err := template(commonName, o)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	cert, err := sign(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// NewIntermediate makes a CA signed by ca.
func (ca *CA) NewIntermediate(commonName string, opts *Options) (*CA, error) {
	o := options(opts, DefaultCAValidity)
	key, err := newKey(o.RSA)
	if err != nil {
		return nil, err
	}
	tmpl, err := template(commonName, o)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	cert, err := sign(tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, Parents: append([]*x509.Certificate{ca.Cert}, ca.Parents...)}, nil
}

// IssueServer issues a server certificate for hosts, each a DNS name or an
// IP address, with the serverAuth usage.
func (ca *CA) IssueServer(commonName string, hosts []string, opts *Options) (*Leaf, error) {
	return ca.issue(commonName, hosts, x509.ExtKeyUsageServerAuth, opts)
}

// IssueClient issues a client certificate with the clientAuth usage, what a
// mutual-TLS client presents.
func (ca *CA) IssueClient(commonName string, opts *Options) (*Leaf, error) {
	return ca.issue(commonName, nil, x509.ExtKeyUsageClientAuth, opts)
}

func (ca *CA) issue(commonName string, hosts []string, usage x509.ExtKeyUsage, opts *Options) (*Leaf, error) {
	o := options(opts, DefaultLeafValidity)
	key, err := newKey(o.RSA)
	if err != nil {
		return nil, err
	}
	tmpl, err := template(commonName, o)
	if err != nil {
		return nil, err
	}
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if o.RSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
	if o.ExtKeyUsage != nil {
		tmpl.ExtKeyUsage = o.ExtKeyUsage
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	cert, err := sign(tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, err
	}
	return &Leaf{Cert: cert, Key: key, Issuers: ca.Chain()}, nil
}

// Chain returns this CA's certificate followed by its parents up to the root.
func (ca *CA) Chain() []*x509.Certificate {
	return append([]*x509.Certificate{ca.Cert}, ca.Parents...)
}

// Root returns the root certificate of this CA's hierarchy.
func (ca *CA) Root() *x509.Certificate {
	if len(ca.Parents) == 0 {
		return ca.Cert
	}
	return ca.Parents[len(ca.Parents)-1]
}

// Pool returns a pool holding the root, for a client's RootCAs or a server's
// ClientCAs.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Root())
	return p
}

// CertPEM returns the CA certificate as PEM.
func (ca *CA) CertPEM() []byte { return certsPEM(ca.Cert) }

// KeyPEM returns the CA's private key as unencrypted PKCS#8 PEM.
func (ca *CA) KeyPEM() ([]byte, error) { return keyPEM(ca.Key) }

// CRL returns a DER certificate revocation list signed by ca that revokes
// the given certificates, valid from thisUpdate to nextUpdate.
func (ca *CA) CRL(revoked []*x509.Certificate, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	list := &x509.RevocationList{
		Number:     big.NewInt(thisUpdate.Unix()),
		ThisUpdate: thisUpdate,
		NextUpdate: nextUpdate,
	}
	for _, c := range revoked {
		list.RevokedCertificateEntries = append(list.RevokedCertificateEntries, x509.RevocationListEntry{
			SerialNumber: c.SerialNumber, RevocationTime: thisUpdate.Add(-time.Minute),
		})
	}
	der, err := x509.CreateRevocationList(rand.Reader, list, ca.Cert, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("creating CRL: %w", err)
	}
	return der, nil
}

// WriteFiles writes NAME.crt (the CA certificate) and NAME.key into dir.
func (ca *CA) WriteFiles(dir, name string) (certPath, keyPath string, err error) {
	key, err := ca.KeyPEM()
	if err != nil {
		return "", "", err
	}
	certPath, keyPath = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := writeFile(certPath, ca.CertPEM(), 0o644); err != nil {
		return "", "", err
	}
	if err := writeFile(keyPath, key, 0o600); err != nil {
		return "", "", err
	}
	return certPath, keyPath, nil
}

// CertPEM returns the leaf certificate followed by its intermediates (not the
// root): the chain a server or client sends.
func (l *Leaf) CertPEM() []byte {
	return certsPEM(append([]*x509.Certificate{l.Cert}, l.intermediates()...)...)
}

// KeyPEM returns the private key as unencrypted PKCS#8 PEM.
func (l *Leaf) KeyPEM() ([]byte, error) { return keyPEM(l.Key) }

// BundlePEM returns one PEM file in the order most tools document: leaf,
// intermediates, root, then the PKCS#8 private key.
func (l *Leaf) BundlePEM() ([]byte, error) {
	key, err := l.KeyPEM()
	if err != nil {
		return nil, err
	}
	return append(certsPEM(append([]*x509.Certificate{l.Cert}, l.Issuers...)...), key...), nil
}

// TLSCertificate returns the leaf, its intermediates and key for crypto/tls.
func (l *Leaf) TLSCertificate() tls.Certificate {
	c := tls.Certificate{PrivateKey: l.Key, Leaf: l.Cert, Certificate: [][]byte{l.Cert.Raw}}
	for _, i := range l.intermediates() {
		c.Certificate = append(c.Certificate, i.Raw)
	}
	return c
}

func (l *Leaf) intermediates() []*x509.Certificate {
	if len(l.Issuers) == 0 {
		return nil
	}
	return l.Issuers[:len(l.Issuers)-1]
}

// Files are the paths WriteFiles wrote.
type Files struct {
	Cert   string // NAME.crt: leaf and intermediates
	Key    string // NAME.key: PKCS#8 private key
	Bundle string // NAME-bundle.pem: leaf, intermediates, root, key
}

// WriteFiles writes the certificate, key and bundle into dir, keys readable
// by the owner only.
func (l *Leaf) WriteFiles(dir, name string) (Files, error) {
	key, err := l.KeyPEM()
	if err != nil {
		return Files{}, err
	}
	bundle, err := l.BundlePEM()
	if err != nil {
		return Files{}, err
	}
	f := Files{
		Cert:   filepath.Join(dir, name+".crt"),
		Key:    filepath.Join(dir, name+".key"),
		Bundle: filepath.Join(dir, name+"-bundle.pem"),
	}
	if err := writeFile(f.Cert, l.CertPEM(), 0o644); err != nil {
		return Files{}, err
	}
	if err := writeFile(f.Key, key, 0o600); err != nil {
		return Files{}, err
	}
	if err := writeFile(f.Bundle, bundle, 0o600); err != nil {
		return Files{}, err
	}
	return f, nil
}

func options(o *Options, validity time.Duration) Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.NotBefore.IsZero() {
		out.NotBefore = time.Now().Add(-time.Hour).Truncate(time.Second)
	}
	if out.Validity == 0 {
		out.Validity = validity
	}
	if out.NotAfter.IsZero() {
		out.NotAfter = out.NotBefore.Add(out.Validity)
	}
	if out.Organization == "" {
		out.Organization = "Outflow Dev"
	}
	return out
}

func template(commonName string, o Options) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("making a serial number: %w", err)
	}
	return &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{o.Organization}},
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		CRLDistributionPoints: o.CRLDistributionPoints,
		OCSPServer:            o.OCSPServers,
	}, nil
}

func newKey(useRSA bool) (crypto.Signer, error) {
	if useRSA {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generating RSA key: %w", err)
		}
		return k, nil
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating ECDSA key: %w", err)
	}
	return k, nil
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("signing certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

func certsPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func keyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
