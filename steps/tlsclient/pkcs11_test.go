package tlsclient

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/hsm"
	"github.com/outflow-dev/outflow/steps/hsm/hsmtest"
	"github.com/outflow-dev/outflow/steps/keystore"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

// hsmProfile presents the token key keyLabel with the certificate file
// cert; its PIN is the secret env:HSM_PIN.
func hsmProfile(tok *hsmtest.Token, keyLabel, cert, caFile string) *engine.ProtocolProfile {
	return &engine.ProtocolProfile{Name: "hsm", Truststore: &engine.Truststore{Paths: []string{caFile}},
		Keystore: &engine.Keystore{Certificate: cert,
			PKCS11: &engine.PKCS11{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: keyLabel, PIN: ref("env:HSM_PIN")}}}
}

func hsmSecrets(tok *hsmtest.Token) SecretResolver {
	return secrets(map[string]string{"env:HSM_PIN": tok.PIN, "env:WRONG_PIN": "0000-not-the-pin"})
}

func hsmGet(t *testing.T, c *Cache, tok *hsmtest.Token, profile *engine.ProtocolProfile, url string) (*engine.TLSFacts, error) {
	t.Helper()
	tr, err := c.Transport(t.Context(), profile, "", hsmSecrets(tok))
	if err != nil {
		return nil, err
	}
	ctx, probe := WithProbe(t.Context())
	req, _ := newRequest(ctx, url)
	resp, err := newClient(tr).Do(req)
	if err != nil {
		return nil, Diagnose(err, profile, probe)
	}
	defer resp.Body.Close()
	return probe.Facts(resp.TLS), drain(resp, nil)
}

// TestPKCS11Handshakes: the handshake signs in SoftHSM2 — RSA-PSS (TLS
// 1.3), ECDSA, and RSA PKCS#1 v1.5 against an OpenSSL server that asks for
// nothing else — and the partner sees the token key's certificate.
func TestPKCS11Handshakes(t *testing.T) {
	tok := hsmtest.Shared(t)
	p := newPartner(t, tok.CA, nil, nil)
	for _, label := range []string{hsmtest.RSAKey, hsmtest.ECKey} {
		t.Run(label, func(t *testing.T) {
			key, err := hsm.Open(hsm.Config{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: label, PIN: tok.PIN})
			if err != nil {
				t.Fatal(err)
			}
			before := key.Signatures()
			c := &Cache{Logger: quietLogger(), DisableResumption: true}
			f, err := hsmGet(t, c, tok, hsmProfile(tok, label, tok.CertFiles[label], p.caFile), p.URL)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := p.lastSerial(), tok.Leaves[label].Cert.SerialNumber.String(); got != want {
				t.Errorf("partner saw serial %s, want %s", got, want)
			}
			if f.ClientCertificate == nil || f.ClientCertificate.Source != `pkcs11 token "outflow-test" key "`+label+`"` || f.Version != "TLS 1.3" {
				t.Errorf("facts: %+v", f)
			}
			// One signature to check the certificate belongs to the key
			// when the token hides the public key, one per handshake.
			if n := key.Signatures() - before; n < 1 {
				t.Errorf("%d signatures in the token", n)
			}
		})
	}
	t.Run("PKCS#1 v1.5", func(t *testing.T) {
		url := opensslServer(t, tok.CA, "RSA+SHA256")
		c := &Cache{Logger: quietLogger()}
		f, err := hsmGet(t, c, tok, hsmProfile(tok, hsmtest.RSAKey, tok.CertFiles[hsmtest.RSAKey], opensslCAFile), url)
		if err != nil {
			t.Fatal(err)
		}
		if f.Version != "TLS 1.2" || f.ClientCertificate == nil {
			t.Errorf("facts: %+v", f)
		}
	})
}

// opensslCAFile is the CA file of the servers opensslServer starts.
var opensslCAFile string

// opensslServer starts `openssl s_server` over TLS 1.2, requiring a client
// certificate from clientCA signed with one of sigalgs only, and returns
// its URL. It skips the test when openssl is not installed.
func opensslServer(t *testing.T, clientCA *devpki.CA, sigalgs string) string {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed")
	}
	ca, err := devpki.NewCA("OpenSSL Server CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.IssueServer("localhost", []string{"127.0.0.1", "localhost"}, &devpki.Options{RSA: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files, err := leaf.WriteFiles(dir, "server")
	if err != nil {
		t.Fatal(err)
	}
	opensslCAFile = filepath.Join(dir, "server-ca.pem")
	clientCAFile := filepath.Join(dir, "client-ca.pem")
	if err := os.WriteFile(opensslCAFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(clientCAFile, clientCA.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "s_server", "-accept", "127.0.0.1:0", "-cert", files.Cert, "-key", files.Key,
		"-tls1_2", "-client_sigalgs", sigalgs, "-Verify", "1", "-verify_return_error", "-CAfile", clientCAFile, "-www")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if addr, ok := strings.CutPrefix(lines.Text(), "ACCEPT "); ok {
			go func() {
				for lines.Scan() {
				}
			}()
			return "https://" + addr + "/"
		}
	}
	t.Fatalf("openssl s_server did not start: %v", lines.Err())
	return ""
}

// TestPKCS11Problems: a certificate of another key, a wrong PIN, an
// unknown key label; each fails the transport with its code, no PIN shown.
func TestPKCS11Problems(t *testing.T) {
	tok := hsmtest.Shared(t)
	c := &Cache{Logger: quietLogger()}
	mismatch := hsmProfile(tok, hsmtest.RSAKey, tok.CertFiles["stranger"], tok.CertFiles[hsmtest.RSAKey])
	wrongPIN := hsmProfile(tok, hsmtest.RSAKey, tok.CertFiles[hsmtest.RSAKey], tok.CertFiles[hsmtest.RSAKey])
	wrongPIN.Keystore.PKCS11.PIN = ref("env:WRONG_PIN")
	unknown := hsmProfile(tok, "partner", tok.CertFiles[hsmtest.RSAKey], tok.CertFiles[hsmtest.RSAKey])
	for _, tt := range []struct {
		name    string
		profile *engine.ProtocolProfile
		code    keystore.Code
		want    string
	}{
		{"certificate of another key", mismatch, keystore.CodeKeyMismatch, "does not belong to key \"partner-rsa\" in PKCS#11 token \"outflow-test\""},
		{"wrong PIN", wrongPIN, hsm.CodePINIncorrect, "refused the PIN"},
		{"unknown key", unknown, hsm.CodeKeyNotFound, `no private key labelled "partner"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Transport(t.Context(), tt.profile, "", hsmSecrets(tok))
			var ke *keystore.Error
			if !errors.As(err, &ke) || ke.Code != tt.code || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %s: %q", err, tt.code, tt.want)
			}
			if strings.Contains(err.Error(), tok.PIN) || strings.Contains(err.Error(), "0000-not-the-pin") {
				t.Errorf("error shows a PIN: %v", err)
			}
			if d := Diagnose(err, tt.profile, nil); !strings.Contains(d.Error(), "the client certificate cannot be used") {
				t.Errorf("diagnosis: %v", d)
			}
		})
	}
}

// TestPKCS11CertificateRenewed: a new certificate for the token's key,
// written over the file, is presented from the next handshake; one for
// another key is refused and the last good one kept.
func TestPKCS11CertificateRenewed(t *testing.T) {
	tok := hsmtest.Shared(t)
	p := newPartner(t, tok.CA, nil, nil)
	certFile := filepath.Join(t.TempDir(), "client.crt")
	if err := os.WriteFile(certFile, tok.Leaves[hsmtest.ECKey].CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	log, logs := logBuffer()
	c := &Cache{Logger: log, DisableResumption: true}
	profile := hsmProfile(tok, hsmtest.ECKey, certFile, p.caFile)
	call := func() string {
		t.Helper()
		c.CloseIdleConnections()
		if _, err := hsmGet(t, c, tok, profile, p.URL); err != nil {
			t.Fatal(err)
		}
		return p.lastSerial()
	}
	first := tok.Leaves[hsmtest.ECKey].Cert
	if got := call(); got != first.SerialNumber.String() {
		t.Fatalf("serial %s", got)
	}
	// The CA renews the certificate for the same key.
	tmpl := *first
	tmpl.SerialNumber, _ = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 100))
	tmpl.NotAfter = time.Now().Add(400 * 24 * time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, tok.CA.Cert, first.PublicKey, tok.CA.Key)
	if err != nil {
		t.Fatal(err)
	}
	renewed, _ := x509.ParseCertificate(der)
	replaceFile(t, certFile, pemCert(renewed))
	if got := call(); got != renewed.SerialNumber.String() {
		t.Fatalf("after renewal: serial %s, want %s", got, renewed.SerialNumber)
	}
	replaceFile(t, certFile, tok.Leaves["stranger"].CertPEM())
	if got := call(); got != renewed.SerialNumber.String() {
		t.Fatalf("a certificate of another key was presented: %s", got)
	}
	if !strings.Contains(logs.String(), "cannot be used; the certificate loaded before is still presented") || !strings.Contains(logs.String(), "does not belong to") {
		t.Errorf("not logged: %s", logs)
	}
	if strings.Contains(logs.String(), tok.PIN) {
		t.Error("the PIN reached the log")
	}
}

func newRequest(ctx context.Context, url string) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
}
