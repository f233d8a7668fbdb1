package tlsclient

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

func TestMutualTLSWithEveryKeystoreFormat(t *testing.T) {
	p := newPartner(t, nil, nil, nil)
	tests := []struct {
		file, alias, keyPassword, wantCN string
	}{
		{"kb0696002-good.jks", "", "", "outflow-kb-client"},
		{"kb0696002-good.jks", "OutflowClient", "", "outflow-kb-client"},
		{"kb0696002-good-keytool.p12", "", "", "outflow-kb-client"},
		{"client-openssl.p12", "", "", "outflow-client"},
		{"client-legacy.p12", "", "", "outflow-client"},
		{"jks-key-password.jks", "", "env:KEY", "outflow-kb-client"},
		{"jks-two-keys.jks", "beta", "", "outflow-beta"},
		{"bundle-ordered.pem", "", "", "outflow-client"},
		{"bundle-out-of-order.pem", "", "", "outflow-client"},
		{"bundle-crlf.pem", "", "", "outflow-client"},
		{"bundle-pkcs1.pem", "", "", "outflow-client"},
		{"bundle-pkcs8-encrypted.pem", "", "", "outflow-client"},
		{"bundle-ec.pem", "", "", "outflow-client-ec"},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.alias, func(t *testing.T) {
			profile := mtlsProfile(p, fixturePath(t, tt.file))
			profile.Keystore.Alias = tt.alias
			if tt.keyPassword != "" {
				profile.Keystore.KeyPassword = ref(tt.keyPassword)
			}
			body, resp, probe, err := get(t, &Cache{Logger: quietLogger()}, profile, p.URL)
			if err != nil {
				t.Fatal(err)
			}
			if body != "hello "+tt.wantCN {
				t.Fatalf("body %q", body)
			}
			facts := probe.Facts(resp.TLS)
			if !facts.NewConnection || facts.Resumed || facts.Version != "TLS 1.3" {
				t.Errorf("facts = %+v", facts)
			}
			if facts.ClientCertificate == nil || !strings.Contains(facts.ClientCertificate.Subject, "CN="+tt.wantCN) {
				t.Errorf("client certificate facts = %+v", facts.ClientCertificate)
			}
			if len(facts.ServerChain) == 0 || facts.ServerChain[0].Subject != "CN=partner,O=Outflow Dev" || len(facts.ServerChain[0].FingerprintSHA256) != 95 {
				t.Errorf("server chain = %+v", facts.ServerChain)
			}
			if asked, known := probe.ClientCertificateRequested(); !asked || !known {
				t.Errorf("ClientCertificateRequested = %v, %v", asked, known)
			}
		})
	}
}

func TestTransportIsReused(t *testing.T) {
	p := newPartner(t, nil, nil, nil)
	c := &Cache{}
	profile := mtlsProfile(p, fixturePath(t, "bundle-ordered.pem"))
	ctx := context.Background()

	first, err := c.Transport(ctx, profile, "", defaultSecrets)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := c.Transport(ctx, profile, "", defaultSecrets)
	copied := *profile
	copied.Source = "elsewhere.yaml:3"
	moved, _ := c.Transport(ctx, &copied, "", defaultSecrets)
	if first != again || first != moved {
		t.Fatal("the same profile got a new transport")
	}

	client := &http.Client{Transport: first}
	for i := range 1000 {
		if err := drain(client.Get(p.URL)); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if got := c.Handshakes(); got != (HandshakeStats{Full: 1}) {
		t.Errorf("1000 sequential requests: handshakes = %+v, want one full", got)
	}
	if n := p.newConns.Load(); n != 1 {
		t.Errorf("server saw %d connections, want 1", n)
	}

	// Concurrent requests open a few more connections; each costs exactly
	// one handshake, never one per request.
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 125 {
				if err := drain(client.Get(p.URL)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	hs := c.Handshakes()
	if hs.Full+hs.Resumed != p.newConns.Load() || p.newConns.Load() > 50 {
		t.Errorf("after 1000 concurrent requests: handshakes %+v for %d server connections", hs, p.newConns.Load())
	}

	// A new connection resumes the TLS session instead of a full handshake.
	c.CloseIdleConnections()
	before := c.Handshakes()
	_, resp, probe, err := get(t, c, profile, p.URL)
	if err != nil {
		t.Fatal(err)
	}
	after := c.Handshakes()
	if after.Full != before.Full || after.Resumed != before.Resumed+1 || !resp.TLS.DidResume || !probe.Facts(resp.TLS).Resumed {
		t.Errorf("after closing idle connections: %+v -> %+v", before, after)
	}
}

func TestTransportChangesWithProfileOrSecrets(t *testing.T) {
	p := newPartner(t, nil, nil, nil)
	c := &Cache{}
	ctx := context.Background()
	profile := mtlsProfile(p, fixturePath(t, "client-openssl.p12"))
	base, err := c.Transport(ctx, profile, "", defaultSecrets)
	if err != nil {
		t.Fatal(err)
	}

	changed := *profile
	changed.MinVersion = "1.3"
	if tr, _ := c.Transport(ctx, &changed, "", defaultSecrets); tr == base {
		t.Error("a changed definition reused the transport")
	}
	other := *profile
	other.Name = "other"
	if tr, _ := c.Transport(ctx, &other, "", defaultSecrets); tr == base {
		t.Error("another profile shares the transport")
	}
	rotated := secrets(map[string]string{"env:KS": "changeit", "rotated": "x"})
	withNewRef := *profile
	withNewRef.Keystore = &engine.Keystore{Path: profile.Keystore.Path, Password: ref("env:KS"), KeyPassword: ref("rotated")}
	if tr, err := c.Transport(ctx, &withNewRef, "", rotated); err != nil || tr == base {
		t.Errorf("a new secret reused the transport (err %v)", err)
	}
}

func TestRelativePathsAndErrors(t *testing.T) {
	p := newPartner(t, nil, nil, nil)
	dir := t.TempDir()
	data, _ := os.ReadFile(fixturePath(t, "client-openssl.p12"))
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "certs", "client.p12"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	profile := mtlsProfile(p, "certs/client.p12")
	if _, err := (&Cache{}).Transport(context.Background(), profile, dir, defaultSecrets); err != nil {
		t.Fatalf("relative keystore path: %v", err)
	}

	wrong := secrets(map[string]string{"env:KS": "hunter2-wrong"})
	_, err := (&Cache{}).Transport(context.Background(), profile, dir, wrong)
	var kerr *keystore.Error
	if !errors.As(err, &kerr) || kerr.Code != keystore.CodeWrongStorePassword {
		t.Fatalf("wrong password: %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error reveals the password: %v", err)
	}
	if !strings.Contains(err.Error(), `loading keystore "`) || !strings.Contains(err.Error(), `for profile "partner-mtls"`) {
		t.Errorf("error lacks context: %v", err)
	}
	var d *Error
	if !errors.As(Diagnose(err, profile, nil), &d) || d.Code != CodeKeystore || d.ErrorType() != "Certificate" {
		t.Errorf("Diagnose = %v", Diagnose(err, profile, nil))
	}

	if _, err := (&Cache{}).Transport(context.Background(), profile, dir, nil); err == nil || !strings.Contains(err.Error(), "no secret resolver") {
		t.Errorf("nil resolver: %v", err)
	}
	bad := *profile
	bad.MinVersion = "1.1"
	if _, err := (&Cache{}).Transport(context.Background(), &bad, dir, defaultSecrets); err == nil || !strings.Contains(err.Error(), `min_version "1.1"`) {
		t.Errorf("min_version 1.1: %v", err)
	}
	badRevocation := *profile
	badRevocation.Revocation = &engine.Revocation{Mode: "sometimes"}
	if _, err := (&Cache{}).Transport(context.Background(), &badRevocation, dir, defaultSecrets); err == nil {
		t.Error("unknown revocation mode accepted")
	}
	trustedOnly := mtlsProfile(p, fixturePath(t, "kb0696002-trusted-only.jks"))
	if _, err := (&Cache{}).Transport(context.Background(), trustedOnly, "", defaultSecrets); !errors.As(err, &kerr) || kerr.Code != keystore.CodeNoPrivateKey {
		t.Errorf("trusted-only keystore: %v", err)
	}
}

func TestTrustStoreFormats(t *testing.T) {
	ca, err := devpki.NewCA("Partner Test CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := newPartnerWithCA(t, ca, nil, nil, nil)
	der := writeFile(t, "ca.der", ca.Cert.Raw)
	// a truststore file holding an unrelated CA too
	both := writeFile(t, "both.pem", append(pemCert(ca.Cert), mustRead(t, fixturePath(t, "root-ca.pem"))...))
	for name, paths := range map[string][]string{"pem": {p.caFile}, "der": {der}, "bundle": {both}, "two files": {fixturePath(t, "truststore.jks"), der}} {
		t.Run(name, func(t *testing.T) {
			profile := mtlsProfile(p, fixturePath(t, "client-openssl.p12"))
			profile.Truststore = &engine.Truststore{Paths: paths, Password: ref("env:KS")}
			if _, _, _, err := get(t, &Cache{}, profile, p.URL); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// drain reads and closes a response body, so its connection goes back to
// the pool.
func drain(resp *http.Response, err error) error {
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

func mustRead(t testing.TB, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInsecureSkipVerifyWarns(t *testing.T) {
	p := newPartner(t, nil, nil, nil)
	log, buf := logBuffer()
	c := &Cache{Logger: log}
	profile := &engine.ProtocolProfile{Name: "lab", InsecureSkipVerify: true,
		Keystore: &engine.Keystore{Path: fixturePath(t, "bundle-ordered.pem")}}
	if _, _, _, err := get(t, c, profile, p.URL); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "VERIFICATION IS OFF") {
		t.Errorf("no warning logged: %s", buf.String())
	}

	// Without the option, the same server is not trusted.
	profile.InsecureSkipVerify = false
	if _, _, _, err := get(t, &Cache{}, profile, p.URL); err == nil {
		t.Error("untrusted server accepted")
	}
}

func TestDisableResumption(t *testing.T) {
	p := newPartner(t, nil, nil, nil)
	c := &Cache{DisableResumption: true}
	profile := mtlsProfile(p, fixturePath(t, "bundle-ec.pem"))
	for range 3 {
		if _, _, _, err := get(t, c, profile, p.URL); err != nil {
			t.Fatal(err)
		}
		c.CloseIdleConnections()
	}
	if got := c.Handshakes(); got != (HandshakeStats{Full: 3}) {
		t.Errorf("handshakes = %+v, want 3 full", got)
	}
}

func TestFactsOfPlainHTTP(t *testing.T) {
	if Facts(nil, true) != nil {
		t.Error("facts for a request without TLS")
	}
	_, probe := WithProbe(context.Background())
	if probe.Facts(nil) != nil || probe.NewConnection() {
		t.Error("empty probe reports facts")
	}
	if _, known := probe.ClientCertificateRequested(); known {
		t.Error("empty probe claims knowledge")
	}
	f := Facts(&tls.ConnectionState{Version: tls.VersionTLS12, CipherSuite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, DidResume: true, ServerName: "x"}, false)
	if f.Version != "TLS 1.2" || f.CipherSuite != "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" || !f.Resumed || f.NewConnection {
		t.Errorf("facts = %+v", f)
	}
}
