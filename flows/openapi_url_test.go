package flows_test

import (
	"errors"
	"path"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/openapi"
	"github.com/outflow-dev/outflow/flows"
)

const (
	specURL    = "https://api.bank.example:8443/psd2/openapi.yaml"
	schemasURL = "https://api.bank.example:8443/psd2/schemas.yaml"
)

const remoteSpecProject = `kind: ProtocolProfile
name: bank-mtls
keystore: {path: certs/client.p12, password: {secret: env:KS_PW}}
---
kind: Connection
name: bank
url: https://api.bank.example:8443/psd2
mutual_auth: true
protocol_profile: bank-mtls
credential: {type: basic, username: svc, password: {secret: env:BANK_PW}}
openapi: "https://api.bank.example:8443/psd2/openapi.yaml"
---
kind: Flow
name: pay
steps:
  - id: a
    rest: {connection: bank, operation: getPayment, params: {id: "1"}, validate_response: true}
  - id: b
    rest: {connection: bank, method: GET, path: /payments/2}
outputs:
  status: "${{ steps.a.json.status }}"
`

const remoteSpec = `openapi: 3.1.0
info: {title: bank, version: "1"}
paths:
  /payments/{id}:
    get:
      operationId: getPayment
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: the payment
          content: {application/json: {schema: {$ref: 'schemas.yaml#/Payment'}}}
`

const remoteSchemas = `Payment:
  type: object
  required: [id, status]
  properties:
    id: {type: string}
    status: {type: string, enum: [pending, booked]}
`

func TestOpenAPIByURLIsFetchedThroughItsConnection(t *testing.T) {
	var calls []string
	fetch := func(conn *engine.Connection, profile *engine.ProtocolProfile, loc string) ([]byte, error) {
		if profile == nil || profile.Name != "bank-mtls" || profile.Keystore == nil {
			t.Errorf("fetch got profile %+v, want bank-mtls with its keystore", profile)
		}
		if conn.Credential == nil || conn.Credential.Password == nil || conn.Credential.Password.Ref != "env:BANK_PW" || !conn.MutualAuth {
			t.Errorf("fetch got connection %+v without its credential reference or mutual_auth", conn)
		}
		calls = append(calls, conn.Name+" "+loc)
		switch loc {
		case specURL:
			return []byte(remoteSpec), nil
		case schemasURL:
			return []byte(remoteSchemas), nil
		}
		return nil, errors.New("404")
	}
	p, err := flows.LoadFS(fstest.MapFS{"p.yaml": {Data: []byte(remoteSpecProject)}}, "/p", flows.WithOpenAPIFetcher(fetch))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(calls, "\n") != "bank "+specURL+"\nbank "+schemasURL {
		t.Fatalf("fetches: %q; want the document and the one it refers to, once each, through bank", calls)
	}
	plan, err := p.Plan("pay")
	if err != nil {
		t.Fatal(err)
	}
	a := plan.Steps[0].Rest
	if a.Method != "GET" || a.Path != "/payments/1" || a.Responses == nil || a.Responses.Schemas["Payment"] == nil {
		t.Fatalf("step a compiled to %+v", a)
	}
	if spec, named := p.OpenAPI("bank"); spec == nil || named != specURL {
		t.Fatalf("OpenAPI(bank) = %v, %q", spec, named)
	}
}

func TestOpenAPIByURLFromTheCacheWithoutFetcher(t *testing.T) {
	fsys := fstest.MapFS{
		"p.yaml": {Data: []byte(remoteSpecProject)},
		path.Join(openapi.CacheDir, openapi.CacheName(specURL)):    {Data: []byte(remoteSpec)},
		path.Join(openapi.CacheDir, openapi.CacheName(schemasURL)): {Data: []byte(remoteSchemas)},
	}
	p, err := flows.LoadFS(fsys, "/p")
	if err != nil {
		t.Fatal(err)
	}
	if plan, err := p.Plan("pay"); err != nil || plan.Steps[0].Rest.Path != "/payments/1" {
		t.Fatalf("plan from the cached document: %v", err)
	}

	// Never fetched: a positioned error that says how to fetch it.
	_, err = flows.LoadFS(fstest.MapFS{"p.yaml": {Data: []byte(remoteSpecProject)}}, "/p")
	var ps flows.Problems
	if !errors.As(err, &ps) || len(ps) != 1 {
		t.Fatalf("err = %v, want one problem", err)
	}
	if got := ps[0].String(); !strings.HasPrefix(got, "p.yaml:11:10: openapi:") || !strings.Contains(got, "outflow openapi fetch") {
		t.Fatalf("problem = %s", got)
	}
}

func TestOpenAPIByURLRefusesOtherHosts(t *testing.T) {
	var fetched []string
	evil := strings.Replace(remoteSpec, "schemas.yaml#/Payment", "https://evil.example/schemas.yaml#/Payment", 1)
	fetch := func(_ *engine.Connection, _ *engine.ProtocolProfile, loc string) ([]byte, error) {
		fetched = append(fetched, loc)
		return []byte(evil), nil
	}
	p, err := flows.LoadFS(fstest.MapFS{"p.yaml": {Data: []byte(remoteSpecProject)}}, "/p", flows.WithOpenAPIFetcher(fetch))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fetched {
		if strings.Contains(f, "evil") {
			t.Fatalf("fetched %s", f)
		}
	}
	var all []string
	for _, w := range p.Warnings() {
		all = append(all, w.String())
	}
	if got := strings.Join(all, "\n"); !strings.Contains(got, "p.yaml:11:10: openapi: "+specURL) || !strings.Contains(got, "names https://evil.example/schemas.yaml by a $ref, on another host") {
		t.Fatalf("warnings:\n%s", got)
	}
}

// A project keeps its partner's document as YAML beside its flows, split
// over files: the loader does not read them as flows documents.
func TestOpenAPIYAMLFilesInTheProject(t *testing.T) {
	fsys := fstest.MapFS{
		"conn.yaml": {Data: []byte("kind: Connection\nname: bank\nhost: api.bank.example\nopenapi: specs/openapi.yaml\n")},
		"flow.yaml": {Data: []byte("kind: Flow\nname: f\nsteps:\n  - id: a\n    rest: {connection: bank, operation: getPayment, params: {id: \"1\", colour: red}}\n" +
			"  - id: b\n    rest: {connection: bank, method: GET, path: \"/payments/${{ steps.a.json.id }}\", expect: [200, 202]}\n" +
			"outputs:\n  s: \"${{ steps.b.json.state }}\"\n")},
		"specs/openapi.yaml":       {Data: []byte(strings.Replace(remoteSpec, "schemas.yaml#/Payment", "parts/schemas.yaml#/Payment", 1))},
		"specs/parts/schemas.yaml": {Data: []byte(remoteSchemas)},
		// A description no connection names is left alone.
		"specs/unused.yaml": {Data: []byte("swagger: \"2.0\"\ninfo: {title: x, version: \"1\"}\npaths: {}\n")},
	}
	p, err := flows.LoadFS(fsys, "/p")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range p.Warnings() {
		got = append(got, w.String())
	}
	want := []string{
		`flow.yaml:5:71: steps[0].rest.params.colour: unknown parameter "colour" of operation getPayment (known: id)`,
		"flow.yaml:7:99: steps[1].rest.expect[1]: operation getPayment does not declare status 202 (it declares 200)",
		`flow.yaml:9:24: outputs.s: steps.b.json.state: the response of operation getPayment (200) has no field "state" here (known: id, status)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
