package engine

import (
	"fmt"
	"strings"
	"time"
)

// Running one step of a flow alone (`outflow test FLOW --step ID`) needs
// what the steps before it would have given it: expressions such as
// ${{ steps.customer.outputs.id }} read them. The caller gives them as the
// map expressions see under steps, and the run picks up at the plan's first
// step with it, the way a flow that continued as new picks up with what its
// expressions could see: the workflow runs unchanged.

// SetStepValue sets the value at a dotted path under steps, the map
// expressions see as steps: "customer.outputs.id" sets
// steps["customer"]["outputs"]["id"], making the maps on the way.
func SetStepValue(steps map[string]any, path string, v any) error {
	parts := strings.Split(path, ".")
	if len(parts) < 2 {
		return fmt.Errorf("steps.%s: name a step and what it gave, such as steps.customer.outputs.id", path)
	}
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("steps.%s: empty name in the path", path)
		}
	}
	m := steps
	for i, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			if old, exists := m[p]; exists {
				return fmt.Errorf("steps.%s: steps.%s is already given as %s", path, strings.Join(parts[:i+1], "."), Stringify(old))
			}
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
	return nil
}

// StepIDs lists the ids of steps whose data expressions of a plan's steps
// can read: top-level steps and those of parallel branches.
func StepIDs(steps []Step) []string {
	var ids []string
	for _, st := range steps {
		ids = append(ids, st.ID)
		for _, br := range st.Parallel {
			ids = append(ids, StepIDs(br.Steps)...)
		}
	}
	return ids
}

// LooseInputs returns the input specs for running one step alone: the
// declared inputs, none required (the step may not read them), with their
// types and defaults, plus any other name given (what a test-run wants to
// feed the step directly).
func LooseInputs(declared []InputSpec, given map[string]any) []InputSpec {
	out := make([]InputSpec, 0, len(declared)+len(given))
	known := map[string]bool{}
	for _, s := range declared {
		s.Required = false
		known[s.Name] = true
		out = append(out, s)
	}
	var extra []string
	for k := range given {
		if !known[k] {
			extra = append(extra, k)
		}
	}
	sortStrings(extra)
	for _, k := range extra {
		out = append(out, InputSpec{Name: k})
	}
	return out
}

// resumeWithSteps is the state a run of plan starts from when the data of
// earlier steps is given: bound inputs, vars, steps and a fresh record.
func resumeWithSteps(plan *Plan, inputs, steps map[string]any, workflowID string) (*Resume, error) {
	bound, err := bindInputs(plan.Inputs, inputs)
	if err != nil {
		return nil, err
	}
	vars := map[string]any{}
	env := map[string]any{"inputs": bound, "vars": vars, "steps": steps}
	for _, b := range plan.Vars {
		v, err := EvalValue(b.Value, env)
		if err != nil {
			return nil, exprError("vars."+b.Name, err)
		}
		vars[b.Name] = v
	}
	rec := &Record{
		WorkflowID: workflowID,
		Flow:       plan.Name,
		Kind:       plan.Kind,
		Status:     StatusRunning,
		Start:      time.Now().UTC(),
		Inputs:     redactInputs(plan.Inputs, bound),
		Steps:      []*StepRecord{},
		// The workflow counts a resumed run as one more; this is the first.
		Runs: -1,
	}
	return &Resume{NextStep: 0, Inputs: bound, Vars: vars, Steps: steps, Record: rec}, nil
}
