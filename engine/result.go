package engine

import (
	"encoding/json"
	"fmt"
	"time"
)

// TLSFacts describe the TLS session a step's request went over.
type TLSFacts struct {
	Version           string      `json:"version"`      // "TLS 1.3"
	CipherSuite       string      `json:"cipher_suite"` // "TLS_AES_128_GCM_SHA256"
	Resumed           bool        `json:"resumed"`
	ServerName        string      `json:"server_name,omitempty"`
	NegotiatedALPN    string      `json:"alpn,omitempty"`
	ClientCertificate *CertFacts  `json:"client_certificate,omitempty"`
	ServerChain       []CertFacts `json:"server_chain,omitempty"`
	// NewConnection is true when this request needed a new TCP/TLS connection
	// rather than a pooled one.
	NewConnection bool `json:"new_connection"`
	// ClientAuth says how the session authenticated Outflow to the partner
	// (ClientAuthMTLS, ClientAuthMTLSResumed, ClientAuthNone); empty when the
	// worker did not observe the handshake the session came from. On a
	// resumed session, ClientCertificate is the one presented on the full
	// handshake the session came from.
	ClientAuth string `json:"client_auth,omitempty"`
	// Notes say what looks wrong although the call worked, in plain words.
	Notes []string `json:"notes,omitempty"`
	// Known, when set, says the activity left ClientCertificate and
	// ServerChain out, because they are the ones CallHeader.KnownTLS named:
	// it is that name (tlsknown.go).
	Known string `json:"known,omitempty"`
}

// How a TLS session authenticated Outflow to the partner (TLSFacts.ClientAuth).
const (
	// ClientAuthMTLS: the connection's full handshake presented the client
	// certificate.
	ClientAuthMTLS = "mtls"
	// ClientAuthMTLSResumed: the session was resumed; the full handshake it
	// came from presented the client certificate, and a resumed session
	// carries that identity (RFC 8446 §2.2).
	ClientAuthMTLSResumed = "mtls_resumed"
	// ClientAuthNone: the handshake the session came from presented no
	// client certificate, because the server did not ask for one.
	ClientAuthNone = "none"
)

// CertFacts describe one certificate.
type CertFacts struct {
	Subject           string    `json:"subject"`
	Issuer            string    `json:"issuer,omitempty"`
	Serial            string    `json:"serial,omitempty"`
	FingerprintSHA256 string    `json:"fingerprint_sha256"`
	NotAfter          time.Time `json:"not_after"`
	// Source says where a client certificate's key is when it is not in
	// a file: "vault pki/issue/ROLE" (issued by Vault's PKI engine, kept in
	// the worker's memory) or `pkcs11 token "T" key "K"`.
	Source string `json:"source,omitempty"`
}

// MarshalJSON writes the duration as a Go duration string ("1m30s").
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a Go duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("parsing duration %q: %w", s, err)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration must be a string like \"30s\": %w", err)
	}
	*d = Duration(n)
	return nil
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }
