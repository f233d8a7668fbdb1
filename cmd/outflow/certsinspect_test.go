package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func fixture(name string) string {
	return filepath.Join("..", "..", "steps", "keystore", "testdata", name)
}

// certs inspect says one thing about a keystore it cannot open, names its
// own flags, and never repeats what might be a password.
func TestCertsInspectSaysOneThing(t *testing.T) {
	t.Setenv("OUTFLOW_TEST_WRONG_PASSWORD", "wrong")
	for _, c := range []struct {
		args          []string
		code          int
		want, wantNot []string
	}{
		{[]string{fixture("client-openssl.p12"), "--password", "env:OUTFLOW_TEST_WRONG_PASSWORD"}, 1,
			[]string{"Format: PKCS#12, not opened", "wrong_store_password", "check --password"}, []string{"not recognised", "keystore.password"}},
		{[]string{fixture("client-openssl.p12")}, 1,
			[]string{"Format: PKCS#12, not opened", "password_missing", "give --password"}, []string{"not recognised", "keystore.password"}},
		{[]string{fixture("jks-key-password.jks")}, 1,
			[]string{"Format: JKS, 3 entries", "no keystore password was given: give --password"}, []string{"keystore.password"}},
		{[]string{fixture("bundle-pkcs8-encrypted.pem")}, 1,
			[]string{"password_missing", "give --key-password, or --password"}, []string{"no_private_key", "keystore.key_password"}},
		{[]string{fixture("bundle-ordered.pem")}, 0, []string{"Format: PEM"}, []string{"not opened"}},
	} {
		out, errOut, code := cli(t, append([]string{"certs", "inspect"}, c.args...)...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", c.args, code, c.code, out, errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: want %q in:\n%s", c.args, w, out)
			}
		}
		for _, w := range c.wantNot {
			if strings.Contains(out+errOut, w) {
				t.Errorf("%v: %q in:\n%s%s", c.args, w, out, errOut)
			}
		}
	}

	// A password given where a reference belongs is not echoed.
	for _, literal := range []string{"Hunter2-Literal", "pa:Ss-Literal-7"} {
		for _, flag := range []string{"--password", "--key-password"} {
			out, errOut, code := cli(t, "certs", "inspect", fixture("client-openssl.p12"), flag, literal)
			if code != 1 || !strings.Contains(errOut, flag+" takes a secret reference such as env:NAME") {
				t.Errorf("%s %s: exit %d\n%s%s", flag, literal, code, out, errOut)
			}
			for _, part := range []string{literal, "Literal", "Ss-"} {
				if strings.Contains(out+errOut, part) {
					t.Errorf("%s %s: the value is echoed:\n%s%s", flag, literal, out, errOut)
				}
			}
		}
	}
}
