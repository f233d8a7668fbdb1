package engine

import (
	"strings"
	"testing"
)

func TestWorkflowSummary(t *testing.T) {
	plan := &Plan{Name: "order-sync", Kind: "Flow", Inputs: []InputSpec{
		{Name: "order_id", Type: "string"},
		{Name: "api_key", Type: "string", Required: true, Secret: true},
		{Name: "customer_id", Type: "string", Required: true},
		{Name: "note", Type: "string"},
		{Name: "extra", Type: "string"},
	}}
	got := WorkflowSummary(plan, map[string]any{"order_id": "42", "api_key": "s3cr3t-value", "customer_id": "7",
		"note": strings.Repeat("x", 100), "extra": "e", "undeclared": "u"})
	want := "flow order-sync (customer_id=7, order_id=42, note=" + strings.Repeat("x", 39) + "…)"
	if got != want {
		t.Fatalf("summary\n%q, want\n%q", got, want)
	}
	if strings.Contains(got, "s3cr3t") || strings.Contains(got, "undeclared") {
		t.Fatal("a secret or undeclared input in the summary")
	}
	if got := WorkflowSummary(&Plan{Name: "lookup", Kind: "Action"}, nil); got != "action lookup" {
		t.Fatalf("%q", got)
	}
	long := WorkflowSummary(&Plan{Name: strings.Repeat("n", 300), Kind: "Flow"}, nil)
	if len([]rune(long)) != summaryLen {
		t.Fatalf("%d runes", len([]rune(long)))
	}
}

func TestActivitySummary(t *testing.T) {
	if got := ActivitySummary("ack[2]/post", &Connection{Name: "partner-api", Agent: "dmz"}); got != "ack[2]/post via partner-api (agent dmz)" {
		t.Fatalf("%q", got)
	}
	if got := ActivitySummary("get", &Connection{Name: "partner-api"}); got != "get via partner-api" {
		t.Fatalf("%q", got)
	}
}
