package flows

import (
	"time"
	_ "time/tzdata" // time zones of schedules are checked the same on every machine

	"github.com/outflow-dev/outflow/engine"
)

func (c *checker) checkSchedule(b *body, p string, s *Schedule) {
	if s == nil {
		return
	}
	doc := b.doc
	switch {
	case s.Cron == "" && s.Every == 0 && !doc.troubled[p]:
		c.errorf(doc, doc.keyPos(p), p, "a schedule needs cron (a calendar such as \"0 2 * * *\") or every (an interval such as 1h)")
	case s.Cron != "" && s.Every != 0:
		c.errorf(doc, doc.keyPos(p+".every"), p+".every", "give cron or every, not both")
	case s.Cron != "":
		if err := checkCron(s.Cron); err != nil {
			c.errorf(doc, doc.valPos(p+".cron"), p+".cron", "invalid cron %q: %v", s.Cron, err)
		}
	}
	if s.Timezone != "" {
		if s.Timezone == "Local" {
			c.errorf(doc, doc.valPos(p+".timezone"), p+".timezone", "time zone Local differs from machine to machine; name the zone, such as Europe/Berlin")
		} else if _, err := time.LoadLocation(s.Timezone); err != nil {
			c.errorf(doc, doc.valPos(p+".timezone"), p+".timezone", "unknown time zone %q; use an IANA name such as Europe/Berlin or UTC", s.Timezone)
		}
	}
	if w := time.Duration(s.CatchupWindow); w != 0 && w < engine.MinCatchupWindow {
		c.errorf(doc, doc.valPos(p+".catchup_window"), p+".catchup_window", "catchup_window %s is shorter than Temporal's minimum of %s; give at least 10s", w, engine.MinCatchupWindow)
	}
	ip := p + ".inputs"
	for _, k := range doc.order[ip] {
		kp := joinPath(ip, k)
		walkStrings(s.Inputs[k], kp, func(sp, str string) {
			if engine.IsTemplate(str) {
				c.errorf(doc, doc.valPos(sp), sp, "schedule inputs are fixed values; expressions are not evaluated here")
			}
		})
	}
	// Expressions were refused above; nil skips checking them again.
	c.checkWith(doc, ip, s.Inputs, b.inputs, b.owner(), doc.keyPos(p), nil)
}
