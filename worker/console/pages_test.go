package console

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

// renderLive renders an execution's step tree as the page does, for an
// identity.
func renderLive(t *testing.T, c *Console, id Identity, tmpl string) string {
	t.Helper()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := &engine.Record{WorkflowID: "order-sync-1", Flow: "order-sync", Kind: "Flow", Start: t0, Status: "running", Steps: []*engine.StepRecord{
		{ID: "customer", Kind: "action", Status: "running", Start: t0},
		{ID: "customer/get", Kind: "rest", Status: "running", Start: t0},
		{ID: "ack[0]/post", Kind: "rest", Status: "succeeded", Start: t0, Duration: engine.Duration(time.Second)},
	}}
	ex := &execution{ID: "order-sync-1", RunID: "r1", Status: "running", Running: true, Start: t0, Record: rec}
	nodes := flatten(stepTree(rec.Steps))
	d := &executionData{Ex: ex, Live: true, RunQuery: "&run=r1"}
	for _, n := range nodes {
		d.Rows = append(d.Rows, rowView{Node: n})
	}
	for _, op := range c.ops {
		if op.Applies(targetOf(ex)) {
			d.Ops = append(d.Ops, op)
		}
	}
	var buf bytes.Buffer
	if err := c.pages["execution"].t.ExecuteTemplate(&buf, tmpl, view{Identity: id, CSRF: "tok", Data: d, Nav: "execution"}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestStepLinksEscapedOnce: a step path with / and [ ] reaches the step
// page intact. The template escapes query values itself; escaping them
// before as well sent "customer%252Fget" (found by the browser test).
func TestStepLinksEscapedOnce(t *testing.T) {
	c := newTestConsole(t, AuthConfig{Mode: AuthNone}, nil)
	h := renderLive(t, c, Identity{Name: "local", Role: RoleOperator}, "live")
	for _, want := range []string{
		`href="/executions/order-sync-1/step?path=customer%2fget&amp;run=r1"`,
		`href="/executions/order-sync-1/step?path=ack%5b0%5d%2fpost&amp;run=r1"`,
	} {
		if !strings.Contains(strings.ToLower(h), want) {
			t.Errorf("no link %s in:\n%s", want, h)
		}
	}
	if strings.Contains(h, "%25") {
		t.Errorf("a link escaped twice:\n%s", h)
	}
}

func TestOperationsShownToOperatorsOnly(t *testing.T) {
	c := newTestConsole(t, AuthConfig{Mode: AuthNone}, nil)
	op := renderLive(t, c, Identity{Name: "ann", Role: RoleOperator}, "layout")
	if !strings.Contains(op, `id="op-cancel" href="/executions/order-sync-1/op/cancel?run=r1"`) || !strings.Contains(op, `id="op-terminate"`) {
		t.Fatalf("operator without buttons:\n%s", op)
	}
	ro := renderLive(t, c, Identity{Name: "bob", Role: RoleReadOnly}, "layout")
	if strings.Contains(ro, `id="op-cancel"`) || !strings.Contains(ro, `title="the operator role is needed"`) {
		t.Fatalf("read-only identity with buttons:\n%s", ro)
	}
	// The live part refreshes with the run in its URL, escaped once.
	if !strings.Contains(op, `data-refresh="/executions/order-sync-1?fragment=live&amp;run=r1"`) {
		t.Fatalf("refresh URL:\n%s", op)
	}
}
