package flows

import (
	"fmt"
	"slices"
	"strings"

	"github.com/outflow-dev/outflow/engine"
)

// Webhook starts a flow when the gateway (`outflow gateway`, or the one `outflow dev`
// starts) receives a request at path.
type Webhook struct {
	// Where the gateway listens for it, such as `/hooks/orders`; unique across the project's flows.
	Path string `yaml:"path" jsonschema:"required"`
	// How the caller is authenticated; every mode given must pass. Without auth anyone
	// who can reach the gateway starts the flow.
	Auth *InboundAuth `yaml:"auth,omitempty"`
	// An expression over `request` whose value is the execution's ID, such as
	// `${{ request.json.delivery_id }}`: a redelivered request starts nothing and is
	// answered with the first execution.
	ID string `yaml:"id,omitempty"`
	// The flow's inputs, as expressions over `request` (`request.json`, `request.headers`,
	// `request.query`, `request.form`, `request.body`).
	Inputs map[string]any `yaml:"inputs,omitempty"`
	// `accepted` (default): answer 202 with the execution ID at once. `outputs`: wait for the
	// flow and answer 200 with its outputs, or its error with 422 (failed) or 504 (still running after timeout).
	Respond string `yaml:"respond,omitempty" jsonschema:"enum=accepted,enum=outputs"`
	// With respond: outputs, how long to wait for the flow. Default: 30s.
	Timeout Duration `yaml:"timeout,omitempty"`
}

// InboundAuth authenticates a request to the gateway. Every mode given must pass.
type InboundAuth struct {
	// An HMAC signature of the raw body in a header (GitHub, Shopify), or of
	// `timestamp.body` with timestamp_header (Stripe).
	HMAC *HMACAuth `yaml:"hmac,omitempty"`
	// `Authorization: Bearer TOKEN`.
	Bearer *BearerAuth `yaml:"bearer,omitempty"`
	// HTTP basic authentication.
	Basic *BasicAuth `yaml:"basic,omitempty"`
	// A client certificate (mutual TLS; the gateway must serve TLS).
	MTLS *MTLSAuth `yaml:"mtls,omitempty"`
}

// HMACAuth checks a signature header.
type HMACAuth struct {
	// The header that carries the signature, such as `X-Hub-Signature-256`.
	Header string `yaml:"header" jsonschema:"required"`
	// The shared secret, by reference.
	Secret *SecretRef `yaml:"secret" jsonschema:"required"`
	// `sha256` (default), `sha1` or `sha512`.
	Algorithm string `yaml:"algorithm,omitempty" jsonschema:"enum=sha256,enum=sha1,enum=sha512"`
	// What precedes the signature in the header, such as `sha256=`.
	Prefix string `yaml:"prefix,omitempty"`
	// `hex` (default) or `base64` (Shopify).
	Encoding string `yaml:"encoding,omitempty" jsonschema:"enum=hex,enum=base64"`
	// The header that carries the Unix time of signing; the signature is then over `timestamp.body`.
	TimestampHeader string `yaml:"timestamp_header,omitempty"`
	// How far the timestamp may be from the gateway's clock. Default: 5m.
	Tolerance Duration `yaml:"tolerance,omitempty"`
}

// BearerAuth wants `Authorization: Bearer TOKEN`.
type BearerAuth struct {
	// The token, by reference.
	Token *SecretRef `yaml:"token" jsonschema:"required"`
}

// BasicAuth wants HTTP basic authentication.
type BasicAuth struct {
	Username string `yaml:"username" jsonschema:"required"`
	// The password, by reference.
	Password *SecretRef `yaml:"password" jsonschema:"required"`
}

// MTLSAuth wants a client certificate.
type MTLSAuth struct {
	// PEM files of the CAs client certificates must chain to, relative to the project.
	ClientCA []string `yaml:"client_ca" jsonschema:"required,minItems=1"`
	// Allowed subjects, as written by Go (`CN=partner,O=Example`); empty allows any.
	AllowSubjects []string `yaml:"allow_subjects,omitempty"`
	// Allowed DNS, email or URI subject alternative names; empty allows any.
	AllowSANs []string `yaml:"allow_sans,omitempty"`
}

// checkTrigger checks what checkSchedule does not: one kind per trigger,
// and webhooks.
func (c *checker) checkTrigger(b *body, p string, t Trigger) {
	doc := b.doc
	switch {
	case t.Schedule != nil && t.Webhook != nil:
		c.errorf(doc, doc.keyPos(p+".webhook"), p+".webhook", "a trigger is a schedule or a webhook, not both; write two triggers")
	case t.Schedule == nil && t.Webhook == nil && !doc.troubled[p]:
		c.errorf(doc, doc.keyPos(p), p, "a trigger needs schedule or webhook")
	case t.Webhook != nil:
		c.checkWebhook(b, p+".webhook", t.Webhook)
	}
}

func (c *checker) checkWebhook(b *body, p string, w *Webhook) {
	doc := b.doc
	if err := engine.CheckWebhookPath(w.Path); err != nil && !doc.troubled[p+".path"] {
		c.errorf(doc, doc.valPos(p+".path"), p+".path", "%v", err)
	} else if w.Path != "" {
		if c.l.webhookPaths == nil {
			c.l.webhookPaths = map[string]string{}
		}
		at := doc.valPos(p + ".path")
		here := fmt.Sprintf("%s:%d:%d", doc.file, at.Line, at.Col)
		if first, ok := c.l.webhookPaths[w.Path]; ok {
			c.errorf(doc, doc.valPos(p+".path"), p+".path", "path %s is also the webhook of %s; each webhook needs its own path", w.Path, first)
		} else {
			c.l.webhookPaths[w.Path] = here
		}
	}
	if w.Respond != "" && w.Respond != engine.RespondAccepted && w.Respond != engine.RespondOutputs {
		c.errorf(doc, doc.valPos(p+".respond"), p+".respond", "respond is accepted or outputs, got %q", w.Respond)
	}
	if w.Timeout != 0 && w.Respond != engine.RespondOutputs {
		c.errorf(doc, doc.keyPos(p+".timeout"), p+".timeout", "timeout applies to respond: outputs only")
	}
	env := &exprEnv{b: b, bound: boundNames{"request"}, boundOnly: "a webhook's id and inputs read only request (json, body, headers, query, form)", noSteps: "no step has run when a webhook starts the flow"}
	if w.ID != "" {
		if !engine.IsTemplate(w.ID) {
			c.errorf(doc, doc.valPos(p+".id"), p+".id", "id is an expression over the request, such as ${{ request.json.delivery_id }}; a fixed id would start the flow once")
		}
		c.checkString(doc, p+".id", w.ID, env)
	}
	c.checkWith(doc, p+".inputs", w.Inputs, b.inputs, b.owner(), doc.keyPos(p), env)
	if a := w.Auth; a != nil {
		c.checkInboundAuth(doc, p+".auth", a)
	}
}

func (c *checker) checkInboundAuth(doc *document, p string, a *InboundAuth) {
	if a.HMAC == nil && a.Bearer == nil && a.Basic == nil && a.MTLS == nil && !doc.troubled[p] {
		c.errorf(doc, doc.keyPos(p), p, "auth needs hmac, bearer, basic or mtls")
	}
	if h := a.HMAC; h != nil {
		hp := p + ".hmac"
		if h.Algorithm != "" && !slices.Contains(engine.HMACAlgorithms, h.Algorithm) {
			c.errorf(doc, doc.valPos(hp+".algorithm"), hp+".algorithm", "unknown algorithm %q (known: %s)", h.Algorithm, strings.Join(engine.HMACAlgorithms, ", "))
		}
		if h.Tolerance != 0 && h.TimestampHeader == "" {
			c.errorf(doc, doc.keyPos(hp+".tolerance"), hp+".tolerance", "tolerance needs timestamp_header, the header that carries the time of signing")
		}
		if h.Secret == nil && !doc.troubled[hp] {
			c.errorf(doc, doc.keyPos(hp), hp, "hmac needs secret: {secret: env:NAME}")
		}
		if h.Header == "" && !doc.troubled[hp] {
			c.errorf(doc, doc.keyPos(hp), hp, "hmac needs header, the header that carries the signature")
		}
		if h.Tolerance < 0 {
			c.errorf(doc, doc.valPos(hp+".tolerance"), hp+".tolerance", "tolerance must be positive")
		}
	}
	if a.Bearer != nil && a.Bearer.Token == nil && !doc.troubled[p+".bearer"] {
		c.errorf(doc, doc.keyPos(p+".bearer"), p+".bearer", "bearer needs token: {secret: env:NAME}")
	}
	if a.Basic != nil && (a.Basic.Password == nil || a.Basic.Username == "") && !doc.troubled[p+".basic"] {
		c.errorf(doc, doc.keyPos(p+".basic"), p+".basic", "basic needs username and password: {secret: env:NAME}")
	}
	if m := a.MTLS; m != nil {
		if len(m.ClientCA) == 0 && !doc.troubled[p+".mtls"] {
			c.errorf(doc, doc.keyPos(p+".mtls"), p+".mtls", "mtls needs client_ca: the PEM files of the CAs client certificates must chain to")
		}
		for i, f := range m.ClientCA {
			if f == "" {
				ip := indexPath(p+".mtls.client_ca", i)
				c.errorf(doc, doc.valPos(ip), ip, "empty path")
			}
		}
	}
}

func compileWebhook(doc *document, p string, w *Webhook) *engine.Webhook {
	if w == nil {
		return nil
	}
	out := &engine.Webhook{Path: w.Path, ID: w.ID, Inputs: bindings(doc, p+".inputs", w.Inputs), Respond: w.Respond, Timeout: engine.Duration(w.Timeout)}
	if out.Respond == "" {
		out.Respond = engine.RespondAccepted
	}
	out.Auth = compileAuth(w.Auth)
	return out
}

func refOf(r *SecretRef) engine.SecretRef {
	if r == nil {
		return engine.SecretRef{}
	}
	return engine.SecretRef{Ref: r.Secret}
}

func compileAuth(a *InboundAuth) *engine.InboundAuth {
	if a == nil {
		return nil
	}
	out := &engine.InboundAuth{}
	if h := a.HMAC; h != nil {
		out.HMAC = &engine.HMACAuth{Header: h.Header, Secret: refOf(h.Secret), Algorithm: h.Algorithm, Prefix: h.Prefix,
			Encoding: h.Encoding, TimestampHeader: h.TimestampHeader, Tolerance: engine.Duration(h.Tolerance)}
	}
	if x := a.Bearer; x != nil {
		out.Bearer = &engine.BearerAuth{Token: refOf(x.Token)}
	}
	if x := a.Basic; x != nil {
		out.Basic = &engine.BasicAuth{Username: x.Username, Password: refOf(x.Password)}
	}
	if x := a.MTLS; x != nil {
		// Relative to the project folder; the gateway reads them.
		out.MTLS = &engine.MTLSAuth{ClientCA: append([]string(nil), x.ClientCA...), AllowSubjects: x.AllowSubjects, AllowSANs: x.AllowSANs}
	}
	return out
}
