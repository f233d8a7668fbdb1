package secrets

import (
	"context"
	"strings"
	"testing"
)

// A value given where a reference belongs may be the secret itself: the
// error never repeats it. A reference of a known provider is repeated.
func TestResolveNeverEchoesWhatMayBeASecret(t *testing.T) {
	r := New("")
	for _, v := range []string{"Hunter2", "pa:ss-word", "p@ss:", ":leading", "Open-Sesame"} {
		_, err := r.Resolve(context.Background(), v)
		if err == nil {
			t.Fatalf("%q resolved", v)
		}
		if strings.Contains(err.Error(), v) {
			t.Errorf("%q is echoed: %v", v, err)
		}
		if !strings.Contains(err.Error(), "it may be the secret itself") {
			t.Errorf("%q: %v", v, err)
		}
	}
	_, err := r.Resolve(context.Background(), "env:OUTFLOW_TEST_UNSET_VARIABLE")
	if err == nil || !strings.Contains(err.Error(), `resolving secret "env:OUTFLOW_TEST_UNSET_VARIABLE"`) {
		t.Errorf("a reference is named in its error: %v", err)
	}
	_, err = r.Resolve(context.Background(), "vault:secret/x#y")
	if err == nil || !strings.Contains(err.Error(), `no secret provider "vault"`) {
		t.Errorf("a known provider missing on this worker is named: %v", err)
	}
}
