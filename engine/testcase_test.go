package engine

import (
	"strings"
	"testing"
)

// A test case built as plain data, without a file (as a runner may get it
// from anything that compiles tests), is verified with the same messages:
// failures point at the nearest written place, or at the file when the
// test has no places.
func TestTestCaseVerifiesPlainData(t *testing.T) {
	tc := &TestCase{
		Name: "t", File: "t.test.yaml", Line: 1, Target: "f",
		Expect: TestExpectation{
			Status: StatusSucceeded, OutputsMatch: "exact",
			Outputs: map[string]any{"total": 3, "who": map[string]any{"name": "Ada"}},
			Steps:   map[string]TestStepExpectation{"get": {StatusCode: 200, Calls: 2}, "gone": {Status: StatusSucceeded}},
			Assert:  []Assertion{"${{ outputs.total == 3 }}", "${{ len(steps) == 5 }}"},
		},
		Places: map[string]string{
			"":                     "t.test.yaml:1:1",
			"expect":               "t.test.yaml:5:3",
			"expect.outputs":       "t.test.yaml:6:5",
			"expect.outputs.who":   "t.test.yaml:8:7",
			"expect.steps.get":     "t.test.yaml:10:7",
			"expect.assert[1]":     "t.test.yaml:13:7",
			"expect.outputs_match": "t.test.yaml:7:5",
		},
		Order: map[string][]string{"expect.outputs": {"who", "total"}, "expect.steps": {"gone", "get"}},
	}
	rec := &Record{
		Status:  StatusSucceeded,
		Outputs: map[string]any{"total": 3.0, "who": map[string]any{"name": "Bo"}, "extra": true},
		Steps:   []*StepRecord{{ID: "get", Status: StatusSucceeded, Response: &ResponseSummary{StatusCode: 404}}},
	}
	calls := func(step string) int { return map[string]int{"get": 1}[step] }
	var got []string
	for _, f := range tc.Verify(rec, calls) {
		got = append(got, f.String())
	}
	want := []string{
		`t.test.yaml:8:7: expect.outputs.who: expected "Ada", got "Bo" at .name`,
		`t.test.yaml:7:5: expect.outputs_match: outputs_match is exact, but the run also has "extra"`,
		`t.test.yaml:5:3: expect.steps.gone: step "gone" did not run; the last step that ran is "get" (succeeded)`,
		`t.test.yaml:10:7: expect.steps.get.status_code: expected HTTP status 200, got 404`,
		`t.test.yaml:10:7: expect.steps.get.calls: expected 2 calls, got 1`,
		`t.test.yaml:13:7: expect.assert[1]: ${{ len(steps) == 5 }} is false: len(steps) is 1`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("failures:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	tc.Places = nil
	if f := tc.Verify(&Record{Status: StatusFailed, Error: &ErrorInfo{Message: "boom"}}, nil); len(f) == 0 || f[0].String() != "t.test.yaml: the run failed, expected it to have succeeded: boom" {
		t.Fatalf("without places: %v", f)
	}
	if f := tc.Verify(nil, nil); len(f) != 1 || f[0].Message != "the run left no execution record" {
		t.Fatalf("no record: %v", f)
	}
}

func TestAssertionCode(t *testing.T) {
	code, off, err := Assertion("  ${{ outputs.n == 1 }}").Code()
	if err != nil || code != "outputs.n == 1" || off != 6 {
		t.Fatalf("Code = %q %d %v", code, off, err)
	}
	for _, bad := range []string{"outputs.n == 1", "${{ a }} and ${{ b }}", "${{ a"} {
		if _, _, err := Assertion(bad).Code(); err == nil || !strings.Contains(err.Error(), "one expression in ${{ }}") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if err := CompileAssertCode("vars.x == 1"); err == nil {
		t.Error("an assertion reading vars compiles")
	}
	if err := CompileAssertCode("record.status == 'succeeded'"); err != nil {
		t.Errorf("record: %v", err)
	}
}
