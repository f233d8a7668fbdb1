package flows

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"

	"github.com/outflow-dev/outflow/engine"
)

// checkWaitEvent checks a wait: {event, timeout}.
func (c *checker) checkWaitEvent(doc *document, p string, w *Wait) {
	switch {
	case w.Event == "":
		c.errorf(doc, doc.keyPos(p+".timeout"), p+".timeout", "timeout belongs to a wait for an event; give event (a name such as paid), or use duration")
	case !engine.ValidEventName(w.Event):
		c.errorf(doc, doc.valPos(p+".event"), p+".event", "invalid event name %q; use letters, digits, '-', '_' and '.', at most 64", w.Event)
	case w.Duration != 0:
		c.errorf(doc, doc.keyPos(p+".duration"), p+".duration", "give event or duration, not both")
	case w.Until != "":
		c.errorf(doc, doc.keyPos(p+".until"), p+".until", "give event or until, not both")
	case w.Timeout < 0:
		c.errorf(doc, doc.valPos(p+".timeout"), p+".timeout", "timeout must be positive")
	default:
		if c.events != nil {
			c.events.waits = append(c.events.waits, w.Event)
		}
	}
}

// flowEvents is what checkFlowEvents matches in one flow.
type flowEvents struct {
	waits []string
	uses  []callbackUse
}

type callbackUse struct {
	name, path string
	at         pos
}

// noteCallbacks records the callback_url calls of a template.
func (c *checker) noteCallbacks(doc *document, p, s string) {
	names, offs := CallbackEvents(s)
	for i, n := range names {
		at := exprPos(doc, p, s, offs[i])
		if n == "" || !engine.ValidEventName(n) {
			c.errorf(doc, at, p, "callback_url needs the event name as a quoted string, such as callback_url(\"paid\"), naming a wait: {event} of the flow")
			continue
		}
		if c.events != nil {
			c.events.uses = append(c.events.uses, callbackUse{name: n, path: p, at: at})
		}
	}
}

// checkFlowEvents refuses a callback_url whose event no wait of the flow
// waits for: the partner's callback would never resume anything.
func (c *checker) checkFlowEvents(doc *document) {
	ev := c.events
	c.events = nil
	if ev == nil {
		return
	}
	waits := map[string]bool{}
	for _, w := range ev.waits {
		waits[w] = true
	}
	for _, u := range ev.uses {
		if !waits[u.name] {
			known := "none"
			if len(ev.waits) > 0 {
				known = strings.Join(ev.waits, ", ")
			}
			c.errorf(doc, u.at, u.path, "callback_url(%q) names an event no step of this flow waits for (waits for events: %s); add a step with wait: {event: %s}", u.name, known, u.name)
		}
	}
}

// callbackCall finds callback_url("NAME") (or 'NAME') in an expression.
var callbackCall = regexp.MustCompile(`callback_url\(\s*(?:"([^"]*)"|'([^']*)'|([^)]*))\s*\)`)

// CallbackEvents returns the event names the callback_url calls of a
// template name, with their byte offsets; a call whose argument is not a
// literal string yields the name "" (refused: the URL must match a wait).
func CallbackEvents(s string) (names []string, offsets []int) {
	for _, sp := range engine.ExprSpans(s) {
		for _, m := range callbackCall.FindAllStringSubmatchIndex(sp.Code, -1) {
			name := ""
			switch {
			case m[2] >= 0:
				name = sp.Code[m[2]:m[3]]
			case m[4] >= 0:
				name = sp.Code[m[4]:m[5]]
			}
			names = append(names, name)
			offsets = append(offsets, sp.CodeFrom+m[0])
		}
	}
	return names, offsets
}

// GatewaySettings configure the gateway (`outflow gateway`, and the one
// `outflow dev` starts).
type GatewaySettings struct {
	// The gateway's base URL as partners reach it, such as `https://hooks.example.com`;
	// callback_url builds on it. Without it callback URLs point at the gateway
	// `outflow dev` starts, or at the worker's `--gateway-url`.
	PublicURL string `yaml:"public_url,omitempty"`
	// Authentication callbacks need besides their signed URL, such as the partner's client
	// certificate (mtls) or a bearer token it sends; every mode given must pass.
	CallbackAuth *InboundAuth `yaml:"callback_auth,omitempty"`
}

// CallbackAuth is the gateway.callback_auth of the project's settings, nil
// when it sets none.
func (p *Project) CallbackAuth() *engine.InboundAuth {
	s := p.idx.settings
	if s == nil || s.Gateway == nil {
		return nil
	}
	return compileAuth(s.Gateway.CallbackAuth)
}

func (c *checker) checkGateway(doc *document, g *GatewaySettings) {
	if g != nil && g.CallbackAuth != nil {
		c.checkInboundAuth(doc, "gateway.callback_auth", g.CallbackAuth)
	}
	if g == nil || g.PublicURL == "" {
		return
	}
	p := "gateway.public_url"
	u, err := url.Parse(g.PublicURL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		c.errorf(doc, doc.valPos(p), p, "public_url must be an absolute URL such as https://hooks.example.com, got %q", g.PublicURL)
	case u.RawQuery != "" || u.Fragment != "":
		c.errorf(doc, doc.valPos(p), p, "public_url takes no query or fragment")
	case u.Scheme == "http":
		c.warnf(doc, doc.valPos(p), p, "public_url is plain http: partners send callbacks in the clear; use https outside development")
	}
}

// TestEvent is an event an offline test delivers.
type TestEvent struct {
	// The event's name: a wait: {event} of the target flow.
	Name string `yaml:"name" jsonschema:"required"`
	// When it arrives, counted from the start of the run in the test's time, such as `2h`
	// (an offline test skips the time a flow waits). Default: at once, before the flow may wait for it.
	After Duration `yaml:"after,omitempty"`
	// The body: a mapping or list is sent as JSON, a string as it is.
	Body any `yaml:"body,omitempty"`
	// Request headers the event carries.
	Headers Scalars `yaml:"headers,omitempty"`
}

func (c *checker) checkTestEvents(doc *document, evs []TestEvent) {
	for i, e := range evs {
		p := indexPath("events", i)
		switch {
		case e.Name == "" && !doc.troubled[p]:
			c.errorf(doc, doc.keyPos(p), p, "an event needs name, the event of a wait: {event} of the target")
		case e.Name != "" && !engine.ValidEventName(e.Name):
			c.errorf(doc, doc.valPos(p+".name"), p+".name", "invalid event name %q; use letters, digits, '-', '_' and '.', at most 64", e.Name)
		}
		if e.After < 0 {
			c.errorf(doc, doc.valPos(p+".after"), p+".after", "after must be positive")
		}
	}
}

func compileTestEvents(evs []TestEvent) []engine.TestEvent {
	var out []engine.TestEvent
	for _, e := range evs {
		te := engine.TestEvent{Name: e.Name, After: engine.Duration(e.After)}
		switch b := e.Body.(type) {
		case nil:
		case string:
			te.Body = b
		default:
			j, _ := json.Marshal(b)
			te.Body = string(j)
		}
		if len(e.Headers) > 0 {
			te.Headers = map[string]string{}
			for k, v := range e.Headers {
				te.Headers[strings.ToLower(k)] = engine.Stringify(v)
			}
		}
		out = append(out, te)
	}
	return out
}
