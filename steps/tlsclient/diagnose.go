package tlsclient

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore"
)

// Code identifies a diagnosed TLS failure. Codes are stable.
type Code string

// The failures Diagnose recognises.
const (
	CodeServerRejectedCertificate Code = "server_rejected_certificate"
	CodeNoClientCertificate       Code = "no_client_certificate"
	CodeClientCertNotRequested    Code = "client_certificate_not_requested"
	CodeServerNotTrusted          Code = "server_not_trusted"
	CodeInterceptingProxy         Code = "intercepting_proxy"
	CodeHostnameMismatch          Code = "hostname_mismatch"
	CodeServerCertExpired         Code = "server_certificate_expired"
	CodeServerCertUsage           Code = "server_certificate_usage"
	CodeServerCertRevoked         Code = "server_certificate_revoked"
	CodeRevocationUnknown         Code = "revocation_unknown"
	CodeProtocolMismatch          Code = "protocol_mismatch"
	CodePostHandshakeAuth         Code = "post_handshake_auth"
	CodeKeystore                  Code = "keystore"
)

// Error is a TLS failure explained in plain words. It wraps the error that
// revealed it, which errors.Is and errors.As still reach.
type Error struct {
	Code    Code
	Message string
	// Alert is the TLS alert the server sent ("bad_certificate"), if any.
	Alert string
	Err   error
}

func (e *Error) Error() string { return e.Message + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// ErrorType is the stable error type a step reports at the activity
// boundary: "Certificate" when the local key material is unusable, else
// "TLSHandshake".
func (e *Error) ErrorType() string {
	if e.Code == CodeKeystore {
		return engine.ErrCertificate
	}
	return engine.ErrTLSHandshake
}

// Retryable reports whether the same request may succeed when tried
// again. A failure that depends only on the certificates and settings of
// both ends does not heal by itself: a server certificate this worker does
// not trust or that names another host, an expired or revoked one, a client
// certificate the server refused with an alert (unknown_ca,
// bad_certificate, ...), a missing keystore, no TLS version in common.
// Retrying those only delays the diagnosis. A client certificate rejection
// inferred from a dropped TLS 1.3 connection (no alert arrived) stays
// retryable, like any connection reset, as do revocation checks that could
// not be made and failures the diagnosis does not pin down.
func (e *Error) Retryable() bool {
	switch e.Code {
	case CodeServerNotTrusted, CodeInterceptingProxy, CodeHostnameMismatch, CodeServerCertExpired, CodeServerCertUsage,
		CodeServerCertRevoked, CodePostHandshakeAuth, CodeKeystore:
		return false
	case CodeServerRejectedCertificate, CodeNoClientCertificate:
		return e.Alert == ""
	case CodeProtocolMismatch:
		return e.Alert != "protocol_version" && e.Alert != "insufficient_security"
	}
	return true
}

// deterministicAlerts are the TLS alerts a server sends about the client's
// certificate or the handshake's parameters: sent again on every attempt.
var deterministicAlerts = map[string]bool{
	"bad_certificate": true, "unsupported_certificate": true, "certificate_unknown": true, "unknown_ca": true,
	"access_denied": true, "certificate_expired": true, "certificate_revoked": true, "certificate_required": true,
	"protocol_version": true, "insufficient_security": true,
}

// Deterministic reports whether err, a failed request that Diagnose did not
// explain, is a TLS failure that retrying cannot mend: the server's
// certificate failed verification, or the server refused the handshake with
// an alert about the certificates or versions (see Error.Retryable).
func Deterministic(err error) bool {
	if err == nil {
		return false
	}
	if d, ok := errors.AsType[*Error](err); ok {
		return !d.Retryable()
	}
	if _, ok := errors.AsType[x509.HostnameError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return true
	}
	if _, ok := errors.AsType[x509.CertificateInvalidError](err); ok {
		return true
	}
	return deterministicAlerts[remoteAlert(err)]
}

// Diagnose explains a failed request in plain words when its cause lies in
// TLS: the server rejected our certificate (naming its alert), the server's
// certificate is not trusted (and, when the machine's system roots would
// trust it, that a TLS-intercepting proxy is the likely cause), a hostname
// mismatch (naming the certificate's names), an expired server certificate,
// a server that did not ask for the client certificate although the profile
// has one, a revoked certificate, no client certificate configured. probe
// (may be nil) is the request's Probe. Other errors are returned unchanged,
// as is nil.
func Diagnose(err error, profile *engine.ProtocolProfile, probe *Probe) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*Error](err); ok {
		return err
	}
	if profile == nil {
		profile = &engine.ProtocolProfile{}
	}
	d := diagnosis{err: err, profile: profile, conn: probe.connection()}
	for _, f := range []func() *Error{d.keystore, d.revocation, d.verification, d.alert, d.postHandshake, d.closedAfterHandshake, d.notRequested} {
		if e := f(); e != nil {
			return e
		}
	}
	return err
}

type diagnosis struct {
	err     error
	profile *engine.ProtocolProfile
	conn    *connInfo
}

func (d *diagnosis) wrap(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: d.err}
}

func (d *diagnosis) keystore() *Error {
	if _, ok := errors.AsType[*keystore.Error](d.err); ok {
		return d.wrap(CodeKeystore, "the client certificate cannot be used")
	}
	return nil
}

func (d *diagnosis) revocation() *Error {
	if r, ok := errors.AsType[*RevokedError](d.err); ok {
		return d.wrap(CodeServerCertRevoked, "the server's certificate chain includes a certificate its CA has revoked (%s), so the connection was refused: tell the partner", r.Subject)
	}
	if r, ok := errors.AsType[*RevocationUnknownError](d.err); ok {
		return d.wrap(CodeRevocationUnknown, "the revocation status of %s could not be checked and the profile's revocation mode is fail_closed: "+
			"make the CRL or OCSP responder reachable from this worker, or use fail_open", r.Subject)
	}
	return nil
}

func (d *diagnosis) verification() *Error {
	if h, ok := errors.AsType[x509.HostnameError](d.err); ok {
		return d.hostname(h)
	}
	if h, ok := errors.AsType[*x509.HostnameError](d.err); ok {
		return d.hostname(*h)
	}
	var chain []*x509.Certificate
	if v, ok := errors.AsType[*tls.CertificateVerificationError](d.err); ok {
		chain = v.UnverifiedCertificates
	}
	if inv, ok := errors.AsType[x509.CertificateInvalidError](d.err); ok {
		return d.invalid(inv)
	}
	if inv, ok := errors.AsType[*x509.CertificateInvalidError](d.err); ok {
		return d.invalid(*inv)
	}
	if u, ok := errors.AsType[x509.UnknownAuthorityError](d.err); ok {
		return d.unknownAuthority(u.Cert, chain)
	}
	if u, ok := errors.AsType[*x509.UnknownAuthorityError](d.err); ok {
		return d.unknownAuthority(u.Cert, chain)
	}
	return nil
}

func (d *diagnosis) hostname(h x509.HostnameError) *Error {
	c := h.Certificate
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return d.wrap(CodeHostnameMismatch, "the server's certificate (%s) names no host at all (no subject alternative names; the common name is not used for matching), "+
			"so it cannot match %q: the partner must issue a certificate with subject alternative names", c.Subject, h.Host)
	}
	hint := fmt.Sprintf("if %q is another name for the same server (an IP address or an internal alias), set server_name: %s on profile %q",
		h.Host, names[0], d.profile.Name)
	if d.profile.ServerName != "" {
		hint = fmt.Sprintf("the profile's server_name %q is used for the check; set it to one of the certificate's names, or remove it", d.profile.ServerName)
	}
	return d.wrap(CodeHostnameMismatch, "the server's certificate is for %s, not for %q; %s", strings.Join(names, ", "), h.Host, hint)
}

func (d *diagnosis) invalid(e x509.CertificateInvalidError) *Error {
	c := e.Cert
	switch e.Reason {
	case x509.Expired:
		now := time.Now()
		if now.Before(c.NotBefore) {
			return d.wrap(CodeServerCertExpired, "the server's certificate %s is not valid before %s: check this worker's clock, or the partner installed it too early",
				c.Subject, c.NotBefore.UTC().Format(time.RFC3339))
		}
		return d.wrap(CodeServerCertExpired, "the server's certificate %s expired on %s: the partner must renew it (if it is renewed already, this worker sees another server or a stale proxy)",
			c.Subject, c.NotAfter.UTC().Format(time.RFC3339))
	case x509.IncompatibleUsage:
		return d.wrap(CodeServerCertUsage, "the server's certificate %s is not valid for TLS servers: its extended key usage lacks serverAuth; the partner must use a server certificate", c.Subject)
	}
	return d.wrap(CodeServerNotTrusted, "the server's certificate chain is not valid (%s): the partner's chain is misconfigured", e.Error())
}

// proxyVendors are names TLS-inspection products put in the CA certificates
// they re-sign connections with.
var proxyVendors = []string{"zscaler", "palo alto", "paloalto", "bluecoat", "blue coat", "fortinet", "fortigate", "forcepoint",
	"netskope", "sophos", "umbrella", "mcafee", "symantec web", "check point", "checkpoint", "kaspersky", "avast", "fiddler",
	"mitmproxy", "charles proxy", "burp", "websense", "barracuda", "cisco"}

func (d *diagnosis) unknownAuthority(leaf *x509.Certificate, chain []*x509.Certificate) *Error {
	if leaf == nil && len(chain) > 0 {
		leaf = chain[0]
	}
	if leaf == nil {
		return d.wrap(CodeServerNotTrusted, "the server's certificate is not trusted by profile %q", d.profile.Name)
	}
	issuer := leaf.Issuer.String()
	top := leaf
	if len(chain) > 0 {
		top = chain[len(chain)-1]
	}
	lowered := strings.ToLower(top.Issuer.String() + " " + issuer)
	for _, v := range proxyVendors {
		if strings.Contains(lowered, v) {
			return d.wrap(CodeInterceptingProxy, "the server's certificate was issued by %s, a TLS-inspection product: a proxy between this worker and the partner "+
				"re-signs the connection, which also removes the client certificate; ask the network team for an inspection bypass for this host", top.Issuer)
		}
	}
	if d.trustedBySystem(chain, leaf) {
		if !d.usesCustomTrust() {
			return d.wrap(CodeServerNotTrusted, "the server's certificate (issued by %s) is not trusted", issuer)
		}
		return d.wrap(CodeInterceptingProxy, "the server's certificate is issued by %s, which this machine's system roots trust but profile %q's truststore does not. "+
			"If the partner's certificates come from the CA in the truststore, something between this worker and the partner re-signs the connection: "+
			"a TLS-intercepting proxy (Zscaler, Palo Alto SSL decryption, Blue Coat...), which also strips the client certificate; ask for a bypass for this host. "+
			"If the partner really uses a public CA, add its CA to truststore.paths or set system_roots: true", issuer, d.profile.Name)
	}
	where := "the system roots"
	if d.usesCustomTrust() {
		where = fmt.Sprintf("profile %q's truststore", d.profile.Name)
		if d.profile.Truststore.SystemRoots {
			where += " or the system roots"
		}
	}
	msg := fmt.Sprintf("the server's certificate %s is issued by %s, which is not trusted by %s: get the partner's CA certificate (PEM or DER) and add it to truststore.paths",
		leaf.Subject, issuer, where)
	if len(chain) == 1 && !bytes.Equal(leaf.RawIssuer, leaf.RawSubject) {
		msg += "; note that the server sent no intermediate certificate, so the truststore needs the issuing CA itself, or the partner must send its chain"
	}
	return d.wrap(CodeServerNotTrusted, "%s", msg)
}

func (d *diagnosis) usesCustomTrust() bool {
	return d.profile.Truststore != nil && len(d.profile.Truststore.Paths) > 0
}

func (d *diagnosis) trustedBySystem(chain []*x509.Certificate, leaf *x509.Certificate) bool {
	roots, err := systemRoots()
	if err != nil || roots == nil {
		return false
	}
	inter := x509.NewCertPool()
	for _, c := range chain {
		if !c.Equal(leaf) {
			inter.AddCert(c)
		}
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err == nil
}

// alertNames maps crypto/tls's alert texts to the names in RFC 8446.
var alertNames = map[string]string{
	"handshake failure":               "handshake_failure",
	"bad certificate":                 "bad_certificate",
	"unsupported certificate":         "unsupported_certificate",
	"revoked certificate":             "certificate_revoked",
	"expired certificate":             "certificate_expired",
	"unknown certificate":             "certificate_unknown",
	"illegal parameter":               "illegal_parameter",
	"unknown certificate authority":   "unknown_ca",
	"access denied":                   "access_denied",
	"error decoding message":          "decode_error",
	"error decrypting message":        "decrypt_error",
	"protocol version not supported":  "protocol_version",
	"insufficient security level":     "insufficient_security",
	"internal error":                  "internal_error",
	"unrecognized name":               "unrecognized_name",
	"certificate required":            "certificate_required",
	"no application protocol":         "no_application_protocol",
	"bad certificate status response": "bad_certificate_status_response",
}

// remoteAlert returns the RFC name of the alert the server sent, if err
// carries one. crypto/tls reports it as a net.OpError "remote error" around
// an unexported alert type, so the text is what identifies it.
func remoteAlert(err error) string {
	op, ok := errors.AsType[*net.OpError](err)
	for ok {
		if op.Op == "remote error" && op.Err != nil {
			text := strings.TrimPrefix(op.Err.Error(), "tls: ")
			if name, known := alertNames[text]; known {
				return name
			}
			return text
		}
		op, ok = errors.AsType[*net.OpError](op.Err)
	}
	return ""
}

func (d *diagnosis) alert() *Error {
	alert := remoteAlert(d.err)
	if alert == "" {
		return nil
	}
	e := d.alertError(alert)
	e.Alert = alert
	return e
}

func (d *diagnosis) alertError(alert string) *Error {
	var requested bool
	var sent *loaded
	var acceptable [][]byte
	if c := d.conn; c != nil {
		c.mu.Lock()
		requested, sent, acceptable = c.requested, c.presented, c.acceptableCAs
		c.mu.Unlock()
	}
	var presented *x509.Certificate
	if sent != nil {
		presented = sent.cert.Leaf
	}
	noKeystore := d.profile.Keystore == nil || d.profile.Keystore.Path == ""

	switch alert {
	case "certificate_required", "bad_certificate", "unsupported_certificate", "certificate_unknown", "unknown_ca",
		"access_denied", "certificate_expired", "certificate_revoked", "handshake_failure":
		// handshake_failure is also what a server sends when no version
		// or cipher suite fits; blame the missing certificate only when
		// the server asked for one, or nothing is known of the handshake.
		if requested && presented == nil || noKeystore && (alert != "handshake_failure" || d.conn == nil) {
			if noKeystore {
				return d.wrap(CodeNoClientCertificate, "the server requires a client certificate (TLS alert %s), but profile %q has no keystore: "+
					"add keystore.path to the profile, and mutual_auth: true on the connection", alert, d.profile.Name)
			}
			return d.wrap(CodeNoClientCertificate, "the server requires a client certificate (TLS alert %s), but none was sent", alert)
		}
		if alert == "handshake_failure" {
			return d.wrap(CodeProtocolMismatch, "the server ended the handshake (TLS alert handshake_failure): usually no TLS version or cipher suite in common "+
				"(check min_version), or the server wanted a client certificate it did not get")
		}
	case "protocol_version", "insufficient_security":
		return d.wrap(CodeProtocolMismatch, "the server and profile %q share no TLS version or cipher suite (TLS alert %s): the profile's min_version is %s",
			d.profile.Name, alert, orDefault(d.profile.MinVersion, "1.2"))
	case "unrecognized_name":
		return d.wrap(CodeHostnameMismatch, "the server does not serve the host name sent in the handshake (TLS alert unrecognized_name): check the connection's host, or server_name")
	case "decrypt_error":
		return d.wrap(CodeServerRejectedCertificate, "the server could not verify the handshake signature made with our private key (TLS alert decrypt_error): "+
			"the key may not belong to the certificate, or the server does not accept its algorithm")
	default:
		return d.wrap(CodeProtocolMismatch, "the server ended the handshake with TLS alert %s", alert)
	}

	return d.wrap(CodeServerRejectedCertificate, "%s", rejectedMessage(fmt.Sprintf("the server rejected our client certificate (TLS alert %s)", alert), alert, sent, acceptable))
}

// rejectedMessage explains a rejected client certificate: what we sent, what
// the alert means, whether our chain has a CA the server asked for, and what
// our own check of the keystore found.
func rejectedMessage(msg, alert string, sent *loaded, acceptable [][]byte) string {
	var presented *x509.Certificate
	if sent != nil {
		presented = sent.cert.Leaf
	}
	if presented != nil {
		msg += fmt.Sprintf("; we presented %s, issued by %s, valid until %s", presented.Subject, presented.Issuer, presented.NotAfter.UTC().Format(time.DateOnly))
	}
	switch alert {
	case "unknown_ca":
		msg += ": the server does not trust the CA that issued it; the partner must add our CA (root and intermediates) to the server's trust store"
	case "certificate_expired":
		msg += ": renew the certificate and replace the keystore file (Outflow picks it up at the next handshake)"
	case "certificate_revoked":
		msg += ": the CA revoked it; get a new certificate"
	case "access_denied":
		msg += ": the certificate is valid but not allowed; the partner must map it to an account or allow list"
	default:
		msg += ": the server's trust store may lack our CA, or the certificate may be wrong for client authentication"
	}
	if sent != nil && len(acceptable) > 0 && !acceptsChain(acceptable, sent.issuerNames) {
		msg += fmt.Sprintf("; the server asked for certificates issued by %s, and our chain has none of them", strings.Join(dnNames(acceptable), "; "))
	}
	if sent != nil && len(sent.notes) > 0 {
		msg += "; our keystore check found: " + strings.Join(sent.notes, "; ")
	}
	return msg
}

// closedAfterHandshake recognises the usual face of a rejected client
// certificate in TLS 1.3: the client finishes its handshake before the
// server has checked the certificate, so the server's alert comes later,
// and is often lost when the server resets the connection under the
// request being written.
func (d *diagnosis) closedAfterHandshake() *Error {
	if d.conn == nil || !isConnectionDrop(d.err) {
		return nil
	}
	d.conn.mu.Lock()
	done, resumed, version, requested, sent, acceptable := d.conn.handshakeDone, d.conn.resumed, d.conn.version, d.conn.requested, d.conn.presented, d.conn.acceptableCAs
	d.conn.mu.Unlock()
	if !done || resumed || version != tls.VersionTLS13 || !requested {
		return nil
	}
	if sent == nil {
		return d.wrap(CodeNoClientCertificate, "the server asked for a client certificate, none was sent (profile %q has no keystore), "+
			"and the server dropped the connection: add keystore.path to the profile, and mutual_auth: true on the connection", d.profile.Name)
	}
	return d.wrap(CodeServerRejectedCertificate, "%s", rejectedMessage(
		"the server dropped the connection right after a TLS 1.3 handshake in which it asked for our client certificate: "+
			"that is how a rejected client certificate usually shows in TLS 1.3 (the server's alert is lost in the reset)", "", sent, acceptable))
}

func isConnectionDrop(err error) bool {
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) {
		return true
	}
	// net/http reports a connection closed before any response as text.
	return strings.Contains(err.Error(), "server closed") || strings.HasSuffix(err.Error(), ": EOF")
}

func (d *diagnosis) postHandshake() *Error {
	if strings.Contains(d.err.Error(), "certificateRequestMsgTLS13") {
		return d.wrap(CodePostHandshakeAuth, "the server asked for the client certificate after the TLS 1.3 handshake (post-handshake authentication), "+
			"which Outflow's TLS stack does not support: ask the partner to request the certificate during the handshake for this host")
	}
	return nil
}

func (d *diagnosis) notRequested() *Error {
	if d.conn == nil || d.profile.Keystore == nil || d.profile.Keystore.Path == "" {
		return nil
	}
	d.conn.mu.Lock()
	asked, done, resumed := d.conn.requested, d.conn.handshakeDone, d.conn.resumed
	d.conn.mu.Unlock()
	if asked || !done || resumed {
		return nil
	}
	return d.wrap(CodeClientCertNotRequested, "the server did not ask for a client certificate during the TLS handshake, although profile %q has a keystore for mutual TLS, "+
		"so none was sent: the host may be a load balancer or proxy that ends TLS without mutual authentication, the mTLS endpoint may be another host or port, "+
		"or the server asks only later in a way Outflow cannot answer", d.profile.Name)
}

func acceptsChain(acceptable, issuers [][]byte) bool {
	return slices.ContainsFunc(acceptable, func(dn []byte) bool {
		return slices.ContainsFunc(issuers, func(i []byte) bool { return bytes.Equal(dn, i) })
	})
}

func dnNames(raw [][]byte) []string {
	var out []string
	for _, r := range raw {
		var seq pkix.RDNSequence
		if _, err := asn1.Unmarshal(r, &seq); err != nil {
			continue
		}
		var n pkix.Name
		n.FillFromRDNSequence(&seq)
		out = append(out, n.String())
	}
	return out
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
