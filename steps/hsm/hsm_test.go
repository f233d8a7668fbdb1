package hsm_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/outflow-dev/outflow/steps/hsm"
	"github.com/outflow-dev/outflow/steps/hsm/hsmtest"
	"github.com/outflow-dev/outflow/steps/keystore"
)

func cfg(tok *hsmtest.Token, key string) hsm.Config {
	return hsm.Config{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: key, PIN: tok.PIN}
}

func code(t *testing.T, err error) keystore.Code {
	t.Helper()
	var ke *keystore.Error
	if !errors.As(err, &ke) {
		t.Fatalf("error %v (%T) is not a *keystore.Error", err, err)
	}
	return ke.Code
}

// TestSignsInTheToken signs with SoftHSM2 keys the ways a TLS handshake
// asks — RSA PKCS#1 v1.5, RSA-PSS with the salt as long as the hash and
// with the longest salt, ECDSA — and checks each signature with the
// certificate's public key.
func TestSignsInTheToken(t *testing.T) {
	tok := hsmtest.Shared(t)
	digest256 := sha256.Sum256([]byte("handshake transcript"))
	digest384 := sha512.Sum384([]byte("handshake transcript"))

	rsaKey, err := hsm.Open(cfg(tok, hsmtest.RSAKey))
	if err != nil {
		t.Fatal(err)
	}
	leaf := tok.Leaves[hsmtest.RSAKey].Cert
	signer, err := rsaKey.Bind(leaf)
	if err != nil {
		t.Fatal(err)
	}
	pub := leaf.PublicKey.(*rsa.PublicKey)
	if !pub.Equal(signer.Public()) || !pub.Equal(rsaKey.Public()) {
		t.Fatal("the token's RSA public key is not the certificate's")
	}
	sig, err := signer.Sign(rand.Reader, digest256[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest256[:], sig); err != nil {
		t.Errorf("PKCS#1 v1.5: %v", err)
	}
	for _, salt := range []int{rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthAuto} {
		opts := &rsa.PSSOptions{SaltLength: salt, Hash: crypto.SHA384}
		sig, err := signer.Sign(rand.Reader, digest384[:], opts)
		if err != nil {
			t.Fatalf("PSS salt %d: %v", salt, err)
		}
		if err := rsa.VerifyPSS(pub, crypto.SHA384, digest384[:], sig, &rsa.PSSOptions{SaltLength: salt}); err != nil {
			t.Errorf("PSS salt %d: %v", salt, err)
		}
	}

	ecKey, err := hsm.Open(cfg(tok, hsmtest.ECKey))
	if err != nil {
		t.Fatal(err)
	}
	ecLeaf := tok.Leaves[hsmtest.ECKey].Cert
	ecSigner, err := ecKey.Bind(ecLeaf)
	if err != nil {
		t.Fatal(err)
	}
	sig, err = ecSigner.Sign(rand.Reader, digest256[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(ecLeaf.PublicKey.(*ecdsa.PublicKey), digest256[:], sig) {
		t.Error("ECDSA signature does not verify")
	}
	if !ecLeaf.PublicKey.(*ecdsa.PublicKey).Equal(ecKey.Public()) {
		t.Error("the token's EC public key is not the certificate's")
	}

	// The same key asked for again is the same Key, sessions and all.
	again, err := hsm.Open(cfg(tok, hsmtest.RSAKey))
	if err != nil || again != rsaKey {
		t.Errorf("second Open: %p %v, want %p", again, err, rsaKey)
	}
}

// TestConcurrentSignatures signs from many goroutines at once, more than
// the key has sessions.
func TestConcurrentSignatures(t *testing.T) {
	tok := hsmtest.Shared(t)
	key, err := hsm.Open(cfg(tok, hsmtest.ECKey))
	if err != nil {
		t.Fatal(err)
	}
	leaf := tok.Leaves[hsmtest.ECKey].Cert
	signer, err := key.Bind(leaf)
	if err != nil {
		t.Fatal(err)
	}
	before := key.Signatures()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			d := sha256.Sum256([]byte{byte(i)})
			sig, err := signer.Sign(rand.Reader, d[:], crypto.SHA256)
			if err == nil && !ecdsa.VerifyASN1(leaf.PublicKey.(*ecdsa.PublicKey), d[:], sig) {
				err = errors.New("signature does not verify")
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := key.Signatures() - before; n != 64 {
		t.Errorf("%d signatures counted, want 64", n)
	}
}

// TestKeyProblems: each way a PKCS#11 key cannot be used gets its code and
// words, and no message holds the PIN.
func TestKeyProblems(t *testing.T) {
	tok := hsmtest.Shared(t)
	// The process is logged in to the token, as a worker with a profile
	// using it is.
	if _, err := hsm.Open(cfg(tok, hsmtest.RSAKey)); err != nil {
		t.Fatal(err)
	}
	wrongPIN := "9999-wrong-pin"
	tests := []struct {
		name string
		cfg  hsm.Config
		code keystore.Code
		want []string
	}{
		{"module missing", hsm.Config{Module: "/nonexistent/libpkcs11.so", TokenLabel: tok.Label, KeyLabel: hsmtest.RSAKey, PIN: tok.PIN},
			hsm.CodeModule, []string{"/nonexistent/libpkcs11.so does not exist on this worker"}},
		{"module not a library", hsm.Config{Module: tok.CertFiles[hsmtest.RSAKey], TokenLabel: tok.Label, KeyLabel: hsmtest.RSAKey, PIN: tok.PIN},
			hsm.CodeModule, []string{"cannot be loaded"}},
		{"token label", hsm.Config{Module: tok.Module, TokenLabel: "no-such-token", KeyLabel: hsmtest.RSAKey, PIN: tok.PIN},
			hsm.CodeTokenNotFound, []string{`no token labelled "no-such-token"`, `"outflow-test"`, `"outflow-other"`}},
		{"key label", hsm.Config{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: "partner", PIN: tok.PIN},
			hsm.CodeKeyNotFound, []string{`no private key labelled "partner"`, `"partner-ec", "partner-rsa"`}},
		{"no PIN", hsm.Config{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: hsmtest.RSAKey},
			hsm.CodePINIncorrect, []string{"no PIN"}},
		{"wrong PIN", hsm.Config{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: hsmtest.RSAKey, PIN: wrongPIN},
			hsm.CodePINIncorrect, []string{"refused the PIN (wrong PIN)"}},
		{"wrong PIN again", hsm.Config{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: hsmtest.RSAKey, PIN: wrongPIN},
			hsm.CodePINIncorrect, []string{"refused this PIN before, so it is not tried again"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := hsm.Open(tt.cfg)
			if err == nil {
				t.Fatal("opened")
			}
			if c := code(t, err); c != tt.code {
				t.Errorf("code %s, want %s: %v", c, tt.code, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if strings.Contains(err.Error(), wrongPIN) || strings.Contains(err.Error(), tok.PIN) {
				t.Errorf("error shows a PIN: %v", err)
			}
		})
	}
	// The right PIN still opens the token: the wrong one did not lock it.
	// Trying the wrong one logged the process out and back in, which
	// invalidates the handles of private objects: keys opened before
	// still sign.
	key, err := hsm.Open(cfg(tok, hsmtest.RSAKey))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := key.Bind(tok.Leaves[hsmtest.RSAKey].Cert)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("after a wrong PIN"))
	if _, err := signer.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatalf("signing after a wrong PIN was tried: %v", err)
	}
}

// TestCertificateMustBelongToKey: a certificate of another key, or of
// another key type, is refused by Bind.
func TestCertificateMustBelongToKey(t *testing.T) {
	tok := hsmtest.Shared(t)
	rsaKey, err := hsm.Open(cfg(tok, hsmtest.RSAKey))
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := hsm.Open(cfg(tok, hsmtest.ECKey))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key  *hsm.Key
		cert string
	}{{rsaKey, "stranger"}, {rsaKey, hsmtest.ECKey}, {ecKey, hsmtest.RSAKey}} {
		_, err := c.key.Bind(tok.Leaves[c.cert].Cert)
		if err == nil {
			t.Errorf("%s bound to the certificate of %s", c.key, c.cert)
			continue
		}
		if code(t, err) != keystore.CodeKeyMismatch || !strings.Contains(err.Error(), "does not belong to") {
			t.Errorf("%s with %s: %v", c.key, c.cert, err)
		}
	}
}

// TestInspect lists what the token holds.
func TestInspect(t *testing.T) {
	tok := hsmtest.Shared(t)
	rep, err := hsm.Inspect(cfg(tok, hsmtest.RSAKey))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.LoggedIn || rep.SelectedKey == nil || rep.SelectedKey.Type != "RSA 2048" || rep.SelectedError != "" {
		t.Errorf("selected key: %+v", rep)
	}
	types := map[string]string{}
	for _, k := range rep.Keys {
		types[k.Label] = k.Type
	}
	if types[hsmtest.RSAKey] != "RSA 2048" || types[hsmtest.ECKey] != "ECDSA P-256" {
		t.Errorf("keys: %+v", rep.Keys)
	}
	for _, m := range []string{"RSA-PKCS", "RSA-PKCS-PSS", "ECDSA"} {
		if !strings.Contains(strings.Join(rep.Mechanisms, " "), m) {
			t.Errorf("mechanisms %v lack %s", rep.Mechanisms, m)
		}
	}
	if len(rep.OtherTokens) != 1 || rep.OtherTokens[0] != hsmtest.OtherToken || !strings.Contains(rep.Library, "SoftHSM") {
		t.Errorf("other tokens %v, library %q", rep.OtherTokens, rep.Library)
	}

	missing := cfg(tok, "partner")
	rep, err = hsm.Inspect(missing)
	if err != nil {
		t.Fatal(err)
	}
	if rep.SelectedKey != nil || !strings.Contains(rep.SelectedError, `no private key labelled "partner"`) {
		t.Errorf("missing key: %+v", rep)
	}
	if _, err := hsm.Inspect(hsm.Config{Module: tok.Module, TokenLabel: "nope"}); err == nil || code(t, err) != hsm.CodeTokenNotFound {
		t.Errorf("unknown token: %v", err)
	}
}
