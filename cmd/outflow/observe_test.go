package main

// The worker's observability and payload encryption, end to end: the
// quickstart flow on the embedded Temporal server against the example mTLS
// partner, with metrics scraped over HTTP, spans recorded in memory, logs
// captured, and the history read raw.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/examples/partner"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/telemetry/promtest"
	"github.com/outflow-dev/outflow/worker"
	"github.com/outflow-dev/outflow/worker/codec"
	"github.com/outflow-dev/outflow/worker/devserver"
)

func randomKeyText(t *testing.T) string {
	raw := make([]byte, 32)
	rand.Read(raw)
	return base64.StdEncoding.EncodeToString(raw)
}

func TestObservedEncryptedFlowRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := copyQuickstart(t)
	qs, err := prepareQuickstart(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer qs.partner.Close()

	srv, err := devserver.Start(ctx, devserver.Options{SearchAttributes: engine.SearchAttributes, LogLevel: "off"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	// The worker process as `outflow worker --payload-key env:… --metrics-addr … --log-format json` sets it up.
	t.Setenv("TEST_PAYLOAD_KEY", randomKeyText(t))
	g := &globalFlags{namespace: "default", payloadKeys: []string{"env:TEST_PAYLOAD_KEY"}}
	dc, err := dataConverter(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	seen := &secrets.Seen{}
	logs := &lockedBuffer{}
	logger, err := worker.NewLogger(logs, worker.LogOptions{Format: "json", Level: "debug", Seen: seen})
	if err != nil {
		t.Fatal(err)
	}
	reg, m, sdkMetrics, err := worker.NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	ms, err := worker.ServeMetrics("127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	obs := &worker.Observability{Metrics: m, SDKMetrics: sdkMetrics, TracerProvider: tp, Seen: seen}

	c, err := worker.Dial(ctx, worker.DialOptions{Address: srv.FrontendAddress(), Namespace: "default", Logger: logger, Plaintext: true, DataConverter: dc, Observe: obs})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, err := worker.Start(worker.Options{Client: c, Flows: true, Agents: planAgents(qs.plan), Logger: logger, Observe: obs})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	ec := &engine.Client{Temporal: c, Namespace: "default"}
	run, err := ec.Start(ctx, qs.plan, nil, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ec.Wait(ctx, run, nil)
	if err != nil || rec.Status != engine.StatusSucceeded {
		t.Fatalf("run: %v %+v", err, rec)
	}
	if rec.Outputs["customer"] != "Customer 42" {
		t.Fatalf("outputs through the codec: %v", rec.Outputs)
	}

	t.Run("metrics", func(t *testing.T) {
		fams := promtest.Scrape(t, "http://"+ms.Addr+"/metrics")
		for _, want := range []struct {
			labels map[string]string
			count  uint64
		}{
			{map[string]string{"flow": "order-sync", "kind": "rest", "connection": "partner-api", "status_code": "200", "outcome": "ok"}, 2},
			{map[string]string{"flow": "order-sync", "kind": "rest", "connection": "partner-api", "status_code": "201", "outcome": "ok"}, 3},
			{map[string]string{"flow": "order-sync", "kind": "soap", "connection": "partner-soap", "status_code": "200", "outcome": "ok"}, 1},
		} {
			s := promtest.Sample(fams, "outflow_step_duration_seconds", want.labels)
			if s == nil || s.Histogram.GetSampleCount() != want.count {
				t.Errorf("%v: %v, want count %d", want.labels, s, want.count)
			}
		}
		full := promtest.Sample(fams, "outflow_tls_handshakes_total", map[string]string{"profile": "partner-mtls", "kind": "full"})
		if full == nil || full.Counter.GetValue() < 1 {
			t.Errorf("full handshakes: %v", full)
		}
		days := promtest.Sample(fams, "outflow_certificate_days_left", map[string]string{"profile": "partner-mtls", "role": "client"})
		if days == nil || days.Gauge.GetValue() <= 0 {
			t.Errorf("client certificate days left: %v", days)
		}
		var sdk []string
		for name := range fams {
			if strings.HasPrefix(name, "temporal_") {
				sdk = append(sdk, name)
			}
		}
		t.Logf("Temporal SDK metrics: %v", sdk)
		if fams["temporal_activity_execution_latency_seconds"] == nil && fams["temporal_activity_execution_latency"] == nil {
			t.Errorf("no Temporal SDK activity latency; SDK metrics: %v", sdk)
		}
	})

	t.Run("traces", func(t *testing.T) {
		if err := tp.ForceFlush(ctx); err != nil {
			t.Fatal(err)
		}
		ended := spans.Ended()
		byID := map[string]sdktrace.ReadOnlySpan{}
		for _, s := range ended {
			byID[s.SpanContext().SpanID().String()] = s
		}
		var httpSpan sdktrace.ReadOnlySpan
		for _, s := range ended {
			// The partner call's client span; the activity's span names
			// the step too.
			if s.SpanKind() != trace.SpanKindClient {
				continue
			}
			for _, kv := range s.Attributes() {
				if kv.Key == "outflow.step" && kv.Value.AsString() == "customer/get" {
					httpSpan = s
				}
			}
		}
		if httpSpan == nil {
			t.Fatalf("no span for the partner call of customer/get among %d spans", len(ended))
		}
		var chain []string
		for s := httpSpan; s != nil; s = byID[s.Parent().SpanID().String()] {
			chain = append(chain, s.Name())
			if s.SpanContext().TraceID() != httpSpan.SpanContext().TraceID() {
				t.Fatalf("span %s in another trace", s.Name())
			}
			if !s.Parent().IsValid() {
				break
			}
		}
		got := strings.Join(chain, " < ")
		t.Logf("span chain: %s", got)
		for _, want := range []string{"GET < RunActivity:rest < StartActivity:rest < RunWorkflow:outflow.flow"} {
			if !strings.HasPrefix(got, want) {
				t.Fatalf("span chain %q, want it to start with %q", got, want)
			}
		}
		for _, s := range ended {
			for _, kv := range s.Attributes() {
				if v := kv.Value.String(); strings.Contains(v, qs.apiPassword) || strings.Contains(v, qs.keystorePassword) {
					t.Fatalf("span %s attribute %s carries a secret", s.Name(), kv.Key)
				}
			}
		}
	})

	t.Run("logs", func(t *testing.T) {
		// The worker resolved both secrets during the run; a line that
		// carries one (a careless log call, an echoing partner) is redacted.
		logger.Info("diagnostic "+qs.apiPassword, "detail", fmt.Errorf("partner said %s", qs.keystorePassword), "password", "anything")
		out := logs.String()
		for name, v := range map[string]string{"api password": qs.apiPassword, "keystore password": qs.keystorePassword} {
			if strings.Contains(out, v) {
				t.Errorf("the %s is in the logs", name)
			}
		}
		var finished, redacted int
		for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
			var e map[string]any
			if err := json.Unmarshal([]byte(line), &e); err != nil {
				t.Fatalf("not a JSON log line: %q", line)
			}
			if e["msg"] == "step finished" && e["flow"] == "order-sync" && e["connection"] != "" {
				finished++
			}
			if e["msg"] == "diagnostic "+secrets.Redacted && e["detail"] == "partner said "+secrets.Redacted && e["password"] == secrets.Redacted {
				redacted++
			}
		}
		if finished != 6 || redacted != 1 {
			t.Fatalf("%d step lines (want 6), %d redacted lines (want 1):\n%s", finished, redacted, out)
		}
	})

	t.Run("history is encrypted", func(t *testing.T) {
		raw, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Namespace: "default", Logger: quietSDKLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		var encrypted int
		var sample *commonpb.Payload
		it := raw.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var all historypb.History
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			all.Events = append(all.Events, ev)
			var ps []*commonpb.Payload
			switch ev.EventType {
			case enums.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
				ps = ev.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
			case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				ps = ev.GetActivityTaskScheduledEventAttributes().GetInput().GetPayloads()
			case enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
				ps = ev.GetActivityTaskCompletedEventAttributes().GetResult().GetPayloads()
				if sample == nil {
					sample = ps[0]
				}
			case enums.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
				ps = ev.GetWorkflowExecutionCompletedEventAttributes().GetResult().GetPayloads()
			}
			for _, p := range ps {
				if enc := string(p.Metadata[converter.MetadataEncoding]); enc != codec.Encoding {
					t.Fatalf("%s payload with encoding %q", ev.EventType, enc)
				}
				encrypted++
			}
		}
		if encrypted < 10 || sample == nil {
			t.Fatalf("%d encrypted payloads", encrypted)
		}
		b, _ := proto.Marshal(&all)
		for _, plain := range []string{"Customer 42", "GetOrderStatusResponse", "svc-outflow"} {
			if bytes.Contains(b, []byte(plain)) {
				t.Errorf("%q readable in the raw history", plain)
			}
		}

		// Without the key, the record cannot be read, and the error says why.
		if _, err := (&engine.Client{Temporal: raw, Namespace: "default"}).Show(ctx, run.GetID()); err == nil {
			t.Error("the record was readable without the key")
		}
		t.Setenv("OTHER_KEY", randomKeyText(t))
		otherDC, _ := dataConverter(ctx, &globalFlags{payloadKeys: []string{"env:OTHER_KEY"}})
		wrong, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Namespace: "default", Logger: quietSDKLogger(), DataConverter: otherDC})
		if err != nil {
			t.Fatal(err)
		}
		defer wrong.Close()
		if _, err := (&engine.Client{Temporal: wrong, Namespace: "default"}).Show(ctx, run.GetID()); err == nil || !strings.Contains(err.Error(), "not among this process's payload keys") {
			t.Errorf("wrong key: err = %v", err)
		}
		// With the key, the record decodes.
		shown, err := ec.Show(ctx, run.GetID())
		if err != nil || shown.Outputs["customer"] != "Customer 42" {
			t.Fatalf("show with the key: %v %v", err, shown)
		}

		// The codec endpoint decodes a payload of this history for a caller
		// with the token, and refuses one without.
		cdc, _ := payloadCodec(ctx, g)
		hs := httptest.NewServer(codec.Handler(cdc, codec.ServerOptions{Token: "ui-token"}))
		defer hs.Close()
		body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{sample}})
		for token, wantStatus := range map[string]int{"": 401, "ui-token": 200} {
			req, _ := http.NewRequest(http.MethodPost, hs.URL+"/decode", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			text, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != wantStatus {
				t.Fatalf("token %q: status %d: %s", token, resp.StatusCode, text)
			}
			var out commonpb.Payloads
			if wantStatus == 200 {
				if err := protojson.Unmarshal(text, &out); err != nil {
					t.Fatal(err)
				}
				if enc := string(out.Payloads[0].Metadata[converter.MetadataEncoding]); enc != converter.MetadataEncodingJSON {
					t.Fatalf("decoded encoding %q", enc)
				}
			} else if bytes.Contains(text, []byte("outflow")) {
				t.Fatalf("refused call got data: %s", text)
			}
		}
	})
}

func quietSDKLogger() sdklog.Logger { return sdklog.NewStructuredLogger(quietLogger()) }

func TestCodecServerCommand(t *testing.T) {
	t.Setenv("CODEC_TEST_KEY", randomKeyText(t))
	t.Setenv("CODEC_TEST_TOKEN", "tok-123")
	port := freePort(t)
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))

	// Refuses to serve without credentials unless told to.
	if _, stderr, code := cli(t, "codec-server", "--addr", addr, "--payload-key", "env:CODEC_TEST_KEY"); code != 1 || !strings.Contains(stderr, "--auth-token") {
		t.Fatalf("no auth: exit %d: %s", code, stderr)
	}
	if _, stderr, code := cli(t, "codec-server", "--addr", addr); code != 1 || !strings.Contains(stderr, "needs the payload keys") {
		t.Fatalf("no key: exit %d: %s", code, stderr)
	}
	t.Setenv("CODEC_BAD_KEY", "short")
	if _, stderr, code := cli(t, "codec-server", "--addr", addr, "--payload-key", "env:CODEC_BAD_KEY", "--allow-anonymous"); code != 1 || !strings.Contains(stderr, "reading payload key env:CODEC_BAD_KEY") {
		t.Fatalf("bad key: exit %d: %s", code, stderr)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() {
		done <- execute(ctx, []string{"codec-server", "--addr", addr, "--payload-key", "env:CODEC_TEST_KEY", "--auth-token", "env:CODEC_TEST_TOKEN", "--cors-origin", "http://localhost:8233"}, &out, &errb)
	}()
	var resp *http.Response
	var err error
	for i := 0; i < 200; i++ {
		req, _ := http.NewRequest(http.MethodOptions, "http://"+addr+"/decode", nil)
		req.Header.Set("Origin", "http://localhost:8233")
		if resp, err = http.DefaultClient.Do(req); err == nil {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("codec-server exited %d: %s", code, errb.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:8233" {
		t.Fatalf("preflight: %v", resp.Header)
	}
	c, _ := payloadCodec(context.Background(), &globalFlags{payloadKeys: []string{"env:CODEC_TEST_KEY"}})
	p, _ := converter.GetDefaultDataConverter().ToPayload("Customer 42")
	enc, _ := c.Encode([]*commonpb.Payload{p})
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/decode", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok-123")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(text), base64.StdEncoding.EncodeToString([]byte(`"Customer 42"`))) {
		t.Fatalf("decode: %d %s", resp.StatusCode, text)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "codec endpoint http://"+addr) {
		t.Fatalf("output: %s", out.String())
	}
}

const quickProject = `kind: Connection
name: partner
url: http://%s/v2
---
kind: Flow
name: quick
steps:
  - id: only
    rest: {connection: partner, method: GET, path: "/slow/only", query: {ms: "1"}}
`

// TestDevProcessMetricsLogsAndEncryption runs `outflow dev` as a process with
// a payload key, metrics and JSON logs, runs a flow through it with the key,
// and checks the metrics endpoint, the log lines, and that the record
// cannot be read without the key.
func TestDevProcessMetricsLogsAndEncryption(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the outflow binary")
	}
	p, err := partner.Serve("127.0.0.1:0", nil, partner.New("", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	proj := t.TempDir()
	if err := os.WriteFile(filepath.Join(proj, "flow.yaml"), []byte(fmt.Sprintf(quickProject, p.Addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(envPayloadKey, randomKeyText(t))
	port, metricsPort := freePort(t), freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dev := startProc(t, "run flows with", "dev", "--db", filepath.Join(t.TempDir(), "dev.sqlite"), "--port", fmt.Sprint(port), "--ui-port", "0",
		"--metrics-addr", fmt.Sprintf("127.0.0.1:%d", metricsPort), "--log-format", "json")

	out, err := exec.Command(outflowBinary(t), "run", "quick", "--project", proj, "--address", addr, "--id", "quick-1", "--json").Output()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	var rec engine.Record
	if err := json.Unmarshal(out, &rec); err != nil || rec.Status != engine.StatusSucceeded {
		t.Fatalf("run: %v %s", err, out)
	}

	fams := promtest.Scrape(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	s := promtest.Sample(fams, "outflow_step_duration_seconds", map[string]string{"flow": "quick", "kind": "rest", "connection": "partner", "status_code": "200", "outcome": "ok"})
	if s == nil || s.Histogram.GetSampleCount() != 1 {
		t.Fatalf("step metric: %v", s)
	}
	waitFor(t, "the step's log line", time.Minute, func() bool {
		for {
			select {
			case l := <-dev.lines:
				var e map[string]any
				if json.Unmarshal([]byte(l), &e) == nil && e["msg"] == "step finished" && e["step"] == "only" {
					return true
				}
			default:
				return false
			}
		}
	})

	// The CLI without the key cannot read the record; with it, it can.
	show := exec.Command(outflowBinary(t), "executions", "show", "quick-1", "--json", "--address", addr)
	show.Env = append(os.Environ(), envPayloadKey+"=")
	if b, err := show.CombinedOutput(); err == nil {
		t.Fatalf("record readable without the key:\n%s", b)
	}
	b, err := exec.Command(outflowBinary(t), "executions", "show", "quick-1", "--json", "--address", addr).Output()
	if err != nil || !strings.Contains(string(b), `"SUCCEEDED"`) && !strings.Contains(string(b), `"succeeded"`) {
		t.Fatalf("show with the key: %v\n%s", err, b)
	}
}

func TestObservabilityFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"worker", "--address", "127.0.0.1:1", "--log-level", "loud"}, `log level "loud"`},
		{[]string{"worker", "--address", "127.0.0.1:1", "--log-format", "xml"}, `log format "xml"`},
		{[]string{"worker", "--address", "127.0.0.1:1", "--payload-key", "env:OUTFLOW_TEST_NO_SUCH_KEY"}, "reading payload key env:OUTFLOW_TEST_NO_SUCH_KEY"},
		{[]string{"run", "order-sync", "--project", filepath.Join("..", "..", "examples", "quickstart"), "--payload-key", "nonsense"}, "reading payload key nonsense"},
		{[]string{"executions", "list", "--address", "127.0.0.1:1", "--payload-key", "env:OUTFLOW_TEST_NO_SUCH_KEY"}, "reading payload key"},
	} {
		_, stderr, code := cli(t, tc.args...)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tc.args, code, stderr, tc.want)
		}
	}
}

// otlpReceiver is an OTLP/gRPC trace receiver on loopback that keeps the
// spans it is sent: the protocol a collector speaks, without the collector.
type otlpReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (r *otlpReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			r.spans = append(r.spans, ss.Spans...)
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// TestRunExportsTracesOverOTLP runs the quickstart with `outflow run` and
// OTEL_EXPORTER_OTLP_ENDPOINT set: the CLI and its embedded worker export
// one trace from StartWorkflow down to the partner calls.
func TestRunExportsTracesOverOTLP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	recv := &otlpReceiver{}
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, recv)
	go func() { _ = gs.Serve(ln) }()
	defer gs.Stop()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String())
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")

	dir := copyQuickstart(t)
	qs, err := prepareQuickstart(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer qs.partner.Close()
	stdout, stderr, code := cli(t, "run", "order-sync", "--project", dir, "--json")
	if code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout, stderr)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	byName := map[string]*tracepb.Span{}
	traces := map[string]bool{}
	for _, s := range recv.spans {
		byName[s.Name] = s
		traces[string(s.TraceId)] = true
	}
	for _, name := range []string{"StartWorkflow:outflow.flow", "RunWorkflow:outflow.flow", "RunActivity:rest", "RunActivity:soap", "GET", "POST"} {
		if byName[name] == nil {
			t.Errorf("no %s span among %d", name, len(recv.spans))
		}
	}
	if len(traces) != 1 {
		t.Errorf("spans in %d traces, want the run's one", len(traces))
	}
	for _, s := range recv.spans {
		for _, kv := range s.Attributes {
			if v := kv.GetValue().GetStringValue(); v != "" && (strings.Contains(v, qs.apiPassword) || strings.Contains(v, "?")) {
				t.Errorf("span %s attribute %s = %q", s.Name, kv.Key, v)
			}
		}
	}
}
