package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/openapi"
	"github.com/outflow-dev/outflow/examples/partner"
	"github.com/outflow-dev/outflow/steps/apispec"
)

// TestOpenAPIByURLGeneratedActionsAndValidateResponse names the example
// partner's OpenAPI description by URL on the quickstart's connection: it is
// fetched with the document it refers to through the connection's client
// certificate and credential, kept, and used offline; actions generated from
// it run against the partner on the embedded server; and a step that checks
// its response against a stricter copy of the description fails with
// ResponseRejected (or, with warn, notes the mismatch).
func TestOpenAPIByURLGeneratedActionsAndValidateResponse(t *testing.T) {
	dir := copyQuickstart(t)
	certs, err := partner.GenerateCerts(dir)
	if err != nil {
		t.Fatal(err)
	}
	pw := partner.RandomSecret()
	t.Setenv("PARTNER_KEYSTORE_PASSWORD", certs.KeystorePassword)
	t.Setenv("PARTNER_PASSWORD", pw)
	conf := filepath.Join(dir, "partner.yaml")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	port := strings.SplitN(strings.SplitN(string(b), "port: ", 2)[1], "\n", 2)[0]
	p := partner.New("svc-outflow", pw)
	srv, err := partner.Serve(net.JoinHostPort("127.0.0.1", port), certs.ServerTLS, p)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	u := "https://127.0.0.1:" + port + "/v2/openapi.yaml"
	schemasURL := "https://127.0.0.1:" + port + "/v2/openapi/schemas.yaml"

	// partner-api names the partner's description by URL; partner-strict
	// names a copy in the project whose tiers leave out "silver".
	conf2 := strings.Replace(string(b), "name: partner-api\n", "name: partner-api\nopenapi: \""+u+"\"\n", 1)
	if conf2 == string(b) {
		t.Fatal("the quickstart has no connection partner-api")
	}
	conf2 += `---
kind: Connection
name: partner-strict
host: 127.0.0.1
base_path: /v2
mutual_auth: true
protocol_profile: partner-mtls
credential: {type: basic, username: svc-outflow, password: {secret: env:PARTNER_PASSWORD}}
openapi: specs/partner.yaml
`
	writeFile(t, conf, conf2)
	writeFile(t, filepath.Join(dir, "specs", "partner.yaml"), partner.OpenAPIDocument)
	writeFile(t, filepath.Join(dir, "specs", "openapi", "schemas.yaml"), strings.Replace(partner.OpenAPISchemas, "enum: [bronze, silver, gold]", "enum: [gold, platinum]", 1))

	// fetch goes to the partner for both documents, with the client certificate.
	before := p.ClientCertificates()["svc-outflow"]
	stdout, stderr, code := cli(t, "openapi", "fetch", "--project", dir)
	if code != 0 || !strings.Contains(stdout, u+"  via partner-api") || !strings.Contains(stdout, schemasURL+"  via partner-api") {
		t.Fatalf("openapi fetch: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := p.ClientCertificates()["svc-outflow"] - before; n != 2 {
		t.Fatalf("fetch made %d requests with the client certificate, want 2", n)
	}
	cached, err := apispec.ListCache(filepath.Join(dir, openapi.CacheDir))
	if err != nil || len(cached) != 2 {
		t.Fatalf("cache = %+v, %v", cached, err)
	}
	for _, c := range cached {
		if data, _ := os.ReadFile(c.File); strings.Contains(string(data), pw) || c.Connection != "partner-api" {
			t.Fatalf("cached %+v holds the password or names another connection", c)
		}
	}

	// operations lists the URL's operations through the connection.
	stdout, stderr, code = cli(t, "openapi", "operations", u, "--project", dir, "--connection", "partner-api", "--tag", "customers")
	if code != 0 || !strings.Contains(stdout, "getCustomer (GET /customers/{id})") || !strings.Contains(stdout, "operation: getCustomer") || strings.Contains(stdout, "acknowledgeOrder") {
		t.Fatalf("openapi operations --tag customers: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, stderr, code = cli(t, "openapi", "operations", u, "--project", dir); code == 0 || !strings.Contains(stderr, "--connection") {
		t.Fatalf("operations of a URL without --connection: exit %d\n%s", code, stderr)
	}

	// generate writes an action per operation, which validate accepts as is.
	stdout, stderr, code = cli(t, "openapi", "generate", u, "--project", dir, "--connection", "partner-api")
	if code != 0 || !strings.Contains(stdout, "wrote 4 actions") || !strings.Contains(stdout, "validate: ok") {
		t.Fatalf("openapi generate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if _, stderr, code = cli(t, "openapi", "generate", "specs/partner.yaml", "--project", dir, "--connection", "partner-api"); code == 0 || !strings.Contains(stderr, "names the OpenAPI document "+u) {
		t.Fatalf("generate from another document than the connection's: exit %d\n%s", code, stderr)
	}
	if _, stderr, code = cli(t, "openapi", "generate", u, "--project", dir, "--connection", "partner-api"); code == 0 || !strings.Contains(stderr, "--force") {
		t.Fatalf("generate over existing files: exit %d\n%s", code, stderr)
	}

	// A flow calls the generated action against the partner, and a step
	// that notes where the partner's answer leaves the strict copy.
	writeFile(t, filepath.Join(dir, "lookup.yaml"), `kind: Flow
name: lookup
steps:
  - id: who
    action: partner-api.getCustomer
    with: {id: "7"}
  - id: strict
    rest: {connection: partner-strict, operation: getCustomer, params: {id: "7"}, validate_response: warn}
outputs:
  name: "${{ steps.who.outputs.name }}"
  tier: "${{ steps.who.outputs.tier }}"
  status: "${{ steps.who.outputs.status_code }}"
`)
	writeFile(t, filepath.Join(dir, "reject.yaml"), `kind: Flow
name: reject
steps:
  - id: strict
    retry: {max_attempts: 3}
    rest: {connection: partner-strict, operation: getCustomer, params: {id: "7"}, validate_response: true}
`)
	if _, stderr, code = cli(t, "validate", "--project", dir); code != 0 {
		t.Fatalf("validate: exit %d\n%s", code, stderr)
	}
	stdout, stderr, code = cli(t, "run", "lookup", "--project", dir, "--json")
	if code != 0 {
		t.Fatalf("run lookup: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var rec engine.Record
	if err := json.Unmarshal([]byte(stdout), &rec); err != nil {
		t.Fatalf("run --json: %v\n%s", err, stdout)
	}
	if rec.Outputs["name"] != "Customer 7" || rec.Outputs["tier"] != "silver" || rec.Outputs["status"] != 200.0 {
		t.Fatalf("outputs = %v", rec.Outputs)
	}
	strict := rec.Step("strict")
	if strict == nil || strict.Status != engine.StatusSucceeded || strict.Response == nil ||
		len(strict.Response.SchemaMismatches) != 1 || !strings.Contains(strict.Response.SchemaMismatches[0], `$.tier: not one of "gold", "platinum"`) {
		t.Fatalf("the warn step's record: %+v", strict)
	}

	calls := p.Requests()
	stdout, stderr, code = cli(t, "run", "reject", "--project", dir, "--json")
	if code == 0 || !strings.Contains(stdout+stderr, engine.ErrResponseRejected) || !strings.Contains(stdout+stderr, `$.tier: not one of \"gold\", \"platinum\"`) {
		t.Fatalf("run reject: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if n := p.Requests() - calls; n != 1 {
		t.Fatalf("a rejected response was asked for %d times; ResponseRejected is not retried", n)
	}
	if strings.Contains(stdout+stderr, pw) {
		t.Fatal("the output holds the password")
	}

	// With the partner gone, the project validates from the cache, and a
	// refresh says what failed.
	srv.Close()
	if _, stderr, code = cli(t, "validate", "--project", dir); code != 0 {
		t.Fatalf("validate from the cache: exit %d\n%s", code, stderr)
	}
	_, stderr, code = cli(t, "openapi", "fetch", "--project", dir)
	if code == 0 || !strings.Contains(stderr, "partner.yaml:") || !strings.Contains(stderr, "fetching the OpenAPI document through connection partner-api") {
		t.Fatalf("openapi fetch with the partner down: exit %d\n%s", code, stderr)
	}
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
