package flows

import (
	"github.com/outflow-dev/outflow/engine"
)

func parallelKind() stepKind {
	return stepKind{
		name:  "parallel",
		given: func(st *Step) bool { return st.Parallel != nil },
		check: checkParallel,
		compile: func(c *compiler, doc *document, sp string, st *Step, es *engine.Step) {
			es.Parallel = make([]engine.Branch, len(st.Parallel))
			for j, br := range st.Parallel {
				es.Parallel[j] = engine.Branch{ID: br.ID, Steps: c.steps(doc, indexPath(sp+".parallel", j)+".steps", br.Steps)}
			}
		},
		blocks: func(st *Step, sp string) []block {
			out := make([]block, len(st.Parallel))
			for j, br := range st.Parallel {
				bp := indexPath(sp+".parallel", j)
				out[j] = block{path: bp + ".steps", steps: br.Steps, record: "/" + br.ID + "/", branch: bp, binds: []string{"branch"}}
			}
			return out
		},
	}
}

// Branch is one sequence of steps of a parallel step. Its steps share the
// enclosing scope: their ids are unique across all branches, and steps after
// the parallel step can read them. Inside, `branch` is the branch's id.
type Branch struct {
	// Names the branch in execution records.
	ID string `yaml:"id" jsonschema:"required,pattern=^[A-Za-z_][A-Za-z0-9_]*$"`
	// The steps of the branch, run in order.
	Steps []Step `yaml:"steps" jsonschema:"required,minItems=1"`
}

func checkParallel(c *checker, s *stepCheck) {
	doc, sp, st := s.b.doc, s.path, s.st
	if len(st.Parallel) == 0 {
		c.errorf(doc, doc.valPos(sp+".parallel"), sp+".parallel", "parallel needs at least one branch: {id: NAME, steps: [...]}")
	}
	branchAt := map[string]string{}
	for j := range st.Parallel {
		bp := indexPath(sp+".parallel", j)
		br := &st.Parallel[j]
		if prev, dup := branchAt[br.ID]; dup && br.ID != "" {
			c.errorf(doc, doc.valPos(bp+".id"), bp+".id", "duplicate branch id %q: %s has it already", br.ID, prev)
		}
		branchAt[br.ID] = bp
	}
}
