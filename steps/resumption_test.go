package steps

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// ticketPartner is a real TLS 1.3 server that issues session tickets (Go's
// default) and asks clientAuth of clients. While pair is set, a request
// waits for a second one to arrive, so two concurrent steps need two
// connections: one pooled, one new that resumes the session.
type ticketPartner struct {
	srv  *httptest.Server
	conn *engine.Connection

	pair    atomic.Bool
	mu      sync.Mutex
	waiting int
	both    chan struct{}
	// withCert counts requests whose session carried a client certificate.
	withCert, requests atomic.Int64
}

func newTicketPartner(t *testing.T, ca *devpki.CA, clientAuth tls.ClientAuthType) *ticketPartner {
	t.Helper()
	srvCert, err := ca.IssueServer("partner", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &ticketPartner{both: make(chan struct{})}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			p.withCert.Add(1)
		}
		if p.pair.Load() {
			p.mu.Lock()
			p.waiting++
			if p.waiting == 2 {
				close(p.both)
			}
			p.mu.Unlock()
			select {
			case <-p.both:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	p.srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{srvCert.TLSCertificate()},
		ClientAuth:   clientAuth, ClientCAs: ca.Pool(),
		MinVersion: tls.VersionTLS13,
	}
	p.srv.StartTLS()
	t.Cleanup(p.srv.Close)
	host, port, _ := net.SplitHostPort(p.srv.Listener.Addr().String())
	n, _ := strconv.Atoi(port)
	p.conn = &engine.Connection{Name: "partner", Scheme: "https", Host: host, Port: n, MutualAuth: true, ProtocolProfile: "mtls"}
	return p
}

// concurrentSteps runs two steps at once (a flow's concurrency: 2) and
// returns their results, the pooled connection's first.
func (p *ticketPartner) concurrentSteps(t *testing.T, tr *Transports, profile *engine.ProtocolProfile, dir string) (pooled, resumed *engine.StepResult) {
	t.Helper()
	p.pair.Store(true)
	defer p.pair.Store(false)
	var wg sync.WaitGroup
	results := make([]*engine.StepResult, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() { results[i], errs[i] = runStep(t, tr, p.conn, profile, dir) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range results {
		if r.TLS == nil {
			t.Fatalf("a step has no TLS facts: %+v", r)
		}
	}
	if results[0].TLS.NewConnection {
		results[0], results[1] = results[1], results[0]
	}
	pooled, resumed = results[0], results[1]
	if pooled.TLS.NewConnection || !resumed.TLS.NewConnection || !resumed.TLS.Resumed {
		t.Fatalf("want one pooled connection and one new, resumed one: %+v / %+v", pooled.TLS, resumed.TLS)
	}
	return pooled, resumed
}

func subjectOf(f *engine.TLSFacts) string {
	if f.ClientCertificate == nil {
		return ""
	}
	return f.ClientCertificate.Subject
}

// A partner that enforces client certificates, reached by two steps at once:
// the second connection resumes the first one's TLS 1.3 session, so the
// server does not ask for the certificate again. The resumed step is still
// authenticated by the certificate of the original handshake, and says so,
// without the warning that the partner does not authenticate Outflow.
func TestResumedSessionKeepsTheIdentityOfItsFullHandshake(t *testing.T) {
	ca, _ := devpki.NewCA("Partner CA", nil)
	p := newTicketPartner(t, ca, tls.RequireAndVerifyClientCert)
	profile, dir := profileFor(t, ca, ca)
	tr := NewTransports(secrets.New(dir))

	first, err := runStep(t, tr, p.conn, profile, dir)
	if err != nil {
		t.Fatal(err)
	}
	if first.TLS == nil || first.TLS.Resumed || !strings.Contains(subjectOf(first.TLS), "svc-outflow") || len(first.TLS.Notes) > 0 {
		t.Fatalf("first step, full handshake: %+v", first.TLS)
	}
	if first.TLS.ClientAuth != engine.ClientAuthMTLS {
		t.Errorf("first step: client_auth %q, want %q", first.TLS.ClientAuth, engine.ClientAuthMTLS)
	}
	pooled, resumed := p.concurrentSteps(t, tr, profile, dir)
	if hs := tr.Cache.Handshakes(); hs.Full != 1 || hs.Resumed != 1 {
		t.Fatalf("handshakes = %+v, want one full and one resumed", hs)
	}
	if pooled.TLS.ClientAuth != engine.ClientAuthMTLS || subjectOf(pooled.TLS) != subjectOf(first.TLS) || len(pooled.TLS.Notes) > 0 {
		t.Errorf("pooled step: %+v", pooled.TLS)
	}
	if resumed.TLS.ClientAuth != engine.ClientAuthMTLSResumed || subjectOf(resumed.TLS) != subjectOf(first.TLS) ||
		resumed.TLS.ClientCertificate.FingerprintSHA256 != first.TLS.ClientCertificate.FingerprintSHA256 {
		t.Errorf("resumed step lost the identity of its handshake: %+v", resumed.TLS)
	}
	for _, n := range resumed.TLS.Notes {
		t.Errorf("resumed step warns: %s", n)
	}
	// The partner saw the certificate on every request, resumed ones too.
	if p.withCert.Load() != 3 || p.requests.Load() != 3 {
		t.Errorf("partner saw a client certificate on %d of %d requests", p.withCert.Load(), p.requests.Load())
	}

	// What auditors read: the record's table and details.
	rec := &engine.Record{Kind: "Flow", Flow: "f", Status: engine.StatusSucceeded, Steps: []*engine.StepRecord{
		{ID: "a", Kind: "rest", Status: engine.StatusSucceeded, TLS: resumed.TLS, Response: &engine.ResponseSummary{StatusCode: 200},
			Request: &engine.RequestSummary{Method: "GET", URL: p.srv.URL + "/x"}},
	}}
	var out bytes.Buffer
	rec.WriteText(&out, true)
	for _, want := range []string{"TLS 1.3 mTLS, resumed", "presented on the full handshake this session resumed", "CN=svc-outflow"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("record text lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "did not ask") {
		t.Errorf("record text warns:\n%s", out.String())
	}
}

// A partner that never asks for a client certificate: the full handshake
// presented none, and the session resumed from it carries no identity
// either, so both new connections warn.
func TestResumedSessionOfAHandshakeWithoutCertificateStillWarns(t *testing.T) {
	ca, _ := devpki.NewCA("Partner CA", nil)
	p := newTicketPartner(t, ca, tls.NoClientCert)
	profile, dir := profileFor(t, ca, ca)
	tr := NewTransports(secrets.New(dir))

	first, err := runStep(t, tr, p.conn, profile, dir)
	if err != nil {
		t.Fatal(err)
	}
	if first.TLS.ClientCertificate != nil || len(first.TLS.Notes) != 1 || !strings.Contains(first.TLS.Notes[0], "did not ask") {
		t.Fatalf("first step: %+v", first.TLS)
	}
	if first.TLS.ClientAuth != engine.ClientAuthNone {
		t.Errorf("first step: client_auth %q, want %q", first.TLS.ClientAuth, engine.ClientAuthNone)
	}
	pooled, resumed := p.concurrentSteps(t, tr, profile, dir)
	if resumed.TLS.ClientAuth != engine.ClientAuthNone || resumed.TLS.ClientCertificate != nil || len(resumed.TLS.Notes) != 1 || !strings.Contains(resumed.TLS.Notes[0], "did not ask") {
		t.Errorf("resumed step: %+v", resumed.TLS)
	}
	// The pooled connection warned when it was new, not at every step.
	if len(pooled.TLS.Notes) != 0 {
		t.Errorf("pooled step: %+v", pooled.TLS)
	}
}

// A session whose full handshake this worker did not observe (here: made by
// a request that carried no probe) proves nothing either way: the resumed
// step reports no identity and no warning.
func TestResumedSessionOfAnUnobservedHandshakeClaimsNothing(t *testing.T) {
	ca, _ := devpki.NewCA("Partner CA", nil)
	p := newTicketPartner(t, ca, tls.RequireAndVerifyClientCert)
	profile, dir := profileFor(t, ca, ca)
	tr := NewTransports(secrets.New(dir))
	rt, err := tr.RoundTripper(context.Background(), p.conn, profile, dir)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: rt}).Get(p.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tr.Cache.CloseIdleConnections()

	res, err := runStep(t, tr, p.conn, profile, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !res.TLS.Resumed || res.TLS.ClientAuth != "" || res.TLS.ClientCertificate != nil || len(res.TLS.Notes) != 0 {
		t.Errorf("resumed step of an unobserved handshake: %+v", res.TLS)
	}
}
