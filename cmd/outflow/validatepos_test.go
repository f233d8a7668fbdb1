package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const keystoreProject = `kind: ProtocolProfile
name: wrong-password
keystore:
  path: certs/client.p12
  password: {secret: env:OUTFLOW_TEST_KEYSTORE_PASSWORD}
---
kind: ProtocolProfile
name: no-key
keystore:
  path: certs/trusted-only.jks
  password: {secret: env:OUTFLOW_TEST_JKS_PASSWORD}
---
kind: ProtocolProfile
name: elsewhere
keystore:
  alias: client
  path: certs/not-here.p12
`

// validate positions a keystore's problems at the field they are about —
// keystore.path for the file, keystore.password for its password — not at
// the profile's first line.
func TestValidatePositionsKeystoreProblems(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o755); err != nil {
		t.Fatal(err)
	}
	for src, dst := range map[string]string{"client-openssl.p12": "client.p12", "kb0696002-trusted-only.jks": "trusted-only.jks"} {
		b, err := os.ReadFile(fixture(src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "certs", dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeProjectFile(t, dir, "profiles.yaml", keystoreProject)
	t.Setenv("OUTFLOW_TEST_KEYSTORE_PASSWORD", "wrong")
	t.Setenv("OUTFLOW_TEST_JKS_PASSWORD", "changeit")
	_, errOut, code := cli(t, "validate", "--project", dir)
	if code != 1 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		`profiles.yaml:5:14: protocol profile "wrong-password": error: the PKCS#12 password is wrong`,
		`profiles.yaml:10:9: protocol profile "no-key": error: the keystore has no private key`,
		`profiles.yaml:17:9: protocol profile "elsewhere": warning: keystore `,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("want %q in:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "profiles.yaml:1:") || strings.Contains(errOut, "profiles.yaml:7:") || strings.Contains(errOut, "profiles.yaml:13:") {
		t.Errorf("a problem is positioned at a profile's first line:\n%s", errOut)
	}
}
