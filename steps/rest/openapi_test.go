package rest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/engine/openapi"
	"github.com/outflow-dev/outflow/engine/openapi/reader"
	"github.com/outflow-dev/outflow/steps/secrets"
)

const customerSpec = `openapi: 3.1.0
info: {title: customers, version: "1"}
paths:
  /customers/{id}:
    get:
      operationId: getCustomer
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      responses:
        "200":
          description: the customer
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Customer'}
        "204": {description: nothing to say}
components:
  schemas:
    Customer:
      type: object
      required: [id, name]
      properties:
        id: {type: string}
        name: {type: string}
        tier: {type: string, enum: [bronze, silver, gold]}
        since: {type: string, format: date}
`

// responseCheck is what a plan carries for a step that calls getCustomer
// with validate_response.
func responseCheck(t *testing.T, expect []int) *openapi.ResponseCheck {
	t.Helper()
	spec, err := reader.Parse("customers.yaml", []byte(customerSpec), nil)
	if err != nil {
		t.Fatal(err)
	}
	ops := spec.Ops("getCustomer")
	if len(ops) != 1 {
		t.Fatalf("%d getCustomer operations", len(ops))
	}
	rc := spec.ResponseCheck(ops[0], expect)
	// It travels in the plan and the activity's input: it must survive JSON.
	b, err := json.Marshal(rc)
	if err != nil {
		t.Fatal(err)
	}
	var back openapi.ResponseCheck
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return &back
}

func TestValidateResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/customers/1":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"1","name":"Ada","tier":"gold","since":"2020-02-29"}`)
		case "/customers/2":
			// A body that breaks the schema three ways; the tier is a value
			// the partner may consider confidential.
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":2,"tier":"s3cr3t-platinum","since":"last tuesday"}`)
		case "/customers/3":
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, `<html>maintenance</html>`)
		case "/customers/4":
			w.WriteHeader(http.StatusNoContent)
		case "/customers/5":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"5","name":"`+strings.Repeat("x", 4096)+`"}`)
		}
	}))
	defer srv.Close()
	a := &Activity{Secrets: secrets.New("")}
	conn := connFor(t, srv, "")
	call := func(path, mode string, expect []int) (*engine.StepResult, error) {
		return execute(t, a, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn, BodyLimit: 1024}, Method: "GET", Path: path, Expect: expect,
			ValidateResponse: mode, Responses: responseCheck(t, expect)})
	}

	res, err := call("/customers/1", "fail", nil)
	if err != nil || len(res.Response.SchemaMismatches) != 0 {
		t.Fatalf("a fitting response: %v %v", err, res.Response.SchemaMismatches)
	}

	_, err = call("/customers/2", "fail", nil)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != engine.ErrResponseRejected || !appErr.NonRetryable() {
		t.Fatalf("a response that breaks the schema: %v, want a non-retryable %s", err, engine.ErrResponseRejected)
	}
	msg := appErr.Error()
	for _, want := range []string{"getCustomer (GET /customers/{id})", "$.id: expected string, got an integer", `missing required property "name"`, "$.since: not a date"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "s3cr3t-platinum") || strings.Contains(msg, "last tuesday") {
		t.Fatalf("the failure quotes the partner's values: %s", msg)
	}
	var details engine.StepResult
	if err := appErr.Details(&details); err != nil || details.Response == nil || len(details.Response.SchemaMismatches) != 4 {
		t.Fatalf("the failure's details lack the mismatches: %v %+v", err, details.Response)
	}

	res, err = call("/customers/2", "warn", nil)
	if err != nil {
		t.Fatalf("warn fails the step: %v", err)
	}
	if got := strings.Join(res.Response.SchemaMismatches, "\n"); !strings.Contains(got, "$.tier: not one of \"bronze\", \"silver\", \"gold\"") || len(res.Response.SchemaMismatches) != 4 {
		t.Fatalf("warn notes %q", got)
	}

	if _, err := call("/customers/3", "fail", nil); err == nil || !strings.Contains(err.Error(), "not JSON (text/html)") {
		t.Fatalf("an HTML answer to a JSON schema: %v", err)
	}
	if res, err := call("/customers/4", "fail", []int{204}); err != nil || len(res.Response.SchemaMismatches) != 0 {
		t.Fatalf("a response without a schema is not checked: %v", err)
	}
	res, err = call("/customers/5", "fail", nil)
	if err != nil || len(res.Response.SchemaMismatches) != 1 || !strings.Contains(res.Response.SchemaMismatches[0], "not checked: the body was cut") {
		t.Fatalf("a truncated body: %v %v", err, res)
	}
	// Without validate_response the schema is not read at all.
	if res, err := execute(t, a, &engine.RestRequest{CallHeader: engine.CallHeader{Connection: conn}, Method: "GET", Path: "/customers/2", Responses: responseCheck(t, nil)}); err != nil || len(res.Response.SchemaMismatches) != 0 {
		t.Fatalf("validate_response off: %v", err)
	}
}
