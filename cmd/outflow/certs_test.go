package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

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
