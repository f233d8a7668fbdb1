package engine

import (
	"go.temporal.io/sdk/workflow"
)

func switchKind() stepKind {
	return stepKind{
		name: "switch",
		is:   func(s *Step) bool { return s.Switch != nil },
		run:  (*runner).runSwitch,
		blocks: func(s *Step) []Block {
			out := make([]Block, 0, len(s.Switch.Cases)+1)
			for _, c := range s.Switch.Cases {
				out = append(out, Block{Steps: c.Steps})
			}
			if s.Switch.Default != nil {
				out = append(out, Block{Steps: s.Switch.Default})
			}
			return out
		},
	}
}

// SwitchStep runs the steps of the first case whose condition holds, or
// the default's when none does. The YAML's `if:` with `then:`/`else:`
// compiles to one case named "then" and a default named "else".
type SwitchStep struct {
	Cases []Case `json:"cases"`
	// Default runs when no case holds; nil runs nothing.
	Default []Step `json:"default,omitempty"`
	// DefaultName names the default in the record ("default" when empty).
	DefaultName string `json:"default_name,omitempty"`
}

// Case is one branch of a switch.
type Case struct {
	// Name is what the record calls the case: "case0", "case1", … or "then".
	Name string `json:"name"`
	// When is a template; the case runs when it is truthy.
	When  string `json:"when"`
	Steps []Step `json:"steps"`
}

// NoCase is the case a switch records when no case held and it has no
// default.
const NoCase = "none"

// runSwitch evaluates the cases in order, in the workflow (no activity),
// and runs the chosen steps in the step's own scope: their ids and the
// vars they set are seen by the steps after the switch. The record's
// outputs and steps.ID.case name the case that ran; the chosen steps are
// recorded as ID/CASE/STEP.
func (r *runner) runSwitch(ctx workflow.Context, st *Step, sc *scope, path string) error {
	rec := r.newStepRecord(ctx, st, path)
	sw := st.Switch
	var steps []Step
	name := NoCase
	for i := range sw.Cases {
		c := &sw.Cases[i]
		v, err := EvalValue(c.When, sc.env())
		if err != nil {
			return r.failStep(ctx, st, sc, path, exprError(path+"."+c.Name+".when", err))
		}
		if Truthy(v) {
			steps, name = c.Steps, c.Name
			break
		}
	}
	if name == NoCase && sw.Default != nil {
		steps, name = sw.Default, sw.DefaultName
		if name == "" {
			name = "default"
		}
	}
	rec.Outputs = map[string]any{"case": name}
	sc.steps[st.ID] = map[string]any{"case": name}
	if err := r.runSteps(ctx, steps, sc, path+"/"+name+"/"); err != nil {
		err = r.failStep(ctx, st, sc, path, err)
		sc.steps[st.ID].(map[string]any)["case"] = name
		return err
	}
	rec.Status = StatusSucceeded
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	sc.steps[st.ID] = map[string]any{"case": name, "status": StatusSucceeded}
	return nil
}
