package tlsclient

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

func issueClient(t testing.TB, ca *devpki.CA, cn string) (*devpki.Leaf, []byte) {
	t.Helper()
	leaf, err := ca.IssueClient(cn, nil)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := leaf.BundlePEM()
	if err != nil {
		t.Fatal(err)
	}
	return leaf, bundle
}

// replaceFile swaps the file the way deployment tools do: write aside, rename.
func replaceFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestRotatedKeystoreIsPresentedAtNextHandshake(t *testing.T) {
	clientCA, err := devpki.NewCA("Client CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := newPartner(t, clientCA, nil, nil)
	first, firstPEM := issueClient(t, clientCA, "client-2025")
	second, secondPEM := issueClient(t, clientCA, "client-2026")
	third, thirdPEM := issueClient(t, clientCA, "client-2027")

	dir := t.TempDir()
	path := filepath.Join(dir, "client.pem")
	if err := os.WriteFile(path, firstPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	log, logs := logBuffer()
	c := &Cache{Logger: log}
	profile := mtlsProfile(p, "client.pem")
	call := func() string {
		t.Helper()
		tr, err := c.Transport(t.Context(), profile, dir, defaultSecrets)
		if err != nil {
			t.Fatal(err)
		}
		if err := drain(newClient(tr).Get(p.URL)); err != nil {
			t.Fatal(err)
		}
		return p.lastSerial()
	}

	if got := call(); got != first.Cert.SerialNumber.String() {
		t.Fatalf("first call presented serial %s", got)
	}
	replaceFile(t, path, secondPEM)
	// The pooled connection keeps its authentication until it closes.
	if got := call(); got != first.Cert.SerialNumber.String() {
		t.Fatalf("pooled connection presented serial %s", got)
	}
	c.CloseIdleConnections()
	before := c.Handshakes()
	if got := call(); got != second.Cert.SerialNumber.String() {
		t.Fatalf("after rotation the server saw serial %s, want %s", got, second.Cert.SerialNumber)
	}
	// The session made with the old certificate must not be resumed: the
	// server would still see the old certificate in it.
	if after := c.Handshakes(); after.Full != before.Full+1 || after.Resumed != before.Resumed {
		t.Errorf("handshakes %+v -> %+v, want one more full handshake", before, after)
	}
	if !strings.Contains(logs.String(), "keystore changed on disk") {
		t.Errorf("rotation not logged: %s", logs)
	}

	// A broken replacement keeps the last good certificate, and says so.
	replaceFile(t, path, []byte("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n"))
	c.CloseIdleConnections()
	if got := call(); got != second.Cert.SerialNumber.String() {
		t.Fatalf("after a broken replacement the server saw serial %s", got)
	}
	if !strings.Contains(logs.String(), "cannot be used; the certificate loaded before is still presented") {
		t.Errorf("broken keystore not logged: %s", logs)
	}

	// Overwritten in place (same file), the change is seen too.
	if err := os.WriteFile(path, thirdPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	c.CloseIdleConnections()
	if got := call(); got != third.Cert.SerialNumber.String() {
		t.Fatalf("after an in-place rewrite the server saw serial %s", got)
	}
}

func TestUnchangedKeystoreIsNotReparsed(t *testing.T) {
	clientCA, _ := devpki.NewCA("Client CA", nil)
	_, bundle := issueClient(t, clientCA, "client")
	path := writeFile(t, "client.pem", bundle)
	m, err := newMaterial(path, "", "", "", 0, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	first := m.current()
	for range 10 {
		if m.current() != first {
			t.Fatal("unchanged keystore reloaded")
		}
	}
	// Touched but identical: same material, no new generation.
	if err := os.WriteFile(path, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := m.current(); got != first || got.generation != 1 {
		t.Errorf("identical content made generation %d", got.generation)
	}
}

func TestExpiryIsWarnedAboutDaily(t *testing.T) {
	clientCA, _ := devpki.NewCA("Client CA", nil)
	leaf, err := clientCA.IssueClient("short-lived", &devpki.Options{Validity: 10 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	bundle, _ := leaf.BundlePEM()
	log, logs := logBuffer()
	m, err := newMaterial(writeFile(t, "client.pem", bundle), "", "", "", 30*24*time.Hour, log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "expiring_soon") {
		t.Errorf("load did not warn: %s", logs)
	}
	m.current()
	if n := strings.Count(logs.String(), "expires soon"); n != 0 {
		t.Errorf("warned again right after loading (%d)", n)
	}
	m.warned = m.warned.Add(-25 * time.Hour) // a day later
	m.current()
	m.current()
	if n := strings.Count(logs.String(), "expires soon"); n != 1 {
		t.Errorf("%d daily warnings, want 1: %s", n, logs)
	}
}
