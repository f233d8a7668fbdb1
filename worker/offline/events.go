package offline

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/testsuite"

	"github.com/outflow-dev/outflow/engine"
)

// deliverEvents schedules the test's events: each is signalled After the
// run starts, in the test environment's skipped time. An event no wait of
// the target waits for is the test's mistake, said with its place.
func deliverEvents(env *testsuite.TestWorkflowEnvironment, tc *engine.TestCase) error {
	waits := engine.PlanEvents(tc.Plan)
	for _, e := range tc.Events {
		known := false
		for _, w := range waits {
			known = known || w == e.Name
		}
		if !known {
			list := "none"
			if len(waits) > 0 {
				list = strings.Join(waits, ", ")
			}
			return fmt.Errorf("%s: event %q: no step of %s waits for it (waits for events: %s)", e.At, e.Name, tc.Target, list)
		}
		h := map[string][]string{}
		for k, v := range e.Headers {
			h[k] = []string{v}
		}
		// Redacted as the gateway redacts a partner's headers.
		ev := engine.Event{Name: e.Name, Body: e.Body, Headers: engine.RedactEventHeaders(h), ReceivedAt: StartTime.Add(e.After.D()), Source: "test"}
		if err := ev.Check(); err != nil {
			return fmt.Errorf("%s: %w", e.At, err)
		}
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(engine.EventSignal(ev.Name), ev) }, e.After.D())
	}
	return nil
}
