package telemetry

import (
	"crypto/tls"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/tlsclient"
)

type idleCounter struct {
	http.RoundTripper
	closed int
}

func (c *idleCounter) CloseIdleConnections() { c.closed++ }

// Tracing wraps the transport; what the OAuth binding check reads through
// it (the certificate presented, closing the pool after a rotation) must
// still reach the transport below.
func TestTracedTransportIsTransparent(t *testing.T) {
	ca, err := devpki.NewCA("CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.IssueClient("svc", nil)
	if err != nil {
		t.Fatal(err)
	}
	cert := leaf.TLSCertificate()
	base := &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	traced := TraceRoundTripper(base, noop.NewTracerProvider().Tracer("t"), "partner", "mtls")
	if traced == http.RoundTripper(base) {
		t.Fatal("a tracer did not wrap the transport")
	}
	got := tlsclient.PresentedCertificate(traced)
	if got == nil || got.Leaf == nil && len(got.Certificate) == 0 || string(got.Certificate[0]) != string(cert.Certificate[0]) {
		t.Fatalf("the certificate read through the tracing: %v", got)
	}
	ic := &idleCounter{RoundTripper: base}
	w := TraceRoundTripper(ic, noop.NewTracerProvider().Tracer("t"), "partner", "mtls")
	w.(interface{ CloseIdleConnections() }).CloseIdleConnections()
	if ic.closed != 1 {
		t.Fatalf("CloseIdleConnections reached the transport %d times", ic.closed)
	}
}
