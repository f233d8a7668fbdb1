package steps

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// TestVerificationStaysOnUnlessTheProfileSaysSo calls a partner whose
// certificate nobody trusts (a self-signed CA of its own) with the switches
// other tools honour set in the environment: every step fails verification
// with a plain message, whether it uses a profile or none. Only a profile's
// own insecure_skip_verify: true turns verification off.
func TestVerificationStaysOnUnlessTheProfileSaysSo(t *testing.T) {
	for _, kv := range [][2]string{
		{"NODE_TLS_REJECT_UNAUTHORIZED", "0"}, {"PYTHONHTTPSVERIFY", "0"}, {"GIT_SSL_NO_VERIFY", "1"},
		{"CURL_INSECURE", "1"}, {"OUTFLOW_INSECURE_SKIP_VERIFY", "true"}, {"INSECURE_SKIP_VERIFY", "true"},
		{"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION", "true"},
	} {
		t.Setenv(kv[0], kv[1])
	}
	rogue, _ := devpki.NewCA("Self-signed Partner", nil)
	ourCA, _ := devpki.NewCA("Our CA", nil)
	_, conn := mtlsPartner(t, rogue, tls.NoClientCert)

	profile, dir := profileFor(t, ourCA, ourCA) // trusts only our CA
	noTrust := &engine.ProtocolProfile{Name: "system-roots", Keystore: profile.Keystore}
	plain := *conn
	plain.MutualAuth, plain.ProtocolProfile = false, ""
	for name, c := range map[string]struct {
		conn    *engine.Connection
		profile *engine.ProtocolProfile
	}{
		"profile with a truststore":     {conn, profile},
		"profile with the system roots": {conn, noTrust},
		"no profile":                    {&plain, nil},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := runStep(t, NewTransports(secrets.New(dir)), c.conn, c.profile, dir)
			var appErr *temporal.ApplicationError
			if !errors.As(err, &appErr) || appErr.Type() != engine.ErrTLSHandshake {
				t.Fatalf("a self-signed partner was accepted or failed otherwise: %v", err)
			}
			msg := strings.ToLower(appErr.Message())
			if !strings.Contains(msg, "trust") && !strings.Contains(msg, "unknown authority") {
				t.Fatalf("the message does not say the partner is not trusted: %s", appErr.Message())
			}
			t.Logf("%s: %s", name, appErr.Message())
		})
	}

	// The explicit switch, and only it, lets the call through.
	insecure := *noTrust
	insecure.InsecureSkipVerify = true
	if _, err := runStep(t, NewTransports(secrets.New(dir)), conn, &insecure, dir); err != nil {
		t.Fatalf("insecure_skip_verify: true: %v", err)
	}
}
