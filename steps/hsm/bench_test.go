package hsm_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/steps/hsm"
	"github.com/outflow-dev/outflow/steps/hsm/hsmtest"
)

// BenchmarkSignature is the part of a client handshake a token changes:
// the one CertificateVerify signature. Each iteration signs the same digest
// with the key in memory and with the same key in SoftHSM2, side by side,
// as TLS 1.3 asks (ECDSA; RSA-PSS with the salt as long as the hash). Run
// with
//
//	go test ./steps/hsm -run '^$' -bench Signature -benchtime 2000x
func BenchmarkSignature(b *testing.B) {
	tok := hsmtest.Shared(b)
	for _, label := range []string{hsmtest.ECKey, hsmtest.RSAKey} {
		b.Run(label, func(b *testing.B) {
			leaf := tok.Leaves[label]
			key, err := hsm.Open(hsm.Config{Module: tok.Module, TokenLabel: tok.Label, KeyLabel: label, PIN: tok.PIN})
			if err != nil {
				b.Fatal(err)
			}
			token, err := key.Bind(leaf.Cert)
			if err != nil {
				b.Fatal(err)
			}
			var opts crypto.SignerOpts = crypto.SHA256
			if label == hsmtest.RSAKey {
				opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
			}
			d := sha256.Sum256([]byte("transcript"))
			sign := func(s crypto.Signer) time.Duration {
				start := time.Now()
				if _, err := s.Sign(rand.Reader, d[:], opts); err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}
			var mem, hsmT time.Duration
			for b.Loop() {
				mem += sign(leaf.Key)
				hsmT += sign(token)
			}
			n := float64(b.N)
			b.ReportMetric(float64(mem.Nanoseconds())/1e3/n, "memory-µs/sig")
			b.ReportMetric(float64(hsmT.Nanoseconds())/1e3/n, "softhsm-µs/sig")
			b.ReportMetric(float64(hsmT-mem)/1e3/n, "extra-µs/sig")
			b.ReportMetric(float64(hsmT)/float64(mem), "ratio")
		})
	}
}
