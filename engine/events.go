package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Events in: a `wait: {event: NAME}` step pauses a flow until an event of
// that name arrives for its execution. An event is a Temporal signal named
// EventSignal(NAME). Signals, not updates: a signal is accepted whether or
// not the flow is at the wait yet (Temporal keeps it in the signal channel
// until the flow reads it), the sender need not wait for a worker, and the
// gateway answers the partner as soon as the server has stored it. An event
// that arrives before the wait is therefore not lost; one that arrives
// while no wait of its name is pending stays queued for the next one.

// EventSignalPrefix starts the name of every event signal.
const EventSignalPrefix = "outflow.event:"

// EventSignal is the signal that carries events named name.
func EventSignal(name string) string { return EventSignalPrefix + name }

// MaxEventBody bounds an event's body, in bytes: what it carries lands in
// the history, the record and expressions.
const MaxEventBody = 256 << 10

// Event is what an event signal carries. Headers are redacted by the sender
// (RedactEventHeaders), before the event reaches the history.
type Event struct {
	Name       string            `json:"name"`
	Body       string            `json:"body,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	ReceivedAt time.Time         `json:"received_at"`
	// Source says how it was delivered: "gateway", "cli", "console", "test".
	Source string `json:"source,omitempty"`
	// By names the operator who sent it from the console.
	By string `json:"by,omitempty"`
}

// Check refuses an event the flow could not use.
func (e *Event) Check() error {
	switch {
	case e.Name == "":
		return errors.New("event: no name")
	case !ValidEventName(e.Name):
		return fmt.Errorf("event: invalid name %q; use letters, digits, '-', '_' and '.'", e.Name)
	case len(e.Body) > MaxEventBody:
		return fmt.Errorf("event: body is %d bytes, more than %d", len(e.Body), MaxEventBody)
	}
	return nil
}

// ValidEventName reports whether name can name an event: it appears in
// callback URLs, so letters, digits, '-', '_' and '.' only, at most 64.
func ValidEventName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// data is what expressions read as steps.ID.event.
func (e *Event) data() map[string]any {
	d := map[string]any{
		"name":        e.Name,
		"body":        e.Body,
		"headers":     headersAny(e.Headers),
		"received_at": e.ReceivedAt.UTC().Format(time.RFC3339Nano),
	}
	var v any
	if e.Body != "" && json.Unmarshal([]byte(e.Body), &v) == nil {
		d["json"] = v
	}
	return d
}

func headersAny(h map[string]string) map[string]any {
	out := make(map[string]any, len(h))
	for k, v := range h {
		out[k] = v
	}
	return out
}

// sensitiveEventHeaders are redacted in every event, like request headers.
var sensitiveEventHeaders = []string{"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "x-auth-token"}

// RedactedHeader is what a redacted header value reads as.
const RedactedHeader = "[redacted]"

// RedactEventHeaders returns headers as an event keeps them: names lower
// case, several values joined by ", ", and the values of credentials
// (Authorization, cookies, API keys) and of the headers named in also (an
// HMAC signature header) replaced by RedactedHeader.
func RedactEventHeaders(h map[string][]string, also ...string) map[string]string {
	if len(h) == 0 {
		return nil
	}
	redact := map[string]bool{}
	for _, n := range sensitiveEventHeaders {
		redact[n] = true
	}
	for _, n := range also {
		redact[strings.ToLower(n)] = true
	}
	out := make(map[string]string, len(h))
	for k, vs := range h {
		n := strings.ToLower(k)
		if redact[n] || strings.Contains(n, "secret") || strings.Contains(n, "token") || strings.Contains(n, "signature") {
			out[n] = RedactedHeader
			continue
		}
		out[n] = strings.Join(vs, ", ")
	}
	return out
}

// PlanEvents lists the event names the waits of a plan's steps (at any
// depth) name, sorted and without repeats.
func PlanEvents(p *Plan) []string {
	var names []string
	var walk func([]Step)
	walk = func(steps []Step) {
		for i := range steps {
			st := &steps[i]
			if st.Wait != nil && st.Wait.Event != "" {
				names = append(names, st.Wait.Event)
			}
			for _, b := range st.Blocks() {
				walk(b.Steps)
			}
		}
	}
	walk(p.Steps)
	walk(p.OnFailure)
	sort.Strings(names)
	out := names[:0]
	for i, n := range names {
		if i == 0 || n != names[i-1] {
			out = append(out, n)
		}
	}
	return out
}

// eventsVersion is the change that brought event waits and callback URLs;
// only plans that use them reach it.
const eventsVersion = "events-wait"

// runWaitEvent waits for an event of the step's name, first from the
// events carried over a continue-as-new, then from the signal channel,
// up to the step's timeout.
func (r *runner) runWaitEvent(ctx workflow.Context, st *Step, sc *scope, path string) error {
	name := st.Wait.Event
	_ = workflow.GetVersion(ctx, eventsVersion, workflow.DefaultVersion, 1)
	rec := r.newStepRecord(ctx, st, path)
	rec.Outputs = map[string]any{"event": name}
	ev, ok := r.takePending(name)
	ch := workflow.GetSignalChannel(ctx, EventSignal(name))
	if !ok {
		ok = ch.ReceiveAsync(&ev)
	}
	if !ok {
		rec.Status = StatusWaiting
		tctx, cancelTimer := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		timedOut := false
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		sel.AddReceive(ch, func(c workflow.ReceiveChannel, more bool) {
			c.Receive(ctx, &ev)
			ok = true
		})
		if d := st.Wait.Timeout.D(); d > 0 {
			sel.AddFuture(workflow.NewTimer(tctx, d), func(f workflow.Future) {
				if f.Get(ctx, nil) == nil {
					timedOut = true
				}
			})
		}
		sel.Select(ctx)
		cancelTimer()
		if err := ctx.Err(); err != nil && !ok {
			rec.Status = StatusFailed
			rec.Error = errorInfo(temporal.NewCanceledError())
			rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
			return temporal.NewCanceledError()
		}
		if timedOut && !ok {
			return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("no event %q arrived within %s", name, st.Wait.Timeout.D()), ErrTimeout, nil))
		}
	}
	if len(ev.Body) > MaxEventBody {
		// Senders check this; a signal sent around them is refused here.
		return r.failStep(ctx, st, sc, path, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("event %q has a body of %d bytes, more than %d", name, len(ev.Body), MaxEventBody), ErrConfig, nil))
	}
	data := ev.data()
	rec.Status = StatusSucceeded
	rec.Duration = Duration(workflow.Now(ctx).Sub(rec.Start))
	rec.Outputs = map[string]any{"event": name, "received_at": data["received_at"], "headers": data["headers"], "body_bytes": len(ev.Body), "source": ev.Source}
	if ev.By != "" {
		rec.Outputs["by"] = ev.By
	}
	sc.steps[st.ID] = map[string]any{"status": StatusSucceeded, "event": data}
	return nil
}

// takePending returns the oldest event named name carried over a
// continue-as-new.
func (r *runner) takePending(name string) (Event, bool) {
	q := r.pendingEvents[name]
	if len(q) == 0 {
		return Event{}, false
	}
	ev := q[0]
	r.pendingEvents[name] = q[1:]
	return ev, true
}

// drainEvents moves the events that arrived and no wait read yet out of
// their signal channels, for the next run after a continue-as-new (a
// signal left in a channel would be lost with this run).
func (r *runner) drainEvents(ctx workflow.Context) map[string][]Event {
	// Events carried over are of the plan's names too: the same plan ran.
	out := map[string][]Event{}
	for _, n := range PlanEvents(r.plan) {
		q := append([]Event(nil), r.pendingEvents[n]...)
		ch := workflow.GetSignalChannel(ctx, EventSignal(n))
		for {
			var ev Event
			if !ch.ReceiveAsync(&ev) {
				break
			}
			q = append(q, ev)
		}
		if len(q) > 0 {
			out[n] = q
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Callback URLs. callback_url("NAME") yields a URL on the gateway that
// delivers event NAME to this execution. The URL carries a token: an HMAC,
// under a key the gateway and the workers share, of the workflow ID, its
// first run ID and the event name. The worker computes it in a side effect,
// so the URL (never the key) is in the history and replays the same; the
// gateway recomputes the token to check a request, then looks the execution
// up and answers 410 Gone when it has ended.

// CallbackSigner computes callback URLs on a worker.
type CallbackSigner struct {
	// Key is the shared gateway key; without it callback_url fails.
	Key []byte
	// BaseURL is the gateway's public base URL when the plan names none
	// (Settings.GatewayURL).
	BaseURL string
}

// CallbackPath is where callbacks are served, under the gateway's base URL.
const CallbackPath = "/callbacks/"

// CallbackToken is the token that binds a callback URL to an execution
// (workflow ID and first run ID) and an event name.
func CallbackToken(key []byte, workflowID, firstRunID, event string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("outflow-callback\x00" + workflowID + "\x00" + firstRunID + "\x00" + event))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CallbackURL is the URL callback_url yields.
func CallbackURL(base string, key []byte, workflowID, firstRunID, event string) string {
	return strings.TrimRight(base, "/") + CallbackPath + url.PathEscape(workflowID) + "/" + url.PathEscape(firstRunID) + "/" +
		url.PathEscape(event) + "/" + CallbackToken(key, workflowID, firstRunID, event)
}

// Callback is what a callback URL's path says.
type Callback struct {
	WorkflowID, FirstRunID, Event, Token string
}

// ParseCallbackPath reads the part of a callback URL's path after
// CallbackPath.
func ParseCallbackPath(rest string) (Callback, error) {
	parts := strings.Split(rest, "/")
	if len(parts) != 4 {
		return Callback{}, errors.New("callback: malformed path")
	}
	var c Callback
	for i, dst := range []*string{&c.WorkflowID, &c.FirstRunID, &c.Event, &c.Token} {
		v, err := url.PathUnescape(parts[i])
		if err != nil || v == "" {
			return Callback{}, errors.New("callback: malformed path")
		}
		*dst = v
	}
	return c, nil
}

// Valid checks the token against key in constant time.
func (c Callback) Valid(key []byte) bool {
	if len(key) == 0 {
		return false
	}
	want := CallbackToken(key, c.WorkflowID, c.FirstRunID, c.Event)
	return hmac.Equal([]byte(want), []byte(c.Token))
}

// callbackKey is where a scope binds callback_url.
const callbackKey = "outflow__callback_url"

// callbackFunc returns what callback_url calls in this run: a side effect
// per event name, remembered for the run.
func (r *runner) callbackFunc(ctx workflow.Context) func(string) (string, error) {
	return func(name string) (string, error) {
		if !ValidEventName(name) {
			return "", fmt.Errorf("callback_url: invalid event name %q", name)
		}
		if u, ok := r.callbackURLs[name]; ok {
			return u, nil
		}
		_ = workflow.GetVersion(ctx, eventsVersion, workflow.DefaultVersion, 1)
		info := workflow.GetInfo(ctx)
		first := info.FirstRunID
		if first == "" {
			// The SDK's test environment has none.
			first = info.WorkflowExecution.RunID
		}
		base := r.plan.Settings.GatewayURL
		signer := r.signer
		var res struct {
			URL   string `json:"url,omitempty"`
			Error string `json:"error,omitempty"`
		}
		err := workflow.SideEffect(ctx, func(workflow.Context) any {
			b := base
			if b == "" && signer != nil {
				b = signer.BaseURL
			}
			switch {
			case signer == nil || len(signer.Key) == 0:
				res.Error = "callback_url: this worker has no gateway key (set OUTFLOW_GATEWAY_KEY, or run outflow dev)"
			case b == "":
				res.Error = "callback_url: no gateway URL; set gateway.public_url in outflow.yaml"
			default:
				res.URL = CallbackURL(b, signer.Key, info.WorkflowExecution.ID, first, name)
			}
			return res
		}).Get(&res)
		if err != nil {
			return "", fmt.Errorf("callback_url: %w", err)
		}
		if res.Error != "" {
			return "", errors.New(res.Error)
		}
		if r.callbackURLs == nil {
			r.callbackURLs = map[string]string{}
		}
		r.callbackURLs[name] = res.URL
		return res.URL, nil
	}
}

// callbackOf returns the callback_url an environment binds, or one that
// fails outside a running flow.
func callbackOf(env map[string]any) func(string) (string, error) {
	if f, ok := env[callbackKey].(func(string) (string, error)); ok && f != nil {
		return f
	}
	return func(string) (string, error) {
		return "", errors.New("callback_url() is only available while a flow runs")
	}
}

// FlowWorkflowWith returns FlowWorkflow for a worker that signs callback
// URLs with signer.
func FlowWorkflowWith(signer *CallbackSigner) func(workflow.Context, RunInput) (*Record, error) {
	return func(ctx workflow.Context, in RunInput) (*Record, error) {
		return flowWorkflow(ctx, in, signer)
	}
}

// TestEvent is an event an offline test delivers to its run, After the
// run starts (in the test's skipped time).
type TestEvent struct {
	Name    string
	After   Duration
	Body    string
	Headers map[string]string
	// At is where the test writes it, "file:line:col".
	At string
}

// TestCallbackKey and TestCallbackBase sign the callback URLs of offline
// tests: fixed, so a test can expect a URL.
var (
	TestCallbackKey  = []byte("outflow-offline-test-gateway-key")
	TestCallbackBase = "https://gateway.test"
)
