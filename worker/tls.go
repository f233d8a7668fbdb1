package worker

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/outflow-dev/outflow/steps/keystore"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// Environment variables that secure the connection to Temporal when no
// configuration file says how; the names are those the Temporal Web UI's
// image reads (Temporal's CLI names its own TEMPORAL_TLS_CLIENT_CERT_PATH…).
const (
	EnvTLSCert       = "TEMPORAL_TLS_CERT"        // client certificate, or a PEM bundle with the key
	EnvTLSKey        = "TEMPORAL_TLS_KEY"         // the key, when not in the certificate file
	EnvTLSCA         = "TEMPORAL_TLS_CA"          // CA trusted for the frontend
	EnvTLSServerName = "TEMPORAL_TLS_SERVER_NAME" // name checked against the frontend's certificate
	EnvTLS           = "TEMPORAL_TLS"             // "true": TLS with the system's roots and no client certificate
)

// TLSFromEnv returns the TLS configuration the TEMPORAL_TLS_* variables
// describe, or nil when none is set. TEMPORAL_TLS_CERT may be a PEM bundle
// holding the key; then TEMPORAL_TLS_KEY is left unset.
func TLSFromEnv(logger *slog.Logger) (*tls.Config, error) {
	cert, key, ca, name := os.Getenv(EnvTLSCert), os.Getenv(EnvTLSKey), os.Getenv(EnvTLSCA), os.Getenv(EnvTLSServerName)
	on := os.Getenv(EnvTLS)
	if cert == "" && key == "" && ca == "" && name == "" && (on == "" || on == "false" || on == "0") {
		return nil, nil
	}
	ct := &secrets.ClientTLS{ServerName: name, Logger: logger}
	switch {
	case cert != "" && key != "":
		ct.Cert, ct.Key = cert, key
	case cert != "":
		ct.Keystore = cert
	case key != "":
		return nil, fmt.Errorf("loading Temporal TLS from the environment: %s is set without %s", EnvTLSKey, EnvTLSCert)
	}
	if ca != "" {
		ct.CA = []string{ca}
	}
	cfg, problems, err := ct.Config()
	if err != nil {
		return nil, fmt.Errorf("loading Temporal TLS from the environment: %w", err)
	}
	logProblems(logger, "Temporal client certificate", problems)
	return cfg, nil
}

func logProblems(logger *slog.Logger, what string, problems []keystore.Problem) {
	if logger == nil {
		logger = slog.Default()
	}
	for _, p := range problems {
		level := slog.LevelWarn
		if p.Severity == keystore.SeverityError {
			level = slog.LevelError
		}
		logger.Log(context.Background(), level, what+": "+p.Message, "code", p.Code)
	}
}

// clientTLS turns a TLSConfig into the files and passwords of a client,
// resolving passwords with boot (env: and file: references).
func (c *Config) clientTLS(ctx context.Context, t *TLSConfig, boot *secrets.Resolver, logger *slog.Logger) (*secrets.ClientTLS, error) {
	ct := &secrets.ClientTLS{Keystore: c.abs(t.Keystore), Cert: c.abs(t.Cert), Key: c.abs(t.Key), Alias: t.Alias, ServerName: t.ServerName, Logger: logger}
	if t.CA != "" {
		ct.CA = []string{c.abs(t.CA)}
	}
	var err error
	if t.Password != nil {
		if ct.Password, err = boot.Resolve(ctx, t.Password.Ref); err != nil {
			return nil, err
		}
	}
	if t.KeyPassword != nil {
		if ct.KeyPassword, err = boot.Resolve(ctx, t.KeyPassword.Ref); err != nil {
			return nil, err
		}
	}
	return ct, nil
}

// httpClient is the client of a secret store: its own CA and client
// certificate when the config gives a tls: section.
func (c *Config) httpClient(ctx context.Context, what string, t *TLSConfig, boot *secrets.Resolver, logger *slog.Logger) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if t != nil {
		ct, err := c.clientTLS(ctx, t, boot, logger)
		if err != nil {
			return nil, fmt.Errorf("loading the TLS settings of %s: %w", what, err)
		}
		cfg, problems, err := ct.Config()
		if err != nil {
			return nil, fmt.Errorf("loading the TLS settings of %s: %w", what, err)
		}
		logProblems(logger, what+" client certificate", problems)
		tr.TLSClientConfig = cfg
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// explainDial adds what is most likely wrong to a failed connection to
// Temporal, from the TLS error it reveals.
func explainDial(err error, tlsOn, clientCert bool) string {
	msg := err.Error()
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(msg, x) {
				return true
			}
		}
		return false
	}
	const needCert = "requires a client certificate (mutual TLS): give temporal.tls.keystore (or cert and key) in the agent config, or " + EnvTLSCert
	switch {
	case has("certificate required") || (has("bad certificate", "handshake failure") && !clientCert):
		return "the frontend " + needCert
	case tlsOn && !clientCert && has("broken pipe", "connection reset", "EOF"):
		// With TLS 1.3 the server checks the client's certificate after the
		// client considers the handshake done; its alert may be lost to a
		// write racing the closed connection.
		return "the frontend closed the connection after the TLS handshake; it most likely " + needCert
	case has("unknown certificate authority", "bad certificate", "certificate unknown", "unsupported certificate"):
		return "the frontend refused the client certificate: it is not issued by a CA the frontend trusts for clients, or lacks the clientAuth usage (outflow certs inspect FILE)"
	case has("certificate has expired", "expired certificate"):
		return "a certificate has expired: the frontend's, or (alert from the server) ours"
	case has("certificate signed by unknown authority", "certificate is not trusted"):
		return "the frontend's certificate is not trusted: set temporal.tls.ca (or " + EnvTLSCA + ") to the CA that issued it"
	case has("certificate is valid for", "doesn't contain any IP SANs", "not valid for any names"):
		return "the frontend's certificate does not name the address dialed: set temporal.tls.server_name (or " + EnvTLSServerName + ") to a name it holds"
	case has("first record does not look like a TLS handshake"):
		return "the frontend does not speak TLS: remove temporal.tls (and the " + EnvTLSCert + " variables)"
	case !tlsOn && has("connection reset", "EOF", "frame too large", "http2"):
		return "the frontend may require TLS: give temporal.tls in the agent config, or set " + EnvTLSCA + "/" + EnvTLSCert
	}
	return ""
}
