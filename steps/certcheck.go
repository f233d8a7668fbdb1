package steps

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/httpcall"
	"github.com/outflow-dev/outflow/steps/keystore"
	"github.com/outflow-dev/outflow/steps/secrets"
	"github.com/outflow-dev/outflow/steps/telemetry"
	"github.com/outflow-dev/outflow/steps/tlsclient"
)

// CertCheck is the certcheck activity (engine.CertCheckActivity): it opens
// the keystores and trust stores of a run's protocol profiles where the
// run's steps will open them — on this worker, with its agent's own key
// material and secret stores — and says which certificates have expired or
// expire soon. Its fields are set once when the worker starts; it is safe
// for concurrent use.
type CertCheck struct {
	// Transports decides where a profile's key material is on this worker
	// (store:, applies_to) when it is a *Transports; other implementations
	// are checked with the profile as written.
	Transports httpcall.Transports
	// Secrets resolves passwords; the Transports' resolver when nil.
	Secrets *secrets.Resolver
	// BaseDir, when set, is where this worker finds project files;
	// otherwise the plan's project folder is used.
	BaseDir string
	// Identity names this worker in messages.
	Identity string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Metrics, when set, learns the certificates checked (days left).
	Metrics *telemetry.Metrics
}

// Execute checks the profiles of one request. It fails only when its
// context ends: a keystore it cannot open is a note, since the step that
// opens it diagnoses the problem in detail.
func (a *CertCheck) Execute(ctx context.Context, req *engine.CertCheckRequest) (*engine.CertCheckResult, error) {
	res := &engine.CertCheckResult{Worker: a.Identity}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	baseDir := a.BaseDir
	if baseDir == "" {
		baseDir = req.ProjectRoot
	}
	tr, _ := a.Transports.(*Transports)
	for _, it := range req.Profiles {
		if it.Profile == nil {
			continue
		}
		who := fmt.Sprintf("protocol profile %q (%s %s)", it.Profile.Name, plural(len(it.Connections), "connection", "connections"), strings.Join(it.Connections, ", "))
		p := it.Profile
		if tr != nil {
			conn := &engine.Connection{Name: firstOf(it.Connections), Agent: it.Agent, MutualAuth: it.MutualAuth}
			placed, err := tr.placeProfile(ctx, conn, p, baseDir)
			if err != nil {
				res.Notes = append(res.Notes, fmt.Sprintf("%s: certificates not checked on %s: %v", who, a.where(), err))
				continue
			}
			p = placed
		}
		if !it.MutualAuth && p.Keystore != nil {
			// Without mutual_auth no client certificate is presented, so its
			// expiry cannot fail the run.
			cp := *p
			cp.Keystore = nil
			p = &cp
		}
		within := p.ExpiryWarning.D()
		if within <= 0 {
			within = tlsclient.DefaultExpiryWarning
		}
		pc := CheckProfile(ctx, p, baseDir, a.resolver(tr), now, within)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		failed := map[string]bool{}
		for _, pr := range pc.Problems {
			switch {
			case (pr.Code == keystore.CodeExpired || pr.Code == keystore.CodeNotYetValid) && pr.Severity == keystore.SeverityError:
				res.Failures = append(res.Failures, fmt.Sprintf("%s: %s", who, pr.Message))
				failed[pr.Subject] = true
			case pr.Severity == keystore.SeverityError:
				res.Notes = append(res.Notes, fmt.Sprintf("%s: %s", who, pr.Message))
			}
		}
		if pc.NotChecked != "" {
			res.Notes = append(res.Notes, fmt.Sprintf("%s: %s", who, pc.NotChecked))
		}
		for _, c := range pc.Certs {
			a.Metrics.ObserveCertificate(it.Profile.Name, roleMetric(c.Role), c.Subject, c.NotAfter)
			switch {
			case failed[c.Subject]:
			case !c.NotAfter.After(now):
				res.Notes = append(res.Notes, fmt.Sprintf("%s: the %s certificate %s in %s expired on %s",
					who, roleName(c.Role), c.Subject, c.File, c.NotAfter.UTC().Format(time.DateOnly)))
			case c.NotAfter.Before(now.Add(within)):
				res.Notes = append(res.Notes, fmt.Sprintf("%s: the %s certificate %s expires on %s, in %s; renew it before then",
					who, roleName(c.Role), c.Subject, c.NotAfter.UTC().Format(time.DateOnly), daysLeft(c.NotAfter.Sub(now))))
			}
		}
	}
	return res, nil
}

func (a *CertCheck) resolver(tr *Transports) SecretFunc {
	switch {
	case a.Secrets != nil:
		return a.Secrets.Resolve
	case tr != nil && tr.Secrets != nil:
		return tr.Secrets.Resolve
	}
	return secrets.New(a.BaseDir).Resolve
}

func (a *CertCheck) where() string {
	if a.Identity == "" {
		return "this worker"
	}
	return "worker " + a.Identity
}

// roleMetric is the role label of the days-left gauge.
func roleMetric(role string) string {
	switch role {
	case "trust", "chain":
		return role
	}
	return "client"
}

func roleName(role string) string {
	switch role {
	case "trust":
		return "trusted"
	case "chain":
		return "chain"
	}
	return "client"
}

func daysLeft(d time.Duration) string {
	if days := int(d.Hours() / 24); days >= 2 {
		return fmt.Sprintf("%d days", days)
	}
	return d.Round(time.Minute).String()
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
