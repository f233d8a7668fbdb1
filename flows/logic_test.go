package flows

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/outflow-dev/outflow/engine"
)

const logicFlow = `kind: Connection
name: api
host: api.example
---
kind: Flow
name: sync
inputs: {mode: {type: string}}
vars: {limit: 3}
steps:
  - id: init
    set: {left: "${{ vars.limit }}", since: "${{ formattime(now() - duration('24h'), 'rfc3339') }}", twice: "${{ vars.left * 2 }}"}
  - id: route
    switch:
      - when: "${{ inputs.mode == 'full' }}"
        steps:
          - id: full
            set: {page_size: 100}
      - when: "${{ inputs.mode == 'delta' }}"
        steps:
          - id: delta
            rest: {connection: api, path: "/since/${{ vars.since }}"}
    default:
      - id: none
        fail: {message: "unknown mode ${{ inputs.mode }}", type: BadMode}
  - id: check
    if: "${{ steps.route.case == 'case1' }}"
    then:
      - id: yes
        set: {checked: true}
    else:
      - id: no
        set: {checked: false}
  - id: drain
    repeat:
      until: "${{ vars.left == 0 || steps.take.json.done }}"
      max_iterations: 10
      interval: 1s
      break_when: "${{ iteration > 5 }}"
      steps:
        - id: take
          rest: {connection: api, path: "/take/${{ iteration }}"}
        - id: dec
          set: {left: "${{ vars.left - 1 }}"}
  - id: each
    foreach: "${{ [1, 2, 3] }}"
    continue_when: "${{ item == 2 }}"
    break_when: "${{ vars.left < 0 }}"
    steps:
      - id: local
        set: {mine: "${{ item }}"}
      - id: post
        rest: {connection: api, method: POST, path: "/items/${{ vars.mine }}"}
  - id: skip
    if: "${{ vars.checked }}"
    rest: {connection: api, path: "/checked"}
outputs:
  left: "${{ vars.left }}"
  checked: "${{ vars.checked }}"
`

// A flow using every construct loads without problems and compiles to the
// engine's steps: if/then/else to a switch with then and else, the set's
// bindings in YAML order, foreach guards, an if without then kept as a skip.
func TestLogicConstructsCompile(t *testing.T) {
	p, err := LoadFS(fstest.MapFS{"flow.yaml": {Data: []byte(logicFlow)}}, "/p")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := p.Plan("sync")
	if err != nil {
		t.Fatal(err)
	}
	kinds := []string{}
	for _, st := range plan.Steps {
		kinds = append(kinds, st.Kind())
	}
	if got := strings.Join(kinds, ","); got != "set,switch,switch,repeat,foreach,rest" {
		t.Fatalf("kinds %s", got)
	}
	set := plan.Steps[0].Set
	if len(set) != 3 || set[0].Name != "left" || set[1].Name != "since" || set[2].Name != "twice" {
		t.Fatalf("set bindings out of order: %+v", set)
	}
	sw := plan.Steps[1].Switch
	if len(sw.Cases) != 2 || sw.Cases[1].Name != "case1" || sw.Default[0].Fail.Type != "BadMode" {
		t.Fatalf("switch: %+v", sw)
	}
	ite := plan.Steps[2]
	if ite.If != "" || ite.Switch.Cases[0].Name != "then" || ite.Switch.Cases[0].When != "${{ steps.route.case == 'case1' }}" || ite.Switch.DefaultName != "else" {
		t.Fatalf("if/then/else: %+v", ite)
	}
	rp := plan.Steps[3].Repeat
	if rp.MaxIterations != 10 || rp.Interval.D().Seconds() != 1 || rp.BreakWhen == "" || len(rp.Steps) != 2 {
		t.Fatalf("repeat: %+v", rp)
	}
	fe := plan.Steps[4].Foreach
	if fe.ContinueWhen != "${{ item == 2 }}" || fe.BreakWhen == "" {
		t.Fatalf("foreach guards: %+v", fe)
	}
	if plan.Steps[5].If == "" || plan.Steps[5].Rest == nil {
		t.Fatalf("if without then must stay a skip: %+v", plan.Steps[5])
	}
	if _, err := p.Plan("sync"); err != nil {
		t.Fatal(err)
	}
	var _ engine.Step
}

// Each misuse is reported with its position.
func TestLogicConstructProblems(t *testing.T) {
	got := loadProblems(t, `kind: Connection
name: api
host: api.example
---
kind: Flow
name: f
steps:
  - id: early
    rest: {connection: api, path: "/${{ vars.later }}"}
  - id: later_set
    set: {later: 1}
  - id: bad_switch
    switch:
      - steps: [{id: a, set: {x: 1}}]
      - when: "${{ iteration }}"
        steps: [{id: b, set: {y: 1}}]
  - id: loose_default
    rest: {connection: api}
    default: [{id: c, set: {z: 1}}]
  - id: then_no_if
    then: [{id: d, set: {z: 1}}]
  - id: else_alone
    if: "${{ true }}"
    else: [{id: e, set: {z: 1}}]
  - id: both
    switch: [{when: "${{ true }}", steps: [{id: f1, set: {z: 1}}]}]
    if: "${{ true }}"
    then: [{id: g, set: {z: 1}}]
  - id: empty_set
    set: {}
  - id: endless
    repeat:
      steps: [{id: h, set: {z: 1}}]
  - id: bad_fail
    fail: {type: "no spaces"}
  - id: each
    foreach: "${{ [1] }}"
    steps: [{id: inside, set: {only_here: 1}}]
  - id: after
    rest: {connection: api, path: "/${{ vars.only_here }}/${{ iteration }}"}
  - id: stray
    rest: {connection: api}
    break_when: "${{ true }}"
  - id: r2
    repeat:
      max_iterations: 2
      until: "${{ steps.inner.status == 'succeeded' }}"
      steps: [{id: inner, rest: {connection: api}}]
      bogus: 1
`)
	for _, want := range []string{
		`flow.yaml:9:46: steps[0].rest.path: vars.later is read before any set: assigns it`,
		`flow.yaml:14:9: steps[2].switch[0]: missing required field "when"`,
		`flow.yaml:15:20: steps[2].switch[1].when: iteration is defined only inside a repeat`,
		`flow.yaml:19:5: steps[3].default: default belongs to a switch`,
		`flow.yaml:21:5: steps[4].then: then needs if: on the same step`,
		`flow.yaml:24:5: steps[5].else: else needs then: (and if:) on the same step`,
		`flow.yaml:28:5: steps[6].then: a step has switch: or if:/then:, not both`,
		`flow.yaml:30:10: steps[7].set: set needs at least one variable`,
		`flow.yaml:32:5: steps[8].repeat: repeat needs until: (a condition checked after each pass) or max_iterations:`,
		`flow.yaml:35:5: steps[9].fail: missing required field "message"`,
		`flow.yaml:35:18: steps[9].fail.type: invalid type "no spaces"`,
		`steps[11].rest.path: vars.only_here is read before any set: assigns it (or it is set only inside a foreach item or parallel branch`,
		`steps[11].rest.path: iteration is defined only inside a repeat`,
		`steps[12].break_when: break_when belongs to a foreach`,
		`steps[13].repeat.bogus`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q", want)
		}
	}
	if t.Failed() {
		t.Log(got)
	}
	if strings.Contains(got, "steps.inner") {
		t.Errorf("until must read the pass's steps:\n%s", got)
	}
}
