package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/worker"
)

const payProject = `kind: ProtocolProfile
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
name: pay
inputs: {order: {type: string, required: true}}
steps:
  - id: submit
    rest: {connection: psp, method: POST, path: /payments, body: {order: "${{ inputs.order }}", callback: "${{ callback_url('paid') }}"}, expect: [202]}
  - id: paid
    wait: {event: paid, timeout: 1h}
outputs: {payment: "${{ steps.paid.event.json.payment_id }}"}
`

// TestEventsProcessWorkerKilledWhileWaiting runs real processes: a worker
// and a gateway (`outflow worker`, `outflow gateway`) against a Temporal
// server. The flow POSTs to a partner that demands a client certificate;
// the partner answers 202 and keeps the callback URL. While the flow
// waits, the worker is killed with SIGKILL and the gateway is stopped and
// started again; then a second worker starts, the partner calls the URL,
// and the flow finishes on the second worker with the partner's payment.
// Afterwards the same URL answers 410.
func TestEventsProcessWorkerKilledWhileWaiting(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the outflow binary")
	}
	pki := newMTLSPKI(t, "PSP CA", "svc-outflow")
	partner := &asyncPartner{client: &http.Client{Timeout: time.Minute}, callbacks: map[string]string{}, answers: make(chan int, 4), hold: true}
	psp := pki.serve(t, partner)
	dir, plan := pki.project(t, map[string]string{"flows.yaml": fmt.Sprintf(payProject, psp.Listener.Addr().(*net.TCPAddr).Port)}, "pay")

	ctx := context.Background()
	st, err := openStack(ctx, &globalFlags{namespace: "default"}, stackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	addr := st.server.FrontendAddress()
	key := base64.StdEncoding.EncodeToString([]byte("process-test-gateway-key-0123456789"))
	gwAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	env := append(os.Environ(), worker.EnvGatewayKey+"="+key, worker.EnvGatewayURL+"=http://"+gwAddr)

	w1 := startProcEnv(t, env, "worker connected", "worker", "--address", addr, "--project", dir, "--identity", "worker-1")
	gw1 := startProcEnv(t, env, "gateway ", "gateway", "--address", addr, "--project", dir, "--listen", gwAddr)
	run, err := st.client.Start(ctx, plan, map[string]any{"order": "o-7"}, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the partner to be called", 2*time.Minute, func() bool { return partner.callback("o-7") != "" })
	waitForStep(t, st, run.GetID(), "paid", engine.StatusWaiting)
	w1.kill9(t)
	gw1.kill9(t)
	startProcEnv(t, env, "gateway ", "gateway", "--address", addr, "--project", dir, "--listen", gwAddr)
	startProcEnv(t, env, "worker connected", "worker", "--address", addr, "--project", dir, "--identity", "worker-2")

	cb := partner.callback("o-7")
	if !strings.HasPrefix(cb, "http://"+gwAddr+engine.CallbackPath) {
		t.Fatalf("callback URL %q", cb)
	}
	if c := partner.call(cb, "o-7"); c != http.StatusAccepted {
		t.Fatalf("callback answered %d", c)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	rec, err := st.client.Wait(wctx, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Outputs["payment"] != "pay-o-7" || rec.Step("submit").Worker != "worker-1" {
		t.Fatalf("outputs %v, submit ran on %q", rec.Outputs, rec.Step("submit").Worker)
	}
	// The workflow task that read the event ran on the second worker.
	hist := fetchHistory(t, st, run.GetID(), run.GetRunID())
	signaled, finisher := false, ""
	for _, ev := range hist.Events {
		if ev.GetEventType() == enums.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED {
			signaled = true
		}
		if a := ev.GetWorkflowTaskCompletedEventAttributes(); a != nil && signaled {
			finisher = a.GetIdentity()
		}
	}
	if finisher != "worker-2" {
		t.Fatalf("the task after the event completed on %q, want worker-2", finisher)
	}
	if strings.Contains(historyText(t, hist), key) {
		t.Fatal("the gateway key is in the history")
	}
	if c := partner.call(cb, "o-7"); c != http.StatusGone {
		t.Fatalf("callback after the end answered %d, want 410", c)
	}
}

const devHookProject = `kind: Flow
name: hooked
inputs: {n: {type: string}}
triggers:
  - webhook: {path: /hooks/dev, auth: {bearer: {token: {secret: env:DEV_HOOK_TOKEN}}}, id: "${{ request.json.n }}", inputs: {n: "${{ request.json.n }}"}, respond: outputs}
steps:
  - id: s
    set: {echo: "${{ inputs.n }}"}
outputs: {echo: "${{ vars.echo }}"}
`

// TestEventsDevStartsGateway: `outflow dev` prints the gateway on a line
// of its own beginning with "gateway", serves /healthz, refuses a forged
// callback, and serves the project's webhook triggers.
func TestEventsDevStartsGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the outflow binary")
	}
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "flows.yaml"), []byte(devHookProject))
	env := append(os.Environ(), "DEV_HOOK_TOKEN=dev-hook-token-abc")
	p := startProcEnv(t, env, "run flows with", "dev", "--project", dir, "--db", filepath.Join(dir, ".outflow", "dev.sqlite"),
		"--port", fmt.Sprint(freePort(t)), "--ui-port", "0", "--console", "", "--gateway", "127.0.0.1:0")
	gwLine := ""
	for _, l := range p.seen {
		if strings.HasPrefix(l, "gateway ") {
			gwLine = l
		}
	}
	f := strings.Fields(gwLine)
	if len(f) < 2 || !strings.HasPrefix(f[1], "http://127.0.0.1:") || !strings.Contains(gwLine, "1 webhook") {
		t.Fatalf("gateway line %q in:\n%s", gwLine, strings.Join(p.seen, "\n"))
	}
	base := f[1]
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	resp, err = http.Post(base+engine.CallbackPath+"wf/run/paid/forged", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("forged callback: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/hooks/dev", strings.NewReader(`{"n":"seven"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer dev-hook-token-abc")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Execution string         `json:"execution"`
		Outputs   map[string]any `json:"outputs"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || out.Execution != "hooked-seven" || out.Outputs["echo"] != "seven" {
		t.Fatalf("webhook: %d %+v", resp.StatusCode, out)
	}
	if _, err := os.Stat(filepath.Join(dir, ".outflow", "gateway.key")); err != nil {
		t.Fatalf("the dev gateway key is not kept: %v", err)
	}
}
