package tlsclient

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

// splitBundle writes a fixture bundle's leaf, key and other certificates as
// three files, the way Kubernetes TLS secrets and cert-manager lay them
// out: tls.crt, tls.key, ca.crt. With leafWithChain the intermediates go
// into tls.crt after the leaf, as cert-manager writes it.
func splitBundle(t *testing.T, fixture string, leafWithChain bool) (cert, key, chain string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtures, fixture))
	if err != nil {
		t.Fatal(err)
	}
	var certs, keys [][]byte
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			certs = append(certs, pem.EncodeToMemory(b))
		} else {
			keys = append(keys, pem.EncodeToMemory(b))
		}
	}
	if len(certs) < 2 || len(keys) != 1 {
		t.Fatalf("%s: %d certificates, %d keys", fixture, len(certs), len(keys))
	}
	dir := t.TempDir()
	write := func(name string, parts ...[]byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, joinPEM(parts...), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The fixtures are in chain order after the leaf: leaf, intermediate, root.
	if leafWithChain {
		return write("tls.crt", certs[:len(certs)-1]...), write("tls.key", keys...), write("ca.crt", certs[len(certs)-1])
	}
	return write("tls.crt", certs[0]), write("tls.key", keys...), write("ca.crt", certs[1:]...)
}

// TestCertificateAndKeyFiles presents a certificate and key kept in separate
// files, keys in every PEM encoding, against a partner that trusts only the
// fixture root: the intermediate must come from the chain file, or from the
// certificate file after the leaf.
func TestCertificateAndKeyFiles(t *testing.T) {
	p := newPartner(t, nil, nil, nil)
	for _, tt := range []struct {
		fixture, password string
		leafWithChain     bool
	}{
		{"bundle-ordered.pem", "", false},                 // PKCS#8
		{"bundle-pkcs1.pem", "", true},                    // PKCS#1
		{"bundle-pkcs8-encrypted.pem", "changeit", false}, // encrypted PKCS#8
		{"bundle-pkcs8-des3.pem", "changeit", true},
		{"bundle-ec.pem", "", false}, // SEC1 EC key
	} {
		t.Run(tt.fixture, func(t *testing.T) {
			cert, key, chain := splitBundle(t, tt.fixture, tt.leafWithChain)
			ks := &engine.Keystore{Certificate: cert, Key: key, Chain: chain}
			if tt.password != "" {
				ks.Password = ref("env:KS")
			}
			profile := &engine.ProtocolProfile{Name: "files", Keystore: ks, Truststore: &engine.Truststore{Paths: []string{p.caFile}}}
			body, resp, probe, err := get(t, &Cache{Logger: quietLogger()}, profile, p.URL)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(body, "hello ") {
				t.Fatalf("body %q", body)
			}
			if f := probe.Facts(resp.TLS); f.ClientCertificate == nil || f.ClientCertificate.Source != "" {
				t.Errorf("facts: %+v", f.ClientCertificate)
			}
		})
	}
	// Without the chain file the partner cannot link the leaf to its root:
	// the chain file is what made the calls above work.
	cert, key, _ := splitBundle(t, "bundle-ordered.pem", false)
	profile := &engine.ProtocolProfile{Name: "files", Keystore: &engine.Keystore{Certificate: cert, Key: key}, Truststore: &engine.Truststore{Paths: []string{p.caFile}}}
	if _, _, _, err := get(t, &Cache{Logger: quietLogger()}, profile, p.URL); err == nil {
		t.Error("the partner accepted a leaf without its intermediate")
	}
}

// TestCertificateAndKeyFileProblems: a wrong key password, a key of another
// certificate, a missing file and a device instead of a file each fail the
// transport with words that say which.
func TestCertificateAndKeyFileProblems(t *testing.T) {
	cert, key, chain := splitBundle(t, "bundle-pkcs8-encrypted.pem", false)
	_, otherKey, _ := splitBundle(t, "bundle-ec.pem", false)
	c := &Cache{Logger: quietLogger()}
	for _, tt := range []struct {
		name string
		ks   engine.Keystore
		want string
	}{
		{"wrong password", engine.Keystore{Certificate: cert, Key: key, Password: ref("env:KEY")}, "password"},
		{"no password", engine.Keystore{Certificate: cert, Key: key}, "password"},
		{"key of another certificate", engine.Keystore{Certificate: cert, Key: otherKey, Chain: chain}, "does not belong to the certificate"},
		{"missing key", engine.Keystore{Certificate: cert, Key: key + ".missing", Password: ref("env:KS")}, "no such file"},
		{"a device", engine.Keystore{Certificate: cert, Key: "/dev/zero", Password: ref("env:KS")}, "/dev/zero is not a regular file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Transport(t.Context(), &engine.ProtocolProfile{Name: "files", Keystore: &tt.ks}, "", defaultSecrets)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), `profile "files"`) {
				t.Errorf("error does not name the profile: %v", err)
			}
		})
	}
}

// TestCertificateAndKeyRotation replaces the pair the ways platforms do:
// both files at once (a Kubernetes secret volume swaps a ..data link), and
// one after the other (a half-written pair keeps the last good one, and
// says so, until the second file arrives).
func TestCertificateAndKeyRotation(t *testing.T) {
	clientCA, err := devpki.NewCA("Pair CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := newPartner(t, clientCA, nil, nil)
	leaves := make([]*devpki.Leaf, 4)
	for i := range leaves {
		if leaves[i], err = clientCA.IssueClient("pair-"+string(rune('a'+i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	// A secret volume: tls.crt -> ..data/tls.crt, ..data -> ..2026_01_01.
	dir := t.TempDir()
	generation := 0
	mount := func(l *devpki.Leaf) {
		t.Helper()
		generation++
		ts := filepath.Join(dir, "..gen"+string(rune('0'+generation)))
		if err := os.Mkdir(ts, 0o700); err != nil {
			t.Fatal(err)
		}
		keyPEM, _ := l.KeyPEM()
		for name, data := range map[string][]byte{"tls.crt": l.CertPEM(), "tls.key": keyPEM, "ca.crt": clientCA.CertPEM()} {
			if err := os.WriteFile(filepath.Join(ts, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		if generation == 1 {
			for _, name := range []string{"tls.crt", "tls.key", "ca.crt"} {
				if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	mount(leaves[0])
	log, logs := logBuffer()
	c := &Cache{Logger: log}
	profile := &engine.ProtocolProfile{Name: "k8s", Truststore: &engine.Truststore{Paths: []string{p.caFile}},
		Keystore: &engine.Keystore{Certificate: "tls.crt", Key: "tls.key", Chain: "ca.crt"}}
	call := func() string {
		t.Helper()
		tr, err := c.Transport(t.Context(), profile, dir, defaultSecrets)
		if err != nil {
			t.Fatal(err)
		}
		tr.CloseIdleConnections()
		if err := drain(newClient(tr).Get(p.URL)); err != nil {
			t.Fatal(err)
		}
		return p.lastSerial()
	}
	serial := func(i int) string { return leaves[i].Cert.SerialNumber.String() }

	if got := call(); got != serial(0) {
		t.Fatalf("first pair: serial %s", got)
	}
	mount(leaves[1])
	if got := call(); got != serial(1) {
		t.Fatalf("after the volume swapped both files: serial %s, want %s", got, serial(1))
	}

	// A tool that writes the files one by one: the certificate first.
	certPath := filepath.Join(dir, "..gen2", "tls.crt")
	keyPath := filepath.Join(dir, "..gen2", "tls.key")
	replaceFile(t, certPath, leaves[2].CertPEM())
	if got := call(); got != serial(1) {
		t.Fatalf("half-written pair: serial %s, want the last good %s", got, serial(1))
	}
	if !strings.Contains(logs.String(), "do not make a usable pair (a rotation half done") {
		t.Errorf("half-written pair not logged: %s", logs)
	}
	if n := strings.Count(logs.String(), "rotation half done"); n != 1 {
		t.Errorf("the same half pair logged %d times", n)
	}
	if got := call(); got != serial(1) || strings.Count(logs.String(), "rotation half done") != 1 {
		t.Fatalf("half-written pair, again: serial %s", got)
	}
	key2, _ := leaves[2].KeyPEM()
	replaceFile(t, keyPath, key2)
	if got := call(); got != serial(2) {
		t.Fatalf("after the key followed: serial %s, want %s", got, serial(2))
	}
	// The key first this time.
	key3, _ := leaves[3].KeyPEM()
	replaceFile(t, keyPath, key3)
	if got := call(); got != serial(2) {
		t.Fatalf("new key, old certificate: serial %s", got)
	}
	replaceFile(t, certPath, leaves[3].CertPEM())
	if got := call(); got != serial(3) {
		t.Fatalf("after the certificate followed: serial %s, want %s", got, serial(3))
	}
	if !strings.Contains(logs.String(), "keystore changed on disk") {
		t.Errorf("rotation not logged: %s", logs)
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") {
		t.Errorf("a key reached the log: %s", logs)
	}
}
