package worker

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/yamlkit"
	"github.com/outflow-dev/outflow/steps"
	"github.com/outflow-dev/outflow/steps/keystore"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// Check opens what the config names, as the agent does at start and at its
// steps: the client certificates of its connections to Temporal and secret
// stores, and the keystores and trust stores of its profiles. It reports
// their problems in the words of `outflow certs inspect`, at the position
// of the field that names them. Passwords come from the environment and
// files; a keystore whose password is in Vault or CyberArk is noted, not
// opened, since that needs the store. It opens no connection.
func (c *Config) Check(ctx context.Context, now time.Time) (errs, warnings yamlkit.Problems) {
	d := c.dec
	if d == nil {
		d = newCfgDecoder(c.File)
	}
	add := func(list *yamlkit.Problems, path, format string, args ...any) {
		at := d.KeyPos(path)
		*list = append(*list, yamlkit.Problem{File: c.File, Line: at.Line, Col: at.Col, Path: path, Message: fmt.Sprintf(format, args...)})
	}
	boot := secrets.New(c.dir())
	for _, t := range []struct {
		path string
		tls  *TLSConfig
	}{{"temporal.tls", c.Temporal.TLS}, {"secrets.vault.tls", vaultTLS(c)}, {"secrets.cyberark.tls", cyberArkTLS(c)}} {
		if t.tls == nil {
			continue
		}
		ct, err := c.clientTLS(ctx, t.tls, boot, nil)
		if err != nil {
			add(&errs, t.path, "%v", err)
			continue
		}
		_, problems, err := ct.Config()
		if err != nil {
			add(&errs, t.path, "%v", err)
			continue
		}
		for _, p := range problems {
			add(&warnings, t.path, "%s: %s", p.Severity, p.Message)
		}
	}
	resolve := func(ctx context.Context, ref string) (string, error) {
		scheme, _, _ := strings.Cut(ref, ":")
		if scheme != "env" && scheme != "file" {
			return "", fmt.Errorf("%s is read from secrets.%s when a step runs, not by --check", ref, scheme)
		}
		return boot.Resolve(ctx, ref)
	}
	a := c.Agent()
	for name, lp := range a.Profiles {
		base := yamlkit.JoinPath("profiles", name)
		pc := steps.CheckProfile(ctx, &engine.ProtocolProfile{Name: name, Keystore: lp.Keystore, Truststore: lp.Truststore}, a.Dir, resolve, now, 30*24*time.Hour)
		where := base + ".keystore"
		if lp.Keystore == nil {
			where = base + ".truststore"
		}
		failed := false
		for _, p := range pc.Problems {
			switch p.Severity {
			case keystore.SeverityError:
				failed = true
				add(&errs, where, "%s", p.Message)
			case keystore.SeverityWarning:
				add(&warnings, where, "warning: %s", p.Message)
			}
		}
		if pc.NotChecked != "" {
			add(&warnings, where, "note: %s", pc.NotChecked)
		} else if !failed && lp.Keystore != nil {
			// A file can be a sound store and still hold nothing to present
			// (only trusted certificates, several keys and no alias).
			if err := canPresent(ctx, lp.Keystore, resolve); err != nil {
				add(&errs, where, "%v", err)
			}
		}
	}
	sortProblems(errs)
	sortProblems(warnings)
	return errs, warnings
}

func vaultTLS(c *Config) *TLSConfig {
	if c.Secrets.Vault == nil {
		return nil
	}
	return c.Secrets.Vault.TLS
}

func cyberArkTLS(c *Config) *TLSConfig {
	if c.Secrets.CyberArk == nil {
		return nil
	}
	return c.Secrets.CyberArk.TLS
}

// canPresent tells whether a keystore yields a client certificate.
func canPresent(ctx context.Context, ks *engine.Keystore, resolve func(context.Context, string) (string, error)) error {
	secret := func(r *engine.SecretRef) (string, error) {
		if r == nil {
			return "", nil
		}
		return resolve(ctx, r.Ref)
	}
	pw, err := secret(ks.Password)
	if err != nil {
		return nil
	}
	kpw, err := secret(ks.KeyPassword)
	if err != nil {
		return nil
	}
	data, err := os.ReadFile(ks.Path)
	if err != nil {
		return nil // CheckProfile said so
	}
	store, err := keystore.Load(data, pw, kpw, ks.Alias)
	if err == nil {
		_, err = store.TLSCertificate()
	}
	return err
}
