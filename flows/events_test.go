package flows

import (
	"strings"
	"testing"
	"testing/fstest"
)

// TestEventsValidation: each wrong use of events says what is wrong,
// where (file:line:col).
func TestEventsValidation(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"timeout without event", "  - id: w\n    wait: {timeout: 1h}\n",
			"flow.yaml:5:12: steps[0].wait.timeout: timeout belongs to a wait for an event"},
		{"event and duration", "  - id: w\n    wait: {event: paid, duration: 1h}\n",
			"flow.yaml:5:25: steps[0].wait.duration: give event or duration, not both"},
		{"bad name", "  - id: w\n    wait: {event: \"pa id\"}\n",
			`flow.yaml:5:19: steps[0].wait.event: invalid event "pa id"`},
		{"callback without wait", "  - id: s\n    set: {u: \"${{ callback_url('paid') }}\"}\n  - id: w\n    wait: {event: shipped}\n",
			`flow.yaml:5:19: steps[0].set.u: callback_url("paid") names an event no step of this flow waits for (waits for events: shipped)`},
		{"callback with a computed name", "  - id: s\n    set: {u: \"${{ callback_url(vars.x) }}\"}\n",
			"flow.yaml:5:19: steps[0].set.u: callback_url needs the event name as a quoted string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := "kind: Flow\nname: f\nsteps:\n" + tc.src
			_, err := LoadFS(fstest.MapFS{"flow.yaml": {Data: []byte(src)}}, "/p")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
	ok := "kind: Flow\nname: f\nsteps:\n  - id: s\n    set: {u: \"${{ callback_url(\\\"paid\\\") }}\"}\n  - id: w\n    wait: {event: paid, timeout: 48h}\n"
	p, err := LoadFS(fstest.MapFS{"flow.yaml": {Data: []byte(ok)}, "outflow.yaml": {Data: []byte("kind: Project\nname: p\ngateway: {public_url: \"https://hooks.example.com\"}\n")}}, "/p")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan("f")
	if err != nil {
		t.Fatal(err)
	}
	if w := plan.Steps[1].Wait; w.Event != "paid" || w.Timeout.D().Hours() != 48 || plan.Settings.GatewayURL != "https://hooks.example.com" {
		t.Fatalf("plan %+v %+v", w, plan.Settings)
	}
	_, err = LoadFS(fstest.MapFS{"flow.yaml": {Data: []byte(ok)}, "outflow.yaml": {Data: []byte("kind: Project\nname: p\ngateway: {public_url: \"hooks.example.com\"}\n")}}, "/p")
	if err == nil || !strings.Contains(err.Error(), "outflow.yaml:3:23: gateway.public_url: public_url must be an absolute URL") {
		t.Fatalf("public_url: %v", err)
	}
}
