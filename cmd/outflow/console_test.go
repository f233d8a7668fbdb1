package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/outflow-dev/outflow/worker/console"
)

func TestConsoleHashPassword(t *testing.T) {
	root := newRoot()
	var out, errb bytes.Buffer
	root.SetArgs([]string{"console", "hash-password"})
	root.SetIn(strings.NewReader("correct horse battery\n"))
	root.SetOut(&out)
	root.SetErr(&errb)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	hash := strings.TrimSpace(out.String())
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte("correct horse battery")) != nil {
		t.Fatalf("hash %q does not match the password", hash)
	}
	if _, err := console.ParseUser("ann:operator:" + hash); err != nil {
		t.Fatalf("the hash is refused as --console-user: %v", err)
	}
	root = newRoot()
	root.SetArgs([]string{"console", "hash-password"})
	root.SetIn(strings.NewReader("short\n"))
	root.SetOut(&out)
	if err := root.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "shorter than 8") {
		t.Fatalf("a short password: %v", err)
	}
}

func TestConsoleFlags(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("CONSOLE_FLAGS_TOKEN", "a-token-of-enough-length")
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw-for-ann"), bcrypt.MinCost)
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("# people\nann:read-only:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &consoleFlags{auth: "bearer", role: "operator", tokens: []string{"ops:operator:env:CONSOLE_FLAGS_TOKEN"}, usersFile: users}
	a, cert, err := f.config(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if cert != nil || a.Mode != console.AuthBearer || len(a.Tokens) != 1 || a.Tokens[0].Value != "a-token-of-enough-length" || a.Tokens[0].Role != console.RoleOperator {
		t.Fatalf("config %+v", a)
	}
	if len(a.Users) != 1 || a.Users[0].Name != "ann" || a.Users[0].Role != console.RoleReadOnly {
		t.Fatalf("users %+v", a.Users)
	}
	for _, tt := range []struct {
		f    consoleFlags
		want string
	}{
		{consoleFlags{auth: "kerberos", role: "operator"}, "want none, bearer, basic or mtls"},
		{consoleFlags{auth: "none", role: "admin"}, "unknown role"},
		{consoleFlags{auth: "bearer", role: "operator", tokens: []string{"ops:operator"}}, "want NAME:ROLE:SECRETREF"},
		{consoleFlags{auth: "bearer", role: "operator", tokens: []string{"ops:operator:env:CONSOLE_FLAGS_UNSET"}}, "--console-token ops"},
		{consoleFlags{auth: "basic", role: "operator", users: []string{"ann:operator:plain"}}, "not a bcrypt hash"},
		{consoleFlags{auth: "basic", role: "operator", usersFile: filepath.Join(dir, "missing")}, "--console-users"},
		{consoleFlags{auth: "mtls", role: "operator", clientCAs: []string{users}}, "no PEM certificate"},
		{consoleFlags{auth: "mtls", role: "operator", allow: []string{"operator"}}, "want ROLE:MATCH"},
		{consoleFlags{auth: "none", role: "operator", tlsCert: users}, "go together"},
	} {
		if _, _, err := tt.f.config(context.Background(), dir); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.f, err, tt.want)
		}
	}
}
