package flows

import (
	"os"
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

// TestWebhookValidation: webhook triggers and their auth blocks say what is
// wrong, where; a good one compiles into the plan.
func TestWebhookValidation(t *testing.T) {
	head := "kind: Flow\nname: f\ninputs: {order: {type: string, required: true}}\ntriggers:\n"
	steps := "steps:\n  - id: s\n    set: {x: 1}\n"
	cases := []struct{ name, trig, want string }{
		{"bad path", "  - webhook: {path: hooks}\n", "flow.yaml:5:21: triggers[0].webhook.path: path must start with /"},
		{"own path", "  - webhook: {path: /callbacks/x}\n", "path /callbacks/x is the gateway's own"},
		{"respond", "  - webhook: {path: /h, respond: later}\n", `triggers[0].webhook.respond: respond is accepted or outputs, got "later"`},
		{"unknown input", "  - webhook: {path: /h, inputs: {nope: x}}\n", `triggers[0].webhook.inputs.nope: unknown input "nope"`},
		{"request elsewhere", "  - webhook: {path: /h, inputs: {order: \"${{ steps.s.x }}\"}}\n", "steps cannot be read here: a webhook's id and inputs read only request"},
		{"fixed id", "  - webhook: {path: /h, id: abc, inputs: {order: x}}\n", "id is an expression over the request"},
		{"bad algorithm", "  - webhook: {path: /h, inputs: {order: x}, auth: {hmac: {header: X-Sig, secret: {secret: env:S}, algorithm: md5}}}\n", `unknown algorithm "md5"`},
		{"tolerance alone", "  - webhook: {path: /h, inputs: {order: x}, auth: {hmac: {header: X-Sig, secret: {secret: env:S}, tolerance: 5m}}}\n", "tolerance needs timestamp_header"},
		{"no mode", "  - webhook: {path: /h, inputs: {order: x}, auth: {}}\n", "auth needs hmac, bearer, basic or mtls"},
		{"both", "  - schedule: {every: 1h, inputs: {order: x}}\n    webhook: {path: /h, inputs: {order: x}}\n", "a trigger is a schedule or a webhook, not both"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadFS(fstest.MapFS{"flow.yaml": {Data: []byte(head + tc.trig + steps)}}, "/p")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
	t.Run("request outside a trigger", func(t *testing.T) {
		_, err := LoadFS(fstest.MapFS{"flow.yaml": {Data: []byte("kind: Flow\nname: f\nsteps:\n  - id: s\n    set: {x: \"${{ request.json }}\"}\n")}}, "/p")
		if err == nil || !strings.Contains(err.Error(), "flow.yaml:5:19: steps[0].set.x: request is defined only in a webhook trigger's id and inputs") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("duplicate path across flows", func(t *testing.T) {
		a := head + "  - webhook: {path: /h, inputs: {order: x}}\n" + steps
		b := strings.Replace(a, "name: f", "name: g", 1)
		_, err := LoadFS(fstest.MapFS{"a.yaml": {Data: []byte(a)}, "b.yaml": {Data: []byte(b)}}, "/p")
		if err == nil || !strings.Contains(err.Error(), "b.yaml:5:21: triggers[0].webhook.path: path /h is also the webhook of a.yaml:5:21") {
			t.Fatalf("got %v", err)
		}
	})
	good := head + `  - webhook:
      path: /hooks/orders
      auth: {hmac: {header: X-Signature, secret: {secret: env:HOOK_SECRET}, prefix: "sha256=", timestamp_header: X-Timestamp, tolerance: 5m}}
      id: "${{ request.json.delivery_id }}"
      inputs: {order: "${{ request.json.order.id }}"}
      respond: outputs
` + steps
	p, err := LoadFS(fstest.MapFS{"flow.yaml": {Data: []byte(good)}}, "/p")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan("f")
	if err != nil {
		t.Fatal(err)
	}
	w := plan.Triggers[0].Webhook
	if w == nil || w.Path != "/hooks/orders" || w.Auth.HMAC.Secret.Ref != "env:HOOK_SECRET" || w.Auth.HMAC.Tolerance.D().Minutes() != 5 ||
		w.Respond != "outputs" || len(w.Inputs) != 1 || w.ID != "${{ request.json.delivery_id }}" {
		t.Fatalf("webhook %+v", w)
	}
}

// TestEventsGuideExample loads the worked example of docs/events.md (its
// project, flow and offline test) with a connection for the PSP: the
// guide's YAML is valid.
func TestEventsGuideExample(t *testing.T) {
	b, err := os.ReadFile("../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "```yaml\n")
	var project, test string
	for _, bl := range blocks[1:] {
		body := bl[:strings.Index(bl, "```")]
		switch {
		case strings.HasPrefix(body, "# outflow.yaml"):
			project = body
		case strings.HasPrefix(body, "kind: Test"):
			test = body
		}
	}
	if project == "" || test == "" {
		t.Fatal("the guide's worked example is not where this test looks")
	}
	parts := strings.SplitN(project, "---\n", 2)
	fsys := fstest.MapFS{
		"outflow.yaml": {Data: []byte(parts[0])},
		"flow.yaml":    {Data: []byte(parts[1] + "---\n" + test + "---\nkind: Connection\nname: psp\nurl: https://psp.example\n")},
	}
	p, err := LoadFS(fsys, "/p")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.TestCase("order-paid"); err != nil {
		t.Fatal(err)
	}
}

func TestCallbackAuthSettings(t *testing.T) {
	flow := "kind: Flow\nname: f\nsteps:\n  - id: w\n    wait: {event: paid}\n"
	settings := "kind: Project\nname: p\ngateway:\n  public_url: https://hooks.example.com\n  callback_auth: {mtls: {client_ca: [psp-ca.pem], allow_sans: [psp.example]}}\n"
	p, err := LoadFS(fstest.MapFS{"flow.yaml": {Data: []byte(flow)}, "outflow.yaml": {Data: []byte(settings)}}, "/p")
	if err != nil {
		t.Fatal(err)
	}
	if a := p.CallbackAuth(); a == nil || a.MTLS == nil || a.MTLS.ClientCA[0] != "psp-ca.pem" || a.MTLS.AllowSANs[0] != "psp.example" {
		t.Fatalf("callback auth %+v", a)
	}
	bad := strings.Replace(settings, "{mtls: {client_ca: [psp-ca.pem], allow_sans: [psp.example]}}", "{}", 1)
	_, err = LoadFS(fstest.MapFS{"flow.yaml": {Data: []byte(flow)}, "outflow.yaml": {Data: []byte(bad)}}, "/p")
	if err == nil || !strings.Contains(err.Error(), "outflow.yaml:5:3: gateway.callback_auth: auth needs hmac, bearer, basic or mtls") {
		t.Fatalf("got %v", err)
	}
}
