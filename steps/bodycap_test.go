package steps

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/wsdl"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/rest"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/soap"
	"github.com/outflow-dev/outflow/steps/soap/soaptest"
)

const gib = 1 << 30

// hugeBodies is an mTLS partner whose answers are 1 GiB long, generated
// while they are written, never stored. It counts what it managed to send.
type hugeBodies struct {
	sent     atomic.Int64
	finished chan int64 // bytes written by a handler that stopped
}

func (h *hugeBodies) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	prefix := []byte{}
	switch {
	case strings.HasSuffix(r.URL.Path, "/soap"):
		// An envelope that never ends.
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		prefix = []byte(`<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetOrderStatusResponse xmlns="` + soaptest.OrdersNS + `"><Status>`)
	case strings.HasSuffix(r.URL.Path, "/json"):
		w.Header().Set("Content-Type", "application/json")
		prefix = []byte(`{"padding":"`)
	case strings.HasSuffix(r.URL.Path, "/small"):
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
		return
	}
	if !strings.Contains(r.URL.Path, "chunked") {
		w.Header().Set("Content-Length", strconv.Itoa(gib))
	}
	var n int64
	defer func() { h.finished <- n }()
	m, err := w.Write(prefix)
	n += int64(m)
	for err == nil && n < gib {
		c := chunk
		if rest := gib - n; rest < int64(len(c)) {
			c = c[:rest]
		}
		m, err = w.Write(c)
		n += int64(m)
		h.sent.Add(int64(m))
	}
}

// heapPeak samples the bytes of live and unswept heap objects until stop is
// called, and returns the highest value seen above the level at the start.
func heapPeak() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	runtime.GC()
	base := read()
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if v := read(); v > base && v-base > peak.Load() {
				peak.Store(v - base)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// TestGigabyteBodyIsCappedWhileStreaming sends REST and SOAP steps to a
// partner that answers with 1 GiB, over mutual TLS. The steps finish with the
// body cut at the limit and marked, the heap never grows anywhere near the
// body's size, and the partner could not push the whole body: the worker
// closed the connection instead of downloading the rest.
func TestGigabyteBodyIsCappedWhileStreaming(t *testing.T) {
	if testing.Short() {
		t.Skip("streams gigabyte bodies over loopback")
	}
	ca, _ := devpki.NewCA("Partner CA", nil)
	srvCert, err := ca.IssueServer("partner", []string{"127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &hugeBodies{finished: make(chan int64, 8)}
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvCert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	srv.StartTLS()
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	conn := &engine.Connection{Name: "partner", Scheme: "https", Host: host, Port: p, MutualAuth: true, ProtocolProfile: "mtls"}
	profile, dir := profileFor(t, ca, ca)
	tr := NewTransports(secrets.New(dir))
	defer tr.Close()

	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	ra := &rest.Activity{Secrets: tr.Secrets, Transports: tr}
	sa := &soap.Activity{Secrets: tr.Secrets, Transports: tr}
	env.RegisterActivityWithOptions(ra.Execute, activity.RegisterOptions{Name: engine.RestActivity})
	env.RegisterActivityWithOptions(sa.Execute, activity.RegisterOptions{Name: engine.SoapActivity})
	const maxHeapGrowth = 64 << 20

	// checkPartner waits for the partner's handler to stop writing and
	// checks it sent a small part of the gigabyte.
	checkPartner := func(what string) {
		t.Helper()
		select {
		case n := <-h.finished:
			if n >= gib/4 {
				t.Errorf("%s: the partner wrote %d MiB of the 1024 MiB body: it was downloaded, not cut", what, n>>20)
			}
			t.Logf("%s: the partner wrote %d MiB before the worker closed the connection", what, n>>20)
		case <-time.After(2 * time.Minute):
			t.Fatalf("%s: the partner is still writing the body", what)
		}
	}

	for _, path := range []string{"/json", "/chunked/json", "/text"} {
		limit := int64(engine.DefaultBodyLimit)
		stop := heapPeak()
		v, err := env.ExecuteActivity(engine.RestActivity, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn, Profile: profile, ProjectRoot: dir}, Method: "GET", Path: path})
		peak := stop()
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		var res engine.StepResult
		if err := v.Get(&res); err != nil {
			t.Fatal(err)
		}
		r := res.Response
		if r == nil || !r.BodyTruncated || r.BodyLimit != limit || int64(len(r.Body)) != limit || r.JSON != nil {
			t.Fatalf("GET %s: response %d, truncated %v at %d, %d bytes kept, JSON %v", path, r.StatusCode, r.BodyTruncated, r.BodyLimit, len(r.Body), r.JSON != nil)
		}
		if strings.Contains(path, "chunked") {
			if r.BodySize <= limit || r.BodySize >= gib {
				t.Errorf("GET %s: body_size %d, want a lower bound above the limit", path, r.BodySize)
			}
		} else if r.BodySize != gib {
			t.Errorf("GET %s: body_size %d, want the announced %d", path, r.BodySize, gib)
		}
		if peak > maxHeapGrowth {
			t.Errorf("GET %s: the heap grew by %d MiB while reading a 1 GiB body", path, peak>>20)
		}
		t.Logf("GET %s: kept %d KiB of a 1 GiB body, heap peak +%d MiB", path, len(r.Body)>>10, peak>>20)
		checkPartner("GET " + path)
	}

	// The connection that carried a cut body is not reused half-read: the
	// next step works.
	v, err := env.ExecuteActivity(engine.RestActivity, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn, Profile: profile, ProjectRoot: dir}, Method: "GET", Path: "/small"})
	if err != nil {
		t.Fatalf("a step after a cut body: %v", err)
	}
	var small engine.StepResult
	if err := v.Get(&small); err != nil || small.Response.StatusCode != 200 {
		t.Fatalf("a step after a cut body: %v %+v", err, small.Response)
	}

	// SOAP: an envelope cannot be read in part, so the step fails, does not
	// retry, and says to raise the limit.
	d, err := wsdl.Parse(soaptest.WSDL(""), nil)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := d.Subset("", "", "GetOrderStatus")
	if err != nil {
		t.Fatal(err)
	}
	soapConn := *conn
	soapConn.BasePath = "/soap"
	stop := heapPeak()
	_, err = env.ExecuteActivity(engine.SoapActivity, &engine.SoapRequest{CallHeader: engine.CallHeader{Connection: &soapConn, Profile: profile, ProjectRoot: dir, BodyLimit: 1 << 20}, Definitions: defs, Operation: "GetOrderStatus", Body: map[string]any{"OrderId": "7"}})
	peak := stop()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != engine.ErrConfig || !appErr.NonRetryable() || !strings.Contains(appErr.Message(), "over the body limit of 1048576 bytes") {
		t.Fatalf("SOAP step with a 1 GiB answer: %v", err)
	}
	var failed engine.StepResult
	if err := appErr.Details(&failed); err != nil || failed.Response == nil || !failed.Response.BodyTruncated || failed.Response.BodyLimit != 1<<20 {
		t.Fatalf("SOAP failure details: %v %+v", err, failed.Response)
	}
	if peak > maxHeapGrowth {
		t.Errorf("SOAP: the heap grew by %d MiB while reading a 1 GiB envelope", peak>>20)
	}
	t.Logf("SOAP: %s; heap peak +%d MiB", appErr.Message(), peak>>20)
	checkPartner("SOAP")
}
