package tlsclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

func diagnosed(t *testing.T, err error) *Error {
	t.Helper()
	if err == nil {
		t.Fatal("the request succeeded")
	}
	var d *Error
	if !errors.As(err, &d) {
		t.Fatalf("not diagnosed: %v", err)
	}
	if d.Err == nil || errors.Unwrap(d) == nil {
		t.Errorf("the original error is not wrapped: %v", d)
	}
	return d
}

func expectDiagnosis(t *testing.T, err error, code Code, alert string, mentions ...string) {
	t.Helper()
	d := diagnosed(t, err)
	if d.Code != code || d.Alert != alert {
		t.Fatalf("diagnosis %s (alert %q), want %s (alert %q): %v", d.Code, d.Alert, code, alert, d)
	}
	for _, m := range mentions {
		if !strings.Contains(d.Error(), m) {
			t.Errorf("diagnosis does not mention %q: %v", m, d)
		}
	}
	if d.ErrorType() != "TLSHandshake" {
		t.Errorf("ErrorType = %s", d.ErrorType())
	}
}

// expectRejection is expectDiagnosis for a rejected client certificate under
// TLS 1.3, where the server's alert may be lost when it resets the
// connection: the diagnosis then carries no alert name.
func expectRejection(t *testing.T, err error, code Code, alert string, mentions ...string) {
	t.Helper()
	if d := diagnosed(t, err); d.Alert == "" {
		alert = ""
	}
	expectDiagnosis(t, err, code, alert, mentions...)
}

func TestDiagnoseServerRejectsOurCertificate(t *testing.T) {
	otherCA, _ := devpki.NewCA("Partner Client CA", nil)
	clientCA, _ := devpki.NewCA("Our Client CA", nil)

	t.Run("unknown_ca", func(t *testing.T) {
		// The partner trusts only its own client CA, not ours.
		p := newPartner(t, nil, nil, nil, withClientCAs(otherCA.Pool()))
		_, _, _, err := get(t, &Cache{Logger: quietLogger()}, mtlsProfile(p, fixturePath(t, "kb0696002-good.jks")), p.URL)
		expectRejection(t, err, CodeServerRejectedCertificate, "unknown_ca",
			"client certificate", "CN=outflow-kb-client",
			"asked for certificates issued by CN=Partner Client CA", "our chain has none of them")
	})
	t.Run("certificate_expired", func(t *testing.T) {
		p := newPartner(t, clientCA, nil, nil)
		old, err := clientCA.IssueClient("old-client", &devpki.Options{NotBefore: time.Now().Add(-48 * time.Hour), Validity: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		bundle, _ := old.BundlePEM()
		_, _, _, err = get(t, &Cache{Logger: quietLogger()}, mtlsProfile(p, writeFile(t, "old.pem", bundle)), p.URL)
		expectRejection(t, err, CodeServerRejectedCertificate, "certificate_expired", "our keystore check found", "expired on")
	})
	t.Run("bad_certificate", func(t *testing.T) {
		// A certificate made for servers only: the server refuses it for
		// client authentication.
		p := newPartner(t, nil, nil, nil)
		_, _, _, err := get(t, &Cache{Logger: quietLogger()}, mtlsProfile(p, fixturePath(t, "client-server-eku.pem")), p.URL)
		expectRejection(t, err, CodeServerRejectedCertificate, "bad_certificate", "lacks clientAuth")
	})
	t.Run("tls1.2", func(t *testing.T) {
		p := newPartner(t, nil, nil, nil, withClientCAs(otherCA.Pool()), withMaxVersion(tls.VersionTLS12))
		_, _, _, err := get(t, &Cache{Logger: quietLogger()}, mtlsProfile(p, fixturePath(t, "client-openssl.p12")), p.URL)
		expectDiagnosis(t, err, CodeServerRejectedCertificate, "unknown_ca")
	})
}

func TestDiagnoseNoClientCertificateConfigured(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			p := newPartner(t, nil, nil, nil, withMaxVersion(v))
			profile := mtlsProfile(p, "")
			profile.Keystore = nil
			_, _, _, err := get(t, &Cache{}, profile, p.URL)
			alert := "certificate_required"
			if v == tls.VersionTLS12 {
				alert = "handshake_failure" // what a TLS 1.2 server sends for a missing certificate
			}
			expectRejection(t, err, CodeNoClientCertificate, alert, "has no keystore", "mutual_auth: true")
		})
	}
}

func TestDiagnoseServerNotTrusted(t *testing.T) {
	p := newPartner(t, nil, nil, nil)
	profile := mtlsProfile(p, fixturePath(t, "bundle-ordered.pem"))
	profile.Truststore.Paths = []string{fixturePath(t, "root-ca.pem")}

	t.Run("unknown CA", func(t *testing.T) {
		_, _, _, err := get(t, &Cache{Logger: quietLogger()}, profile, p.URL)
		expectDiagnosis(t, err, CodeServerNotTrusted, "", "issued by CN=Partner Test CA", `profile "partner-mtls"'s truststore`, "truststore.paths")
	})
	t.Run("system roots trust it: intercepting proxy", func(t *testing.T) {
		saved := systemRoots
		t.Cleanup(func() { systemRoots = saved })
		systemRoots = func() (*x509.CertPool, error) { return p.ca.Pool(), nil }
		_, _, _, err := get(t, &Cache{Logger: quietLogger()}, profile, p.URL)
		expectDiagnosis(t, err, CodeInterceptingProxy, "", "system roots trust", "TLS-intercepting proxy", "system_roots: true")
	})
	t.Run("inspection product", func(t *testing.T) {
		proxyCA, _ := devpki.NewCA("Zscaler Root CA", &devpki.Options{Organization: "Zscaler Inc."})
		mitm := newPartnerWithCA(t, proxyCA, nil, nil, nil)
		_, _, _, err := get(t, &Cache{Logger: quietLogger()}, profile, mitm.URL)
		expectDiagnosis(t, err, CodeInterceptingProxy, "", "Zscaler", "bypass")
	})
}

func TestDiagnoseHostnameMismatch(t *testing.T) {
	p := newPartner(t, nil, []string{"partner.example", "api.partner.example"}, nil)
	profile := mtlsProfile(p, fixturePath(t, "bundle-ordered.pem"))
	_, _, _, err := get(t, &Cache{Logger: quietLogger()}, profile, p.URL)
	expectDiagnosis(t, err, CodeHostnameMismatch, "", "partner.example, api.partner.example", `"127.0.0.1"`, "server_name: partner.example")

	// The suggested fix works.
	profile.ServerName = "partner.example"
	if _, _, _, err := get(t, &Cache{Logger: quietLogger()}, profile, p.URL); err != nil {
		t.Fatalf("with server_name: %v", err)
	}
}

func TestDiagnoseExpiredServerCertificate(t *testing.T) {
	p := newPartner(t, nil, nil, &devpki.Options{NotBefore: time.Now().Add(-72 * time.Hour), Validity: 24 * time.Hour})
	_, _, _, err := get(t, &Cache{Logger: quietLogger()}, mtlsProfile(p, fixturePath(t, "bundle-ordered.pem")), p.URL)
	expectDiagnosis(t, err, CodeServerCertExpired, "", "expired on", "partner must renew")
}

func TestDiagnoseServerDidNotAskForCertificate(t *testing.T) {
	p := newPartner(t, nil, nil, nil, withClientAuth(tls.NoClientCert))
	profile := mtlsProfile(p, fixturePath(t, "bundle-ordered.pem"))
	body, resp, probe, err := get(t, &Cache{Logger: quietLogger()}, profile, p.URL)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}
	if asked, known := probe.ClientCertificateRequested(); asked || !known {
		t.Errorf("ClientCertificateRequested = %v, %v; want false, true", asked, known)
	}
	if f := probe.Facts(resp.TLS); f.ClientCertificate != nil {
		t.Errorf("facts claim a client certificate: %+v", f.ClientCertificate)
	}
	// The step turns the 403 into an error and asks why.
	stepErr := fmt.Errorf("calling partner-api: HTTP status %d", resp.StatusCode)
	expectDiagnosis(t, Diagnose(stepErr, profile, probe), CodeClientCertNotRequested, "",
		"did not ask for a client certificate", "load balancer")

	// Without a keystore there is nothing to say.
	noKeystore := *profile
	noKeystore.Keystore = nil
	if got := Diagnose(stepErr, &noKeystore, probe); got != stepErr {
		t.Errorf("Diagnose without keystore = %v", got)
	}
}

func TestDiagnoseProtocolMismatch(t *testing.T) {
	p := newPartner(t, nil, nil, nil, withMaxVersion(tls.VersionTLS12))
	profile := mtlsProfile(p, fixturePath(t, "bundle-ordered.pem"))
	profile.MinVersion = "1.3"
	_, _, _, err := get(t, &Cache{Logger: quietLogger()}, profile, p.URL)
	expectDiagnosis(t, err, CodeProtocolMismatch, "protocol_version", "min_version is 1.3")
}

func TestDiagnosePassesOtherErrorsThrough(t *testing.T) {
	plain := errors.New("dial tcp: connection refused")
	if got := Diagnose(plain, nil, nil); got != plain {
		t.Errorf("Diagnose = %v", got)
	}
	if Diagnose(nil, nil, nil) != nil {
		t.Error("Diagnose(nil) != nil")
	}
	d := &Error{Code: CodeHostnameMismatch, Message: "x", Err: plain}
	if got := Diagnose(d, &engine.ProtocolProfile{}, nil); got != d {
		t.Error("a diagnosed error was diagnosed again")
	}
}
