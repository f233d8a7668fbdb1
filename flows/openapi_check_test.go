package flows_test

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/outflow-dev/outflow/flows"
)

// The warnings of OpenAPI checks: what the document only suggests.
func TestOpenAPIWarnings(t *testing.T) {
	spec, err := os.ReadFile("testdata/valid/openapi/specs/bank.json")
	if err != nil {
		t.Fatal(err)
	}
	customer, err := os.ReadFile("testdata/valid/openapi/specs/schemas/customer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const conn = "kind: Connection\nname: bank\nurl: https://api.bank.example/psd2\nopenapi: specs/bank.json\n---\n"
	for _, c := range []struct {
		name, yaml, want string
	}{
		{"a body for an operation that declares none",
			"kind: Flow\nname: f\nsteps:\n  - id: a\n    rest: {connection: bank, operation: cancelPayment, params: {paymentId: x}, body: {why: late}}\n",
			"flow.yaml:5:80: steps[0].rest.body: operation cancelPayment declares no request body; it is sent all the same (the document may be missing it)"},
		{"validate_response with nothing to check",
			"kind: Flow\nname: f\nsteps:\n  - id: a\n    rest: {connection: bank, operation: cancelPayment, params: {paymentId: x}, validate_response: warn}\n",
			"flow.yaml:5:99: steps[0].rest.validate_response: validate_response has nothing to check: operation cancelPayment gives no JSON schema for the status codes the step expects"},
		{"a form body sent as JSON",
			"kind: Flow\nname: f\nsteps:\n  - id: a\n    rest: {connection: bank, operation: createToken, body: {grant: x}, body_type: json}\n",
			"flow.yaml:5:83: steps[0].rest.body_type: operation createToken takes a form (application/x-www-form-urlencoded); body_type json may be refused"},
		{"openapi_strict without a document",
			"kind: Connection\nname: other\nhost: other.example\nopenapi_strict: true\n",
			"flow.yaml:4:1: openapi_strict: openapi_strict has no effect without openapi: (the connection's OpenAPI document)"},
		{"a response field no schema has",
			"kind: Flow\nname: f\nsteps:\n  - id: a\n    rest: {connection: bank, operation: getCustomer, params: {id: 1}}\n  - id: b\n    rest: {connection: bank, operation: getCustomer, params: {id: 1}}\noutputs:\n  t: \"${{ steps.a.json.address.citty }}\"\n  u: \"${{ steps.b.json['name'] }}\"\n",
			`flow.yaml:9:32: outputs.t: steps.a.json.address.citty: the response of operation getCustomer (200) has no field "citty" here (did you mean "city"? known: city)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := flows.LoadFS(fstest.MapFS{"conn.yaml": {Data: []byte(conn)}, "flow.yaml": {Data: []byte(c.yaml)}, "specs/bank.json": {Data: spec}, "specs/schemas/customer.yaml": {Data: customer}}, "/p")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range p.Warnings() {
				got = append(got, w.String())
			}
			if len(got) != 1 || got[0] != c.want {
				t.Fatalf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), c.want)
			}
		})
	}
}
