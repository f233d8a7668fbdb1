package secrets

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeSecret(t *testing.T, path, value string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// refused checks that ref is refused by the policy, as an *Error naming
// the reference, with a message holding each of want and not the value.
func refused(t *testing.T, r *Resolver, ref, value string, want ...string) {
	t.Helper()
	got, err := r.Resolve(context.Background(), ref)
	var se *Error
	if err == nil || !errors.As(err, &se) || se.Ref != ref || !IsRefused(err) {
		t.Errorf("%s: %q, %v; want it refused", ref, got, err)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %q lacks %q", ref, err, w)
		}
	}
	if value != "" && strings.Contains(err.Error(), value) {
		t.Errorf("%s: the error carries the value: %v", ref, err)
	}
}

func resolves(t *testing.T, r *Resolver, ref, want string) {
	t.Helper()
	if got, err := r.Resolve(context.Background(), ref); err != nil || got != want {
		t.Errorf("%s = %q, %v; want %q", ref, got, err, want)
	}
}

// TestPolicyDeniesTheWorkersOwnSecrets: the references a worker uses
// itself do not resolve for steps, however the project writes them: the
// variable by name, the file through .., a link or a hard link; nor do
// the files of the system that would hold them (/proc/self/environ).
func TestPolicyDeniesTheWorkersOwnSecrets(t *testing.T) {
	t.Setenv("OUTFLOW_TEST_OWN_TOKEN", "own-token-51c9")
	t.Setenv("OUTFLOW_TEST_PARTNER_PW", "partner-pw-0d2e")
	etc, project := t.TempDir(), t.TempDir()
	key := writeSecret(t, filepath.Join(etc, "temporal", "client.key"), "own-key-77aa")
	writeSecret(t, filepath.Join(project, "secrets", "partner.pass"), "partner-file-4b1f")
	if err := os.Symlink(key, filepath.Join(project, "secrets", "innocent.pass")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(key, filepath.Join(etc, "copy.key")); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(project, key)
	if err != nil {
		t.Fatal(err)
	}

	open := New(project)
	resolves(t, open, "env:OUTFLOW_TEST_OWN_TOKEN", "own-token-51c9") // what a worker without a policy did

	r := New(project)
	if err := r.Restrict(Policy{Who: `agent "dmz-1"`, Deny: []Denied{
		{Ref: "env:OUTFLOW_TEST_OWN_TOKEN", Why: "secrets.vault.token in agent.yaml"},
		{Ref: "file:" + key, Why: "temporal.tls.key in agent.yaml"},
	}}); err != nil {
		t.Fatal(err)
	}
	refused(t, r, "env:OUTFLOW_TEST_OWN_TOKEN", "own-token-51c9", `agent "dmz-1"`, "secrets.vault.token in agent.yaml", "give the step a secret of its own")
	for _, ref := range []string{"file:" + key, "file:" + rel, "file:secrets/innocent.pass", "file:" + filepath.Join(etc, "copy.key"), "file:" + filepath.Join(project, "secrets", "..", rel)} {
		refused(t, r, ref, "own-key-77aa", "temporal.tls.key in agent.yaml")
	}
	for _, ref := range []string{"file:/proc/self/environ", "file:/proc/" + "thread-self/environ", "file:/dev/stdin", "file:../../../../../../proc/self/environ"} {
		refused(t, r, ref, "own-token-51c9", "a file of the system")
	}
	// Everything else resolves as before.
	resolves(t, r, "env:OUTFLOW_TEST_PARTNER_PW", "partner-pw-0d2e")
	resolves(t, r, "file:secrets/partner.pass", "partner-file-4b1f")
}

// TestPolicyAllowList: with an allow-list, only the references it names
// resolve; a link out of an allowed folder does not count as inside it;
// the worker's own secrets stay refused even when a prefix covers them.
func TestPolicyAllowList(t *testing.T) {
	t.Setenv("PARTNER_PASSWORD", "partner-pw-0d2e")
	t.Setenv("PARTNER_VAULT_TOKEN", "own-token-51c9")
	t.Setenv("OUTFLOW_TEST_OTHER", "other-9f0a")
	dir, outside := t.TempDir(), t.TempDir()
	allowed := filepath.Join(dir, "partner")
	writeSecret(t, filepath.Join(allowed, "api.pass"), "api-pass-13c4")
	secretOutside := writeSecret(t, filepath.Join(outside, "other.pass"), "other-file-8e2d")
	if err := os.Symlink(secretOutside, filepath.Join(allowed, "link.pass")); err != nil {
		t.Fatal(err)
	}
	r := New(dir)
	r.Register("vault", ProviderFunc(func(_ context.Context, name string) (string, error) { return "v:" + name, nil }))
	if err := r.Restrict(Policy{
		Allow:        []string{"env:PARTNER_*", "file:" + allowed + "/*", "vault:secret/partners/*"},
		Deny:         []Denied{{Ref: "env:PARTNER_VAULT_TOKEN", Why: "secrets.vault.token in agent.yaml"}},
		Who:          `agent "dmz-1"`,
		AllowSetting: "secrets.allow in agent.yaml",
	}); err != nil {
		t.Fatal(err)
	}
	resolves(t, r, "env:PARTNER_PASSWORD", "partner-pw-0d2e")
	resolves(t, r, "file:partner/api.pass", "api-pass-13c4")
	resolves(t, r, "vault:secret/partners/acme#password", "v:secret/partners/acme#password")

	refused(t, r, "env:OUTFLOW_TEST_OTHER", "other-9f0a", "env:OUTFLOW_TEST_OTHER is not in secrets.allow in agent.yaml", "env:PARTNER_*", "add it there")
	refused(t, r, "env:PARTNER_VAULT_TOKEN", "own-token-51c9", "secrets.vault.token")
	refused(t, r, "file:"+secretOutside, "other-file-8e2d", "is not in secrets.allow")
	refused(t, r, "file:partner/link.pass", "other-file-8e2d", "file:"+secretOutside+" is not in secrets.allow")
	refused(t, r, "file:partner/../../"+filepath.Base(outside)+"/other.pass", "other-file-8e2d", "is not in secrets.allow")
	refused(t, r, "vault:secret/other#password", "", "is not in secrets.allow")
	if _, err := r.Resolve(context.Background(), "vault:secret/partners/../other#password"); err == nil || !strings.Contains(err.Error(), "without . or .. segments") {
		t.Errorf("a vault path with ..: %v", err)
	}
}

func TestCheckAllow(t *testing.T) {
	for entry, want := range map[string]string{
		"env:PARTNER_*":            "",
		"file:/etc/outflow/*":      "",
		"vault:*":                  "",
		"cyberark:Partners/x":      "",
		"PARTNER_PASSWORD":         "not a secret reference",
		"env:":                     "not a secret reference",
		"ssm:x":                    `unknown scheme "ssm"`,
		"env:PARTNER_*_PASSWORD":   "* may only end",
		"file:secrets/partner.pwd": "absolute path",
	} {
		err := CheckAllow(entry)
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", entry, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want %q", entry, err, want)
		}
	}
	if err := New("").Restrict(Policy{Allow: []string{"nope"}}); err == nil {
		t.Error("Restrict took a bad entry")
	}
}

// TestVaultRefRefusesDotSegments: Vault would clean a/../b to b, so the
// provider refuses such a path whatever the policy.
func TestVaultRefRefusesDotSegments(t *testing.T) {
	for _, ref := range []string{"secret/partners/../other#password", "secret/./x", "../secret/x"} {
		if _, err := parseVaultRef(ref, nil); err == nil || !strings.Contains(err.Error(), "without . or .. segments") {
			t.Errorf("%s: %v", ref, err)
		}
	}
	if _, err := parseVaultRef("secret/partners/..x#password", nil); err != nil {
		t.Errorf("a name with dots: %v", err)
	}
}
