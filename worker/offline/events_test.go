package offline

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
)

const eventsTestProject = `kind: Connection
name: psp
url: https://psp.example
---
kind: Flow
name: pay
steps:
  - id: submit
    rest: {connection: psp, method: POST, path: /payments, body: {callback: "${{ callback_url('paid') }}"}, expect: [202]}
  - id: paid
    wait: {event: paid, timeout: 48h}
outputs:
  payment: "${{ steps.paid.event.json.payment_id }}"
  auth: "${{ steps.paid.event.headers.authorization }}"
  at: "${{ steps.paid.event.received_at }}"
---
kind: Test
name: paid-after-two-hours
target: pay
mocks: {submit: [{status: 202}]}
events:
  - {name: paid, after: 2h, body: {payment_id: p-1}, headers: {Authorization: Bearer partner-token-xyz}}
expect:
  outputs: {payment: p-1, auth: "[redacted]", at: "2026-01-01T02:00:00Z"}
---
kind: Test
name: paid-before-the-wait
target: pay
mocks: {submit: [{status: 202}]}
events: [{name: paid, body: '{"payment_id":"p-0"}'}]
expect: {outputs: {payment: p-0}}
---
kind: Test
name: never-paid
target: pay
mocks: {submit: [{status: 202}]}
expect: {status: failed}
---
kind: Test
name: paid-too-late
target: pay
mocks: {submit: [{status: 202}]}
events: [{name: paid, after: 49h}]
expect: {status: failed}
---
kind: Test
name: wrong-event
target: pay
mocks: {submit: [{status: 202}]}
events: [{name: shipped}]
`

// TestOfflineEvents: an offline test delivers events to a waiting flow,
// before or after it waits; without one (or too late) the wait times out
// with type Timeout; the callback URL is the offline gateway's; an event
// no step waits for is the test's mistake, said where it is written.
func TestOfflineEvents(t *testing.T) {
	noDial(t)
	p, err := flows.LoadFS(fstest.MapFS{"pay.yaml": {Data: []byte(eventsTestProject)}}, "/p")
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string) *Result {
		tc, err := p.TestCase(name)
		if err != nil {
			t.Fatal(err)
		}
		return Run(context.Background(), &tc.TestCase)
	}
	for _, name := range []string{"paid-after-two-hours", "paid-before-the-wait", "never-paid", "paid-too-late"} {
		r := run(name)
		if !r.Passed {
			t.Fatalf("%s: failures:\n%s%s", name, failures(r), r.Error)
		}
		if strings.HasPrefix(name, "paid-") && name != "paid-too-late" {
			if cb := r.Record.Step("submit").Request; cb == nil || !strings.Contains(cb.Body, engine.TestCallbackBase+engine.CallbackPath+"test-"+name+"/") {
				t.Fatalf("%s: request %+v", name, cb)
			}
		} else if e := r.Record.Step("paid").Error; e == nil || e.Type != engine.ErrTimeout {
			t.Fatalf("%s: paid %+v", name, r.Record.Step("paid"))
		}
	}
	r := run("wrong-event")
	if r.Passed || !strings.Contains(r.Error, `pay.yaml:50:17: event "shipped": no step of pay waits for it (waits for events: paid)`) {
		t.Fatalf("wrong-event: %v %s", r.Passed, r.Error)
	}
}
