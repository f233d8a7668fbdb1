package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/worker"
	"github.com/outflow-dev/outflow/worker/gateway"
)

// asyncProject is an order intake started by a signed webhook: it submits
// a payment to a partner over mutual TLS, which answers 202 and calls the
// callback URL later; the flow waits for that callback. Two more webhooks
// test bearer and mutual-TLS authentication.
const asyncProject = `kind: ProtocolProfile
name: psp-mtls
keystore: {path: client-bundle.pem}
truststore: {paths: [ca.pem]}
---
kind: Connection
name: psp
url: https://127.0.0.1:%d
mutual_auth: true
protocol_profile: psp-mtls
---
kind: Flow
name: order-intake
inputs: {order_id: {type: string, required: true}}
triggers:
  - webhook:
      path: /hooks/orders
      auth: {hmac: {header: X-Signature, secret: {secret: env:EVT_HOOK_SECRET}, prefix: "sha256=", timestamp_header: X-Timestamp, tolerance: 5m}}
      id: "${{ request.json.delivery_id }}"
      inputs: {order_id: "${{ request.json.order.id }}"}
      respond: outputs
steps:
  - id: submit
    rest: {connection: psp, method: POST, path: /payments, body: {order: "${{ inputs.order_id }}", callback: "${{ callback_url('paid') }}"}, expect: [202]}
  - id: paid
    wait: {event: paid, timeout: 1h}
outputs:
  payment: "${{ steps.paid.event.json.payment_id }}"
  auth: "${{ steps.paid.event.headers.authorization }}"
---
kind: Flow
name: bearer-hook
inputs: {n: {type: string}}
triggers:
  - webhook: {path: /hooks/bearer, auth: {bearer: {token: {secret: env:EVT_BEARER}}}, id: "${{ request.query.n }}", inputs: {n: "${{ request.query.n }}"}}
steps: [{id: s, set: {x: 1}}]
---
kind: Flow
name: mtls-hook
inputs: {n: {type: string}}
triggers:
  - webhook: {path: /hooks/mtls, auth: {mtls: {client_ca: [ca.pem], allow_subjects: ["CN=partner-hooks,O=Outflow Dev"]}}, id: "${{ request.form.n }}", inputs: {n: "${{ request.form.n }}"}}
steps: [{id: s, set: {x: 1}}]
---
kind: Flow
name: failing-hook
triggers:
  - webhook: {path: /hooks/failing, auth: {bearer: {token: {secret: env:EVT_BEARER}}}, respond: outputs}
steps:
  - id: refuse
    fail: {message: "order refused", type: Refused}
---
kind: Flow
name: slow-hook
triggers:
  - webhook: {path: /hooks/slow, auth: {bearer: {token: {secret: env:EVT_BEARER}}}, respond: outputs, timeout: 1s}
steps:
  - id: approved
    wait: {event: approved, timeout: 1h}
outputs: {by: "${{ steps.approved.event.json.by }}"}
---
kind: Flow
name: waiter
steps:
  - id: paid
    wait: {event: paid, timeout: 1h}
outputs: {payment: "${{ steps.paid.event.json.payment_id }}"}
`

const (
	evtHookSecret   = "evt-hook-secret-5d41402abc"
	evtBearer       = "evt-bearer-7c6a180b36896a0a"
	partnerCallAuth = "partner-callback-token-1f0e3dad99908345"
)

// asyncPartner answers POST /payments with 202 and then calls the
// callback URL it was given, with the payment, over HTTPS; it records
// what each callback was answered.
type asyncPartner struct {
	client    *http.Client
	mu        sync.Mutex
	callbacks map[string]string // order -> callback URL
	answers   chan int
	hold      bool // with hold, callbacks are sent by the test (callNow)
}

func (p *asyncPartner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/payments" || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		http.Error(w, "no", http.StatusBadRequest)
		return
	}
	var req struct{ Order, Callback string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Callback == "" {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.callbacks[req.Order] = req.Callback
	hold := p.hold
	p.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	if !hold {
		go func() { p.answers <- p.call(req.Callback, req.Order) }()
	}
}

func (p *asyncPartner) call(u, order string) int {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(`{"payment_id":"pay-`+order+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+partnerCallAuth)
	resp, err := p.client.Do(req)
	if err != nil {
		return -1
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (p *asyncPartner) callback(order string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.callbacks[order]
}

type eventsEnv struct {
	st       *stack
	gwURL    string
	key      []byte
	partner  *asyncPartner
	logs     *syncBuffer
	client   *http.Client // trusts the gateway, presents no certificate
	ca       *devpki.CA
	dir      string
	plans    []*engine.Plan
	hookCert tls.Certificate
	strange  tls.Certificate
}

// newEventsEnv starts the embedded server with a worker, the gateway over
// TLS (client certificates requested), and the partner over mutual TLS.
func newEventsEnv(t *testing.T) *eventsEnv {
	t.Helper()
	t.Setenv("EVT_HOOK_SECRET", evtHookSecret)
	t.Setenv("EVT_BEARER", evtBearer)
	ca, err := devpki.NewCA("Events Test CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := devpki.NewCA("Stranger CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(l *devpki.Leaf, err error) *devpki.Leaf {
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	pspCert := issue(ca.IssueServer("psp", []string{"127.0.0.1"}, nil))
	gwCert := issue(ca.IssueServer("gateway", []string{"127.0.0.1"}, nil))
	outflowClient := issue(ca.IssueClient("svc-outflow", nil))
	hookClient := issue(ca.IssueClient("partner-hooks", nil))
	strangeClient := issue(other.IssueClient("partner-hooks", nil))

	e := &eventsEnv{key: bytes.Repeat([]byte{0x5a}, 32), logs: &syncBuffer{}, ca: ca, dir: t.TempDir(),
		hookCert: hookClient.TLSCertificate(), strange: strangeClient.TLSCertificate()}
	e.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}, Timeout: time.Minute}
	e.partner = &asyncPartner{client: e.client, callbacks: map[string]string{}, answers: make(chan int, 64)}
	psp := httptest.NewUnstartedServer(e.partner)
	psp.TLS = &tls.Config{Certificates: []tls.Certificate{pspCert.TLSCertificate()}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	psp.StartTLS()
	t.Cleanup(psp.Close)

	writeTestFile(t, filepath.Join(e.dir, "ca.pem"), ca.CertPEM())
	if _, err := outflowClient.WriteFiles(e.dir, "client"); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(e.dir, "flows.yaml"), []byte(fmt.Sprintf(asyncProject, psp.Listener.Addr().(*net.TCPAddr).Port)))
	proj, err := flows.Load(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"order-intake", "bearer-hook", "mtls-hook", "waiter", "failing-hook", "slow-hook"} {
		plan, err := proj.Plan(n)
		if err != nil {
			t.Fatal(err)
		}
		e.plans = append(e.plans, plan)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{gwCert.TLSCertificate()}, ClientAuth: tls.RequestClientCert})
	e.gwURL = "https://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e.st, err = openStack(ctx, &globalFlags{namespace: "default"}, stackOptions{embedWorker: true, baseDir: e.dir,
		callbacks: &engine.CallbackSigner{Key: e.key, BaseURL: e.gwURL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.st.Close)
	res, err := worker.GatewaySecrets(e.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(gateway.Options{Client: e.st.client, Key: e.key, Plans: e.plans, Secrets: res, Dir: e.dir,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gw.Serve(ctx, ln) }()
	return e
}

func (e *eventsEnv) post(t *testing.T, c *http.Client, path string, body string, header map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.gwURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func stripeSign(secret, ts, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (e *eventsEnv) started(t *testing.T, id string) bool {
	t.Helper()
	_, err := e.st.temporal.DescribeWorkflowExecution(context.Background(), id, "")
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

// TestEventsGatewayOnEmbeddedServer: a signed webhook starts the order
// intake and waits for its outputs; the flow calls the partner over mutual
// TLS, the partner answers 202 and calls the callback URL, and the wait
// resumes with the payment. A redelivery is answered with the first
// execution; wrong or stale signatures, missing or wrong bearer tokens and
// client certificates of another CA are refused with 401/403 and start
// nothing; the callback URL answers 410 once the execution has ended and
// 403 when tampered with; and no secret value is in a history, a record or
// the gateway's logs.
func TestEventsGatewayOnEmbeddedServer(t *testing.T) {
	e := newEventsEnv(t)
	now := strconv.FormatInt(time.Now().Unix(), 10)
	body := `{"delivery_id":"d-100","order":{"id":"o-100"}}`
	signed := map[string]string{"Content-Type": "application/json", "X-Timestamp": now, "X-Signature": stripeSign(evtHookSecret, now, body)}
	code, out := e.post(t, e.client, "/hooks/orders", body, signed)
	if code != http.StatusOK || out["execution"] != "order-intake-d-100" {
		t.Fatalf("webhook: %d %v", code, out)
	}
	outputs, _ := out["outputs"].(map[string]any)
	if outputs["payment"] != "pay-o-100" || outputs["auth"] != engine.RedactedHeader {
		t.Fatalf("outputs %v", out)
	}
	if c := <-e.partner.answers; c != http.StatusAccepted {
		t.Fatalf("the partner's callback was answered %d", c)
	}
	// Redelivered: the same execution answers, nothing new starts.
	code, out2 := e.post(t, e.client, "/hooks/orders", body, signed)
	if code != http.StatusOK || out2["duplicate"] != true || out2["run_id"] != out["run_id"] {
		t.Fatalf("redelivery: %d %v (first %v)", code, out2, out)
	}
	// The callback URL of an ended execution is gone; a tampered one refused.
	cb := e.partner.callback("o-100")
	if !strings.HasPrefix(cb, e.gwURL+engine.CallbackPath) {
		t.Fatalf("callback URL %q", cb)
	}
	if c := e.partner.call(cb, "o-100"); c != http.StatusGone {
		t.Fatalf("callback after the end: %d, want 410", c)
	}
	if c := e.partner.call(cb[:len(cb)-3]+"AAA", "o-100"); c != http.StatusForbidden {
		t.Fatalf("tampered callback: %d, want 403", c)
	}
	other := strings.Replace(cb, "/paid/", "/refund/", 1)
	if c := e.partner.call(other, "o-100"); c != http.StatusForbidden {
		t.Fatalf("callback for another event with the same token: %d, want 403", c)
	}

	refused := []struct {
		name   string
		path   string
		body   string
		header map[string]string
		client *http.Client
		status int
		id     string
	}{
		{"wrong hmac", "/hooks/orders", `{"delivery_id":"d-101","order":{"id":"o-101"}}`,
			map[string]string{"Content-Type": "application/json", "X-Timestamp": now, "X-Signature": stripeSign("not the secret", now, `{"delivery_id":"d-101","order":{"id":"o-101"}}`)}, e.client, 401, "order-intake-d-101"},
		{"stale timestamp", "/hooks/orders", `{"delivery_id":"d-102","order":{"id":"o-102"}}`,
			map[string]string{"Content-Type": "application/json", "X-Timestamp": strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10),
				"X-Signature": stripeSign(evtHookSecret, strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10), `{"delivery_id":"d-102","order":{"id":"o-102"}}`)}, e.client, 401, "order-intake-d-102"},
		{"body changed after signing", "/hooks/orders", `{"delivery_id":"d-103","order":{"id":"o-999"}}`,
			map[string]string{"Content-Type": "application/json", "X-Timestamp": now, "X-Signature": stripeSign(evtHookSecret, now, `{"delivery_id":"d-103","order":{"id":"o-103"}}`)}, e.client, 401, "order-intake-d-103"},
		{"missing bearer", "/hooks/bearer?n=b1", "", nil, e.client, 401, "bearer-hook-b1"},
		{"wrong bearer", "/hooks/bearer?n=b2", "", map[string]string{"Authorization": "Bearer " + evtBearer + "x"}, e.client, 401, "bearer-hook-b2"},
		{"no client certificate", "/hooks/mtls", "n=m1", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, e.client, 401, "mtls-hook-m1"},
		{"client certificate of another CA", "/hooks/mtls", "n=m2", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, e.withCert(e.strange), 403, "mtls-hook-m2"},
	}
	for _, r := range refused {
		code, out := e.post(t, r.client, r.path, r.body, r.header)
		if code != r.status {
			t.Fatalf("%s: %d %v, want %d", r.name, code, out, r.status)
		}
		if e.started(t, r.id) {
			t.Fatalf("%s: %s was started", r.name, r.id)
		}
	}
	// The right credentials pass.
	if code, out := e.post(t, e.client, "/hooks/bearer?n=b3", "", map[string]string{"Authorization": "Bearer " + evtBearer}); code != http.StatusAccepted || out["execution"] != "bearer-hook-b3" {
		t.Fatalf("bearer: %d %v", code, out)
	}
	if code, out := e.post(t, e.withCert(e.hookCert), "/hooks/mtls", "n=m3", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); code != http.StatusAccepted || out["execution"] != "mtls-hook-m3" {
		t.Fatalf("mtls: %d %v", code, out)
	}
	// respond: outputs answers a failed flow with 422 and its error.
	if code, out := e.post(t, e.client, "/hooks/failing", "", map[string]string{"Authorization": "Bearer " + evtBearer}); code != http.StatusUnprocessableEntity ||
		out["status"] != engine.StatusFailed || !strings.Contains(fmt.Sprint(out["error"]), "order refused") {
		t.Fatalf("failing flow: %d %v", code, out)
	}
	// respond: outputs answers a flow still running after the webhook's
	// timeout with 504 and the execution, which goes on.
	code, out = e.post(t, e.client, "/hooks/slow", "", map[string]string{"Authorization": "Bearer " + evtBearer})
	slow, _ := out["execution"].(string)
	if code != http.StatusGatewayTimeout || out["status"] != engine.StatusRunning || slow == "" {
		t.Fatalf("slow flow: %d %v", code, out)
	}
	if err := e.st.client.SendEvent(context.Background(), slow, "", engine.Event{Name: "approved", Body: `{"by":"ops"}`, ReceivedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if rec, err := e.st.client.Wait(context.Background(), e.st.temporal.GetWorkflow(context.Background(), slow, ""), nil); err != nil || rec.Outputs["by"] != "ops" {
		t.Fatalf("the slow flow after its event: %v %+v", err, rec)
	}
	// A replayed bearer delivery is deduplicated, not started again.
	if code, out := e.post(t, e.client, "/hooks/bearer?n=b3", "", map[string]string{"Authorization": "Bearer " + evtBearer}); code != http.StatusOK || out["duplicate"] != true {
		t.Fatalf("bearer replay: %d %v", code, out)
	}

	// Every refusal is counted: 7 webhooks and 2 callbacks.
	resp, err := e.client.Get(e.gwURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`outflow_gateway_auth_failures_total{route="webhook"} 7`, `outflow_gateway_auth_failures_total{route="callback"} 2`,
		`outflow_gateway_requests_total{code="410",route="callback"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s:\n%s", want, metrics)
		}
	}

	// No secret value anywhere: histories, records, gateway logs.
	rec, err := e.st.client.Show(context.Background(), "order-intake-d-100")
	if err != nil {
		t.Fatal(err)
	}
	recJSON, _ := json.Marshal(rec)
	texts := map[string]string{"gateway logs": e.logs.String(), "record": string(recJSON)}
	for _, id := range []string{"order-intake-d-100", "bearer-hook-b3", "mtls-hook-m3"} {
		texts["history of "+id] = historyText(t, fetchHistory(t, e.st, id, ""))
	}
	for where, text := range texts {
		for _, s := range []string{evtHookSecret, evtBearer, partnerCallAuth, base64.StdEncoding.EncodeToString(e.key), string(e.key)} {
			if strings.Contains(text, s) {
				t.Fatalf("the %s hold a secret value (%.6s…)", where, s)
			}
		}
	}
	if !strings.Contains(e.logs.String(), `"status":401`) || !strings.Contains(e.logs.String(), `"status":410`) {
		t.Fatalf("the gateway logs lack the refusals:\n%s", e.logs.String())
	}
	tok := cb[strings.LastIndex(cb, "/")+1:]
	if strings.Contains(e.logs.String(), tok) {
		t.Fatal("the gateway logs hold a callback token")
	}
	u, _ := url.Parse(cb)
	if strings.Contains(e.logs.String(), u.Path) {
		t.Fatal("the gateway logs hold a callback path")
	}
}

func (e *eventsEnv) withCert(c tls.Certificate) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.ca.Pool(), Certificates: []tls.Certificate{c}}}, Timeout: time.Minute}
}
