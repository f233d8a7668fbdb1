package engine

import (
	"fmt"
	"strings"
)

// Webhook is a trigger that starts a flow when the gateway receives a
// request at Path (docs/events.md).
type Webhook struct {
	Path string       `json:"path"`
	Auth *InboundAuth `json:"auth,omitempty"`
	// ID is a template over request; its value is the workflow ID, so a
	// redelivery starts nothing and is answered with the first execution.
	ID string `json:"id,omitempty"`
	// Inputs are templates over request.
	Inputs []Binding `json:"inputs,omitempty"`
	// Respond is RespondAccepted (the default) or RespondOutputs.
	Respond string `json:"respond,omitempty"`
	// Timeout bounds how long a respond: outputs request waits.
	Timeout Duration `json:"timeout,omitempty"`
}

// What a webhook answers.
const (
	// RespondAccepted answers 202 with the execution ID as soon as the flow started.
	RespondAccepted = "accepted"
	// RespondOutputs waits for the flow and answers with its outputs, or its error.
	RespondOutputs = "outputs"
)

// DefaultWebhookTimeout is how long a respond: outputs request waits.
const DefaultWebhookTimeout = Duration(30e9)

// InboundAuth authenticates requests to the gateway: every mode given must
// pass.
type InboundAuth struct {
	HMAC   *HMACAuth   `json:"hmac,omitempty"`
	Bearer *BearerAuth `json:"bearer,omitempty"`
	Basic  *BasicAuth  `json:"basic,omitempty"`
	MTLS   *MTLSAuth   `json:"mtls,omitempty"`
}

// HMACAuth checks a signature over the raw body (GitHub, Shopify) or over
// "timestamp.body" (Stripe).
type HMACAuth struct {
	Header string    `json:"header"`
	Secret SecretRef `json:"secret"`
	// Algorithm is sha256 (default), sha1 or sha512.
	Algorithm string `json:"algorithm,omitempty"`
	// Prefix precedes the signature in the header ("sha256=").
	Prefix string `json:"prefix,omitempty"`
	// Encoding is hex (default) or base64 (Shopify).
	Encoding        string   `json:"encoding,omitempty"`
	TimestampHeader string   `json:"timestamp_header,omitempty"`
	Tolerance       Duration `json:"tolerance,omitempty"`
}

// DefaultHMACTolerance is how old a timestamped signature may be.
const DefaultHMACTolerance = Duration(5 * 60e9)

// BearerAuth wants Authorization: Bearer TOKEN.
type BearerAuth struct {
	Token SecretRef `json:"token"`
}

// BasicAuth wants HTTP basic authentication.
type BasicAuth struct {
	Username string    `json:"username"`
	Password SecretRef `json:"password"`
}

// MTLSAuth wants a client certificate that chains to one of ClientCA and,
// when the lists are given, whose subject or one of whose SANs is allowed.
type MTLSAuth struct {
	ClientCA      []string `json:"client_ca"`
	AllowSubjects []string `json:"allow_subjects,omitempty"`
	AllowSANs     []string `json:"allow_sans,omitempty"`
}

// HMACAlgorithms are the algorithms an hmac auth may name.
var HMACAlgorithms = []string{"sha256", "sha1", "sha512"}

// Modes names the modes an auth block sets, in a fixed order.
func (a *InboundAuth) Modes() []string {
	if a == nil {
		return nil
	}
	var out []string
	if a.HMAC != nil {
		out = append(out, "hmac")
	}
	if a.Bearer != nil {
		out = append(out, "bearer")
	}
	if a.Basic != nil {
		out = append(out, "basic")
	}
	if a.MTLS != nil {
		out = append(out, "mtls")
	}
	return out
}

// CheckWebhookPath refuses a path the gateway cannot serve as a webhook.
func CheckWebhookPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("path must start with /, such as /hooks/orders")
	case strings.HasPrefix(p, CallbackPath) || p == "/healthz" || p == "/metrics":
		return fmt.Errorf("path %s is the gateway's own; use another, such as /hooks/orders", p)
	case strings.ContainsAny(p, "?#* \t"):
		return fmt.Errorf("path must be a plain path without query, wildcard or blanks")
	case strings.Contains(p, "//") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/.."):
		return fmt.Errorf("path must be clean: no // and no .. segment")
	}
	return nil
}
