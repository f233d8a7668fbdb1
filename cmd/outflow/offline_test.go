package main

// Tests of `outflow test` with Test documents: offline runs of the
// quickstart's tests, and recording them from the example partner.

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestOfflineQuickstartTests(t *testing.T) {
	dir := copyQuickstart(t)
	// Nothing listens where the connections point and no secret is set:
	// the tests must not need either.
	t.Setenv("PARTNER_PASSWORD", "")
	t.Setenv("PARTNER_KEYSTORE_PASSWORD", "")
	// Offline tests run in CI as anywhere else.
	t.Setenv("CI", "true")
	stdout, stderr, code := cli(t, "test", "--project", dir)
	if code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
	}
	if first := firstLine(stderr); first != "offline test run: 2 tests of "+dir+"; every REST and SOAP call is answered by mocks, nothing is sent" {
		t.Errorf("first line %q, want it to say the run is offline", first)
	}
	for _, want := range []string{"PASS  order-sync-ships", "PASS  order-sync-unknown-customer", "2 tests: 2 passed, 0 failed"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}

	// One test by name, and the tests of a file.
	stdout, stderr, code = cli(t, "test", "--project", dir, "order-sync-unknown-customer")
	if code != 0 || !strings.Contains(stdout, "1 test: 1 passed") || strings.Contains(stdout, "order-sync-ships") {
		t.Fatalf("by name: exit %d:\n%s", code, stdout)
	}
	if first := firstLine(stderr); !strings.HasPrefix(first, "offline test run: test order-sync-unknown-customer of ") {
		t.Errorf("first line %q", first)
	}
	stdout, _, code = cli(t, "test", "--project", dir, filepath.Join(dir, "order-sync.test.yaml"), "--json")
	var results []struct {
		Name   string `json:"name"`
		Passed bool   `json:"passed"`
		Record struct {
			Outputs map[string]any `json:"outputs"`
		} `json:"record"`
	}
	if err := json.Unmarshal([]byte(stdout), &results); err != nil || code != 0 || len(results) != 2 {
		t.Fatalf("by file, as JSON: exit %d, %v:\n%s", code, err, stdout)
	}
	if results[0].Name != "order-sync-ships" || !results[0].Passed || results[0].Record.Outputs["order_status"] != "Shipped" {
		t.Fatalf("results %+v", results)
	}

	// A test never calls a partner: --live is a mistake.
	_, stderr, code = cli(t, "test", "--project", dir, "order-sync-ships", "--live")
	if code != 1 || !strings.Contains(stderr, "--live applies to a run against real partners; tests run offline") {
		t.Fatalf("--live with a test: exit %d: %s", code, stderr)
	}

	// Inputs belong to the test's document.
	_, stderr, code = cli(t, "test", "--project", dir, "order-sync-ships", "--input", "customer_id=7")
	if code != 1 || !strings.Contains(stderr, "a test's inputs are in its document") {
		t.Fatalf("--input with a test: exit %d: %s", code, stderr)
	}
}

func TestOfflineTestFailureSaysWhatDiffers(t *testing.T) {
	dir := copyQuickstart(t)
	file := filepath.Join(dir, "order-sync.test.yaml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), "<Status>Shipped</Status>", "<Status>Packed</Status>", 1))
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, code := cli(t, "test", "--project", dir)
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, stdout)
	}
	want := regexp.MustCompile(`(?m)^FAIL  order-sync-ships .*\n\s+order-sync\.test\.yaml:\d+:\d+: expect\.outputs\.order_status: expected "Shipped", got "Packed"$`)
	if !want.MatchString(stdout) || !strings.Contains(stdout, "2 tests: 1 passed, 1 failed") {
		t.Fatalf("output:\n%s", stdout)
	}
}

// --record runs the tests' target against the example partner and writes
// its answers as mocks, without credentials; the tests then pass offline
// with those mocks, which shows the hand-written ones describe the partner.
func TestRecordQuickstartTests(t *testing.T) {
	dir := copyQuickstart(t)
	qs, err := prepareQuickstart(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer qs.partner.Close()
	file := filepath.Join(dir, "order-sync.test.yaml")
	before, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// Recording calls the partner: in CI, only with --live.
	t.Setenv("CI", "true")
	_, stderr, code := cli(t, "test", "--project", dir, "--record", file)
	if code != 1 || !strings.Contains(stderr, "refusing a live run in CI (CI=true): outflow test --record "+file) || !strings.Contains(stderr, "pass --live") {
		t.Fatalf("record in CI without --live: exit %d: %s", code, stderr)
	}
	if after, _ := os.ReadFile(file); qs.partner.Requests() != 0 || string(after) != string(before) {
		t.Fatalf("a refused recording made %d requests or changed the file", qs.partner.Requests())
	}
	t.Setenv("CI", "")
	stdout, stderr, code := cli(t, "test", "--project", dir, "--record", file)
	if code != 0 {
		t.Fatalf("record: exit %d:\n%s%s", code, stdout, stderr)
	}
	if first := firstLine(stderr); !strings.HasPrefix(first, "live run against real partners: the targets of tests order-sync-ships, order-sync-unknown-customer calls partner-api at https://127.0.0.1:") {
		t.Errorf("first line %q, want it to say the run calls real partners", first)
	}
	if n := strings.Count(stdout, "recorded the mocks of test"); n != 2 {
		t.Fatalf("recorded %d tests:\n%s%s", n, stdout, stderr)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	basic := base64.StdEncoding.EncodeToString([]byte("svc-outflow:" + qs.apiPassword))
	for _, secret := range []string{qs.apiPassword, qs.keystorePassword, basic} {
		if strings.Contains(text, secret) {
			t.Fatalf("a secret was recorded:\n%s", text)
		}
	}
	for _, want := range []string{
		"# Offline tests of the quickstart flow", // comments are kept
		"  ack[1]/post:\n    status: 201\n",      // foreach items whose answers differ get a mock each
		"<CustomerId>C-7</CustomerId>",           // the SOAP envelope as the partner sent it
		`message: customer "0" does not exist`,
		"x-client-certificate: svc-outflow",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("recorded file lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(strings.ToLower(text), "date:") {
		t.Errorf("the Date header was recorded:\n%s", text)
	}
	qs.partner.Close()
	stdout, stderr, code = cli(t, "test", "--project", dir)
	if code != 0 || !strings.Contains(stdout, "2 tests: 2 passed") {
		t.Fatalf("replaying the recording: exit %d:\n%s%s\n%s", code, stdout, stderr, text)
	}
}

func TestOfflineWithoutTests(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "quickstart", "partner.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "partner.yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := cli(t, "test", "--project", dir)
	if code != 0 || !strings.Contains(stderr, "no tests in") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, stderr, code = cli(t, "test", "--project", dir, "--record", "partner-api")
	if code != 1 || !strings.Contains(stderr, `"partner-api" is not a test of the project (it has no tests)`) {
		t.Fatalf("--record of a connection: exit %d: %s", code, stderr)
	}
}

// A flow or action name still test-runs it for real, against the partner,
// and says so on its first line; in CI only with --live.
func TestTestActionStillRunsForReal(t *testing.T) {
	dir := copyQuickstart(t)
	qs, err := prepareQuickstart(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer qs.partner.Close()
	t.Setenv("CI", "true")
	_, stderr, code := cli(t, "test", "--project", dir, "lookup-customer", "--input", "customer_id=7")
	if code != 1 || !strings.Contains(stderr, "refusing a live run in CI (CI=true): outflow test lookup-customer runs action lookup-customer, which calls real partners (partner-api at https://127.0.0.1:") ||
		!strings.Contains(stderr, "pass --live to call them") {
		t.Fatalf("in CI without --live: exit %d: %s", code, stderr)
	}
	if n := qs.partner.Requests(); n != 0 {
		t.Fatalf("a refused run made %d requests", n)
	}
	stdout, stderr, code := cli(t, "test", "--project", dir, "lookup-customer", "--input", "customer_id=7", "--live")
	if code != 0 || !strings.Contains(stdout, "Customer 7") || !strings.Contains(stdout, "mTLS") {
		t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
	}
	if first := firstLine(stderr); !strings.HasPrefix(first, "live run against real partners: action lookup-customer calls partner-api at https://127.0.0.1:") || !strings.HasSuffix(first, "/v2") {
		t.Errorf("first line %q, want it to say the run calls real partners", first)
	}
	if n := qs.partner.Requests(); n != 1 {
		t.Fatalf("the partner served %d requests, want 1", n)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
