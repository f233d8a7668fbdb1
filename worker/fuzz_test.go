package worker

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/outflow-dev/outflow/engine/yamlkit"
)

// fuzzAgentDir is a folder with the files the seed configs name, so that
// fuzzed configs get past the file checks and reach the rest.
func fuzzAgentDir(f *testing.F) string {
	dir := f.TempDir()
	for _, name := range []string{"certs/dmz-1-bundle.pem", "certs/temporal-ca.pem", "certs/vault-ca.pem", "partner.p12", "partner-ca.pem", "partner.pass"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	return dir
}

// agentSeeds are agent.yaml files as docs/agents.md and the tests write
// them, and some of the YAML an agent.yaml may use (anchors, merge keys).
var agentSeeds = []string{
	`name: dmz-1
groups: [dmz]
temporal:
  address: temporal.internal:7233
  namespace: integrations
  tls:
    keystore: certs/dmz-1-bundle.pem
    ca: certs/temporal-ca.pem
    server_name: temporal.internal
flows: false
default_steps: false
max_concurrent_steps: 0
profiles:
  partner-mtls:
    keystore:
      path: partner.p12
      password: {secret: file:partner.pass}
      key_password: {secret: env:PARTNER_KEY_PASSWORD}
      alias: client
    truststore:
      paths: [partner-ca.pem]
secrets:
  vault:
    address: https://vault.internal:8200
    namespace: team-a
    token: {secret: file:/run/vault-agent/token}
    mounts: [team/kv]
    tls: {ca: certs/vault-ca.pem}
    cache_ttl: 1m
  cyberark:
    url: https://ccp.internal
    app_id: outflow
    cache_ttl: 0s
`,
	`name: a
groups: [zone-a, zone-b]
secrets:
  vault:
    address: http://127.0.0.1:8200
    approle: {mount: approle, role_id: 6a1f0c3e, secret_id: {secret: env:VAULT_SECRET_ID}}
`,
	`name: dmz 1
groups: [dmz, dmz]
temporal:
  adress: temporal:7233
  tls: {cert: certs/agent.crt, password: hunter2}
flows: yes
max_concurrent_steps: "4"
profiles:
  third: {}
  other: {truststore: {paths: [nope.pem]}}
`,
	`base: &tls {ca: certs/temporal-ca.pem}
name: m
flows: true
temporal: {address: "[::1]:7233", tls: {<<: *tls, server_name: x}}
`,
	`name: x
groups: [g]
---
name: y
`,
	"name: n\ngroups: [g]\nsecrets: {vault: {address: https://v, token: 12345678}}\n",
	"",
	"a: &a [*a]",
}

// FuzzParseConfig reads arbitrary agent.yaml files: every problem is
// positioned in the file, problems come sorted and the same on every read,
// and a config that is accepted gives an agent whose paths are absolute.
func FuzzParseConfig(f *testing.F) {
	dir := fuzzAgentDir(f)
	for _, s := range agentSeeds {
		f.Add([]byte(s))
	}
	file := filepath.Join(dir, "agent.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(file, data)
		lines := lineCount(data)
		if err != nil {
			var ps yamlkit.Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error that is not Problems: %v", err)
			}
			for i, p := range ps {
				if p.File != file || p.Message == "" || p.Line < 0 || p.Line > lines || (p.Line > 0) != (p.Col > 0) {
					t.Fatalf("problem %d not positioned in the file (%d lines): %#v", i, lines, p)
				}
				if i > 0 && (ps[i-1].Line > p.Line || ps[i-1].Line == p.Line && ps[i-1].Col > p.Col) {
					t.Fatalf("problems out of order: %v then %v", ps[i-1], p)
				}
			}
			_, again := ParseConfig(file, data)
			if again == nil || again.Error() != err.Error() {
				t.Fatalf("problems differ between two reads:\n%v\n%v", err, again)
			}
			return
		}
		if cfg.Name == "" || !namePattern.MatchString(cfg.Name) {
			t.Fatalf("accepted agent name %q", cfg.Name)
		}
		if len(cfg.Groups) == 0 && !cfg.Flows && !cfg.DefaultSteps {
			t.Fatal("accepted an agent that serves nothing")
		}
		a := cfg.Agent()
		if !filepath.IsAbs(a.Dir) {
			t.Fatalf("agent folder %q", a.Dir)
		}
		for name, p := range a.Profiles {
			if p.Keystore != nil && !filepath.IsAbs(p.Keystore.Path) {
				t.Fatalf("profile %s: keystore path %q", name, p.Keystore.Path)
			}
			if p.Truststore != nil {
				for _, tp := range p.Truststore.Paths {
					if !filepath.IsAbs(tp) {
						t.Fatalf("profile %s: trust path %q", name, tp)
					}
				}
			}
		}
		again, err := ParseConfig(file, data)
		if err != nil || !reflect.DeepEqual(again.Agent(), a) {
			t.Fatalf("a second read differs: %v", err)
		}
	})
}

// lineCount counts lines as YAML does: LF, CRLF and a lone CR end one.
func lineCount(data []byte) int {
	return strings.Count(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n") + strings.Count(strings.ReplaceAll(string(data), "\r\n", "\n"), "\r") + 1
}

// FuzzConfigSecretInPlace writes a value where agent.yaml takes a secret
// reference — a password pasted by mistake — as a string, a number or a
// list, in each field that holds one: the config is refused, and the value
// is never repeated in the problems, which reach terminals and CI logs.
func FuzzConfigSecretInPlace(f *testing.F) {
	dir := fuzzAgentDir(f)
	for _, ind := range "*&@`%|>-?#'\"{[,:!~=<" {
		f.Add(string(ind) + "Tr0ub4dor")
	}
	for _, s := range []string{"hunter2-Pa55", "84736251", "s3cr3t: with colon", "true", "0x1F2E3D4C", "-.inf", "12e3", "env:PARTNER_PASSWORD"} {
		f.Add(s)
	}
	fields := []struct{ before, after string }{
		{"name: a\ngroups: [g]\ntemporal:\n  tls:\n    keystore: partner.p12\n    password: ", "\n"},
		{"name: a\ngroups: [g]\nsecrets:\n  vault:\n    address: https://vault.internal\n    token: ", "\n"},
		{"name: a\ngroups: [g]\nsecrets:\n  vault:\n    address: https://vault.internal\n    approle: {role_id: r, secret_id: ", "}\n"},
		{"name: a\ngroups: [g]\nprofiles:\n  p:\n    keystore: {path: partner.p12, key_password: ", "}\n"},
		{"name: a\ngroups: [g]\nprofiles:\n  p:\n    truststore: {paths: [partner-ca.pem], password: [", "]}\n"},
	}
	file := filepath.Join(dir, "agent.yaml")
	f.Fuzz(func(t *testing.T, secret string) {
		if len(secret) < 6 || strings.ContainsAny(secret, "\r\n") {
			return
		}
		if scheme, rest, ok := strings.Cut(secret, ":"); ok && rest != "" && (scheme == "env" || scheme == "file" || scheme == "vault" || scheme == "cyberark") {
			return // a reference written without {secret: }, which the message may repeat
		}
		quoted, _ := json.Marshal(secret) // a YAML double-quoted string
		for _, fd := range fields {
			for _, v := range []string{string(quoted), secret} {
				data := fd.before + v + fd.after
				if strings.Count(data, secret) != 1 {
					continue // the value is also part of the config around it
				}
				_, err := ParseConfig(file, []byte(data))
				if err == nil {
					// A plain value that YAML reads as a mapping or null
					// ("a: b", "~") is not a secret written in place.
					continue
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("the problems repeat the value written in place of a secret reference:\n%s\n%v", data, err)
				}
			}
		}
	})
}
