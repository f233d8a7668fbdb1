package flows_test

import (
	"errors"
	"os"
	"path"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/wsdl"
	"github.com/outflow-dev/outflow/flows"
)

const remoteWSDLProject = `kind: ProtocolProfile
name: partner-mtls
keystore: {path: certs/client.p12, password: {secret: env:KS_PW}}
---
kind: Connection
name: partner-soap
url: https://soap.partner.example:8443/ws
mutual_auth: true
protocol_profile: partner-mtls
credential: {type: basic, username: svc, password: {secret: env:SOAP_PW}}
---
kind: Flow
name: status
steps:
  - id: a
    soap: {connection: partner-soap, wsdl: "https://soap.partner.example:8443/ws/orders?wsdl", operation: GetOrderStatus, body: {OrderId: "1"}}
  - id: b
    soap: {connection: partner-soap, wsdl: "https://soap.partner.example:8443/ws/orders?wsdl", operation: GetOrderStatus, body: {OrderId: "2"}}
`

func ordersWSDL(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/valid/partner/wsdl/orders.wsdl")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWSDLByURLIsFetchedThroughItsConnection(t *testing.T) {
	const u = "https://soap.partner.example:8443/ws/orders?wsdl"
	var calls []string
	fetch := func(conn *engine.Connection, profile *engine.ProtocolProfile, loc string) ([]byte, error) {
		if profile == nil || profile.Name != "partner-mtls" || profile.Keystore == nil {
			t.Errorf("fetch got profile %+v, want partner-mtls with its keystore", profile)
		}
		if conn.Credential == nil || conn.Credential.Password == nil || conn.Credential.Password.Ref != "env:SOAP_PW" || !conn.MutualAuth {
			t.Errorf("fetch got connection %+v without its credential reference or mutual_auth", conn)
		}
		calls = append(calls, conn.Name+" "+loc)
		return ordersWSDL(t), nil
	}
	p, err := flows.LoadFS(fstest.MapFS{"p.yaml": {Data: []byte(remoteWSDLProject)}}, "/p", flows.WithWSDLFetcher(fetch))
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0] != "partner-soap "+u {
		t.Fatalf("fetches: %q; want one through partner-soap however many steps use it", calls)
	}
	plan, err := p.Plan("status")
	if err != nil {
		t.Fatal(err)
	}
	s := plan.Steps[0].Soap
	if s == nil || s.Definitions == nil || s.WSDL != u {
		t.Fatalf("soap step %+v carries no definitions", s)
	}
	if _, _, _, err := s.Definitions.Lookup("", "", "GetOrderStatus"); err != nil {
		t.Fatal(err)
	}
}

func TestWSDLByURLFromTheCacheWithoutFetcher(t *testing.T) {
	const u = "https://soap.partner.example:8443/ws/orders?wsdl"
	fsys := fstest.MapFS{
		"p.yaml": {Data: []byte(remoteWSDLProject)},
		path.Join(wsdl.CacheDir, wsdl.CacheName(u)): {Data: ordersWSDL(t)},
	}
	p, err := flows.LoadFS(fsys, "/p")
	if err != nil {
		t.Fatal(err)
	}
	if plan, err := p.Plan("status"); err != nil || plan.Steps[1].Soap.Definitions == nil {
		t.Fatalf("plan from the cached WSDL: %v", err)
	}

	// Never fetched: a positioned error that says how to fetch it.
	_, err = flows.LoadFS(fstest.MapFS{"p.yaml": {Data: []byte(remoteWSDLProject)}}, "/p")
	var ps flows.Problems
	if !errors.As(err, &ps) || len(ps) != 2 {
		t.Fatalf("err = %v, want a problem for each step", err)
	}
	if got := ps[0].String(); !strings.HasPrefix(got, "p.yaml:16:44: steps[0].soap.wsdl:") || !strings.Contains(got, "outflow soap fetch") {
		t.Fatalf("problem = %s", got)
	}
}

func TestWSDLByURLFetchErrorsArePositioned(t *testing.T) {
	fetch := func(*engine.Connection, *engine.ProtocolProfile, string) ([]byte, error) {
		return nil, errors.New("GET https://soap.partner.example:8443/ws/orders?wsdl answered 404 Not Found: no such service")
	}
	_, err := flows.LoadFS(fstest.MapFS{"p.yaml": {Data: []byte(remoteWSDLProject)}}, "/p", flows.WithWSDLFetcher(fetch))
	var ps flows.Problems
	if !errors.As(err, &ps) || len(ps) == 0 || !strings.Contains(ps[0].String(), "p.yaml:16:44") || !strings.Contains(ps[0].String(), "404 Not Found: no such service") {
		t.Fatalf("err = %v", err)
	}

	// An import that leaves the connection's host is refused before any fetch.
	var fetched []string
	evil := strings.Replace(string(ordersWSDL(t)), "<wsdl:types>", `<wsdl:import namespace="urn:x" location="https://evil.example/x.wsdl"/><wsdl:types>`, 1)
	if evil == string(ordersWSDL(t)) {
		t.Fatal("test WSDL has no <wsdl:types>")
	}
	fetch = func(_ *engine.Connection, _ *engine.ProtocolProfile, loc string) ([]byte, error) {
		fetched = append(fetched, loc)
		return []byte(evil), nil
	}
	_, err = flows.LoadFS(fstest.MapFS{"p.yaml": {Data: []byte(remoteWSDLProject)}}, "/p", flows.WithWSDLFetcher(fetch))
	if err == nil || !strings.Contains(err.Error(), "evil.example") || !strings.Contains(err.Error(), "connection's host") {
		t.Fatalf("err = %v", err)
	}
	for _, f := range fetched {
		if strings.Contains(f, "evil") {
			t.Fatalf("fetched %s", f)
		}
	}
}
