package flows

import (
	"strings"
	"time"

	"github.com/outflow-dev/outflow/engine"
)

// The code below is shared by the step kinds that call a partner through a
// connection, in an activity (rest, soap): the fields that apply to them
// only (timeout, retry, local, poll), and their connection and values.

// Poll repeats a rest or soap step until its condition holds.
type Poll struct {
	// The condition, evaluated after each call with `steps.ID` holding the step's latest result,
	// such as `${{ steps.job.json.state == 'done' }}`.
	Until Condition `yaml:"until" jsonschema:"required"`
	// The wait between calls. Default: 30s.
	Interval Duration `yaml:"interval,omitempty"`
	// Give up when the condition has not held after this long. Default: no limit.
	Deadline Duration `yaml:"deadline,omitempty"`
	// Give up after this many calls. Default: no limit.
	MaxAttempts int `yaml:"max_attempts,omitempty" jsonschema:"minimum=1"`
}

// checkCallFields checks the fields of a step that apply to kinds that
// call partners: where they are given, and what they say.
func (c *checker) checkCallFields(s *stepCheck, given []*stepKind) {
	doc, sp, st := s.b.doc, s.path, s.st
	var call *stepKind
	for _, k := range given {
		if k.connection != nil {
			call = k
			break
		}
	}
	callKinds := wordList(kindNames(true), "and")
	if call == nil && len(given) == 1 {
		for _, f := range []string{"timeout", "retry"} {
			if _, set := doc.vals[sp+"."+f]; set {
				c.warnf(doc, doc.keyPos(sp+"."+f), sp+"."+f, "%s applies to %s steps only; set it on the steps that %s runs", f, callKinds, given[0].name)
			}
		}
	}
	if _, set := doc.vals[sp+".local"]; set || st.Local {
		if call == nil {
			c.errorf(doc, doc.keyPos(sp+".local"), sp+".local", "local runs %s calls only; remove it from this step", callKinds)
		} else if cd := c.idx.connections[call.connection(st)]; cd != nil && st.Local {
			if cn, ok := cd.value.(*Connection); ok && cn.Agent != "" {
				c.errorf(doc, doc.keyPos(sp+".local"), sp+".local", "connection %q runs its steps on agent %q, and a local step runs on the flow's worker; remove local: or use a connection without an agent", call.connection(st), cn.Agent)
			}
		}
	}
	if st.HoldOnFailure != nil && *st.HoldOnFailure && call == nil && len(given) == 1 {
		c.errorf(doc, doc.keyPos(sp+".hold_on_failure"), sp+".hold_on_failure",
			"hold_on_failure holds %s steps only; a %s step fails with the step inside it that failed: give that step hold_on_failure", callKinds, given[0].name)
	}
	if st.Idempotent && call == nil {
		c.errorf(doc, doc.keyPos(sp+".idempotent"), sp+".idempotent", "idempotent marks %s calls only; remove it from this step", callKinds)
	}
	c.checkJudge(s, call, given)
	if pl := st.Poll; pl != nil {
		if call == nil && len(given) == 1 {
			c.errorf(doc, doc.keyPos(sp+".poll"), sp+".poll", "poll repeats %s calls only; remove it from this %s step", callKinds, given[0].name)
		}
		if pl.Until != "" {
			// The condition reads the step's own latest result.
			c.checkString(doc, sp+".poll.until", string(pl.Until), s.selfEnv(".poll"))
		}
		if pl.Interval > 0 && pl.Deadline > 0 && pl.Deadline < pl.Interval {
			c.errorf(doc, doc.valPos(sp+".poll.deadline"), sp+".poll.deadline", "deadline %s is shorter than interval %s, so the step could call only once", time.Duration(pl.Deadline), time.Duration(pl.Interval))
		}
	}
}

func compilePoll(st *Step, es *engine.Step) {
	if pl := st.Poll; pl != nil {
		es.Poll = &engine.Poll{
			Until:       string(pl.Until),
			Interval:    engine.Duration(pl.Interval),
			Deadline:    engine.Duration(pl.Deadline),
			MaxAttempts: pl.MaxAttempts,
		}
	}
}

func (c *checker) checkConnectionRef(doc *document, p, name string) {
	if name == "" {
		return // reported as missing
	}
	if c.idx.connections[name] == nil {
		c.errorf(doc, doc.valPos(p), p, "unknown connection %q %s", name, known(name, sortedKeys(c.idx.connections), "connections"))
	}
}

func (c *checker) checkScalars(b *body, p string, m Scalars, env *exprEnv) {
	for _, k := range b.doc.order[p] {
		kp := joinPath(p, k)
		if strings.EqualFold(k, "Authorization") {
			if s, ok := m[k].(string); ok && !engine.IsTemplate(s) {
				c.errorf(b.doc, b.doc.valPos(kp), kp, "a literal Authorization header writes a credential into the project; use credential: on the connection")
				continue
			}
		}
		c.checkValue(b.doc, kp, m[k], env)
	}
}
