package offline

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/outflow-dev/outflow/flows"
)

// An offline test of try/catch/finally, child flows and fail_when: mocks
// make a step fail (422) to exercise catch, answer the steps of child flows
// named under the flow: step's path, and give a 200 that fail_when rejects.
func TestOfflineTryCatchChildFlowsFailWhen(t *testing.T) {
	noDial(t)
	p, err := flows.Load("testdata/errors")
	if err != nil {
		t.Fatal(err)
	}
	tc, err := p.TestCase("catch-compensates")
	if err != nil {
		t.Fatal(err)
	}
	r := Run(context.Background(), &tc.TestCase)
	var b bytes.Buffer
	WriteText(&b, []*Result{r})
	if !r.Passed || r.Error != "" {
		t.Fatalf("catch-compensates failed:\n%s", b.String())
	}
	if got := r.Record.Step("status"); got == nil || got.Error == nil || !strings.Contains(got.Error.Message, `"code":"LOCKED"`) {
		t.Fatalf("status step: %+v", got)
	}
	if r.Calls["each[0]/child/put"] != 1 || r.Calls["each[1]/child/put"] != 1 || r.Calls["book/catch/compensate"] != 1 {
		t.Fatalf("calls = %v", r.Calls)
	}
	if len(r.Unused) != 0 {
		t.Fatalf("unused mocks: %v", r.Unused)
	}
}

// The example project's offline tests pass.
func TestResilientSyncExample(t *testing.T) {
	noDial(t)
	p, err := flows.Load("../../examples/resilient-sync")
	if err != nil {
		t.Fatal(err)
	}
	results := runProject(p, nil)
	var b bytes.Buffer
	WriteText(&b, results)
	// Two tests: the compensation path, and an empty order failing with
	// the flow's own error and its on_failure alert.
	if len(results) != 2 || !results[0].Passed || !results[1].Passed {
		t.Fatalf("examples/resilient-sync:\n%s", b.String())
	}
}
