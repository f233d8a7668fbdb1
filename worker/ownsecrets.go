package worker

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/outflow-dev/outflow/steps/secrets"
)

// EnvPayloadKey is the variable a process reads its payload key from when
// no --payload-key says otherwise.
const EnvPayloadKey = "OUTFLOW_PAYLOAD_KEY"

// PayloadKeySecrets are the payload key references a process was given,
// as secrets steps may not resolve; relative file: references are made
// absolute against the current folder, as the process read them.
func PayloadKeySecrets(refs []string) []secrets.Denied {
	out := make([]secrets.Denied, 0, len(refs))
	for _, r := range refs {
		if p, ok := strings.CutPrefix(r, "file:"); ok && p != "" && !filepath.IsAbs(p) {
			if abs, err := filepath.Abs(p); err == nil {
				r = "file:" + abs
			}
		}
		out = append(out, secrets.Denied{Ref: r, Why: "--payload-key"})
	}
	return out
}

// processSecrets are the secrets every worker process keeps from its
// steps, whatever its config: the payload key variable and the files the
// TEMPORAL_TLS_* variables name (a client certificate and its key).
func processSecrets() []secrets.Denied {
	out := []secrets.Denied{{Ref: "env:" + EnvPayloadKey, Why: "the payload key, " + EnvPayloadKey},
		{Ref: "env:" + EnvGatewayKey, Why: "the gateway key, " + EnvGatewayKey}}
	for _, name := range []string{EnvTLSCert, EnvTLSKey} {
		if p := os.Getenv(name); p != "" {
			if abs, err := filepath.Abs(p); err == nil {
				out = append(out, secrets.Denied{Ref: "file:" + abs, Why: "the Temporal client certificate, " + name})
			}
		}
	}
	return out
}

// defaultSecrets is the resolver of a worker without an agent config:
// env: and file: references under baseDir, except the process's own.
func defaultSecrets(baseDir string, own []secrets.Denied) (*secrets.Resolver, error) {
	res := secrets.New(baseDir)
	if err := res.Restrict(secrets.Policy{Deny: append(processSecrets(), own...)}); err != nil {
		return nil, err
	}
	return res, nil
}
