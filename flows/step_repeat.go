package flows

import (
	"github.com/outflow-dev/outflow/engine"
)

func repeatKind() stepKind {
	return stepKind{
		name:  "repeat",
		given: func(st *Step) bool { return st.Repeat != nil },
		check: checkRepeat,
		compile: func(c *compiler, doc *document, sp string, st *Step, es *engine.Step) {
			r := st.Repeat
			es.Repeat = &engine.Repeat{Steps: c.steps(doc, sp+".repeat.steps", r.Steps), Until: string(r.Until),
				MaxIterations: r.MaxIterations, Interval: engine.Duration(r.Interval),
				BreakWhen: string(r.BreakWhen), ContinueWhen: string(r.ContinueWhen)}
		},
		blocks: func(st *Step, sp string) []block {
			if st.Repeat == nil {
				return nil
			}
			return []block{{path: sp + ".repeat.steps", steps: st.Repeat.Steps, record: "[*]/", binds: []string{"iteration"}}}
		},
	}
}

// Repeat runs its steps again and again, in the flow's scope: until a
// condition holds, or a number of times.
type Repeat struct {
	// The steps of one pass, run in order. Inside, `iteration` is the pass, from 1.
	Steps []Step `yaml:"steps" jsonschema:"required,minItems=1"`
	// Checked after each pass; the repeat ends when it holds, such as
	// `${{ steps.fetch.json.remaining == 0 }}`. It may read the pass's steps.
	Until Condition `yaml:"until,omitempty"`
	// The most passes. With until, reaching it fails the step
	// (RepeatExhausted); without, it is how many passes run.
	MaxIterations int `yaml:"max_iterations,omitempty" jsonschema:"minimum=1"`
	// A durable pause between passes, such as `30s`.
	Interval Duration `yaml:"interval,omitempty"`
	// Checked before each pass; when it holds the repeat ends, successfully.
	BreakWhen Condition `yaml:"break_when,omitempty"`
	// Checked before each pass; when it holds the pass's steps are skipped
	// (until is still checked).
	ContinueWhen Condition `yaml:"continue_when,omitempty"`
}

func checkRepeat(c *checker, s *stepCheck) {
	doc, sp, r := s.b.doc, s.path+".repeat", s.st.Repeat
	if len(r.Steps) == 0 && !doc.troubled[sp] {
		c.errorf(doc, doc.keyPos(sp), sp, "repeat needs steps: the steps of one pass")
	}
	if r.Until == "" && r.MaxIterations == 0 && !doc.troubled[sp] {
		c.errorf(doc, doc.keyPos(sp), sp, "repeat needs until: (a condition checked after each pass) or max_iterations:, or it never ends")
	}
	if r.MaxIterations < 0 {
		c.errorf(doc, doc.valPos(sp+".max_iterations"), sp+".max_iterations", "max_iterations must be at least 1")
	}
	if r.Interval < 0 {
		c.errorf(doc, doc.valPos(sp+".interval"), sp+".interval", "interval cannot be negative")
	}
	env := &exprEnv{b: s.b, stepPath: s.path, visible: s.visible, bound: s.bound.with("iteration")}
	c.checkString(doc, sp+".break_when", string(r.BreakWhen), env)
	c.checkString(doc, sp+".continue_when", string(r.ContinueWhen), env)
	// until runs after a pass: it reads the pass's steps.
	after := copyMap(s.visible)
	for id, p := range sharedIDs(r.Steps, sp+".steps", 0) {
		after[id] = p
	}
	c.checkString(doc, sp+".until", string(r.Until), &exprEnv{b: s.b, stepPath: s.path, visible: after, bound: s.bound.with("iteration")})
}
