package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/flows"
)

const listStatusProject = `kind: Flow
name: waits
steps:
  - id: nap
    wait: {duration: 1h}
---
kind: Flow
name: quick
steps:
  - id: nap
    wait: {duration: 10ms}
---
kind: Flow
name: broken
steps:
  - id: nap
    wait: {until: "${{ 'not a time' }}"}
`

// TestListShowsHowRunsClosed lists runs that ended in every way on the
// embedded server: a run that was terminated or timed out never updated its
// OutflowStatus search attribute (still "running"), and the listing must
// say how it really closed.
func TestListShowsHowRunsClosed(t *testing.T) {
	st, _ := scheduleStack(t)
	dir := t.TempDir()
	writeProjectFile(t, dir, "flows.yaml", listStatusProject)
	proj, err := flows.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	plan := func(name string) *engine.Plan {
		p, err := proj.Plan(name)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := func(name, id string) client.WorkflowRun {
		run, err := st.client.Start(ctx, plan(name), nil, engine.RunOptions{WorkflowID: id})
		if err != nil {
			t.Fatal(err)
		}
		return run
	}

	start("waits", "list-running")
	start("waits", "list-terminated")
	if err := st.temporal.TerminateWorkflow(ctx, "list-terminated", "", "operator stopped it"); err != nil {
		t.Fatal(err)
	}
	// A run timed out by Temporal, started the way Client.Start starts one.
	timedOut, err := st.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "list-timed-out", TaskQueue: engine.DefaultTaskQueue, WorkflowRunTimeout: time.Second,
		TypedSearchAttributes: temporal.NewSearchAttributes(engine.SearchAttrFlow.ValueSet("waits"), engine.SearchAttrStatus.ValueSet(engine.StatusRunning)),
	}, engine.WorkflowName, engine.RunInput{Plan: plan("waits"), SearchAttributes: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := timedOut.Get(ctx, nil); !errors.As(err, new(*temporal.TimeoutError)) {
		t.Fatalf("the run ended with %v, want a timeout", err)
	}
	if _, err := st.client.Wait(ctx, start("quick", "list-succeeded"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.client.Wait(ctx, start("broken", "list-failed"), nil); err == nil {
		t.Fatal("the broken flow succeeded")
	}

	want := map[string]string{
		"list-running":    engine.StatusRunning,
		"list-terminated": engine.StatusTerminated,
		"list-timed-out":  engine.StatusTimedOut,
		"list-succeeded":  engine.StatusSucceeded,
		"list-failed":     engine.StatusFailed,
	}
	var got map[string]string
	waitFor(t, "the listing to show every run closed", time.Minute, func() bool {
		exs, err := st.client.List(ctx, engine.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]string{}
		for _, e := range exs {
			got[e.WorkflowID] = e.Status
		}
		for id, status := range want {
			if got[id] != status {
				return false
			}
		}
		return true
	})
	t.Logf("listed: %v", got)

	for status, ids := range map[string][]string{
		engine.StatusRunning:    {"list-running"},
		engine.StatusTerminated: {"list-terminated"},
		"TIMED_OUT":             {"list-timed-out"},
		engine.StatusSucceeded:  {"list-succeeded"},
		engine.StatusFailed:     {"list-failed"},
		engine.StatusCanceled:   nil,
	} {
		exs, err := st.client.List(ctx, engine.ListOptions{Status: status})
		if err != nil {
			t.Fatalf("--status %s: %v", status, err)
		}
		var listed []string
		for _, e := range exs {
			listed = append(listed, e.WorkflowID)
		}
		if strings.Join(listed, ",") != strings.Join(ids, ",") {
			t.Errorf("--status %s lists %v, want %v", status, listed, ids)
		}
	}
	_, err = st.client.List(ctx, engine.ListOptions{Status: "error"})
	if err == nil || !strings.Contains(err.Error(), `unknown status "error"`) || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("--status error: %v, want an error naming the statuses", err)
	}

	// The CLI shows the same.
	out, errOut, code := cli(t, "executions", "list", "--address", st.server.FrontendAddress(), "--status", "terminated")
	if code != 0 || !strings.Contains(out, "list-terminated") || !strings.Contains(out, "terminated") || strings.Contains(out, "list-running") {
		t.Errorf("executions list --status terminated: exit %d\n%s%s", code, out, errOut)
	}
	desc, err := st.temporal.DescribeWorkflowExecution(ctx, "list-terminated", "")
	if err != nil || desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED {
		t.Fatalf("describe: %v %v", desc, err)
	}
}
