package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/steps/hsm/hsmtest"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

// TestCertsCheckAndWarning makes a profile whose client certificate expires
// in ten days: `certs check --within 30d` fails and names it, `--within 5d`
// passes, and a starting worker warns about it.
func TestCertsCheckAndWarning(t *testing.T) {
	dir := t.TempDir()
	ca, _ := devpki.NewCA("Check CA", nil)
	leaf, err := ca.IssueClient("soon-expiring", &devpki.Options{NotAfter: time.Now().Add(10 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.WriteFiles(dir, "client"); err != nil {
		t.Fatal(err)
	}
	project := `kind: ProtocolProfile
name: p
keystore: {path: client-bundle.pem}
`
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(project), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := cli(t, "certs", "check", "--project", dir, "--within", "30d")
	if code != 1 || !strings.Contains(out, "soon-expiring") || !strings.Contains(out, "expires within 30d") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if _, _, code := cli(t, "certs", "check", "--project", dir, "--within", "5d"); code != 0 {
		t.Fatalf("--within 5d: exit %d", code)
	}
	var buf strings.Builder
	cmd := &cobra.Command{}
	cmd.SetErr(&buf)
	warnExpiringCertificates(cmd, &globalFlags{project: dir})
	if !strings.Contains(buf.String(), `certificate "CN=soon-expiring`) {
		t.Fatalf("no warning: %q", buf.String())
	}
	out, _, code = cli(t, "certs", "inspect", filepath.Join(dir, "client-bundle.pem"), "--within", "30d")
	if code != 0 || !strings.Contains(out, "soon-expiring") {
		t.Fatalf("inspect: exit %d\n%s", code, out)
	}
	if _, _, code := cli(t, "certs", "inspect", filepath.Join(dir, "p.yaml")); code != 1 {
		t.Fatalf("inspect of a YAML file: exit %d, want 1 (unknown format)", code)
	}
}

// TestCertsInspectForms: certs inspect reads a certificate and key pair
// and a PKCS#11 token, and fails (exit 1) on what would fail a handshake.
func TestCertsInspectForms(t *testing.T) {
	dir := t.TempDir()
	ca, _ := devpki.NewCA("Inspect CA", nil)
	leaf, _ := ca.IssueClient("pair-client", nil)
	other, _ := ca.IssueClient("other-client", nil)
	files, err := leaf.WriteFiles(dir, "client")
	if err != nil {
		t.Fatal(err)
	}
	otherFiles, _ := other.WriteFiles(dir, "other")
	caFile := filepath.Join(dir, "ca.crt")
	writeTestFile(t, caFile, ca.CertPEM())

	out, errOut, code := cli(t, "certs", "inspect", files.Cert, "--key", files.Key, "--chain", caFile)
	if code != 0 || !strings.Contains(out, "CN=pair-client") || !strings.Contains(out, "presented to servers") {
		t.Errorf("pair: exit %d\n%s\n%s", code, out, errOut)
	}
	out, _, code = cli(t, "certs", "inspect", files.Cert, "--key", otherFiles.Key)
	if code != 1 || !strings.Contains(out, "key_mismatch") {
		t.Errorf("mismatched pair: exit %d\n%s", code, out)
	}
	if _, errOut, code := cli(t, "certs", "inspect", "--key", files.Key); code == 0 || !strings.Contains(errOut, "--key and --chain go with the certificate file") {
		t.Errorf("--key without FILE: exit %d: %s", code, errOut)
	}

	tok := hsmtest.Shared(t)
	t.Setenv("INSPECT_PIN", tok.PIN)
	t.Setenv("INSPECT_BAD_PIN", "2222-not-it")
	out, _, code = cli(t, "certs", "inspect", "--pkcs11-module", tok.Module, "--token-label", tok.Label, "--key-label", hsmtest.ECKey, "--pin", "env:INSPECT_PIN", "--json", tok.CertFiles[hsmtest.ECKey])
	var got tokenInspection
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 || got.Token.SelectedKey == nil || got.Token.SelectedKey.Type != "ECDSA P-256" ||
		got.Certificate == nil || got.Certificate.HasErrors() {
		t.Errorf("token as JSON: exit %d %v\n%s", code, err, out)
	}
	out, errOut, code = cli(t, "certs", "inspect", "--pkcs11-module", tok.Module, "--token-label", tok.Label, "--key-label", hsmtest.ECKey, "--pin", "env:INSPECT_BAD_PIN")
	if code != 1 || !strings.Contains(out, "refused the PIN") || strings.Contains(out+errOut, "2222-not-it") {
		t.Errorf("wrong PIN: exit %d\n%s%s", code, out, errOut)
	}
	out, _, code = cli(t, "certs", "inspect", "--pkcs11-module", tok.Module, "--token-label", tok.Label, "--key-label", hsmtest.RSAKey, "--pin", "env:INSPECT_PIN", tok.CertFiles["stranger"])
	if code != 1 || !strings.Contains(out, "does not belong to") {
		t.Errorf("certificate of another key: exit %d\n%s", code, out)
	}
}
