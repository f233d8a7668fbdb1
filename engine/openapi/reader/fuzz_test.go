package reader

import (
	"encoding/json"
	"io/fs"
	"testing"

	"github.com/outflow-dev/outflow/engine/openapi"
)

// FuzzParse: whatever a partner's document holds, Parse returns a model or
// an error, and what it returns travels as JSON and checks values.
//
//	go test ./engine/openapi/reader -run '^$' -fuzz FuzzParse -fuzztime 1m
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a/{id}:\n    get:\n      operationId: a\n      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]\n      responses: {'200': {description: ok, content: {application/json: {schema: {$ref: '#/components/schemas/A'}}}}}\ncomponents:\n  schemas:\n    A: {type: object, properties: {next: {$ref: '#/components/schemas/A'}, v: {type: string, enum: [x]}}}\n",
		`{"swagger":"2.0","info":{"title":"t","version":"1"},"paths":{"/b":{"post":{"operationId":"b","parameters":[{"in":"body","name":"b","schema":{"$ref":"#/definitions/B"}},{"in":"formData","name":"f","type":"string"}],"responses":{"default":{"description":"x"}}}}},"definitions":{"B":{"allOf":[{"type":"object"},{"$ref":"#/definitions/B"}]}}}`,
		"openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /c/:x:\n    put:\n      requestBody: {content: {application/json: {schema: {type: [string, 'null'], minLength: 2}}}}\n      responses: {'2XX': {description: ok}}\n",
		"openapi: 3.0.0\npaths: {/d: {get: {responses: {'200': {$ref: '#/nope'}}}}}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		spec, err := Parse("f.yaml", data, func(string) ([]byte, error) { return nil, fs.ErrNotExist })
		if err != nil {
			return
		}
		if _, err := json.Marshal(spec); err != nil {
			t.Fatalf("the model does not marshal: %v", err)
		}
		for _, op := range spec.Operations {
			for _, r := range op.Responses {
				spec.Check(r.Schema, map[string]any{"x": []any{1.0, "y", nil}})
			}
			if op.Body != nil {
				openapi.Check(spec.Schemas, op.Body.Schema, openapi.Unknown{}, openapi.Options{})
			}
			spec.ResponseCheck(op, nil)
			spec.Match(op.Method, op.Path)
		}
	})
}
