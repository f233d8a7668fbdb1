package engine

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// certCheckWorkflow runs checkCertificates alone, as FlowWorkflow does
// before the first step of a scheduled run.
func certCheckWorkflow(ctx workflow.Context, plan *Plan) (*Record, error) {
	r := &runner{plan: plan, rec: &Record{Flow: plan.Name}}
	if err := checkCertificates(ctx, r); err != nil {
		return r.rec, err
	}
	return r.rec, nil
}

// fakeCertCheck answers per task queue and remembers what each queue was
// asked.
type fakeCertCheck struct {
	mu      sync.Mutex
	asked   map[string]*CertCheckRequest
	answers map[string]*CertCheckResult
	fail    map[string]error
}

func (f *fakeCertCheck) check(ctx context.Context, req *CertCheckRequest) (*CertCheckResult, error) {
	q := activity.GetInfo(ctx).TaskQueue
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked[q] = req
	if err := f.fail[q]; err != nil {
		return nil, err
	}
	if a := f.answers[q]; a != nil {
		return a, nil
	}
	return &CertCheckResult{}, nil
}

func runCertCheck(t *testing.T, plan *Plan, f *fakeCertCheck) (*Record, error) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(certCheckWorkflow)
	env.RegisterActivityWithOptions(f.check, activity.RegisterOptions{Name: CertCheckActivity})
	env.ExecuteWorkflow(certCheckWorkflow, plan)
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		return nil, err
	}
	var rec Record
	if err := env.GetWorkflowResult(&rec); err != nil {
		t.Fatal(err)
	}
	return &rec, nil
}

func certPlan() *Plan {
	mtls := &ProtocolProfile{Name: "mtls", Keystore: &Keystore{Path: "client.p12"}}
	trust := &ProtocolProfile{Name: "trust", Truststore: &Truststore{Paths: []string{"ca.pem"}}}
	return &Plan{
		Name: "sync", Kind: "Flow", ProjectRoot: "/p",
		Connections: map[string]*Connection{
			"b-dmz":   {Name: "b-dmz", Scheme: "https", Host: "b", MutualAuth: true, ProtocolProfile: "mtls", Agent: "dmz"},
			"a-local": {Name: "a-local", Scheme: "https", Host: "a", MutualAuth: true, ProtocolProfile: "mtls"},
			"c-local": {Name: "c-local", Scheme: "https", Host: "c", ProtocolProfile: "mtls"},
			"d-trust": {Name: "d-trust", Scheme: "https", Host: "d", ProtocolProfile: "trust"},
			"e-plain": {Name: "e-plain", Scheme: "http", Host: "e", ProtocolProfile: "trust"},
			"f-none":  {Name: "f-none", Scheme: "https", Host: "f"},
		},
		Profiles: map[string]*ProtocolProfile{"mtls": mtls, "trust": trust},
	}
}

// TestCertCheckPerQueue checks that each agent's queue is asked about the
// profiles its connections use, once per profile, and that notes of every
// queue reach the record.
func TestCertCheckPerQueue(t *testing.T) {
	f := &fakeCertCheck{asked: map[string]*CertCheckRequest{}, answers: map[string]*CertCheckResult{
		DefaultTaskQueue:      {Notes: []string{"local note"}},
		AgentTaskQueue("dmz"): {Notes: []string{"dmz note"}},
	}}
	rec, err := runCertCheck(t, certPlan(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.asked) != 2 {
		t.Fatalf("asked queues %v, want the default queue and dmz's", keys(f.asked))
	}
	local := f.asked[DefaultTaskQueue]
	if local.ProjectRoot != "/p" || len(local.Profiles) != 2 {
		t.Fatalf("default queue asked %+v", local)
	}
	if it := local.Profiles[0]; it.Profile.Name != "mtls" || !it.MutualAuth || strings.Join(it.Connections, ",") != "a-local,c-local" {
		t.Errorf("default queue, first item %+v", it)
	}
	if it := local.Profiles[1]; it.Profile.Name != "trust" || it.MutualAuth || strings.Join(it.Connections, ",") != "d-trust" {
		t.Errorf("default queue, second item %+v (the http connection must not count)", it)
	}
	dmz := f.asked[AgentTaskQueue("dmz")]
	if len(dmz.Profiles) != 1 || dmz.Profiles[0].Agent != "dmz" || dmz.Profiles[0].Connections[0] != "b-dmz" {
		t.Errorf("dmz asked %+v", dmz)
	}
	sort.Strings(rec.Notes)
	if strings.Join(rec.Notes, "|") != "dmz note|local note" {
		t.Errorf("notes = %q", rec.Notes)
	}
}

func TestCertCheckFailsRun(t *testing.T) {
	f := &fakeCertCheck{asked: map[string]*CertCheckRequest{}, answers: map[string]*CertCheckResult{
		AgentTaskQueue("dmz"): {Failures: []string{"the certificate CN=svc expired on 2024-01-01"}, Notes: []string{"kept"}},
	}}
	_, err := runCertCheck(t, certPlan(), f)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != ErrCertificate ||
		!strings.Contains(appErr.Message(), "checking certificates before the run: the certificate CN=svc expired on 2024-01-01") {
		t.Fatalf("error = %v, want a Certificate error naming the certificate", err)
	}
}

// TestCertCheckUnavailable checks that a check that cannot run (a worker
// without the activity, say) is a note and not a failure.
func TestCertCheckUnavailable(t *testing.T) {
	f := &fakeCertCheck{asked: map[string]*CertCheckRequest{}, fail: map[string]error{
		AgentTaskQueue("dmz"): temporal.NewNonRetryableApplicationError("no such activity", "Unregistered", nil),
	}}
	rec, err := runCertCheck(t, certPlan(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Notes) != 1 || !strings.Contains(rec.Notes[0], "task queue outflow-agent-dmz were not checked before the run: no such activity") {
		t.Errorf("notes = %q", rec.Notes)
	}
}

func TestCertCheckNothingToCheck(t *testing.T) {
	f := &fakeCertCheck{asked: map[string]*CertCheckRequest{}}
	p := certPlan()
	p.Profiles = nil
	if _, err := runCertCheck(t, p, f); err != nil {
		t.Fatal(err)
	}
	if len(f.asked) != 0 {
		t.Errorf("asked %v, want nothing", keys(f.asked))
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestCertCheckKeepsMutualAuthAcrossProfiles pins a defect: the item of a
// profile was kept as a pointer into the request's slice, and appending the
// item of another profile moved the slice, so a later connection's
// mutual_auth landed on a stale copy. With a (profile P, no mutual auth),
// b (profile Q) and c (profile P, mutual auth) the worker was asked about
// P without its client keystore, and an expired client certificate no
// longer stopped a scheduled run.
func TestCertCheckKeepsMutualAuthAcrossProfiles(t *testing.T) {
	p := &ProtocolProfile{Name: "p", Keystore: &Keystore{Path: "client.p12"}}
	q := &ProtocolProfile{Name: "q", Truststore: &Truststore{Paths: []string{"ca.pem"}}}
	plan := &Plan{
		Name: "sync", Kind: "Flow",
		Connections: map[string]*Connection{
			"a": {Name: "a", Scheme: "https", Host: "a", ProtocolProfile: "p"},
			"b": {Name: "b", Scheme: "https", Host: "b", ProtocolProfile: "q"},
			"c": {Name: "c", Scheme: "https", Host: "c", ProtocolProfile: "p", MutualAuth: true},
		},
		Profiles: map[string]*ProtocolProfile{"p": p, "q": q},
	}
	f := &fakeCertCheck{asked: map[string]*CertCheckRequest{}}
	if _, err := runCertCheck(t, plan, f); err != nil {
		t.Fatal(err)
	}
	req := f.asked[DefaultTaskQueue]
	if req == nil || len(req.Profiles) != 2 {
		t.Fatalf("default queue asked %+v, want profiles p and q", req)
	}
	if it := req.Profiles[0]; it.Profile.Name != "p" || !it.MutualAuth || strings.Join(it.Connections, ",") != "a,c" {
		t.Errorf("profile p asked as %+v, want mutual auth (connection c) and connections a,c", it)
	}
	if it := req.Profiles[1]; it.Profile.Name != "q" || it.MutualAuth || strings.Join(it.Connections, ",") != "b" {
		t.Errorf("profile q asked as %+v", it)
	}

	// What it cost: a worker checks the client keystore only of an item
	// with mutual auth (steps.CertCheck), so the expired client certificate
	// of p must still fail the run.
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(certCheckWorkflow)
	env.RegisterActivityWithOptions(func(ctx context.Context, req *CertCheckRequest) (*CertCheckResult, error) {
		res := &CertCheckResult{}
		for _, it := range req.Profiles {
			if it.MutualAuth && it.Profile.Keystore != nil {
				res.Failures = append(res.Failures, "the client certificate of profile "+it.Profile.Name+" expired")
			}
		}
		return res, nil
	}, activity.RegisterOptions{Name: CertCheckActivity})
	env.ExecuteWorkflow(certCheckWorkflow, plan)
	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != ErrCertificate ||
		!strings.Contains(appErr.Message(), "the client certificate of profile p expired") {
		t.Fatalf("error = %v, want the expired client certificate of p to fail the run", err)
	}
}
