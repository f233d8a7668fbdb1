package flows

import (
	"time"

	"github.com/outflow-dev/outflow/engine"
)

func waitKind() stepKind {
	return stepKind{
		name:  "wait",
		given: func(st *Step) bool { return st.Wait != nil },
		check: func(c *checker, s *stepCheck) { c.checkWait(s.b, s.path+".wait", s.st.Wait, s.env) },
		compile: func(c *compiler, doc *document, sp string, st *Step, es *engine.Step) {
			es.Wait = &engine.WaitStep{Duration: engine.Duration(st.Wait.Duration), Until: st.Wait.Until,
				Event: st.Wait.Event, Timeout: engine.Duration(st.Wait.Timeout)}
		},
	}
}

// Wait pauses a flow durably. Give duration, until, or event.
type Wait struct {
	// How long to wait, such as `10m` or `24h`.
	Duration Duration `yaml:"duration,omitempty"`
	// The moment to wait for: an RFC 3339 time such as `2026-01-02T06:00:00Z`, or an expression that yields one.
	Until string `yaml:"until,omitempty"`
	// The name of an event to wait for: a partner's callback to `callback_url("NAME")`,
	// `outflow executions send ID NAME`, or the console. The step's data then holds
	// `event` (body, json, headers redacted, received_at). An event that arrives before
	// the flow reaches the wait is kept for it.
	Event string `yaml:"event,omitempty" jsonschema:"pattern=^[A-Za-z0-9._-]+$,maxLength=64"`
	// With event: how long to wait before the step fails with type `Timeout`
	// (catchable with try/catch), such as `48h`. Without it the step waits until the flow is canceled.
	Timeout Duration `yaml:"timeout,omitempty"`
}

func (c *checker) checkWait(b *body, p string, w *Wait, env *exprEnv) {
	doc := b.doc
	if w.Event != "" || w.Timeout != 0 {
		c.checkWaitEvent(doc, p, w)
		return
	}
	switch {
	case w.Duration == 0 && w.Until == "" && !doc.troubled[p]:
		c.errorf(doc, doc.keyPos(p), p, "wait needs duration (such as 10m), until (a time such as 2026-01-02T06:00:00Z) or event (a name such as paid)")
	case w.Duration != 0 && w.Until != "":
		c.errorf(doc, doc.keyPos(p+".until"), p+".until", "give duration or until, not both")
	case w.Until != "" && engine.IsTemplate(w.Until):
		c.checkString(doc, p+".until", w.Until, env)
	case w.Until != "":
		if _, err := time.Parse(time.RFC3339, w.Until); err != nil {
			c.errorf(doc, doc.valPos(p+".until"), p+".until", "invalid time %q; write an RFC 3339 time such as 2026-01-02T06:00:00Z, or an expression", w.Until)
		}
	}
}
