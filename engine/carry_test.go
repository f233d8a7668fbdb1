package engine

import (
	"strings"
	"testing"
)

// planRetry decides what a retry carries and refuses, in words, what
// cannot continue from what the old execution completed.
func TestPlanRetry(t *testing.T) {
	old := testPlan(restStep("a", "/a"), restStep("b", "/b"), restStep("c", "/c"), restStep("d", "/d"))
	state := func() *CarryState {
		return &CarryState{Plan: old, Current: 2, Inputs: map[string]any{"id": "1"}, Vars: map[string]any{"v": 1},
			Steps: map[string]any{
				"a": map[string]any{"status": "succeeded", "json": map[string]any{"x": 1}},
				"b": map[string]any{"status": "succeeded", "outputs": map[string]any{"ref": "R"}},
				"c": map[string]any{"status": "failed"},
			},
			Record: &Record{Steps: []*StepRecord{{ID: "a", Status: "succeeded"}, {ID: "b", Status: "succeeded"}, {ID: "c", Status: "failed"}}}}
	}
	s0 := state()
	r, in, err := planRetry("old-1", s0, RetryOptions{Identity: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if r.From != "c" || strings.Join(r.Carried, ",") != "a,b" || strings.Join(r.Runs, ",") != "c,d" || r.Plan != RetryPlanOriginal {
		t.Fatalf("retry %+v", r)
	}
	rs := in.Resume
	if rs.NextStep != 2 || rs.Steps["c"] != nil || rs.Record.RetriedFrom != "old-1" || len(rs.Record.Steps) != 2 ||
		rs.Record.Steps[0].CarriedFrom != "old-1" || rs.Record.Operations[0].Identity != "ops" {
		t.Fatalf("resume %+v", rs)
	}
	// The old record is not changed by the copy.
	if s0.Record.Steps[0].CarriedFrom != "" {
		t.Fatal("the old record was changed")
	}

	// --from an earlier step carries less.
	r, in, err = planRetry("old-1", state(), RetryOptions{From: "b"})
	if err != nil || strings.Join(r.Carried, ",") != "a" || in.Resume.NextStep != 1 {
		t.Fatalf("--from b: %+v %v", r, err)
	}

	cur := func(steps ...Step) *Plan {
		p := testPlan(steps...)
		return p
	}
	readsRef := restStep("c", "/c/${{ steps.b.outputs.reference }}")
	for _, c := range []struct {
		name string
		o    RetryOptions
		want string
	}{
		{"after the failure", RetryOptions{From: "d"}, `stopped at step "c", before "d" ran; retry from "c" or an earlier step`},
		{"unknown step", RetryOptions{From: "zz"}, `has no top-level step "zz" (steps: a, b, c, d)`},
		{"retry step gone", RetryOptions{Plan: cur(restStep("a", "/a"), restStep("b", "/b"))}, `the current definition of flow "t" has no top-level step "c"`},
		{"new step before", RetryOptions{Plan: cur(restStep("a", "/a"), restStep("new", "/n"), restStep("b", "/b"), restStep("c", "/c"))},
			`step "new" comes before the retry step in the current definition but did not complete in old-1`},
		{"kind changed", RetryOptions{Plan: cur(restStep("a", "/a"), Step{ID: "b", Wait: &WaitStep{Duration: 1}}, restStep("c", "/c"))},
			`step "b" was a rest step and is a wait step now`},
		{"output renamed", RetryOptions{Plan: cur(restStep("a", "/a"), restStep("b", "/b"), readsRef)},
			`reads steps.b.outputs.reference, which step "b" did not give in old-1 (it gave: ref); retry from "b" to run it again`},
	} {
		_, _, err := planRetry("old-1", state(), c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// A current plan that reads what the carried step gave fits.
	if _, _, err := planRetry("old-1", state(), RetryOptions{Plan: cur(restStep("a", "/a"), restStep("b", "/b"), restStep("c", "/c/${{ steps.b.outputs.ref }}"))}); err != nil {
		t.Fatalf("a fitting current plan: %v", err)
	}
	// A step before the retry step without a result (it did not run).
	st := state()
	delete(st.Steps, "a")
	if _, _, err := planRetry("old-1", st, RetryOptions{}); err == nil || !strings.Contains(err.Error(), `step "a" of execution "old-1" has no result to carry`) {
		t.Fatalf("missing result: %v", err)
	}
}
