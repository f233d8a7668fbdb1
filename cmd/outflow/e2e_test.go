package main

// End-to-end tests: the command line, the embedded Temporal server, workers
// and the example partner over real mTLS on loopback.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/outflow-dev/outflow/engine"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// copyQuickstart copies examples/quickstart into a temporary folder with the
// partner moved to a free port, so tests never collide with a running quickstart.
func copyQuickstart(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "..", "examples", "quickstart")
	port := freePort(t)
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if rel == "certs" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		b = bytes.ReplaceAll(b, []byte("port: 8443"), []byte(fmt.Sprintf("port: %d", port)))
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = execute(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestValidateSevenMistakes(t *testing.T) {
	_, stderr, code := cli(t, "validate", filepath.Join("..", "..", "flows", "testdata", "invalid", "seven", "flow.yaml"))
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
	}
	positioned := regexp.MustCompile(`(?m)^\S*flow\.yaml:\d+:\d+: `)
	if n := len(positioned.FindAllString(stderr, -1)); n != 7 {
		t.Fatalf("%d positioned errors, want 7:\n%s", n, stderr)
	}
}

func TestValidateQuickstart(t *testing.T) {
	stdout, stderr, code := cli(t, "validate", "--project", filepath.Join("..", "..", "examples", "quickstart"))
	if code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
	}
}

func TestQuickstartEndToEnd(t *testing.T) {
	dir := copyQuickstart(t)
	var out, errOut bytes.Buffer
	rec, partnerSrv, err := runQuickstart(context.Background(), &globalFlags{namespace: "default"}, dir, nil, &out, &errOut, false)
	if err != nil {
		t.Fatalf("quickstart: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	if rec.Status != engine.StatusSucceeded {
		t.Fatalf("status %s", rec.Status)
	}
	if rec.Outputs["customer"] != "Customer 42" || rec.Outputs["acknowledged"] != 3.0 || rec.Outputs["order_status"] != "Shipped" || rec.Outputs["order_lines"] != 2.0 {
		t.Fatalf("outputs = %v", rec.Outputs)
	}
	get := rec.Step("customer/get")
	if get == nil || get.TLS == nil || get.TLS.ClientCertificate == nil || !strings.Contains(get.TLS.ClientCertificate.Subject, "svc-outflow") {
		t.Fatalf("TLS facts of customer/get: %+v", get)
	}
	if n := partnerSrv.ClientCertificates()["svc-outflow"]; n != 6 {
		t.Fatalf("partner saw the client certificate on %d requests, want 6", n)
	}
	for key, n := range partnerSrv.Acks() {
		if n != 1 {
			t.Fatalf("acknowledgement %s applied %d times", key, n)
		}
	}
	for _, want := range []string{"customer/get", "ack[2]/post", "SUCCEEDED", "Customer 42"} {
		if !strings.Contains(out.String()+errOut.String(), want) {
			t.Fatalf("output lacks %q:\n%s\n%s", want, out.String(), errOut.String())
		}
	}
}

// TestSecretsNeverInHistory runs the quickstart flow and searches the whole
// workflow history for the secret values given by reference.
func TestSecretsNeverInHistory(t *testing.T) {
	dir := copyQuickstart(t)
	qs, err := prepareQuickstart(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer qs.partner.Close()
	ctx := context.Background()
	st, err := openStack(ctx, &globalFlags{namespace: "default"}, stackOptions{embedWorker: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.client.Start(ctx, qs.plan, map[string]any{"customer_id": "7"}, engine.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := st.client.Wait(ctx, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	hist := fetchHistory(t, st, run.GetID(), run.GetRunID())
	text := historyText(t, hist)
	if !strings.Contains(text, "env:PARTNER_PASSWORD") {
		t.Fatal("the secret reference is not in the decoded history: the search does not see payloads")
	}
	recJSON, _ := json.Marshal(rec)
	basic := base64.StdEncoding.EncodeToString([]byte("svc-outflow:" + qs.apiPassword))
	for name, secret := range map[string]string{"api password": qs.apiPassword, "keystore password": qs.keystorePassword, "basic header": basic} {
		if strings.Contains(text, secret) {
			t.Errorf("%s found in workflow history", name)
		}
		if strings.Contains(string(recJSON), secret) {
			t.Errorf("%s found in execution record", name)
		}
	}
	if *recordHistory {
		recordNewHistory(t, filepath.Join(replayCorpusDir, "quickstart.json"), hist)
	}
}

func fetchHistory(t *testing.T, st *stack, id, runID string) *historypb.History {
	t.Helper()
	iter := st.temporal.GetWorkflowHistory(context.Background(), id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	return h
}

// historyText is the history as JSON with every payload decoded, so that a
// search for a value finds it wherever it was stored.
func historyText(t *testing.T, h *historypb.History) string {
	t.Helper()
	b, err := protojson.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	sb.Write(b)
	for _, m := range regexp.MustCompile(`"data":"([A-Za-z0-9+/=]+)"`).FindAllStringSubmatch(string(b), -1) {
		if d, err := base64.StdEncoding.DecodeString(m[1]); err == nil {
			sb.WriteString("\n")
			sb.Write(d)
		}
	}
	return sb.String()
}
