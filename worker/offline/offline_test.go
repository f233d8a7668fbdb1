package offline

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
)

func loadProject(t *testing.T) *flows.Project {
	t.Helper()
	p, err := flows.Load("testdata/project")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func runTest(t *testing.T, name string) *Result {
	t.Helper()
	tc, err := loadProject(t).TestCase(name)
	if err != nil {
		t.Fatal(err)
	}
	return Run(context.Background(), &tc.TestCase)
}

// runProject runs the tests names of p, or all of them when names is
// empty, compiled as the command compiles them.
func runProject(p *flows.Project, names []string) []*Result {
	if len(names) == 0 {
		names = p.Tests()
	}
	return RunProject(context.Background(), names, func(name string) (*engine.TestCase, error) {
		tc, err := p.TestCase(name)
		if err != nil {
			return nil, err
		}
		return &tc.TestCase, nil
	})
}

func failures(r *Result) string {
	var b strings.Builder
	for _, f := range r.Failures {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

// noDial makes any attempt to open a socket fail the test: offline runs
// must not touch the network.
func noDial(t *testing.T) {
	t.Helper()
	orig := net.DefaultResolver
	t.Cleanup(func() { net.DefaultResolver = orig })
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		t.Errorf("the run dialled %s %s", network, address)
		return nil, net.ErrClosed
	}}
}

func TestPasses(t *testing.T) {
	noDial(t)
	r := runTest(t, "sync-passes")
	if !r.Passed || r.Error != "" {
		var b bytes.Buffer
		WriteText(&b, []*Result{r})
		t.Fatalf("sync-passes failed:\n%s", b.String())
	}
	// The SOAP envelope was read by the soap step with the WSDL's types.
	if r.Record.Outputs["status"] != "Shipped" || r.Record.Outputs["lines"] != 1.0 {
		t.Fatalf("outputs %v", r.Record.Outputs)
	}
	if r.Calls["ack[0]/post"] != 1 || r.Calls["ack[1]/post"] != 1 || len(r.Unused) != 0 {
		t.Fatalf("calls %v, unused %v", r.Calls, r.Unused)
	}
	// Secrets resolve to a placeholder and are still redacted.
	if h := r.Record.Step("customer/get").Request.Headers["authorization"]; h != "[redacted]" {
		t.Fatalf("authorization header in record: %q", h)
	}
}

// Each kind of expectation that does not hold is reported in words, at
// the line that states it.
func TestEveryExpectationKindFails(t *testing.T) {
	r := runTest(t, "sync-expects-wrongly")
	if r.Passed || r.Error != "" {
		t.Fatalf("passed=%v error=%q", r.Passed, r.Error)
	}
	got := failures(r)
	for _, want := range []string{
		`sync.test.yaml:54:23: expect.outputs.customer: expected "Bob", got "Ada"`,
		`expect.outputs.acknowledged: expected 3, got 1`,
		`expect.outputs_match: outputs_match is exact, but the run also has "lines"`,
		`expect.steps.customer.outputs.name: expected "Bob", got "Ada"`,
		`expect.steps["customer/get"].status: expected status failed, got succeeded`,
		`expect.steps["customer/get"].status_code: expected HTTP status 404, got 200`,
		`expect.steps["customer/get"].calls: expected 2 calls, got 1`,
		`expect.steps["customer/get"].error: expected the step's error to contain "not found", got no error`,
		`expect.steps["customer/get"].request.method: expected method POST, got GET`,
		`expect.steps["customer/get"].request.url: expected URL https://api.partner.example/v2/customers/1, got https://api.partner.example/v2/customers/42`,
		`expect.steps["customer/get"].request.headers.Accept: expected header Accept: application/xml, but the request has no Accept header`,
		`expect.steps["ack[0]/post"].request.body.amount: expected 11, got 10`,
		`expect.steps["ack[0]/post"].request.body_contains: expected the body to contain "nothing-like-this", got "{\"amount\":10,\"by\":\"outflow\"}"`,
		`expect.steps["ack[5]/post"]: step "ack[5]/post" did not run; the last step that ran is "status" (succeeded)`,
		"expect.assert[0]: ${{ outputs.acknowledged == 3 }} is false: outputs.acknowledged is 1",
		"expect.assert[1]: ${{ steps['orders'].response.json.orders[0].amount > 10 }} is false: steps.orders.response.json.orders[0].amount is 10",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("failures lack %s\ngot:\n%s", want, got)
		}
	}
	if len(r.Unused) != 1 || r.Unused[0] != "ack[3]/post" {
		t.Errorf("unused mocks %v", r.Unused)
	}
	var b bytes.Buffer
	WriteText(&b, []*Result{r})
	for _, want := range []string{"FAIL  sync-expects-wrongly", "note: the mock of ack[3]/post answered no call", "│ STEP", "1 test: 0 passed, 1 failed"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

// A step without a mock fails at once, says which step and that no network
// is used, and still shows what it would have sent.
func TestMissingMock(t *testing.T) {
	noDial(t)
	r := runTest(t, "sync-missing-mock")
	if !r.Passed {
		t.Fatalf("failures:\n%s%s", failures(r), r.Error)
	}
	s := r.Record.Step("orders")
	if s.Error == nil || s.Error.Type != ErrNoMock || !strings.Contains(s.Error.Message, "offline tests use no network") || s.Attempts != 1 {
		t.Fatalf("orders step: %+v %+v", s, s.Error)
	}
	if s.Request == nil || s.Request.Method != "GET" {
		t.Fatalf("the record lacks the request the step would have sent: %+v", s.Request)
	}
}

// The same test, expecting success, fails with the missing mock's words.
func TestMissingMockFailsAnExpectedSuccess(t *testing.T) {
	tc, err := loadProject(t).TestCase("sync-missing-mock")
	if err != nil {
		t.Fatal(err)
	}
	tc.Expect = engine.TestExpectation{Status: engine.StatusSucceeded, OutputsMatch: "subset"}
	r := Run(context.Background(), &tc.TestCase)
	if r.Passed || len(r.Failures) != 1 {
		t.Fatalf("failures: %v", r.Failures)
	}
	want := `the run failed, expected it to have succeeded: no mock for step "orders": offline tests use no network`
	if !strings.Contains(r.Failures[0].Message, want) || !strings.HasPrefix(r.Failures[0].At, "sync.test.yaml:") {
		t.Fatalf("failure %s", r.Failures[0])
	}
}

func TestFailurePaths(t *testing.T) {
	for _, name := range []string{"sync-customer-404", "soap-fault"} {
		t.Run(name, func(t *testing.T) {
			r := runTest(t, name)
			if !r.Passed {
				t.Fatalf("failures:\n%s%s", failures(r), r.Error)
			}
			if r.Record.Status != engine.StatusFailed {
				t.Fatalf("status %s", r.Record.Status)
			}
		})
	}
	// A 4xx is not retried: the mock answered once.
	if r := runTest(t, "sync-customer-404"); r.Calls["customer/get"] != 1 {
		t.Fatalf("calls %v", r.Calls)
	}
}

// Retries and polls take the responses of a list in turn, without waiting
// for real for backoff or poll intervals.
func TestPollAndRetrySequence(t *testing.T) {
	r := runTest(t, "export-polls")
	if !r.Passed {
		t.Fatalf("failures:\n%s%s", failures(r), r.Error)
	}
	if r.Duration.Seconds() > 10 {
		t.Fatalf("took %s: waits were not skipped", r.Duration)
	}
	job := r.Record.Step("job")
	if job.Polls != 3 || r.Record.End.Sub(r.Record.Start).Minutes() < 20 {
		t.Fatalf("job polls %d, run time %s", job.Polls, r.Record.End.Sub(r.Record.Start))
	}
	r = runTest(t, "export-runs-out")
	if !r.Passed {
		t.Fatalf("failures:\n%s%s", failures(r), r.Error)
	}
}

func TestRunProject(t *testing.T) {
	p := loadProject(t)
	results := runProject(p, nil)
	if len(results) != len(p.Tests()) {
		t.Fatalf("%d results for %d tests", len(results), len(p.Tests()))
	}
	passed, failed := Counts(results)
	if failed != 1 || passed != len(results)-1 {
		var b bytes.Buffer
		WriteText(&b, results)
		t.Fatalf("passed %d, failed %d:\n%s", passed, failed, b.String())
	}
	if r := runProject(p, []string{"nope"}); r[0].Passed || !strings.Contains(r[0].Error, `unknown test "nope"`) {
		t.Fatalf("unknown test: %+v", r[0])
	}
}

// The tests of the loader's richest valid project run offline too: agents,
// waits, polls, parallel branches, WS-Security and API keys in queries.
func TestPartnerProjectTests(t *testing.T) {
	noDial(t)
	p, err := flows.Load("../../flows/testdata/valid/partner")
	if err != nil {
		t.Fatal(err)
	}
	results := runProject(p, nil)
	if passed, failed := Counts(results); failed != 0 || passed != 2 {
		var b bytes.Buffer
		WriteText(&b, results)
		t.Fatalf("passed %d, failed %d:\n%s", passed, failed, b.String())
	}
}

// OAuth 2.0 connections run offline without a token endpoint, and a 401
// from a mock is answered like one from a partner: a new token, one retry.
func TestOAuthProjectTests(t *testing.T) {
	noDial(t)
	p, err := flows.Load("../../flows/testdata/valid/oauth")
	if err != nil {
		t.Fatal(err)
	}
	results := runProject(p, nil)
	if passed, failed := Counts(results); failed != 0 || passed != 1 {
		var b bytes.Buffer
		WriteText(&b, results)
		t.Fatalf("passed %d, failed %d:\n%s", passed, failed, b.String())
	}
}

func TestPaginatedStepMockedPageByPage(t *testing.T) {
	noDial(t)
	r := runTest(t, "pages-pass")
	if !r.Passed || r.Error != "" || r.Calls["orders"] != 2 {
		var b bytes.Buffer
		WriteText(&b, []*Result{r})
		t.Fatalf("pages-pass (calls %v):\n%s", r.Calls, b.String())
	}
}

// TestOfflineSecretsCoverEveryScheme checks that a test run resolves a
// reference of every scheme engine.SecretSchemes lists, without the store.
func TestOfflineSecretsCoverEveryScheme(t *testing.T) {
	r := offlineSecrets()
	for _, s := range engine.SecretSchemes {
		v, err := r.Resolve(context.Background(), s.Name+":anything")
		if err != nil || v != Secret {
			t.Errorf("%s: %q, %v", s.Name, v, err)
		}
	}
}

// Offline tests run flows with switch, set, repeat, if/then/else and fail:
// mocks name the steps inside by record path, and a fail step's error is
// what the test expects.
func TestLogicConstructsOffline(t *testing.T) {
	noDial(t)
	for _, name := range []string{"drain-passes", "drain-fails-on-unknown-mode"} {
		r := runTest(t, name)
		if !r.Passed {
			var b bytes.Buffer
			WriteText(&b, []*Result{r})
			t.Fatalf("%s failed:\n%s", name, b.String())
		}
		if name == "drain-passes" && (r.Calls["drain[1]/take"] != 1 || r.Calls["drain[2]/take"] != 1 || r.Calls["route/case0/count"] != 1) {
			t.Fatalf("calls %v", r.Calls)
		}
		if name == "drain-fails-on-unknown-mode" && (r.Record.Error == nil || r.Record.Error.Type != "BadMode") {
			t.Fatalf("record error %+v", r.Record.Error)
		}
	}
}
