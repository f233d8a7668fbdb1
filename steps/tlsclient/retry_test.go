package tlsclient

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"testing"
)

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		code      Code
		alert     string
		retryable bool
	}{
		{CodeServerNotTrusted, "", false},
		{CodeInterceptingProxy, "", false},
		{CodeHostnameMismatch, "", false},
		{CodeHostnameMismatch, "unrecognized_name", false},
		{CodeServerCertExpired, "", false},
		{CodeServerCertUsage, "", false},
		{CodeServerCertRevoked, "", false},
		{CodeKeystore, "", false},
		{CodePostHandshakeAuth, "", false},
		{CodeServerRejectedCertificate, "unknown_ca", false},
		{CodeServerRejectedCertificate, "bad_certificate", false},
		{CodeNoClientCertificate, "certificate_required", false},
		{CodeProtocolMismatch, "protocol_version", false},
		// Inferred from a dropped connection: no alert arrived.
		{CodeServerRejectedCertificate, "", true},
		{CodeNoClientCertificate, "", true},
		{CodeProtocolMismatch, "handshake_failure", true},
		{CodeRevocationUnknown, "", true},
		{CodeClientCertNotRequested, "", true},
	} {
		e := &Error{Code: tc.code, Alert: tc.alert, Err: errors.New("x")}
		if got := e.Retryable(); got != tc.retryable {
			t.Errorf("%s (alert %q): Retryable = %v, want %v", tc.code, tc.alert, got, tc.retryable)
		}
		if got := Deterministic(fmt.Errorf("calling: %w", e)); got == tc.retryable {
			t.Errorf("%s (alert %q): Deterministic = %v", tc.code, tc.alert, got)
		}
	}
	alert := func(text string) error {
		return &net.OpError{Op: "remote error", Err: errors.New("tls: " + text)}
	}
	for err, want := range map[error]bool{
		x509.UnknownAuthorityError{}:                       true,
		x509.HostnameError{Host: "a"}:                      true,
		x509.CertificateInvalidError{Reason: x509.Expired}: true,
		alert("unknown certificate authority"):             true,
		alert("bad certificate"):                           true,
		alert("internal error"):                            false,
		errors.New("read: connection reset by peer"):       false,
		nil: false,
	} {
		if got := Deterministic(err); got != want {
			t.Errorf("Deterministic(%v) = %v, want %v", err, got, want)
		}
	}
}
