package engine

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// runEnv runs a plan in a fresh test environment under workflow ID id,
// started at start, and returns the environment for its result.
func runEnv(t *testing.T, in RunInput, id string, start time.Time, partner *fakePartner, prepare func(*testsuite.TestWorkflowEnvironment)) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: id})
	env.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivityWithOptions(partner.rest, activity.RegisterOptions{Name: RestActivity})
	if prepare != nil {
		prepare(env)
	}
	env.ExecuteWorkflow(WorkflowName, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	return env
}

// execution.* is readable in vars, steps, actions, branches and outputs,
// and branch is the id of the parallel branch an expression runs in.
func TestExecutionAndBranchAreBound(t *testing.T) {
	p := testPlan(
		restStep("who", "/run/${{ execution.id }}/${{ execution.flow }}/${{ execution.attempt }}/${{ execution.run }}"),
		Step{ID: "both", Parallel: []Branch{
			{ID: "left", Steps: []Step{
				restStep("l", "/branch/${{ branch }}"),
				{ID: "each", Foreach: &Foreach{Items: "${{ [1, 2] }}", Steps: []Step{restStep("li", "/branch/${{ branch }}/${{ item }}")}}},
			}},
			{ID: "right", Steps: []Step{
				{ID: "call", Action: &ActionCall{Name: "tag", With: []Binding{{Name: "b", Value: "${{ branch }}"}}}},
			}},
		}},
	)
	p.Vars = []Binding{{Name: "started", Value: "${{ execution.started_at }}"}}
	p.Actions = map[string]*ActionDef{"tag": {Name: "tag", Inputs: []InputSpec{{Name: "b"}},
		Steps: []Step{restStep("t", "/action/${{ inputs.b }}/${{ execution.id }}")}}}
	p.Outputs = []Binding{{Name: "started", Value: "${{ vars.started }}"}, {Name: "run_id", Value: "${{ execution.run_id }}"}}
	partner := &fakePartner{}
	start := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	env := runEnv(t, RunInput{Plan: p, Inputs: map[string]any{"id": "1"}}, "sync-42", start, partner, nil)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var rec Record
	if err := env.GetWorkflowResult(&rec); err != nil {
		t.Fatal(err)
	}
	calls := append([]string(nil), partner.calls...)
	sort.Strings(calls)
	want := []string{"GET /action/right/sync-42", "GET /branch/left", "GET /branch/left/1", "GET /branch/left/2", "GET /run/sync-42/t/1/1"}
	if strings.Join(calls, ";") != strings.Join(want, ";") {
		t.Fatalf("calls = %q, want %q", calls, want)
	}
	if rec.Outputs["started"] != "2026-03-04T05:06:07Z" || rec.Outputs["run_id"] != rec.RunID || rec.RunID == "" {
		t.Fatalf("outputs = %v (run %q)", rec.Outputs, rec.RunID)
	}
}

// Across continue-as-new, execution.id and started_at stay and
// execution.run counts the runs.
func TestExecutionAcrossContinueAsNew(t *testing.T) {
	p := testPlan(
		restStep("first", "/first/${{ execution.run }}"),
		restStep("second", "/second/${{ execution.run }}/${{ execution.id }}/${{ execution.started_at }}"),
	)
	p.Settings.HistoryLimit = 1 // continue as new between the two steps
	partner := &fakePartner{}
	start := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	in := RunInput{Plan: p, Inputs: map[string]any{"id": "1"}}
	for runs := 1; ; runs++ {
		if runs > 3 {
			t.Fatal("flow never finished")
		}
		// The second run starts an hour later; started_at is the execution's.
		env := runEnv(t, in, "sync-42", start.Add(time.Duration(runs-1)*time.Hour), partner, nil)
		var can *workflow.ContinueAsNewError
		if err := env.GetWorkflowError(); errors.As(err, &can) {
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
				t.Fatal(err)
			}
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		break
	}
	if got := strings.Join(partner.calls, ";"); got != "GET /first/1;GET /second/2/sync-42/2026-03-04T05:06:07Z" {
		t.Fatalf("calls = %q", got)
	}
}

// Executions that started before execution and branch were bound (their
// histories hold no marker of the change) keep what they did: reading
// execution fails, branch is empty.
func TestExecutionUnboundInOldExecutions(t *testing.T) {
	p := testPlan(
		Step{ID: "both", Parallel: []Branch{{ID: "left", Steps: []Step{restStep("l", "/branch/${{ branch }}")}}}},
		restStep("who", "/run/${{ execution.id }}"),
	)
	partner := &fakePartner{}
	env := runEnv(t, RunInput{Plan: p, Inputs: map[string]any{"id": "1"}}, "old", time.Now(), partner, func(env *testsuite.TestWorkflowEnvironment) {
		env.OnGetVersion(bindExecutionChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	})
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "cannot fetch id from <nil>") {
		t.Fatalf("err = %v", err)
	}
	if got := strings.Join(partner.calls, ";"); got != "GET /branch/" {
		t.Fatalf("calls = %q", got)
	}
}
