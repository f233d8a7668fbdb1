package worker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine/yamlkit"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

func writeConfig(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigProblemsArePositioned feeds a config with a mistake on most
// lines and checks that each is reported, at its line and column, with
// the path of the value, all at once.
func TestConfigProblemsArePositioned(t *testing.T) {
	dir := t.TempDir()
	writeConfig(t, dir, "bundle.pem", "")
	path := writeConfig(t, dir, "agent.yaml", `name: dmz 1
groups: [dmz, dmz]
temporal:
  adress: temporal:7233
  tls:
    cert: certs/agent.crt
    ca: bundle.pem
flows: yes
max_concurrent_steps: "4"
profiles:
  partner-mtls:
    keystore:
      password: {secret: cyberark:Partners/ks}
      alais: client
  other:
    truststore: {paths: [nope.pem]}
  third: {}
secrets:
  vault:
    address: vault.example:8200
    token: {secret: vault:kv/token}
    approle: {role_id: r}
    cache_ttl: soon
`)
	_, err := LoadConfig(path)
	var ps yamlkit.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("LoadConfig: %v, want yamlkit.Problems", err)
	}
	want := []string{
		`agent.yaml:1:7: name: invalid agent name "dmz 1"`,
		`agent.yaml:2:15: groups[1]: group "dmz" is listed twice`,
		`agent.yaml:4:3: temporal.adress: unknown field "adress" (did you mean "address"? known: address, namespace, tls)`,
		`agent.yaml:6:5: temporal.tls.key: cert: without key`,
		`agent.yaml:6:11: temporal.tls.cert: ` + filepath.Join(dir, "certs", "agent.crt") + ` does not exist on this machine`,
		`agent.yaml:8:8: flows: expected true or false, got the string "yes"`,
		`agent.yaml:9:23: max_concurrent_steps: expected an integer, got the string "4"; write it without quotes`,
		`agent.yaml:12:5: profiles.partner-mtls.keystore.path: missing path`,
		`agent.yaml:13:26: profiles.partner-mtls.keystore.password.secret: "cyberark:Partners/ks" needs secrets.cyberark in this config`,
		`agent.yaml:14:7: profiles.partner-mtls.keystore.alais: unknown field "alais" (did you mean "alias"?`,
		`agent.yaml:16:26: profiles.other.truststore.paths[0]: ` + filepath.Join(dir, "nope.pem") + ` does not exist`,
		`agent.yaml:17:3: profiles.third: give the profile's keystore:`,
		`agent.yaml:20:14: secrets.vault.address: "vault.example:8200" is not an http(s) URL`,
		`agent.yaml:21:21: secrets.vault.token.secret: "vault:kv/token": the secrets that open connections to Temporal and to secret stores come from env: or file:`,
		`agent.yaml:22:5: secrets.vault.approle: give token: or approle:, not both`,
		`agent.yaml:22:5: secrets.vault.approle.secret_id: missing secret_id`,
		`agent.yaml:23:16: secrets.vault.cache_ttl: "soon" is not a duration`,
	}
	var got []string
	for _, p := range ps {
		got = append(got, strings.TrimPrefix(p.String(), dir+string(filepath.Separator)))
	}
	if len(got) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := 0; i < len(want) && i < len(got); i++ {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d:\n got  %s\n want %s...", i, got[i], want[i])
		}
	}
}

func TestConfigSyntaxAndShapeErrors(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct{ text, want string }{
		"syntax":        {"name: a\ngroups: [a\n", "agent.yaml:"},
		"empty":         {"", "agent.yaml:1:1: the file is empty"},
		"two documents": {"name: a\ngroups: [a]\n---\nname: b\n", "agent.yaml:4:1: an agent config is one YAML document"},
		"list of one":   {"name: a\ngroups: dmz\n", `agent.yaml:2:9: groups: expected a list, got the string "dmz"; for one value write [dmz]`},
		"plain secret":  {"name: a\ngroups: [a]\nsecrets:\n  vault:\n    address: https://v\n    token: env:VAULT_TOKEN\n", "agent.yaml:6:12: secrets.vault.token: write secrets by reference as {secret: env:VAULT_TOKEN}"},
		"no provider":   {"name: a\ngroups: [a]\nsecrets:\n  vault:\n    address: https://v\n    token: {secret: aws:x}\n", `secrets.vault.token.secret: "aws:x" has no known provider; write env:NAME, file:PATH, vault:MOUNT/PATH#FIELD or cyberark:SAFE/OBJECT`},
		"empty ref":     {"name: a\ngroups: [a]\nsecrets:\n  vault:\n    address: https://v\n    token: {secret: \"file:\"}\n", `secrets.vault.token.secret: "file:" names nothing after file:`},
		"nothing to do": {"name: a\n", "agent.yaml:1:1: groups: the agent serves nothing"},
		"duplicate key": {"name: a\ngroups: [a]\nname: b\n", `agent.yaml:3:1: name: duplicate key "name" (first at line 1)`},
		"bad address":   {"name: a\ngroups: [a]\ntemporal: {address: temporal}\n", `temporal.address: "temporal" is not host:port`},
	} {
		path := writeConfig(t, dir, "agent.yaml", c.text)
		_, err := LoadConfig(path)
		if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""), c.want) {
			t.Errorf("%s: %v\nwant %q", name, err, c.want)
		}
	}
}

func TestConfigFullExampleLoads(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"agent-bundle.pem", "temporal-ca.pem", "partner.p12", "partner-ca.pem", "ccp-client.p12", "vault-ca.pem"} {
		writeConfig(t, dir, f, "x")
	}
	if err := os.Mkdir(filepath.Join(dir, "project"), 0o700); err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, dir, "agent.yaml", `# An agent in the partner's network zone.
name: dmz-1
groups: [dmz, dmz-eu]
temporal:
  address: temporal.internal:7233
  namespace: integrations
  tls:
    keystore: agent-bundle.pem
    ca: temporal-ca.pem
    server_name: temporal.internal
project_dir: project
max_concurrent_steps: 8
profiles:
  partner-mtls:
    keystore:
      path: partner.p12
      password: {secret: file:partner.pass}
      alias: client
    truststore:
      paths: [partner-ca.pem]
secrets:
  vault:
    address: https://vault.internal:8200
    namespace: team-a
    approle:
      role_id: 6a1f-role
      secret_id: {secret: file:/etc/outflow/vault-secret-id}
    mounts: [team/kv]
    tls: {ca: vault-ca.pem}
    cache_ttl: 30s
  cyberark:
    url: https://ccp.internal
    app_id: outflow
    tls:
      keystore: ccp-client.p12
      password: {secret: env:CCP_KEYSTORE_PASSWORD}
    cache_ttl: 0s
`)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "dmz-1" || len(cfg.Groups) != 2 || cfg.Temporal.Namespace != "integrations" || cfg.MaxConcurrentSteps != 8 {
		t.Fatalf("decoded %+v", cfg)
	}
	if cfg.Secrets.Vault.AppRole.RoleID != "6a1f-role" || *cfg.Secrets.Vault.CacheTTL != Duration(30e9) || *cfg.Secrets.CyberArk.CacheTTL != 0 {
		t.Fatalf("secrets decoded %+v %+v", cfg.Secrets.Vault, cfg.Secrets.CyberArk)
	}
	a := cfg.Agent()
	ks := a.Profiles["partner-mtls"].Keystore
	if ks.Path != filepath.Join(dir, "partner.p12") || ks.Password.Ref != "file:"+filepath.Join(dir, "partner.pass") || ks.Alias != "client" {
		t.Fatalf("agent keystore %+v (password %+v): paths and file: references must be absolute, from the config's folder", ks, ks.Password)
	}
	if got := a.Profiles["partner-mtls"].Truststore.Paths; len(got) != 1 || got[0] != filepath.Join(dir, "partner-ca.pem") {
		t.Fatalf("truststore paths %v", got)
	}
	if len(cfg.Warnings) != 0 {
		t.Fatalf("warnings: %v", cfg.Warnings)
	}
}

// TestConfigCheckOpensKeystores checks what --check finds by opening the
// files: a wrong keystore password, a trust store given as a keystore, an
// expired client certificate for Temporal, each at the field naming it.
func TestConfigCheckOpensKeystores(t *testing.T) {
	dir := t.TempDir()
	w := newPartnerWorld(t)
	writeConfig(t, dir, "good.p12", string(w.p12(t, "good", "right-pw")))
	writeConfig(t, dir, "right.pass", "right-pw\n")
	writeConfig(t, dir, "wrong.pass", "wrong-pw\n")
	writeConfig(t, dir, "trust-only.pem", string(w.ca.CertPEM()))
	expired, _ := w.ca.IssueClient("old-agent", &devpki.Options{NotBefore: time.Now().Add(-72 * time.Hour), Validity: time.Hour})
	b, _ := expired.BundlePEM()
	writeConfig(t, dir, "old-bundle.pem", string(b))
	path := writeConfig(t, dir, "agent.yaml", `name: a-1
groups: [zone-a]
temporal:
  tls: {keystore: old-bundle.pem}
profiles:
  ok:
    keystore: {path: good.p12, password: {secret: file:right.pass}}
  wrong-password:
    keystore: {path: good.p12, password: {secret: file:wrong.pass}}
  trust-only:
    keystore: {path: trust-only.pem}
  in-vault:
    keystore: {path: good.p12, password: {secret: vault:secret/p#pw}}
secrets:
  vault: {address: "https://vault.example", token: {secret: env:VAULT_TOKEN}}
`)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	errs, warnings := cfg.Check(context.Background(), time.Now())
	got := strings.ReplaceAll(errs.Error(), dir+string(filepath.Separator), "")
	for _, want := range []string{
		"agent.yaml:4:3: temporal.tls: loading the client certificate from",
		"expired",
		"agent.yaml:9:5: profiles.wrong-password.keystore: ",
		"password",
		"agent.yaml:11:5: profiles.trust-only.keystore: ",
		"no private key",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
	if len(errs) != 3 {
		t.Errorf("%d errors, want 3:\n%s", len(errs), got)
	}
	if !strings.Contains(warnings.Error(), "profiles.in-vault.keystore: note:") || !strings.Contains(warnings.Error(), "not by --check") {
		t.Errorf("warnings: %s", warnings.Error())
	}
	if strings.Contains(got+warnings.Error(), "right-pw") || strings.Contains(got+warnings.Error(), "wrong-pw") {
		t.Errorf("a password is in the report")
	}
}

// An agent's config is read with the project loader's guards: bombs are
// refused with a position before they are expanded.
func TestConfigBombsAreRefused(t *testing.T) {
	dir := t.TempDir()
	var laughs strings.Builder
	laughs.WriteString("name: a\ngroups: [a]\nx0: &l0 \"lol\"\n")
	for i := 1; i <= 9; i++ {
		laughs.WriteString("x" + string(rune('0'+i)) + ": &l" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				laughs.WriteString(",")
			}
			laughs.WriteString("*l" + string(rune('0'+i-1)))
		}
		laughs.WriteString("]\n")
	}
	for name, c := range map[string]struct{ text, want string }{
		"billion laughs": {laughs.String(), "alias"},
		"deep nesting":   {"name: a\ngroups: " + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "\n", "nest deeper than"},
		"too large":      {"name: a\ngroups: [a]\n#" + strings.Repeat("x", yamlkit.MaxFileSize) + "\n", "larger than"},
	} {
		path := writeConfig(t, dir, "agent.yaml", c.text)
		_, err := LoadConfig(path)
		var ps yamlkit.Problems
		if !errors.As(err, &ps) || len(ps) == 0 || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "agent.yaml") {
			t.Errorf("%s: %v\nwant a problem in agent.yaml saying %q", name, err, c.want)
		}
	}
}

// The agent config is read by the project decoder: anchors, aliases and
// merge keys share a block, standard tags are honoured and others refused,
// a profile name that is not a plain word is quoted in paths, and a secret
// written in place is not repeated in the message.
func TestConfigUsesTheProjectDecoder(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"ccp.p12", "ca.pem", "p.p12"} {
		writeConfig(t, dir, f, "x")
	}
	path := writeConfig(t, dir, "agent.yaml", `name: !!str 1
groups: [dmz]
secrets:
  vault:
    address: https://vault.internal:8200
    token: {secret: env:VAULT_TOKEN}
    tls: &tls
      keystore: ccp.p12
      password: {secret: env:KS_PASSWORD}
      ca: ca.pem
  cyberark:
    url: https://ccp.internal
    app_id: outflow
    tls:
      <<: *tls
      ca: ca.pem
      server_name: ccp.internal
profiles:
  partner.v2:
    keystore: {path: p.p12}
`)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "1" {
		t.Errorf("name %q, want the !!str tag to make 1 a string", cfg.Name)
	}
	ca := cfg.Secrets.CyberArk.TLS
	if ca == nil || ca.Keystore != "ccp.p12" || ca.Password == nil || ca.Password.Ref != "env:KS_PASSWORD" || ca.ServerName != "ccp.internal" {
		t.Errorf("cyberark tls %+v: want the vault block merged in", ca)
	}
	if vt := cfg.Secrets.Vault.TLS; vt == nil || vt.Keystore != "ccp.p12" || vt.ServerName != "" {
		t.Errorf("vault tls %+v: want the anchored block as written", vt)
	}
	if got := cfg.dec.KeyPos(`profiles["partner.v2"].keystore`); got.Line != 20 || got.Col != 5 {
		t.Errorf("key position of the dotted profile's keystore: %v, want 20:5", got)
	}

	for name, c := range map[string]struct{ text, want, not string }{
		"unknown tag": {"name: a\ngroups: [a]\ntemporal: !vault {address: t:1}\n",
			"agent.yaml:3:11: temporal: unsupported tag; Outflow reads plain YAML values only: remove the tag, or quote the value if it is text that starts with !", ""},
		"secret in place": {"name: a\ngroups: [a]\nsecrets:\n  vault:\n    address: https://v\n    token: hunter2-s3cret\n",
			"agent.yaml:6:12: secrets.vault.token: write secrets by reference, such as {secret: env:NAME}; the config never holds a secret itself", "hunter2-s3cret"},
		"dotted profile": {"name: a\ngroups: [a]\nprofiles:\n  partner.v2: {}\n",
			`agent.yaml:4:3: profiles["partner.v2"]: give the profile's keystore:`, ""},
		"merge of a list": {"name: a\ngroups: [a]\ntemporal:\n  <<: [1]\n",
			"agent.yaml:4:8: temporal: a merge key (<<) takes a mapping or a list of mappings, got the integer 1", ""},
	} {
		path := writeConfig(t, dir, "agent.yaml", c.text)
		_, err := LoadConfig(path)
		got := ""
		if err != nil {
			got = strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
		}
		if !strings.Contains(got, c.want) || (c.not != "" && strings.Contains(got, c.not)) {
			t.Errorf("%s: %s\nwant %q", name, got, c.want)
		}
	}
}
