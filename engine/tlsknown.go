package engine

import (
	"crypto/sha256"
	"encoding/hex"
)

// A regular step's result travels in the history once, as the activity's
// result, and again in the record: the TLS facts of a pooled connection
// (the partner's chain and the client certificate, about 700 bytes) were
// the same step after step. The workflow now tells the activity which
// certificates it last saw on the connection (CallHeader.KnownTLS), and the
// activity leaves them out of its result when they are the same
// (TLSFacts.Known); the workflow puts them back into the record. Both
// halves are optional: an older worker sends them whole, an older workflow
// sends no KnownTLS.

// CertificatesKey names the certificates of t (the server's chain and the
// client certificate), "" when there are none.
func (t *TLSFacts) CertificatesKey() string {
	if t == nil || (t.ClientCertificate == nil && len(t.ServerChain) == 0) {
		return ""
	}
	h := sha256.New()
	if c := t.ClientCertificate; c != nil {
		h.Write([]byte("client " + c.FingerprintSHA256 + " " + c.Subject + " " + c.Issuer + " " + c.Serial + " " + c.NotAfter.String() + "\n"))
	}
	for _, c := range t.ServerChain {
		h.Write([]byte("server " + c.FingerprintSHA256 + " " + c.Subject + " " + c.Issuer + " " + c.Serial + " " + c.NotAfter.String() + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// WithoutKnown is t for an activity's result: a copy without the
// certificates when they are the ones known names (Known set), else t.
func (t *TLSFacts) WithoutKnown(known string) *TLSFacts {
	if t == nil || known == "" || t.CertificatesKey() != known {
		return t
	}
	c := *t
	c.ClientCertificate, c.ServerChain, c.Known = nil, nil, known
	return &c
}

// restoreTLS puts the certificates a result left out (Known) back from the
// full facts seen under that name, and remembers full facts for the next
// call's KnownTLS on conn. Workflow code: the maps are read by key only.
func (r *runner) restoreTLS(conn string, t *TLSFacts) *TLSFacts {
	if t == nil || conn == "" {
		return t
	}
	if r.knownTLS == nil {
		r.knownTLS, r.tlsByKey = map[string]string{}, map[string]*TLSFacts{}
	}
	if t.Known != "" {
		seen := r.tlsByKey[t.Known]
		if seen == nil {
			return t // cannot happen: known only when the workflow named it
		}
		c := *t
		c.ClientCertificate, c.ServerChain, c.Known = seen.ClientCertificate, seen.ServerChain, ""
		return &c
	}
	if key := t.CertificatesKey(); key != "" {
		r.knownTLS[conn] = key
		r.tlsByKey[key] = t
	}
	return t
}

// knownTLSKey is what the next call on conn tells its activity.
func (r *runner) knownTLSKey(conn string) string {
	return r.knownTLS[conn]
}
