package engine

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"go.temporal.io/sdk/workflow"
)

// Summaries are the one-line texts Temporal's own UI shows for a workflow
// and for each activity, for people who stay in the Temporal Web UI.

const (
	// summaryInputs is how many inputs a workflow summary names.
	summaryInputs = 3
	// summaryValueLen and summaryLen bound a value and the whole summary.
	summaryValueLen = 40
	summaryLen      = 200
)

// WorkflowSummary names the flow and its key inputs: the declared inputs in
// order (required ones first), never a secret one, each value cut short.
// Inputs not declared (a single step's test run) are left out: their names
// say nothing certain about their secrecy.
func WorkflowSummary(plan *Plan, inputs map[string]any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", strings.ToLower(plan.Kind), plan.Name)
	var specs []InputSpec
	for _, required := range []bool{true, false} {
		for _, in := range plan.Inputs {
			if in.Required == required && !in.Secret {
				specs = append(specs, in)
			}
		}
	}
	var parts []string
	for _, in := range specs {
		if len(parts) == summaryInputs {
			break
		}
		v, ok := inputs[in.Name]
		if !ok {
			continue
		}
		parts = append(parts, in.Name+"="+cut(Stringify(v), summaryValueLen))
	}
	if len(parts) > 0 {
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	return cut(b.String(), summaryLen)
}

// cut shortens s to at most n runes, marking the cut.
func cut(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// activitySummaryVersion is the workflow.GetVersion change that gives step
// activities a summary; histories recorded before it replay without one.
const activitySummaryVersion = "activity-summary"

// ActivitySummary is the summary of a step's activity: its path and
// connection, and the agent group when it has one.
func ActivitySummary(path string, conn *Connection) string {
	if conn == nil {
		return path
	}
	s := path + " via " + conn.Name
	if conn.Agent != "" {
		s += " (agent " + conn.Agent + ")"
	}
	return cut(s, summaryLen)
}

// withActivitySummary sets the summary of a step's activity options, in
// executions started since the change (it changes the commands the
// workflow issues, so it is versioned).
func withActivitySummary(ctx workflow.Context, ao workflow.ActivityOptions, path string, conn *Connection) workflow.ActivityOptions {
	if workflow.GetVersion(ctx, activitySummaryVersion, workflow.DefaultVersion, 1) >= 1 {
		ao.Summary = ActivitySummary(path, conn)
	}
	return ao
}
