package flows

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestFailWhenRetryWhen(t *testing.T) {
	head := `kind: Connection
name: api
host: api.example
---
kind: Flow
name: f
inputs: {x: {type: string}}
steps:
`
	src := head + `  - id: post
    rest: {connection: api, method: POST, path: /orders}
    fail_when: "${{ response.json.status == 'ERROR' }}"
    retry_when: "${{ response.json.code == 'LOCKED' }}"
`
	p, err := LoadFS(fstest.MapFS{"flow.yaml": {Data: []byte(src)}}, "/p")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan("f")
	if err != nil {
		t.Fatal(err)
	}
	if st := plan.Steps[0]; st.FailWhen == "" || st.RetryWhen == "" {
		t.Fatalf("step = %+v", st)
	}
	for _, tc := range []struct{ src, want string }{
		{`  - id: w
    wait: {duration: 1s}
    fail_when: "${{ response.status_code == 500 }}"
`, `flow.yaml:11:5: steps[0].fail_when: fail_when judges the response of rest and soap calls only`},
		{`  - id: post
    rest: {connection: api}
    fail_when: "${{ inputs.x == 'a' }}"
`, `steps[0].fail_when: inputs cannot be read here: fail_when runs in the call's activity`},
		{`  - id: post
    rest: {connection: api}
    retry_when: "nope"
`, `steps[0].retry_when: "nope" is plain text, which is always true`},
		{`  - id: post
    rest: {connection: api, path: "/${{ response.body }}"}
`, `steps[0].rest.path: response is defined only in fail_when and retry_when`},
	} {
		if got := loadProblems(t, head+tc.src); !strings.Contains(got, tc.want) {
			t.Errorf("problems lack %q:\n%s", tc.want, got)
		}
	}
}
