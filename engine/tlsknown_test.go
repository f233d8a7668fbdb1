package engine

import (
	"context"
	"sync"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// tlsPartner answers with the TLS facts of a pooled connection, and, as
// the rest and soap activities do, leaves out the certificates the request
// says the workflow knows. chain is the server's leaf subject per path.
type tlsPartner struct {
	mu    sync.Mutex
	known []string // KnownTLS of each request, in order
	leaf  map[string]string
}

func (f *tlsPartner) rest(ctx context.Context, req *RestRequest) (*StepResult, error) {
	f.mu.Lock()
	f.known = append(f.known, req.KnownTLS)
	leaf := f.leaf[req.Path]
	f.mu.Unlock()
	if leaf == "" {
		leaf = "CN=partner"
	}
	facts := &TLSFacts{Version: "TLS 1.3", ClientAuth: ClientAuthMTLS,
		ClientCertificate: &CertFacts{Subject: "CN=svc", FingerprintSHA256: "AA"},
		ServerChain:       []CertFacts{{Subject: leaf, FingerprintSHA256: "fp-" + leaf}, {Subject: "CN=CA", FingerprintSHA256: "CC"}}}
	return &StepResult{Attempt: int(activity.GetInfo(ctx).Attempt), Request: RequestSummary{Method: req.Method, URL: "https://partner" + req.Path},
		Response: &ResponseSummary{StatusCode: 200, JSON: map[string]any{"ok": true}}, TLS: facts.WithoutKnown(req.KnownTLS)}, nil
}

// The second call on a connection tells its activity the certificates the
// first one saw; the activity leaves them out of its result, and the record
// has them whole for every step. A partner whose certificate changed gets
// its new chain into the record.
func TestKnownTLSLeftOutOfResults(t *testing.T) {
	p := testPlan(restStep("a", "/a"), restStep("b", "/b"), restStep("c", "/rotated"), restStep("d", "/d"))
	partner := &tlsPartner{leaf: map[string]string{"/rotated": "CN=partner-new"}}
	rec, err := runTLSPlan(t, p, partner)
	if err != nil {
		t.Fatal(err)
	}
	if partner.known[0] != "" || partner.known[1] == "" || partner.known[2] != partner.known[1] || partner.known[3] == partner.known[2] {
		t.Fatalf("KnownTLS per request = %q: want none, then the first call's, then the rotated chain's", partner.known)
	}
	for id, leaf := range map[string]string{"a": "CN=partner", "b": "CN=partner", "c": "CN=partner-new", "d": "CN=partner"} {
		st := rec.Step(id)
		if st.TLS == nil || st.TLS.Known != "" || st.TLS.ClientCertificate == nil || len(st.TLS.ServerChain) != 2 || st.TLS.ServerChain[0].Subject != leaf {
			t.Errorf("step %s: TLS facts %+v, want the whole chain with leaf %s", id, st.TLS, leaf)
		}
	}
	// The facts without certificates are what the activity returned: about
	// 700 bytes less per step on a real chain.
	full := &TLSFacts{ClientCertificate: &CertFacts{FingerprintSHA256: "AA"}}
	if got := full.WithoutKnown(full.CertificatesKey()); got.ClientCertificate != nil || got.Known == "" || full.ClientCertificate == nil {
		t.Errorf("WithoutKnown = %+v (and changed its receiver: %v)", got, full.ClientCertificate == nil)
	}
	if got := full.WithoutKnown("other"); got != full {
		t.Errorf("WithoutKnown of other certificates changed the facts")
	}
}

func runTLSPlan(t *testing.T, p *Plan, partner *tlsPartner) (*Record, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(FlowWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivityWithOptions(partner.rest, activity.RegisterOptions{Name: RestActivity})
	env.ExecuteWorkflow(WorkflowName, RunInput{Plan: p, Inputs: map[string]any{"id": "1"}})
	if err := env.GetWorkflowError(); err != nil {
		return nil, err
	}
	var rec Record
	if err := env.GetWorkflowResult(&rec); err != nil {
		return nil, err
	}
	return &rec, nil
}
