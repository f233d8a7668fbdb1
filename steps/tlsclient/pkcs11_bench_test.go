package tlsclient

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/hsm/hsmtest"
)

// BenchmarkHandshakeSoftHSM measures what signing in a PKCS#11 token adds
// to a mutual-TLS handshake: each iteration makes one full handshake with
// the key in memory and one with the same key in SoftHSM2, side by side,
// and reports both and their ratio. Run with
//
//	go test ./steps/tlsclient -run '^$' -bench HandshakeSoftHSM -benchtime 200x
func BenchmarkHandshakeSoftHSM(b *testing.B) {
	tok := hsmtest.Shared(b)
	p := newPartner(b, tok.CA, nil, nil)
	for _, label := range []string{hsmtest.ECKey, hsmtest.RSAKey} {
		b.Run(label, func(b *testing.B) {
			leaf := tok.Leaves[label]
			der, err := x509.MarshalPKCS8PrivateKey(leaf.Key)
			if err != nil {
				b.Fatal(err)
			}
			keyFile := filepath.Join(b.TempDir(), "memory.key")
			if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
				b.Fatal(err)
			}
			memory := &engine.ProtocolProfile{Name: "memory", Truststore: &engine.Truststore{Paths: []string{p.caFile}},
				Keystore: &engine.Keystore{Certificate: tok.CertFiles[label], Key: keyFile}}
			token := hsmProfile(tok, label, tok.CertFiles[label], p.caFile)
			c := &Cache{Logger: quietLogger(), DisableResumption: true}
			memTr, err := c.Transport(b.Context(), memory, "", hsmSecrets(tok))
			if err != nil {
				b.Fatal(err)
			}
			hsmTr, err := c.Transport(b.Context(), token, "", hsmSecrets(tok))
			if err != nil {
				b.Fatal(err)
			}
			call := func(tr *http.Transport) time.Duration {
				tr.CloseIdleConnections()
				start := time.Now()
				if err := drain(newClient(tr).Get(p.URL)); err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}
			call(memTr) // warm both
			call(hsmTr)
			var mem, hsm time.Duration
			for b.Loop() {
				mem += call(memTr)
				hsm += call(hsmTr)
			}
			n := float64(b.N)
			b.ReportMetric(float64(mem.Microseconds())/n, "memory-µs/handshake")
			b.ReportMetric(float64(hsm.Microseconds())/n, "softhsm-µs/handshake")
			b.ReportMetric(float64(hsm-mem)/float64(time.Microsecond)/n, "extra-µs/handshake")
			b.ReportMetric(float64(hsm)/float64(mem), "ratio")
		})
	}
}
