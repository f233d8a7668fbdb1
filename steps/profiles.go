// Package steps holds what a worker needs to run steps: the step kinds
// (steps/rest, steps/soap) and the resolution of a connection alias to an
// HTTP client on this worker — secrets, keystores, trust, transports.
package steps

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore"
)

// CertStatus is one certificate a profile depends on, with its days left.
type CertStatus struct {
	Role     string    `json:"role"` // client | chain | trust
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer,omitempty"`
	NotAfter time.Time `json:"not_after"`
	DaysLeft int       `json:"days_left"`
	File     string    `json:"file"`
}

// ProfileCheck is what CheckProfile found about one protocol profile.
type ProfileCheck struct {
	Profile  string             `json:"profile"`
	Source   string             `json:"source,omitempty"`
	Certs    []CertStatus       `json:"certificates"`
	Problems []keystore.Problem `json:"problems,omitempty"`
	// NotChecked says why the keystore could not be opened here (a password
	// reference that only resolves on the agent, for instance).
	NotChecked string `json:"not_checked,omitempty"`
	// NotCheckedField is the profile field NotChecked is about.
	NotCheckedField string `json:"-"`
}

// Field is the profile field a problem of the check is about, as a path in
// the profile's document, so that it can be positioned there: the keystore
// file (keystore.path) unless the problem is about its password, key
// password or alias, or about a trust store file.
func (c *ProfileCheck) Field(p keystore.Problem) string {
	switch p.Code {
	case codeTruststoreMissing, codeTruststoreUnreadable:
		return "truststore.paths"
	case keystore.CodePasswordMissing, keystore.CodeWrongStorePassword, keystore.CodeIntegrityUnchecked:
		return "keystore.password"
	case keystore.CodeWrongKeyPassword:
		return "keystore.key_password"
	case keystore.CodeUnknownAlias, keystore.CodeAliasNotKeyEntry, keystore.CodeAmbiguousAlias, keystore.CodeAliasUnchecked:
		return "keystore.alias"
	}
	return "keystore.path"
}

// Codes of the problems CheckProfile finds before a keystore is opened.
const (
	codeKeystoreMissing      keystore.Code = "keystore_missing"
	codeKeystoreUnreadable   keystore.Code = "keystore_unreadable"
	codeTruststoreMissing    keystore.Code = "truststore_missing"
	codeTruststoreUnreadable keystore.Code = "truststore_unreadable"
)

// HasErrors reports whether a problem of error severity was found.
func (c *ProfileCheck) HasErrors() bool {
	for _, p := range c.Problems {
		if p.Severity == keystore.SeverityError {
			return true
		}
	}
	return false
}

// ExpiringWithin lists the certificates that expire within d of now.
func (c *ProfileCheck) ExpiringWithin(now time.Time, d time.Duration) []CertStatus {
	var out []CertStatus
	for _, s := range c.Certs {
		if s.NotAfter.Before(now.Add(d)) {
			out = append(out, s)
		}
	}
	return out
}

// SecretFunc resolves a secret reference.
type SecretFunc func(ctx context.Context, ref string) (string, error)

// CheckProfile opens a profile's keystore and trust store where this process
// runs and reports their certificates and problems. It never fails: what
// cannot be read becomes a problem or NotChecked.
func CheckProfile(ctx context.Context, p *engine.ProtocolProfile, baseDir string, resolve SecretFunc, now time.Time, within time.Duration) ProfileCheck {
	pc := ProfileCheck{Profile: p.Name, Source: p.Source}
	path := func(f string) string {
		if filepath.IsAbs(f) || baseDir == "" {
			return f
		}
		return filepath.Join(baseDir, f)
	}
	secret := func(ref *engine.SecretRef) (string, error) {
		if ref == nil {
			return "", nil
		}
		return resolve(ctx, ref.Ref)
	}
	ks := p.Keystore
	if ks != nil && ks.Path != "" && (p.Store == "agent" || (p.Store == "vault" && isSecretRef(ks.Path))) {
		// The keystore is not where the project is: agents open it where
		// the step runs (outflow worker --config FILE --check checks theirs).
		pc.NotChecked = fmt.Sprintf("keystore kept outside the project (store: %s) is opened where the step runs", p.Store)
		pc.NotCheckedField = "keystore.path"
		ks = nil
	}
	if ks != nil && ks.Path != "" {
		file := path(ks.Path)
		data, err := os.ReadFile(file)
		switch {
		case errors.Is(err, os.ErrNotExist):
			// The file may live only where the step runs (an agent, a
			// production worker): not an error here, but worth saying.
			pc.Problems = append(pc.Problems, keystore.Problem{Code: codeKeystoreMissing, Severity: keystore.SeverityWarning,
				Message: fmt.Sprintf("keystore %s does not exist on this machine (paths are relative to the project folder); it must exist on the workers that run the steps", file)})
		case err != nil:
			pc.Problems = append(pc.Problems, keystore.Problem{Code: codeKeystoreUnreadable, Severity: keystore.SeverityError,
				Message: fmt.Sprintf("reading keystore %s: %v", file, err)})
		default:
			pw, perr := secret(ks.Password)
			kpw, kerr := secret(ks.KeyPassword)
			if perr != nil || kerr != nil {
				pc.NotChecked = fmt.Sprintf("keystore %s not opened here: %v", file, errors.Join(perr, kerr))
				pc.NotCheckedField = "keystore.password"
				if perr == nil {
					pc.NotCheckedField = "keystore.key_password"
				}
				break
			}
			rep := keystore.Inspect(data, pw, kpw, ks.Alias, now, within)
			pc.Problems = append(pc.Problems, rep.Problems...)
			for _, e := range rep.Entries {
				if e.Kind == keystore.KindPrivateKey && !e.Selected {
					continue
				}
				for i, c := range e.Chain {
					role := "chain"
					if i == 0 && e.Kind == keystore.KindPrivateKey {
						role = "client"
					}
					if e.Kind != keystore.KindPrivateKey {
						role = "trust"
					}
					pc.Certs = append(pc.Certs, certStatus(role, c, file, now))
				}
			}
		}
	}
	if ts := p.Truststore; ts != nil {
		pw, perr := secret(ts.Password)
		for _, f := range ts.Paths {
			file := path(f)
			data, err := os.ReadFile(file)
			if errors.Is(err, os.ErrNotExist) {
				pc.Problems = append(pc.Problems, keystore.Problem{Code: codeTruststoreMissing, Severity: keystore.SeverityWarning,
					Message: fmt.Sprintf("trust store %s does not exist on this machine; it must exist on the workers that run the steps", file)})
				continue
			}
			if err != nil {
				pc.Problems = append(pc.Problems, keystore.Problem{Code: codeTruststoreUnreadable, Severity: keystore.SeverityError,
					Message: fmt.Sprintf("reading trust store %s: %v", file, err)})
				continue
			}
			if perr != nil {
				pc.NotChecked = fmt.Sprintf("trust store %s not opened here: %v", file, perr)
				pc.NotCheckedField = "truststore.password"
				continue
			}
			rep := keystore.Inspect(data, pw, "", "", now, within)
			for _, e := range rep.Entries {
				for _, c := range e.Chain {
					pc.Certs = append(pc.Certs, certStatus("trust", c, file, now))
				}
			}
		}
	}
	return pc
}

func certStatus(role string, c keystore.CertInfo, file string, now time.Time) CertStatus {
	days := int(math.Floor(c.NotAfter.Sub(now).Hours() / 24))
	return CertStatus{Role: role, Subject: c.Subject, Issuer: c.Issuer, NotAfter: c.NotAfter, DaysLeft: days, File: file}
}
