//go:build !noserver

package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/worker"
	"github.com/outflow-dev/outflow/worker/devserver"
)

// devTLS are the flags of `outflow dev` that serve the frontend over TLS
// and, with a client CA, require client certificates (mutual TLS), so
// agents connecting over mTLS can be tried and tested on one machine.
type devTLS struct {
	cert, key, clientCA   string
	workerCert, workerKey string
}

func (d *devTLS) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&d.cert, "tls-cert", "", "serve the frontend over TLS with the certificate in this PEM `file` (outflow certs dev-ca writes server.crt)")
	f.StringVar(&d.key, "tls-key", "", "the private key of --tls-cert (PEM)")
	f.StringVar(&d.clientCA, "tls-client-ca", "", "require client certificates issued by this CA (PEM): workers and agents connect with mutual TLS")
	f.StringVar(&d.workerCert, "worker-cert", "", "the client certificate this process's own worker presents: a PEM bundle with its key, or the chain with --worker-key (default: "+worker.EnvTLSCert+")")
	f.StringVar(&d.workerKey, "worker-key", "", "the private key of --worker-cert, when it is not in that file")
}

func (d *devTLS) enabled() bool { return d.cert != "" || d.key != "" || d.clientCA != "" }

// server returns the frontend's TLS options, nil when TLS is off.
func (d *devTLS) server() (*devserver.TLSOptions, error) {
	if !d.enabled() {
		if d.workerCert != "" || d.workerKey != "" {
			return nil, errors.New("--worker-cert needs a TLS frontend: give --tls-cert and --tls-key")
		}
		return nil, nil
	}
	if d.cert == "" || d.key == "" {
		return nil, errors.New("TLS needs --tls-cert and --tls-key together (and --tls-client-ca to require client certificates)")
	}
	return &devserver.TLSOptions{CertFile: d.cert, KeyFile: d.key, ClientCAFile: d.clientCA, RequireClientCert: d.clientCA != ""}, nil
}

// worker returns the TLS of this process's own worker: it trusts exactly
// the certificate the frontend serves (this process knows it), and
// presents --worker-cert, or what TEMPORAL_TLS_* give.
func (d *devTLS) worker(logger *slog.Logger) (*tls.Config, error) {
	if !d.enabled() {
		return nil, nil
	}
	ct := &secrets.ClientTLS{CA: []string{d.cert}, Logger: logger}
	switch {
	case d.workerCert != "" && d.workerKey != "":
		ct.Cert, ct.Key = d.workerCert, d.workerKey
	case d.workerCert != "":
		ct.Keystore = d.workerCert
	case d.workerKey != "":
		return nil, errors.New("--worker-key needs --worker-cert")
	default:
		env, err := worker.TLSFromEnv(logger)
		if err != nil {
			return nil, err
		}
		if env != nil && env.GetClientCertificate != nil {
			return env, nil
		}
		if d.clientCA != "" {
			return nil, fmt.Errorf("the frontend requires client certificates (--tls-client-ca), so this process's own worker needs one: give --worker-cert (`outflow certs dev-ca` writes worker-bundle.pem) or set %s", worker.EnvTLSCert)
		}
	}
	cfg, _, err := ct.Config()
	if err != nil {
		return nil, fmt.Errorf("loading --worker-cert: %w", err)
	}
	return cfg, nil
}
