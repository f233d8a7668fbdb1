package openapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func num(f float64) *float64 { return &f }
func intp(n int) *int        { return &n }

var defs = map[string]*Schema{
	"Party": {Types: []string{"object"}, Required: []string{"name"}, Properties: map[string]*Schema{
		"name": {Types: []string{"string"}, MinLength: intp(1)},
		"iban": {Types: []string{"string"}, Pattern: `^[A-Z]{2}[0-9]{2}`},
	}},
	"Node": {Types: []string{"object"}, Properties: map[string]*Schema{
		"next": {Ref: "Node"}, "v": {Types: []string{"integer"}},
	}},
	"Secret": {Types: []string{"object"}, Properties: map[string]*Schema{"pw": {Types: []string{"string"}, WriteOnly: true}, "id": {Types: []string{"string"}, ReadOnly: true}}, Required: []string{"pw", "id"}},
}

var payment = &Schema{Types: []string{"object"}, Closed: true, Required: []string{"amount", "currency", "creditor"},
	Properties: map[string]*Schema{
		"amount":   {Types: []string{"number"}, ExclusiveMinimum: num(0)},
		"currency": {Types: []string{"string"}, Enum: []any{"EUR", "USD"}},
		"creditor": {Ref: "Party"},
		"date":     {Types: []string{"string"}, Format: "date"},
		"tags":     {Types: []string{"array"}, MaxItems: intp(2), Items: &Schema{Types: []string{"string"}}},
		"count":    {Types: []string{"integer"}, Format: "int32", Maximum: num(10)},
		"note":     {Types: []string{"string", "null"}},
	}}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		name string
		sc   *Schema
		v    string // JSON
		opts Options
		want []string
	}{
		{"fits", payment, `{"amount":1.5,"currency":"EUR","creditor":{"name":"Ada"},"date":"2026-02-28","tags":["a"],"count":3,"note":null}`, Options{}, nil},
		{"every mistake", payment, `{"amount":0,"currency":"GBP","creditor":{"iban":"x"},"date":"2026-02-30","tags":["a",1,"c"],"count":2.5,"extra":1}`, Options{},
			[]string{"$.amount: not greater than 0", "$.count: expected integer, got a number", `$.creditor: missing required property "name"`,
				"$.creditor.iban: does not match the pattern", `$.currency: not one of "EUR", "USD"`, "$.date: not a date", `$: unknown property "extra"`,
				"$.tags: more than 2 items", "$.tags[1]: expected string, got an integer"}},
		{"null where not allowed", payment, `{"amount":null,"currency":"EUR","creditor":{"name":"x"}}`, Options{}, []string{"$.amount: expected number, got null"}},
		{"wrong type at the top", payment, `[1]`, Options{}, []string{"$: expected object, got a list"}},
		{"recursive schema", &Schema{Ref: "Node"}, `{"next":{"next":{"v":"x"}}}`, Options{}, []string{"$.next.next.v: expected integer, got a string"}},
		{"read-only may be left out of a request", &Schema{Ref: "Secret"}, `{"pw":"p"}`, Options{Dir: RequestDir}, nil},
		{"write-only may be left out of a response", &Schema{Ref: "Secret"}, `{"id":"1"}`, Options{Dir: ResponseDir}, nil},
		{"but not the other way", &Schema{Ref: "Secret"}, `{"pw":"p"}`, Options{Dir: ResponseDir}, []string{`$: missing required property "id"`}},
		{"anyOf fits one", &Schema{AnyOf: []*Schema{{Types: []string{"string"}}, {Types: []string{"integer"}}}}, `3`, Options{}, nil},
		{"anyOf fits none", &Schema{AnyOf: []*Schema{{Types: []string{"string"}}, {Ref: "Party"}}, OneOf: true}, `{"iban":"DE12"}`, Options{},
			[]string{`$: fits none of the 2 oneOf alternatives; the nearest says: $: missing required property "name"`}},
		{"allOf adds properties a closed part allows", &Schema{AllOf: []*Schema{{Ref: "Party"}, {Properties: map[string]*Schema{"vat": {Types: []string{"string"}}}}}}, `{"name":"n","vat":"x"}`, Options{}, nil},
		{"parameters are text", &Schema{Types: []string{"integer"}, Maximum: num(100)}, `"250"`, Options{Scalars: true}, []string{"$: greater than the maximum 100"}},
		{"a list parameter given one value", &Schema{Types: []string{"array"}, Items: &Schema{Types: []string{"string"}, Enum: []any{"a", "b"}}}, `"c"`, Options{Scalars: true}, []string{`$: not one of "a", "b"`}},
		{"formats", &Schema{Types: []string{"object"}, Properties: map[string]*Schema{
			"u": {Types: []string{"string"}, Format: "uuid"}, "e": {Types: []string{"string"}, Format: "email"}, "t": {Types: []string{"string"}, Format: "date-time"},
			"i": {Types: []string{"string"}, Format: "ipv4"}, "w": {Types: []string{"string"}, Format: "whatever"}}},
			`{"u":"nope","e":"a b@c","t":"2026-01-02 10:00","i":"::1","w":"anything"}`, Options{},
			[]string{"$.e: not an email address", "$.i: not an IPv4 address", "$.t: not a date-time", "$.u: not a uuid"}},
		{"a pattern RE2 cannot read is not checked", &Schema{Types: []string{"string"}, Pattern: `^(?=a)a$`}, `"b"`, Options{}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(c.v), &v); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range Check(defs, c.sc, v, c.opts) {
				got = append(got, m.String())
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %d mismatches, want %d:\n%s", len(got), len(c.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], c.want[i]) {
					t.Errorf("mismatch %d = %q, want it to start %q", i, got[i], c.want[i])
				}
			}
		})
	}
}

// Expressions stand in for values known only at run time: a whole one may
// be anything; text around one is a string.
func TestCheckUnknowns(t *testing.T) {
	v := map[string]any{"amount": Unknown{}, "currency": Unknown{Text: true}, "creditor": Unknown{}, "count": Unknown{Text: true}}
	got := Check(defs, payment, v, Options{Dir: RequestDir})
	if len(got) != 1 || got[0].String() != "$.count: expected integer, got text" {
		t.Fatalf("got %v", got)
	}
	// YAML integers are int64 and uint64.
	if got := Check(defs, payment, map[string]any{"amount": int64(2), "currency": "USD", "creditor": map[string]any{"name": "n"}, "count": uint64(3)}, Options{}); len(got) != 0 {
		t.Fatalf("YAML numbers: %v", got)
	}
}

func TestCheckIsBounded(t *testing.T) {
	list := make([]any, 500)
	for i := range list {
		list[i] = i
	}
	got := Check(nil, &Schema{Types: []string{"array"}, Items: &Schema{Types: []string{"string"}}}, list, Options{Max: 5})
	if len(got) != 5 {
		t.Fatalf("%d mismatches reported, want the cap of 5", len(got))
	}
}

func TestMatch(t *testing.T) {
	s := &Spec{Operations: []*Operation{
		{ID: "list", Method: "GET", Path: "/pets"},
		{ID: "mine", Method: "GET", Path: "/pets/mine"},
		{ID: "get", Method: "GET", Path: "/pets/{id}"},
		{ID: "del", Method: "DELETE", Path: "/pets/{id}"},
		{ID: "file", Method: "GET", Path: "/files/{name}.{ext}"},
		{ID: "task", Method: "GET", Path: "/tasks/:taskUid"},
	}}
	for _, c := range []struct {
		method, path, want string
		pathOps            int
	}{
		{"GET", "/pets", "list", 1},
		{"GET", "/pets/", "list", 1},
		{"GET", "/pets?limit=3", "list", 1},
		{"GET", "/pets/mine", "mine", 1},
		{"GET", "/pets/42", "get", 2},
		{"DELETE", "/pets/${{ inputs.id }}", "del", 2},
		{"GET", "/pets/${{ inputs.a + '/' + inputs.b }}", "get", 2},
		{"GET", "/files/report.pdf", "file", 1},
		{"GET", "/tasks/7", "task", 1},
		{"PUT", "/pets/1", "", 2},
		{"GET", "/dogs", "", 0},
		{"GET", "/pets/1/toys", "", 0},
	} {
		m := s.Match(c.method, c.path)
		got := ""
		if m.Op != nil {
			got = m.Op.ID
		}
		if got != c.want || len(m.PathOps) != c.pathOps {
			t.Errorf("Match(%s %s) = %q with %d operations on the path, want %q and %d", c.method, c.path, got, len(m.PathOps), c.want, c.pathOps)
		}
	}
}

func TestFillPathAndParams(t *testing.T) {
	if got := PathParams("/a/{x}/b.{y}/:z"); !reflect.DeepEqual(got, []string{"x", "y", "z"}) {
		t.Fatalf("PathParams = %v", got)
	}
	got := FillPath("/a/{x}/b.{y}/:z/{w}", func(n string) (string, bool) {
		v, ok := map[string]string{"x": "1", "y": "json", "z": "${{ inputs.z }}"}[n]
		return v, ok
	})
	if got != "/a/1/b.json/${{ inputs.z }}/{w}" {
		t.Fatalf("FillPath = %q", got)
	}
}

func TestResponseCheckCarriesOnlyWhatItNeeds(t *testing.T) {
	s := &Spec{Schemas: map[string]*Schema{
		"A": {Types: []string{"object"}, Order: []string{"b"}, Properties: map[string]*Schema{"b": {Ref: "B"}}},
		"B": {Types: []string{"string"}},
		"E": {Types: []string{"object"}},
		"U": {Types: []string{"integer"}},
	}}
	op := &Operation{ID: "op", Method: "GET", Path: "/x", Responses: []Response{
		{Code: "200", ContentType: "application/json", Schema: &Schema{Ref: "A"}},
		{Code: "404", ContentType: "application/json", Schema: &Schema{Ref: "E"}},
		{Code: "default", ContentType: "application/json", Schema: &Schema{Ref: "E"}},
	}}
	rc := s.ResponseCheck(op, nil)
	if len(rc.Responses) != 1 || len(rc.Schemas) != 2 || rc.Schemas["A"] == nil || rc.Schemas["B"] == nil || rc.Schemas["A"].Order != nil {
		t.Fatalf("ResponseCheck(2xx) = %+v", rc)
	}
	rc = s.ResponseCheck(op, []int{200, 409})
	if len(rc.Responses) != 2 || rc.Responses[1].Code != "default" || rc.Schemas["E"] == nil {
		t.Fatalf("ResponseCheck(200, 409) = %+v; want default for the undeclared 409", rc)
	}
	if ms := rc.Check(409, "application/json", map[string]any{}, true); len(ms) != 0 {
		t.Fatalf("409 by default: %v", ms)
	}
	if ms := rc.Check(200, "application/json", map[string]any{"b": 1.0}, true); len(ms) != 1 || ms[0].String() != "$.b: expected string, got an integer" {
		t.Fatalf("200: %v", ms)
	}
}
