package reader

import (
	"strings"
	"testing"
)

// A $ref to a document on another host is never read, in 3.x and in 2.0
// (whose resolver would move it onto the document's host), and says so.
func TestRefsToOtherHostsAreNotRead(t *testing.T) {
	for name, doc := range map[string]string{
		"3.1": `openapi: 3.1.0
info: {title: bank, version: "1"}
paths:
  /payments:
    get:
      operationId: list
      responses:
        "200":
          description: ok
          content: {application/json: {schema: {$ref: 'https://evil.example/schemas.yaml#/Payment'}}}
`,
		"2.0": `swagger: "2.0"
info: {title: bank, version: "1"}
paths:
  /payments:
    get:
      operationId: list
      responses:
        "200":
          description: ok
          schema: {$ref: 'https://evil.example/schemas.yaml#/Payment'}
`,
	} {
		t.Run(name, func(t *testing.T) {
			var read []string
			spec, err := Parse("https://api.bank.example/psd2/openapi.yaml", []byte(doc), func(loc string) ([]byte, error) {
				read = append(read, loc)
				return []byte("Payment: {type: object}"), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(read) != 0 {
				t.Fatalf("read %v", read)
			}
			var msgs []string
			for _, d := range spec.Defects {
				msgs = append(msgs, d.Message)
			}
			if got := strings.Join(msgs, "\n"); !strings.Contains(got, "names https://evil.example/schemas.yaml by a $ref, on another host") {
				t.Fatalf("defects:\n%s", got)
			}
			if len(spec.Ops("list")) != 1 {
				t.Fatal("the operation was lost")
			}
		})
	}
}

// What is not an API description is an error, not a crash.
func TestNotADescription(t *testing.T) {
	for name, data := range map[string]string{
		"empty":        "",
		"yaml, no key": "kind: Flow\nname: x\n",
		"json array":   "[1,2,3]",
		"broken yaml":  "openapi: 3.0.0\npaths: {/a: [\n",
		"version 1.2":  `{"swaggerVersion": "1.2", "apis": []}`,
		"future":       "openapi: 4.0.0\ninfo: {title: x, version: '1'}\npaths: {}\n",
		"binary":       "\x00\x01\x02openapi: 3",
		"nested bombs": "openapi: 3.0.0\npaths:\n" + strings.Repeat("  ", 1) + "/a: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n",
		"alias a bomb": "openapi: 3.0.0\na: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\npaths: {}\n",
	} {
		t.Run(name, func(t *testing.T) {
			spec, err := Parse("x.yaml", []byte(data), nil)
			if err == nil && spec != nil && len(spec.Operations) > 0 {
				t.Fatalf("read %d operations", len(spec.Operations))
			}
			if err != nil && (err.Error() == "" || !strings.Contains(err.Error(), "x.yaml")) {
				t.Fatalf("err = %q, want it to name the document", err)
			}
		})
	}
}

// One $ref that does not resolve costs only what uses it: the library
// drops every path of a Swagger 2.0 document for one, so the reader reads
// it again with the broken $ref taken as an empty schema.
func TestBrokenRefKeepsTheOperations(t *testing.T) {
	for name, doc := range map[string]string{
		"2.0": `swagger: "2.0"
info: {title: t, version: "1"}
paths:
  /a:
    get:
      operationId: a
      responses: {"200": {description: ok, schema: {$ref: '#/definitions/Missing'}}}
  /b:
    get:
      operationId: b
      responses: {"200": {description: ok, schema: {$ref: '#/definitions/B'}}}
definitions:
  B: {type: object, required: [x], properties: {x: {type: string}}}
`,
		"3.0": `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /a:
    get:
      operationId: a
      responses: {"200": {description: ok, content: {application/json: {schema: {$ref: '#/components/schemas/Missing'}}}}}
  /b:
    get:
      operationId: b
      responses: {"200": {description: ok, content: {application/json: {schema: {$ref: '#/components/schemas/B'}}}}}
components:
  schemas:
    B: {type: object, required: [x], properties: {x: {type: string}}}
`,
	} {
		t.Run(name, func(t *testing.T) {
			spec, err := Parse("t.yaml", []byte(doc), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(spec.Operations) != 2 {
				t.Fatalf("%d operations, want 2", len(spec.Operations))
			}
			if len(spec.Defects) != 1 || !strings.Contains(spec.Defects[0].Message, "Missing") || spec.Defects[0].Line != 7 {
				t.Fatalf("defects %+v, want the broken $ref at line 7", spec.Defects)
			}
			b := spec.Ops("b")[0]
			if ms := spec.Check(b.Responses[0].Schema, map[string]any{}); len(ms) != 1 {
				t.Fatalf("B is not checked: %v", ms)
			}
		})
	}
}

func TestLooksLikeDescription(t *testing.T) {
	for data, want := range map[string]bool{
		"openapi: 3.0.0\n":                    true,
		"info: {}\nswagger: '2.0'\n":          true,
		"\"openapi\": 3.1.0\n":                true,
		`{"paths": {}, "swagger": "2.0"}`:     true,
		`{"openapi":"3.1.0"}`:                 true,
		"kind: Flow\nname: openapi-sync\n":    false,
		"kind: Flow\ndescription: openapi: x": false,
		`{"description": "see openapi: 3"}`:   false,
		`{"x-openapi": "3"}`:                  false,
		"  openapi: 3.0.0\n":                  false,
		"":                                    false,
	} {
		if got := LooksLikeDescription([]byte(data)); got != want {
			t.Errorf("LooksLikeDescription(%q) = %v, want %v", data, got, want)
		}
	}
}
