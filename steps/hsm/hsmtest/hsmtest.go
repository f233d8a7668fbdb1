// Package hsmtest makes SoftHSM2 tokens for tests: a real PKCS#11 module
// (Debian's softhsm2 package) with keys imported by softhsm2-util, and
// certificates for them issued by a throwaway CA.
//
// A PKCS#11 module reads its configuration once per process, when it is
// first initialised, so every test of a process shares one SoftHSM2 setup:
// Shared makes it on first use (setting SOFTHSM2_CONF) and later calls get
// the same one. Tests skip, saying why, when softhsm2 is not installed or
// the binary has no PKCS#11 support (built without cgo).
package hsmtest

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/outflow-dev/outflow/steps/hsm"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

// Module is where Debian's softhsm2 package installs the module.
const Module = "/usr/lib/softhsm/libsofthsm2.so"

// Labels and PIN of the shared token.
const (
	TokenLabel = "outflow-test"
	// OtherToken is a second, empty token, so that listings have more
	// than one.
	OtherToken = "outflow-other"
	PIN        = "4711-hsm-pin"
	SOPIN      = "so-pin-0815"
	// RSAKey, ECKey are the labels of the keys in the token.
	RSAKey = "partner-rsa"
	ECKey  = "partner-ec"
)

// Token is the shared SoftHSM2 token and what was made for it.
type Token struct {
	Module, Label, PIN string
	// Dir holds the configuration, the token store and the certificate
	// files.
	Dir string
	// CA issued the certificates of the keys.
	CA *devpki.CA
	// Leaves are the certificates (with the keys, as imported) by key label.
	Leaves map[string]*devpki.Leaf
	// CertFiles are the certificates as PEM files, by key label; the file
	// of "stranger" is a certificate of the same CA for a key that is not
	// in the token.
	CertFiles map[string]string
}

var shared struct {
	once sync.Once
	tok  *Token
	err  error
	skip string
}

// Shared returns the process's token, making it on first use, or skips t.
func Shared(t testing.TB) *Token {
	t.Helper()
	shared.once.Do(func() { shared.tok, shared.skip, shared.err = setup() })
	if shared.skip != "" {
		t.Skip(shared.skip)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.tok
}

func setup() (*Token, string, error) {
	if !hsm.Supported() {
		return nil, "PKCS#11 needs cgo: this test binary was built with CGO_ENABLED=0", nil
	}
	if _, err := os.Stat(Module); err != nil {
		return nil, "SoftHSM2 is not installed (" + Module + " missing): apt-get install softhsm2 opensc", nil
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		return nil, "softhsm2-util is not on PATH: apt-get install softhsm2", nil
	}
	// The folder outlives the test process (the module may be loaded until
	// it exits); folders of processes that are gone are removed here.
	removeStale()
	dir, err := os.MkdirTemp("", fmt.Sprintf("outflow-softhsm-%d-", os.Getpid()))
	if err != nil {
		return nil, "", err
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return nil, "", err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens), 0o600); err != nil {
		return nil, "", err
	}
	// Before the module is first initialised in this process.
	os.Setenv("SOFTHSM2_CONF", conf)
	run := func(args ...string) error {
		out, err := exec.Command(util, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("softhsm2-util %s: %v: %s", args[0], err, out)
		}
		return nil
	}
	for _, label := range []string{TokenLabel, OtherToken} {
		if err := run("--init-token", "--free", "--label", label, "--so-pin", SOPIN, "--pin", PIN); err != nil {
			return nil, "", err
		}
	}
	tok := &Token{Module: Module, Label: TokenLabel, PIN: PIN, Dir: dir, Leaves: map[string]*devpki.Leaf{}, CertFiles: map[string]string{}}
	if tok.CA, err = devpki.NewCA("HSM Test CA", nil); err != nil {
		return nil, "", err
	}
	for i, k := range []struct {
		label string
		rsa   bool
	}{{RSAKey, true}, {ECKey, false}, {"stranger", true}} {
		leaf, err := tok.CA.IssueClient("hsm-"+k.label, &devpki.Options{RSA: k.rsa})
		if err != nil {
			return nil, "", err
		}
		tok.Leaves[k.label] = leaf
		certFile := filepath.Join(dir, k.label+".crt")
		if err := os.WriteFile(certFile, leaf.CertPEM(), 0o600); err != nil {
			return nil, "", err
		}
		tok.CertFiles[k.label] = certFile
		if k.label == "stranger" {
			continue
		}
		der, err := x509.MarshalPKCS8PrivateKey(leaf.Key)
		if err != nil {
			return nil, "", err
		}
		keyFile := filepath.Join(dir, k.label+".key")
		if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, "", err
		}
		err = run("--import", keyFile, "--token", TokenLabel, "--label", k.label, "--id", fmt.Sprintf("%02x", i+1), "--pin", PIN)
		// The key now lives in the token only.
		os.Remove(keyFile)
		if err != nil {
			return nil, "", err
		}
	}
	return tok, "", nil
}

// removeStale removes the token folders of test processes that have ended.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "outflow-softhsm-*-*"))
	for _, d := range dirs {
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(d), "outflow-softhsm-%d-", &pid); err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
			continue // still running
		}
		os.RemoveAll(d)
	}
}
