package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestServerConfigProblems runs `outflow server` with settings it must
// refuse before starting anything, and checks each refusal names the
// variable to fix.
func TestServerConfigProblems(t *testing.T) {
	pki := t.TempDir()
	if _, stderr, code := cli(t, "certs", "dev-ca", pki); code != 0 {
		t.Fatalf("dev-ca: %s", stderr)
	}
	vars := []string{"DB", "POSTGRES_SEEDS", "DB_PORT", "POSTGRES_USER", "POSTGRES_PWD", "DBNAME",
		"TEMPORAL_TLS_FRONTEND_CERT", "TEMPORAL_TLS_FRONTEND_KEY", "TEMPORAL_TLS_CLIENT1_CA_CERT", "TEMPORAL_TLS_REQUIRE_CLIENT_AUTH",
		"TEMPORAL_TLS_SERVER_CERT", "TEMPORAL_TLS_SERVER_KEY", "TEMPORAL_TLS_SERVER_CA_CERT"}
	pgDown := map[string]string{"DB": "postgres12", "POSTGRES_SEEDS": "127.0.0.1", "DB_PORT": "1", "POSTGRES_USER": "temporal"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range pgDown {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"no DB", nil, nil, []string{"set DB=postgres12"}},
		{"MySQL", map[string]string{"DB": "mysql8", "MYSQL_SEEDS": "127.0.0.1"}, nil, []string{"DB=mysql8", "runs on PostgreSQL"}},
		{"no host", map[string]string{"DB": "postgres12"}, nil, []string{"set POSTGRES_SEEDS"}},
		{"PostgreSQL down", pgDown, nil, []string{`database "temporal" at 127.0.0.1:1`, "connection refused"}},
		{"--db URL", nil, []string{"--db", "postgres://temporal:s3cret@127.0.0.1:1/flows"}, []string{`database "flows" at 127.0.0.1:1`, "connection refused"}},
		{"--db not PostgreSQL", nil, []string{"--db", "mysql://temporal:s3cret@db/flows"}, []string{"want postgres://", "xxxxx"}},
		{"client auth without certificate", with(map[string]string{"TEMPORAL_TLS_REQUIRE_CLIENT_AUTH": "true"}), nil, []string{"needs TEMPORAL_TLS_FRONTEND_CERT"}},
		{"client auth without CA", with(map[string]string{"TEMPORAL_TLS_REQUIRE_CLIENT_AUTH": "true",
			"TEMPORAL_TLS_FRONTEND_CERT": filepath.Join(pki, "server.crt"), "TEMPORAL_TLS_FRONTEND_KEY": filepath.Join(pki, "server.key")}), nil,
			[]string{"needs TEMPORAL_TLS_CLIENT1_CA_CERT"}},
		{"client auth without internode certificate", with(map[string]string{"TEMPORAL_TLS_REQUIRE_CLIENT_AUTH": "true",
			"TEMPORAL_TLS_FRONTEND_CERT": filepath.Join(pki, "server.crt"), "TEMPORAL_TLS_FRONTEND_KEY": filepath.Join(pki, "server.key"),
			"TEMPORAL_TLS_CLIENT1_CA_CERT": filepath.Join(pki, "ca.crt")}), nil, []string{"set TEMPORAL_TLS_SERVER_CERT"}},
		{"missing certificate file", with(map[string]string{
			"TEMPORAL_TLS_FRONTEND_CERT": filepath.Join(pki, "nope.crt"), "TEMPORAL_TLS_FRONTEND_KEY": filepath.Join(pki, "server.key")}), nil,
			[]string{"TLS server certificate", "nope.crt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range vars {
				t.Setenv(k, "") // restored after the test, also when --db sets it
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, stderr, code := cli(t, append([]string{"server"}, tc.args...)...)
			if code != 1 {
				t.Fatalf("exit %d, want 1\n%s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "s3cret") {
				t.Errorf("the password is in the message:\n%s", stderr)
			}
		})
	}
}
