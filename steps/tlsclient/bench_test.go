package tlsclient

import (
	"net/http"
	"testing"

	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

// The benchmarks compare a request over a pooled mutual-TLS connection with
// one that needs a new connection: a full handshake (both sides send and
// verify RSA 2048 certificate chains) or a resumed one. Run with
//
//	go test ./steps/tlsclient -run '^$' -bench . -benchmem
func benchRequests(b *testing.B, c *Cache, newConnEachTime bool) {
	p := newPartner(b, nil, nil, &devpki.Options{RSA: true})
	tr, err := c.Transport(b.Context(), mtlsProfile(p, fixturePath(b, "bundle-ordered.pem")), "", defaultSecrets)
	if err != nil {
		b.Fatal(err)
	}
	client := &http.Client{Transport: tr}
	if err := drain(client.Get(p.URL)); err != nil { // warm: the first connection and session
		b.Fatal(err)
	}
	before := c.Handshakes()
	for b.Loop() {
		if newConnEachTime {
			tr.CloseIdleConnections()
		}
		if err := drain(client.Get(p.URL)); err != nil {
			b.Fatal(err)
		}
	}
	after := c.Handshakes()
	b.ReportMetric(float64(after.Full-before.Full)/float64(b.N), "full-handshakes/op")
	b.ReportMetric(float64(after.Resumed-before.Resumed)/float64(b.N), "resumed-handshakes/op")
}

// BenchmarkReusedConnection: every request goes over the same keep-alive
// connection, as steps sharing a profile's transport do.
func BenchmarkReusedConnection(b *testing.B) {
	benchRequests(b, &Cache{Logger: quietLogger()}, false)
}

// BenchmarkNewHandshake: every request opens a connection with a full
// mutual-TLS handshake, as a client without a shared transport would.
func BenchmarkNewHandshake(b *testing.B) {
	benchRequests(b, &Cache{Logger: quietLogger(), DisableResumption: true}, true)
}

// BenchmarkResumedHandshake: every request opens a connection but resumes
// the TLS session, skipping certificate exchange and verification.
func BenchmarkResumedHandshake(b *testing.B) {
	benchRequests(b, &Cache{Logger: quietLogger()}, true)
}
