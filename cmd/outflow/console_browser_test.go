package main

// Browser tests of the web console: a real chromium (Debian's package)
// driven with chromedp against `outflow dev` running the quickstart's flows
// over mutual TLS against the example partner.

import (
	"bufio"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/worker"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "write the console's screenshots for docs/console.md (docs/console/*.png)")

// docsScreenshots are the pictures docs/console.md shows.
var docsScreenshots = map[string]bool{"executions": true, "execution": true, "step": true, "confirm-cancel": true, "flow": true, "certificates": true}

// screenshotDir is where every browser test run leaves its screenshots
// (git-ignored).
const screenshotDir = "testdata/console-screenshots"

// chromiumPath finds Debian's chromium, or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("drives a real browser against outflow dev")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (.ci/run installs Debian's chromium)")
	return ""
}

// browser is a headless chromium that records every JavaScript error,
// failed load and Content-Security-Policy violation of the pages it shows.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T, exe string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("ignore-certificate-errors", true), chromedp.WindowSize(1200, 760),
		chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	b := &browser{ctx: ctx}
	// The first run starts the browser; it must not have a deadline.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.add(m.String() + " (" + m.URL + ")")
			}
		}
	}()
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enabling the browser log: %v", err)
	}
	return b
}

func (b *browser) add(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, s)
}

func (b *browser) jsErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

// run runs actions with a deadline, failing the test with what was asked.
func (b *browser) run(t *testing.T, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		html, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("main")))
		t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, html)
	}
}

// value runs one action that returns a value.
func value[T any](t *testing.T, b *browser, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *browser) text(t *testing.T, sel string) string {
	t.Helper()
	return value(t, b, "reading "+sel, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
}

// shot saves a screenshot under the git-ignored folder and, with
// -update-screenshots, as a docs picture.
func (b *browser) shot(t *testing.T, name string) {
	t.Helper()
	png := value(t, b, "screenshot "+name, chromedp.CaptureScreenshot())
	_ = os.MkdirAll(screenshotDir, 0o755)
	if err := os.WriteFile(filepath.Join(screenshotDir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	if *updateScreenshots && docsScreenshots[name] {
		dir := filepath.Join("..", "..", "docs", "console")
		_ = os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// pageHTML is the whole document, for searching it for secrets.
func (b *browser) pageHTML(t *testing.T) string {
	t.Helper()
	return value(t, b, "reading the page", chromedp.OuterHTML(chromedp.CSS("html")))
}

// devProcess is `outflow dev` with the console, started as a process.
type devProcess struct {
	cmd        *exec.Cmd
	consoleURL string
	address    string
	firstLine  string
	mu         sync.Mutex
	stderr     *strings.Builder
}

// log is what outflow dev wrote to its standard error so far.
func (d *devProcess) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

// startDev starts `outflow dev` on free ports and reads the console's URL
// from the first line it prints.
func startDev(t *testing.T, project string, extra ...string) *devProcess {
	t.Helper()
	port, conPort := freePort(t), freePort(t)
	args := append([]string{"dev", "--project", project, "--db", filepath.Join(t.TempDir(), "dev.sqlite"),
		"--port", fmt.Sprint(port), "--ui-port", "0", "--console", fmt.Sprintf("127.0.0.1:%d", conPort)}, extra...)
	cmd := exec.Command(outflowBinary(t), args...)
	stdout, _ := cmd.StdoutPipe()
	d := &devProcess{cmd: cmd, address: fmt.Sprintf("127.0.0.1:%d", port), stderr: &strings.Builder{}}
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { d.mu.Lock(); defer d.mu.Unlock(); return d.stderr.Write(p) })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("outflow dev ended before printing anything:\n%s", d.log())
		}
		d.firstLine = l
	case <-time.After(3 * time.Minute):
		t.Fatal("outflow dev printed nothing in 3 minutes")
	}
	if f := strings.Fields(d.firstLine); len(f) == 2 && f[0] == "console" {
		d.consoleURL = strings.TrimSuffix(f[1], "/")
	}
	go func() {
		for range lines {
		}
	}()
	return d
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

const nightlyFlow = `kind: Flow
name: nightly
description: A scheduled flow, for the schedules page.
triggers:
  - schedule: {cron: "0 2 * * *"}
steps:
  - id: customer
    action: lookup-customer
    with: {customer_id: "5"}
`

const slowFlow = `kind: Flow
name: slow-sync
description: Waits a long time for the partner, so that it can be canceled.
steps:
  - id: wait_partner
    rest: {connection: partner-api, method: GET, path: "/slow/console", query: {ms: "300000"}}
    timeout: 10m
`

// TestConsoleInBrowser runs the quickstart's flows through `outflow dev`
// and its console in chromium: the test-run form runs an action and a flow,
// the list shows them, a step shows its response body and TLS facts, a
// failing flow's step shows the partner's error, cancel works from the
// page, no page has a JavaScript error, and no secret reaches a page.
// Retry, resume and send event from the page are driven in
// recovery_browser_test.go.
func TestConsoleInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	dir := copyQuickstart(t)
	for name, text := range map[string]string{"slow.yaml": slowFlow, "nightly.yaml": nightlyFlow} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	qs, err := prepareQuickstart(dir) // the partner, its certificates, the secrets in the environment
	if err != nil {
		t.Fatal(err)
	}
	defer qs.partner.Close()
	dev := startDev(t, dir)
	if dev.consoleURL == "" || !strings.HasPrefix(dev.consoleURL, "http://127.0.0.1:") {
		t.Fatalf("the first line of outflow dev is %q, want the console's URL on a line beginning with console", dev.firstLine)
	}
	b := newBrowser(t, exe)
	u := dev.consoleURL
	var pages []string // every page's HTML, searched for secrets at the end

	// The test-run form runs an action on the real path.
	b.run(t, "the action's page",
		chromedp.Navigate(u+"/flows/lookup-customer"),
		chromedp.WaitVisible(chromedp.CSS("#run-form")),
		chromedp.SetValue(chromedp.CSS(`input[name="in.customer_id"]`), "42"))
	b.shot(t, "flow")
	b.run(t, "test-running the action",
		chromedp.Click(chromedp.CSS("#run")),
		chromedp.WaitVisible(chromedp.CSS("#execution-id")),
		chromedp.WaitVisible(chromedp.CSS("h1 .st-succeeded")), // the page reloads when the run ends
		chromedp.WaitVisible(chromedp.CSS(`a.step-link`)))
	actionID := b.text(t, "#execution-id")
	pages = append(pages, b.pageHTML(t))

	// Clicking a step shows its response body and TLS facts.
	b.run(t, "clicking the step", chromedp.Click(chromedp.CSS(`tr[data-path="get"] a.step-link`)), chromedp.WaitVisible(chromedp.CSS("#response-body")))
	if body := b.text(t, "#response-body"); !strings.Contains(body, `"Customer 42"`) || !strings.Contains(body, `"tier"`) {
		t.Fatalf("response body: %q", body)
	}
	if v := b.text(t, "#tls-version"); !strings.HasPrefix(v, "TLS 1.") {
		t.Fatalf("TLS version %q", v)
	}
	if cc := b.text(t, "#client-cert"); !strings.Contains(cc, "svc-outflow") || !strings.Contains(cc, "days left") {
		t.Fatalf("client certificate: %q", cc)
	}
	curl := value(t, b, "reading curl", chromedp.Value(chromedp.CSS("#curl-text")))
	if !strings.Contains(strings.ToLower(curl), `-h "authorization: $authorization"`) || !strings.Contains(curl, "/v2/customers/42") {
		t.Fatalf("curl: %s", curl)
	}
	b.run(t, "copy as curl", chromedp.Click(chromedp.CSS("#copy-curl")), chromedp.WaitVisible(chromedp.CSS("#copied")))
	b.shot(t, "step")
	pages = append(pages, b.pageHTML(t))

	// A failing flow's step shows the partner's error in its words.
	b.run(t, "the flow's page", chromedp.Navigate(u+"/flows/order-sync"), chromedp.WaitVisible(chromedp.CSS("#graph")))
	if g := strings.ToLower(b.text(t, "#graph")); !strings.Contains(g, "foreach") || !strings.Contains(g, "getorderstatus") || !strings.Contains(g, "lookup-customer") {
		t.Fatalf("graph: %q", g)
	}
	b.run(t, "test-running a failing flow",
		chromedp.SetValue(chromedp.CSS(`input[name="in.customer_id"]`), "0"),
		chromedp.Click(chromedp.CSS("#run")),
		chromedp.WaitVisible(chromedp.CSS("h1 .st-failed")),
		chromedp.WaitVisible(chromedp.CSS("#flow-error")))
	failedID := b.text(t, "#execution-id")
	b.shot(t, "execution-failed")
	b.run(t, "the failed step", chromedp.Click(chromedp.CSS(`tr[data-path="customer/get"] a.step-link`)), chromedp.WaitVisible(chromedp.CSS("#step-error")))
	if e := b.text(t, "#step-error"); !strings.Contains(e, `customer "0" does not exist`) {
		t.Fatalf("step error: %q", e)
	}
	if code := b.text(t, "#status-code"); code != "404" {
		t.Fatalf("status code %q", code)
	}
	pages = append(pages, b.pageHTML(t))

	// A successful flow, for the list and the docs.
	b.run(t, "test-running the flow",
		chromedp.Navigate(u+"/flows/order-sync"), chromedp.WaitVisible(chromedp.CSS("#run-form")),
		chromedp.Click(chromedp.CSS("#run")), chromedp.WaitVisible(chromedp.CSS("h1 .st-succeeded")))
	okID := b.text(t, "#execution-id")
	b.shot(t, "execution")
	pages = append(pages, b.pageHTML(t))
	b.run(t, "the SOAP step", chromedp.Click(chromedp.CSS(`tr[data-path="status"] a.step-link`)), chromedp.WaitVisible(chromedp.CSS("#response-body .tree-xml")))
	if x := b.text(t, "#response-body"); !strings.Contains(x, "Shipped") {
		t.Fatalf("SOAP response: %q", x)
	}

	// The list shows the executions with flow, status and failed step.
	b.run(t, "the list", chromedp.Navigate(u+"/executions"), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr[data-id="%s"]`, failedID))))
	for _, id := range []string{actionID, failedID, okID} {
		b.run(t, "row "+id, chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr[data-id="%s"]`, id))))
	}
	if row := b.text(t, fmt.Sprintf(`tr[data-id="%s"]`, failedID)); !strings.Contains(row, "order-sync") || !strings.Contains(row, "failed") || !strings.Contains(row, "customer/get") {
		t.Fatalf("failed row: %q", row)
	}
	b.run(t, "filtering by status", chromedp.Navigate(u+"/executions?status=failed"), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr[data-id="%s"]`, failedID))))
	n := value(t, b, "counting rows", chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll('tr[data-id="%s"]').length`, okID)))
	if n != 0 {
		t.Fatal("the failed filter shows a succeeded execution")
	}

	b.run(t, "searching", chromedp.Navigate(u+"/executions?q=lookup-customer"), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr[data-id="%s"]`, actionID))))
	if n := value(t, b, "counting rows", chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll('tr[data-id="%s"]').length`, failedID))); n != 0 {
		t.Fatal("the search for lookup-customer shows an order-sync execution")
	}

	// Cancel from the page, behind a confirmation; the list updates itself.
	b.run(t, "the list, live", chromedp.Navigate(u+"/executions"), chromedp.WaitVisible(chromedp.CSS("#executions")))
	b.run(t, "test-running the slow flow",
		chromedp.Navigate(u+"/flows/slow-sync"), chromedp.WaitVisible(chromedp.CSS("#run-form")),
		chromedp.Click(chromedp.CSS("#run")), chromedp.WaitVisible(chromedp.CSS("h1 .st-running")))
	slowID := b.text(t, "#execution-id")
	waitFor(t, "the slow step to reach the partner", time.Minute, func() bool { return qs.partner.Calls("slow/console") >= 1 })
	b.run(t, "the running step in the live tree", chromedp.WaitVisible(chromedp.CSS(`tr[data-path="wait_partner"] .st-running`)))
	b.shot(t, "execution-running")
	b.run(t, "cancel",
		chromedp.Click(chromedp.CSS("#op-cancel")), chromedp.WaitVisible(chromedp.CSS("#confirm-form")),
		chromedp.SetValue(chromedp.CSS(`input[name="reason"]`), "the partner asked us to stop"))
	b.shot(t, "confirm-cancel")
	b.run(t, "confirming the cancel",
		chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#msg")),
		chromedp.WaitVisible(chromedp.CSS("#closed-by")))
	if by := b.text(t, "#closed-by"); !strings.Contains(by, "outflow-console:none:local") || !strings.Contains(by, "the partner asked us to stop") {
		t.Fatalf("closed by: %q", by)
	}
	if e := b.text(t, "#flow-error"); !strings.Contains(e, "Canceled") {
		t.Fatalf("flow error after cancel: %q", e)
	}
	if st := b.text(t, "h1 .st"); st != "canceled" {
		t.Fatalf("status after cancel: %q", st)
	}
	// The console logged the operation with who did it.
	waitFor(t, "the cancel in the log", 10*time.Second, func() bool {
		for _, l := range strings.Split(dev.log(), "\n") {
			if strings.Contains(l, "console: operation") && strings.Contains(l, "operation=cancel") && strings.Contains(l, "identity=local") && strings.Contains(l, slowID) {
				return true
			}
		}
		return false
	})
	b.run(t, "the list shows the canceled run", chromedp.Navigate(u+"/executions"), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr[data-id="%s"]`, slowID))))
	b.shot(t, "executions")
	pages = append(pages, b.pageHTML(t))

	// The list refreshes itself: a run started elsewhere appears.
	run := exec.Command(outflowBinary(t), "run", "lookup-customer", "--project", dir, "--address", dev.address, "--detach", "--input", "customer_id=7")
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("run --detach: %v\n%s", err, out)
	}
	cliID := strings.TrimSpace(string(out))
	b.run(t, "the list refreshing itself", chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr[data-id="%s"]`, cliID))))

	// Terminate, with its reason, from the page.
	b.run(t, "test-running the slow flow again",
		chromedp.Navigate(u+"/flows/slow-sync"), chromedp.WaitVisible(chromedp.CSS("#run-form")),
		chromedp.Click(chromedp.CSS("#run")), chromedp.WaitVisible(chromedp.CSS("h1 .st-running")),
		chromedp.Click(chromedp.CSS("#op-terminate")), chromedp.WaitVisible(chromedp.CSS("#confirm-form")),
		chromedp.SetValue(chromedp.CSS(`input[name="reason"]`), "stuck partner"),
		chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#closed-by")))
	if by := b.text(t, "#closed-by"); !strings.Contains(by, "outflow-console:none:local") || !strings.Contains(by, "stuck partner") {
		t.Fatalf("terminated by: %q", by)
	}
	if st := b.text(t, "h1 .st"); st != "terminated" {
		t.Fatalf("status after terminate: %q", st)
	}

	// Schedules: outflow dev deployed the nightly flow's; pause it and run it now.
	const schedID = "outflow:nightly:0"
	waitFor(t, "outflow dev to deploy the schedule", time.Minute, func() bool {
		return strings.Contains(httpGetBody(t, u+"/schedules"), schedID)
	})
	row := fmt.Sprintf(`tr[data-id="%s"]`, schedID)
	b.run(t, "pausing the schedule",
		chromedp.Navigate(u+"/schedules"), chromedp.WaitVisible(chromedp.CSS(row+" .st-active")),
		chromedp.Click(chromedp.CSS(row+` a[href^="/schedules/op/pause"]`)), chromedp.WaitVisible(chromedp.CSS("#confirm-form")),
		chromedp.SetValue(chromedp.CSS(`input[name="note"]`), "partner maintenance"),
		chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS(row+" .st-paused")))
	if r := b.text(t, row); !strings.Contains(r, "partner maintenance (by local)") {
		t.Fatalf("paused row: %q", r)
	}
	b.run(t, "running the schedule now",
		chromedp.Click(chromedp.CSS(row+` a[href^="/schedules/op/trigger"]`)), chromedp.WaitVisible(chromedp.CSS("#confirm-form")),
		chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("#msg")))
	b.run(t, "the triggered run in the list", chromedp.Navigate(u+"/executions?flow=nightly"), chromedp.WaitVisible(chromedp.CSS("#executions tr[data-id]")))

	// Schedules and certificates pages load.
	b.run(t, "schedules", chromedp.Navigate(u+"/schedules"), chromedp.WaitVisible(chromedp.CSS("#schedules")))
	b.run(t, "certificates", chromedp.Navigate(u+"/certificates"), chromedp.WaitVisible(chromedp.CSS(`#certs tr[data-profile="partner-mtls"]`)))
	if c := b.text(t, `#certs tr[data-profile="partner-mtls"]`); !strings.Contains(c, "svc-outflow") {
		t.Fatalf("certificates: %q", c)
	}
	b.shot(t, "certificates")
	pages = append(pages, b.pageHTML(t))

	if errs := b.jsErrors(); len(errs) > 0 {
		t.Fatalf("errors in the browser console:\n%s", strings.Join(errs, "\n"))
	}
	for _, h := range pages {
		for name, secret := range map[string]string{"api password": qs.apiPassword, "keystore password": qs.keystorePassword} {
			if strings.Contains(h, secret) {
				t.Fatalf("the %s is on a page", name)
			}
		}
	}

	// Temporal's own UI metadata: the workflow's summary names the flow and
	// its inputs, each step activity's the step path and connection.
	checkTemporalSummaries(t, dev.address, failedID)
}

func checkTemporalSummaries(t *testing.T, address, id string) {
	t.Helper()
	ctx := context.Background()
	c, err := worker.Dial(ctx, worker.DialOptions{Address: address, Namespace: "default", Plaintext: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	var summary string
	dc := converter.GetDefaultDataConverter()
	if err := dc.FromPayload(desc.GetExecutionConfig().GetUserMetadata().GetSummary(), &summary); err != nil {
		t.Fatalf("workflow summary: %v", err)
	}
	if summary != "flow order-sync (customer_id=0, order_id=42)" {
		t.Fatalf("workflow summary %q", summary)
	}
	iter := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var got []string
	hist := &historypb.History{}
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
		// A GET on the automatic fast path is a local activity: its marker
		// carries the summary.
		if (ev.GetActivityTaskScheduledEventAttributes() != nil || ev.GetMarkerRecordedEventAttributes() != nil) && ev.GetUserMetadata().GetSummary() != nil {
			var s string
			_ = dc.FromPayload(ev.GetUserMetadata().GetSummary(), &s)
			got = append(got, s)
		}
	}
	sort.Strings(got)
	if !containsString(got, "customer/get via partner-api") {
		t.Fatalf("activity summaries %q", got)
	}
	if *recordHistory {
		recordNewHistory(t, filepath.Join(replayCorpusDir, "summaries.json"), hist)
	}
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestConsoleRefusesUnauthenticatedNonLoopback: `outflow console` will not
// listen on a non-loopback address without an authentication mode, and
// with bearer authentication a browser that reaches it without a token
// sees the sign-in page, not an execution.
func TestConsoleRefusesUnauthenticatedNonLoopback(t *testing.T) {
	exe := chromiumPath(t)
	host := ""
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
				host = ipn.IP.String()
				break
			}
		}
	}
	if host == "" {
		t.Skip("this machine has no non-loopback address; worker/console's TestNoAuthRefusesNonLoopbackClients covers the policy on 127.0.0.2")
	}
	listen := net.JoinHostPort(host, fmt.Sprint(freePort(t)))
	out, err := exec.Command(outflowBinary(t), "console", "--listen", listen, "--address", "127.0.0.1:1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "needs an authentication mode") {
		t.Fatalf("console on %s without auth: %v\n%s", listen, err, out)
	}

	ca, _ := devpki.NewCA("Console CA", nil)
	leaf, _ := ca.IssueServer(host, []string{host}, nil)
	certDir := t.TempDir()
	files, err := leaf.WriteFiles(certDir, "console")
	if err != nil {
		t.Fatal(err)
	}
	dev := startDev(t, t.TempDir())
	token := "console-token-" + fmt.Sprint(time.Now().UnixNano())
	cmd := exec.Command(outflowBinary(t), "console", "--listen", listen, "--address", dev.address,
		"--console-auth", "bearer", "--console-token", "ops:operator:env:CONSOLE_TEST_TOKEN",
		"--console-tls-cert", files.Cert, "--console-tls-key", files.Key)
	cmd.Env = append(os.Environ(), "CONSOLE_TEST_TOKEN="+token)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "console") {
		t.Fatalf("outflow console printed %q: %v", line, err)
	}
	u := "https://" + listen
	b := newBrowser(t, exe)
	b.run(t, "opening the console without a token", chromedp.Navigate(u+"/executions"), chromedp.WaitVisible(chromedp.CSS(`input[name="token"]`)))
	loc := value(t, b, "location", chromedp.Location())
	if !strings.HasSuffix(loc, "/login") {
		t.Fatalf("landed on %s", loc)
	}
	rows := value(t, b, "counting tables", chromedp.Evaluate[int](`document.querySelectorAll('#executions').length`))
	if rows != 0 {
		t.Fatal("the list is shown without a token")
	}
	// A script without the token gets 401, not data.
	if code := statusNoRedirect(t, u+"/executions?fragment=rows"); code != http.StatusSeeOther {
		t.Fatalf("unauthenticated fragment: %d", code)
	}
	// With the token, the browser signs in.
	b.run(t, "signing in", chromedp.SetValue(chromedp.CSS(`input[name="token"]`), token),
		chromedp.Submit(chromedp.CSS(`input[name="token"]`)), chromedp.WaitVisible(chromedp.CSS("#executions")))
	if who := b.text(t, "#who"); !strings.Contains(who, "ops") {
		t.Fatalf("signed in as %q", who)
	}
	if errs := b.jsErrors(); len(errs) > 0 {
		t.Fatalf("errors in the browser console:\n%s", strings.Join(errs, "\n"))
	}
}

// httpGetBody reads a page of the console on loopback (mode none).
func httpGetBody(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// statusNoRedirect is the status of a GET that follows no redirect, over
// TLS without verifying the console's test certificate.
func statusNoRedirect(t *testing.T, u string) int {
	t.Helper()
	cl := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := cl.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
