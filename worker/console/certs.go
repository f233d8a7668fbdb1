package console

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps"
	"github.com/outflow-dev/outflow/steps/keystore"
	"github.com/outflow-dev/outflow/steps/secrets"
)

// certRow is one certificate of a protocol profile on the certificates
// page.
type certRow struct {
	Profile     string
	Connections string
	Role        string
	Subject     string
	Issuer      string
	NotAfter    time.Time
	DaysLeft    int
	File        string
	Expiring    bool
	Expired     bool
	// Handshake is the last time a worker presented the profile's client
	// certificate in a step the console found.
	Handshake *handshake
}

// handshake is a client certificate as a worker presented it in a step.
type handshake struct {
	When       time.Time
	Subject    string
	NotAfter   time.Time
	DaysLeft   int
	Worker     string
	Execution  string
	Step       string
	Version    string
	Connection string
}

// profileNotes are what could not be checked, and what workers noted.
type profileNotes struct {
	Profile     string
	NotChecked  string
	Problems    []string
	WorkerNotes []string
	Handshake   *handshake
}

type certsData struct {
	Rows       []certRow
	Notes      []profileNotes
	Err        string
	NoProject  bool
	WithinDays int
	Scanned    int
}

// certScan is how many recent executions the certificates page reads for
// handshakes and the workers' certificate notes.
const certScan = 25

func (c *Console) certificatesPage(w http.ResponseWriter, r *http.Request) {
	d := c.certificates(r.Context())
	c.render(w, r, http.StatusOK, "certs", identityOf(r), d)
}

// certificates lists each protocol profile's certificates: as this host
// reads them from the project's files, and as workers presented them in
// the most recent executions' steps, expiring first.
func (c *Console) certificates(ctx context.Context) certsData {
	d := certsData{NoProject: c.o.Project == nil, WithinDays: int(c.o.CertWithin.Hours() / 24)}
	if c.o.Project == nil {
		return d
	}
	uses, err := c.o.Project.Profiles()
	if err != nil {
		d.Err = err.Error()
		return d
	}
	now := c.o.Now()
	profileOf := map[string]string{}
	for _, u := range uses {
		for _, conn := range u.Connections {
			profileOf[conn] = u.Profile.Name
		}
	}
	shakes, notes, scanned := c.recentHandshakes(ctx, profileOf, now)
	d.Scanned = scanned
	res := secrets.New(c.o.Project.Root())
	for _, u := range uses {
		p := u.Profile
		pc := steps.CheckProfile(ctx, p, c.o.Project.Root(), res.Resolve, now, c.o.CertWithin)
		pn := profileNotes{Profile: p.Name, NotChecked: pc.NotChecked, WorkerNotes: notes[p.Name], Handshake: shakes[p.Name]}
		for _, pr := range pc.Problems {
			if pr.Severity != keystore.SeverityInfo {
				pn.Problems = append(pn.Problems, fmt.Sprintf("%s: %s", pr.Severity, pr.Message))
			}
		}
		hasClient := false
		for _, cs := range pc.Certs {
			if cs.Role == "client" && !u.MutualAuth {
				continue // not presented by any connection
			}
			row := certRow{Profile: p.Name, Connections: strings.Join(u.Connections, ", "), Role: cs.Role, Subject: cs.Subject,
				Issuer: cs.Issuer, NotAfter: cs.NotAfter, DaysLeft: cs.DaysLeft, File: cs.File,
				Expired: !cs.NotAfter.After(now), Expiring: cs.NotAfter.Before(now.Add(c.o.CertWithin))}
			if rel, err := filepath.Rel(c.o.Project.Root(), cs.File); err == nil && !strings.HasPrefix(rel, "..") {
				row.File = filepath.ToSlash(rel)
			}
			if cs.Role == "client" {
				row.Handshake = shakes[p.Name]
				hasClient = true
			}
			d.Rows = append(d.Rows, row)
		}
		if h := shakes[p.Name]; h != nil && !hasClient {
			// The keystore is not readable here (kept on an agent), but a
			// worker presented it: that is how the workers see it.
			d.Rows = append(d.Rows, certRow{Profile: p.Name, Connections: strings.Join(u.Connections, ", "), Role: "client",
				Subject: h.Subject, NotAfter: h.NotAfter, DaysLeft: h.DaysLeft, File: "(as presented by " + dash(h.Worker) + ")",
				Expired: !h.NotAfter.After(now), Expiring: h.NotAfter.Before(now.Add(c.o.CertWithin)), Handshake: h})
		}
		if pn.NotChecked != "" || len(pn.Problems) > 0 || len(pn.WorkerNotes) > 0 {
			d.Notes = append(d.Notes, pn)
		}
	}
	sort.SliceStable(d.Rows, func(i, j int) bool {
		if d.Rows[i].NotAfter.Equal(d.Rows[j].NotAfter) {
			return d.Rows[i].Profile < d.Rows[j].Profile
		}
		return d.Rows[i].NotAfter.Before(d.Rows[j].NotAfter)
	})
	return d
}

func dash(s string) string {
	if s == "" {
		return "a worker"
	}
	return s
}

// recentHandshakes reads the records of the latest ended executions and
// finds, per profile, the newest step that presented a client certificate,
// and the certificate notes the workers' checks left in the records.
func (c *Console) recentHandshakes(ctx context.Context, profileOf map[string]string, now time.Time) (map[string]*handshake, map[string][]string, int) {
	shakes := map[string]*handshake{}
	notes := map[string][]string{}
	resp, err := c.o.Client.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: c.o.Client.Namespace, PageSize: certScan,
		Query: fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus != 'Running'", engine.WorkflowName),
	})
	if err != nil {
		return shakes, notes, 0
	}
	noted := map[string]bool{}
	scanned := 0
	for _, e := range resp.Executions {
		rec, err := c.closedRecord(ctx, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId())
		if err != nil || rec == nil {
			continue
		}
		scanned++
		for _, s := range rec.Steps {
			prof := profileOf[s.Connection]
			if prof == "" || s.TLS == nil || s.TLS.ClientCertificate == nil {
				continue
			}
			if h := shakes[prof]; h != nil && !s.Start.After(h.When) {
				continue
			}
			cc := s.TLS.ClientCertificate
			shakes[prof] = &handshake{When: s.Start, Subject: cc.Subject, NotAfter: cc.NotAfter, DaysLeft: daysLeft(cc.NotAfter, now),
				Worker: s.Worker, Execution: rec.WorkflowID, Step: s.ID, Version: s.TLS.Version, Connection: s.Connection}
		}
		for _, n := range rec.Notes {
			for _, prof := range profileOf {
				if strings.Contains(n, fmt.Sprintf("protocol profile %q", prof)) && !noted[n] {
					noted[n] = true
					notes[prof] = append(notes[prof], n)
				}
			}
		}
	}
	return shakes, notes, scanned
}
