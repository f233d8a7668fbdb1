//go:build !cgo

package hsm_test

import (
	"strings"
	"testing"

	"github.com/outflow-dev/outflow/steps/hsm"
)

// TestWithoutCgo: a binary built with CGO_ENABLED=0 refuses PKCS#11 keys
// with an error that names the build that has them.
func TestWithoutCgo(t *testing.T) {
	if hsm.Supported() {
		t.Fatal("Supported without cgo")
	}
	c := hsm.Config{Module: "/usr/lib/softhsm/libsofthsm2.so", TokenLabel: "t", KeyLabel: "k", PIN: "1234-secret"}
	for _, err := range []error{func() error { _, err := hsm.Open(c); return err }(), func() error { _, err := hsm.Inspect(c); return err }()} {
		if err == nil {
			t.Fatal("no error")
		}
		if code(t, err) != hsm.CodeUnsupported {
			t.Errorf("code %s", code(t, err))
		}
		for _, w := range []string{"CGO_ENABLED=0", "go build ./cmd/outflow", `key "k" in token "t"`} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error lacks %q: %v", w, err)
			}
		}
		if strings.Contains(err.Error(), "1234-secret") {
			t.Errorf("error shows the PIN: %v", err)
		}
	}
}
