package steps

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/keystore/devpki"
)

// certFiles writes a client bundle valid until notAfter and the CA that
// signed it, and returns their paths relative to dir.
func certFiles(t *testing.T, dir, name string, ca *devpki.CA, notAfter time.Time) (bundle string) {
	t.Helper()
	leaf, err := ca.IssueClient("svc-"+name, &devpki.Options{NotBefore: time.Now().Add(-400 * 24 * time.Hour), NotAfter: notAfter})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.WriteFiles(dir, name); err != nil {
		t.Fatal(err)
	}
	return name + "-bundle.pem"
}

func TestCertCheck(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	ca, err := devpki.NewCA("Test CA", nil)
	if err != nil {
		t.Fatal(err)
	}
	expired := certFiles(t, dir, "expired", ca, now.Add(-48*time.Hour))
	soon := certFiles(t, dir, "soon", ca, now.Add(5*24*time.Hour))
	fine := certFiles(t, dir, "fine", ca, now.Add(365*24*time.Hour))
	future, err := ca.IssueClient("svc-future", &devpki.Options{NotBefore: now.Add(24 * time.Hour), NotAfter: now.Add(400 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := future.WriteFiles(dir, "future"); err != nil {
		t.Fatal(err)
	}
	oldCA, err := devpki.NewCA("Old CA", &devpki.Options{NotBefore: now.Add(-400 * 24 * time.Hour), NotAfter: now.Add(10 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "old-ca.pem"), oldCA.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	profile := func(name, keystore string) *engine.ProtocolProfile {
		return &engine.ProtocolProfile{Name: name, Keystore: &engine.Keystore{Path: keystore}}
	}
	check := &CertCheck{Transports: NewTransports(nil), Identity: "w1"}

	cases := []struct {
		name      string
		item      engine.CertCheckItem
		failures  []string // substrings, one per failure
		notes     []string // substrings, one per note
		noneNotes bool
	}{
		{
			name:     "expired client certificate fails",
			item:     engine.CertCheckItem{Profile: profile("p-expired", expired), MutualAuth: true, Connections: []string{"partner"}},
			failures: []string{`protocol profile "p-expired" (connection partner): the certificate CN=svc-expired`},
		},
		{
			name:     "client certificate not yet valid fails",
			item:     engine.CertCheckItem{Profile: profile("p-future", "future-bundle.pem"), MutualAuth: true, Connections: []string{"partner"}},
			failures: []string{"CN=svc-future,O=Outflow Dev is not valid until"},
		},
		{
			name:  "expiring client certificate is a note",
			item:  engine.CertCheckItem{Profile: profile("p-soon", soon), MutualAuth: true, Connections: []string{"a", "b"}},
			notes: []string{`protocol profile "p-soon" (connections a, b): the client certificate CN=svc-soon`},
		},
		{
			name:      "valid certificate says nothing",
			item:      engine.CertCheckItem{Profile: profile("p-fine", fine), MutualAuth: true, Connections: []string{"partner"}},
			noneNotes: true,
		},
		{
			name:      "no mutual_auth: the keystore is not presented",
			item:      engine.CertCheckItem{Profile: profile("p-expired", expired), Connections: []string{"partner"}},
			noneNotes: true,
		},
		{
			name:  "missing keystore is a note, left to the step to diagnose",
			item:  engine.CertCheckItem{Profile: profile("p-missing", "nope.pem"), MutualAuth: true, Connections: []string{"partner"}},
			notes: []string{"not checked on worker w1"},
		},
		{
			name: "trusted certificate expiring soon is a note",
			item: engine.CertCheckItem{Profile: &engine.ProtocolProfile{Name: "p-trust", Truststore: &engine.Truststore{Paths: []string{"old-ca.pem"}}},
				Connections: []string{"partner"}},
			notes: []string{"the trusted certificate CN=Old CA"},
		},
		{
			name: "the profile's warning window counts",
			item: engine.CertCheckItem{Profile: &engine.ProtocolProfile{Name: "p-short", Keystore: &engine.Keystore{Path: soon}, ExpiryWarning: engine.Duration(24 * time.Hour)},
				MutualAuth: true, Connections: []string{"partner"}},
			noneNotes: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := check.Execute(context.Background(), &engine.CertCheckRequest{ProjectRoot: dir, Profiles: []engine.CertCheckItem{tc.item}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Worker != "w1" {
				t.Errorf("worker = %q", res.Worker)
			}
			matchAll(t, "failure", res.Failures, tc.failures)
			if tc.noneNotes || tc.notes != nil {
				matchAll(t, "note", res.Notes, tc.notes)
			}
		})
	}
}

// matchAll wants exactly one entry of got per substring in want, in order.
func matchAll(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d %ss, want %d: %q", len(got), what, len(want), got)
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("%s %d = %q, want it to contain %q", what, i, got[i], want[i])
		}
	}
}

// TestCertCheckAppliesTo checks that a profile this worker may not use is
// not opened: the step refuses it with a precise message, the check notes it.
func TestCertCheckAppliesTo(t *testing.T) {
	check := &CertCheck{Transports: NewTransports(nil), Identity: "w1"}
	p := &engine.ProtocolProfile{Name: "dmz-only", AppliesTo: []string{"dmz"}, Keystore: &engine.Keystore{Path: "client.pem"}}
	res, err := check.Execute(context.Background(), &engine.CertCheckRequest{ProjectRoot: t.TempDir(),
		Profiles: []engine.CertCheckItem{{Profile: p, MutualAuth: true, Connections: []string{"partner"}}}})
	if err != nil {
		t.Fatal(err)
	}
	matchAll(t, "failure", res.Failures, nil)
	matchAll(t, "note", res.Notes, []string{"applies to dmz only"})
}
