package offline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
)

func TestFixturesLeaveSecretsOut(t *testing.T) {
	plan := &engine.Plan{Connections: map[string]*engine.Connection{
		"api": {Name: "api", Credential: &engine.Credential{Type: "api_key", Key: "X-Partner-Key"}},
	}}
	rec := &engine.Record{Flow: "f", Kind: "Flow", Steps: []*engine.StepRecord{
		{ID: "login", Kind: "rest", Connection: "api", Status: engine.StatusSucceeded, Response: &engine.ResponseSummary{
			StatusCode: 200,
			Headers: map[string]string{"content-type": "application/json", "set-cookie": "[redacted]", "x-partner-key": "k-123",
				"date": "Mon, 02 Jan 2026 03:04:05 GMT", "x-trace": "t-1"},
			JSON: map[string]any{"access_token": "tok-secret", "expires_in": 3600.0,
				"user": map[string]any{"name": "svc", "password": "pw-secret"}, "keys": []any{map[string]any{"api_key": "key-secret"}}},
		}},
		{ID: "status", Kind: "soap", Connection: "soap", Status: engine.StatusSucceeded, Response: &engine.ResponseSummary{
			StatusCode: 200, Headers: map[string]string{"content-type": "text/xml; charset=utf-8"},
			Body: `<s:Envelope xmlns:s="urn:s"><s:Body><r:R xmlns:r="urn:r"><r:SessionToken id="1">xml-secret</r:SessionToken><r:Name>n</r:Name></r:R></s:Body></s:Envelope>`,
		}},
		{ID: "each[0]/get", Kind: "rest", Status: engine.StatusSucceeded, Response: &engine.ResponseSummary{StatusCode: 204}},
		{ID: "each[1]/get", Kind: "rest", Status: engine.StatusSucceeded, Response: &engine.ResponseSummary{StatusCode: 204}},
		{ID: "down", Kind: "rest", Status: engine.StatusFailed, Error: &engine.ErrorInfo{Type: engine.ErrConnection, Message: "refused"}},
		{ID: "nosecret", Kind: "rest", Status: engine.StatusFailed, Error: &engine.ErrorInfo{Type: engine.ErrSecret, Message: "env:X is not set"}},
		{ID: "skipped", Kind: "rest", Status: engine.StatusSkipped},
		{ID: "job", Kind: "rest", Status: engine.StatusSucceeded, Polls: 3, Response: &engine.ResponseSummary{StatusCode: 200, Body: "done"}},
	}}
	block, notes, err := Fixtures(rec, plan)
	if err != nil {
		t.Fatal(err)
	}
	text := string(block)
	for _, secret := range []string{"tok-secret", "pw-secret", "key-secret", "xml-secret", "k-123", "set-cookie", "date:"} {
		if strings.Contains(text, secret) {
			t.Errorf("fixtures hold %q:\n%s", secret, text)
		}
	}
	for _, want := range []string{
		`access_token: "[redacted]"`, "expires_in: 3600\n", "x-trace: t-1", "name: svc",
		`<r:SessionToken id="1">[redacted]</r:SessionToken><r:Name>n</r:Name>`,
		"each[*]/get:\n  status: 204\n", "down:\n  error: connection\n", "job:\n  body: done\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("fixtures lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "content-type") || strings.Contains(text, "skipped") || strings.Contains(text, "nosecret") {
		t.Errorf("fixtures hold what a mock needs not say:\n%s", text)
	}
	joined := strings.Join(notes, "\n")
	if !strings.Contains(joined, "step nosecret failed before the partner answered") || !strings.Contains(joined, "step job polled 3 times") {
		t.Errorf("notes: %v", notes)
	}
}

// A recording replaces a test's mocks in its file; the test then replays
// the run it recorded.
func TestWriteFixturesRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"project.yaml", "sync.test.yaml", "wsdl/orders.wsdl"} {
		b, err := os.ReadFile(filepath.Join("testdata", "project", f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "sync.test.yaml" {
			// Keep the first test with its mocks cut down to one.
			text, _, _ := strings.Cut(string(b), "---")
			head, rest, _ := strings.Cut(text, "mocks:\n")
			_, expect, _ := strings.Cut(rest, "expect:\n")
			b = []byte(head + "mocks:\n  orders: {body: {orders: []}} # to be replaced\nexpect:\n" + expect)
		}
		_ = os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The record of a run that answered every step.
	full, err := flows.Load("testdata/project")
	if err != nil {
		t.Fatal(err)
	}
	tc, err := full.TestCase("sync-passes")
	if err != nil {
		t.Fatal(err)
	}
	rec := Run(context.Background(), &tc.TestCase).Record

	p, err := flows.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	cut, err := p.TestCase("sync-passes")
	if err != nil {
		t.Fatal(err)
	}
	if r := Run(context.Background(), &cut.TestCase); r.Passed {
		t.Fatal("the cut-down test passes before recording")
	}
	file, err := writeFixtures(dir, cut, rec)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(file)
	if strings.Contains(string(b), "to be replaced") || !strings.Contains(string(b), "kind: Test\nname: sync-passes\ntarget: sync\n") {
		t.Fatalf("recorded file:\n%s", b)
	}
	p, err = flows.Load(dir)
	if err != nil {
		t.Fatalf("the recorded file does not load: %v\n%s", err, b)
	}
	again, err := p.TestCase("sync-passes")
	if err != nil {
		t.Fatal(err)
	}
	if r := Run(context.Background(), &again.TestCase); !r.Passed {
		t.Fatalf("replay failed:\n%s%s\n%s", failures(r), r.Error, b)
	}
}

// writeFixtures records a run into a test's file as the command does: the
// runner makes the mocks, flows writes them.
func writeFixtures(root string, tc *flows.TestCase, rec *engine.Record) (string, error) {
	block, _, err := Fixtures(rec, tc.Plan)
	if err != nil {
		return "", err
	}
	return tc.WriteMocks(root, block)
}
