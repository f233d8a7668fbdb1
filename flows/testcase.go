package flows

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/outflow-dev/outflow/engine"
)

// TestCase is a Test compiled for a runner: engine.TestCase, the plain
// data a runner needs (the plan of its target, its inputs, mocks and
// expectations, each traceable to its place in the file), and the document
// it was read from, so that recording can rewrite its mocks (WithMocks).
type TestCase struct {
	engine.TestCase

	doc *document
}

// MockRule is the mock of one step path, which may name every item of a
// foreach with [*].
type MockRule = engine.MockRule

// Failure is an expectation of a test that a run did not meet.
type Failure = engine.TestFailure

// Tests lists the names of the project's tests, sorted.
func (p *Project) Tests() []string { return sortedKeys(p.idx.tests) }

// IsTest reports whether name is the name of a test of the project.
func (p *Project) IsTest(name string) bool { return p.idx.tests[name] != nil }

// TestCase compiles the test name.
func (p *Project) TestCase(name string) (*TestCase, error) {
	doc := p.idx.tests[name]
	if doc == nil {
		return nil, fmt.Errorf("unknown test %q %s", name, known(name, sortedKeys(p.idx.tests), "tests"))
	}
	t := doc.value.(*Test)
	plan, err := p.Plan(t.Target)
	if err != nil {
		return nil, fmt.Errorf("test %q: %w", name, err)
	}
	tc := &TestCase{TestCase: engine.TestCase{
		Name: t.Name, Description: t.Description, File: doc.file, Line: doc.at.Line,
		Target: t.Target, Plan: plan, Places: map[string]string{}, Order: map[string][]string{},
	}, doc: doc}
	tc.Places[""] = fmt.Sprintf("%s:%d:%d", doc.file, doc.at.Line, doc.at.Col)
	for p, at := range doc.vals {
		tc.Places[p] = fmt.Sprintf("%s:%d:%d", doc.file, at.Line, at.Col)
	}
	for p, keys := range doc.order {
		tc.Order[p] = append([]string(nil), keys...)
	}
	if t.Inputs != nil {
		tc.Inputs = deepCopy(t.Inputs).(map[string]any)
	}
	for _, k := range doc.order["mocks"] {
		kp := joinPath("mocks", k)
		rule := MockRule{Step: k, At: tc.Where(kp)}
		for _, r := range t.Mocks[k] {
			rule.Responses = append(rule.Responses, engine.MockResponse{
				Status: r.Status, Headers: r.Headers, Body: deepCopy(r.Body), Error: r.Error, Times: r.Times,
			})
		}
		tc.Mocks = append(tc.Mocks, rule)
	}
	tc.Events = compileTestEvents(t.Events)
	for i := range tc.Events {
		tc.Events[i].At = tc.Where(indexPath("events", i) + ".name")
	}
	if t.Expect != nil {
		tc.Expect = t.Expect.compile()
	}
	if tc.Expect.Status == "" {
		tc.Expect.Status = engine.StatusSucceeded
		if tc.Expect.Error != "" {
			tc.Expect.Status = engine.StatusFailed
		}
	}
	if tc.Expect.OutputsMatch == "" {
		tc.Expect.OutputsMatch = "subset"
	}
	return tc, nil
}

// compile copies the expectations into the engine's data types.
func (e *Expectation) compile() engine.TestExpectation {
	out := engine.TestExpectation{
		Status: e.Status, Error: e.Error, Outputs: e.Outputs, OutputsMatch: e.OutputsMatch,
	}
	if e.Steps != nil {
		out.Steps = make(map[string]engine.TestStepExpectation, len(e.Steps))
		for k, se := range e.Steps {
			cs := engine.TestStepExpectation{
				Status: se.Status, StatusCode: se.StatusCode, Calls: se.Calls, Error: se.Error, Outputs: se.Outputs,
			}
			if r := se.Request; r != nil {
				cs.Request = &engine.TestRequestExpectation{
					Method: r.Method, URL: r.URL, Headers: r.Headers, Body: r.Body, BodyContains: r.BodyContains,
				}
			}
			out.Steps[k] = cs
		}
	}
	for _, a := range e.Assert {
		out.Assert = append(out.Assert, engine.Assertion(a))
	}
	return out
}

// WriteMocks writes block, the mocks of a recorded run (see WithMocks),
// into the test's file in the project folder root, replacing the mocks it
// has, and returns the file written.
func (tc *TestCase) WriteMocks(root string, block []byte) (string, error) {
	file := filepath.Join(root, filepath.FromSlash(tc.File))
	info, err := os.Stat(file)
	if err != nil {
		return "", fmt.Errorf("recording into test %q: %w", tc.Name, err)
	}
	src, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("recording into test %q: %w", tc.Name, err)
	}
	out, err := tc.WithMocks(src, block)
	if err != nil {
		return "", fmt.Errorf("recording into test %q: %w", tc.Name, err)
	}
	if err := os.WriteFile(file, out, info.Mode().Perm()); err != nil {
		return "", fmt.Errorf("recording into test %q: %w", tc.Name, err)
	}
	return file, nil
}

// WithMocks returns src, the text of the test's file, with the test's mocks
// replaced by block: the YAML of a mapping of step paths to mocks, without
// indentation. The rest of the file is kept byte for byte, comments
// included. A test without mocks gets them before expect:, or at the end of
// its document.
func (tc *TestCase) WithMocks(src, block []byte) ([]byte, error) {
	doc := tc.doc
	if doc == nil {
		return nil, fmt.Errorf("test %q was not loaded from a file", tc.Name)
	}
	lines := strings.SplitAfter(string(src), "\n")
	lineAt := func(n int) string {
		if n < 1 || n > len(lines) {
			return ""
		}
		return strings.TrimRight(lines[n-1], "\r\n")
	}
	blockStyle := func(at pos) bool {
		l := lineAt(at.Line)
		return at.Col >= 1 && at.Col-1 <= len(l) && strings.TrimSpace(l[:at.Col-1]) == ""
	}
	var from, to, col int // replace lines [from, to), 1-based, writing the key at col
	if at, ok := doc.keys["mocks"]; ok {
		if !blockStyle(at) || !strings.HasPrefix(lineAt(at.Line)[at.Col-1:], "mocks") {
			return nil, fmt.Errorf("%s:%d: the test is not written in block style (or the file changed since it was read); write mocks: on a line of its own", tc.File, at.Line)
		}
		from, col = at.Line, at.Col
		to = blockEnd(lines, at.Line, at.Col, false)
	} else {
		at, ok := doc.keys["expect"]
		if ok && blockStyle(at) {
			from, to, col = at.Line, at.Line, at.Col
		} else {
			if !blockStyle(doc.at) {
				return nil, fmt.Errorf("%s:%d: the test is not written in block style; write its fields on lines of their own", tc.File, doc.at.Line)
			}
			end := blockEnd(lines, doc.at.Line, 1, true)
			from, to, col = end, end, doc.at.Col
		}
	}
	indent := strings.Repeat(" ", col-1)
	var b bytes.Buffer
	for _, l := range lines[:from-1] {
		b.WriteString(l)
	}
	if from > 1 && !strings.HasSuffix(lines[from-2], "\n") {
		b.WriteString("\n")
	}
	b.WriteString(indent + "mocks:\n")
	for _, l := range strings.Split(strings.TrimRight(string(block), "\n"), "\n") {
		if l == "" {
			b.WriteString("\n")
			continue
		}
		b.WriteString(indent + "  " + l + "\n")
	}
	for _, l := range lines[to-1:] {
		b.WriteString(l)
	}
	return b.Bytes(), nil
}

// blockEnd is the line after the value of the key at line:col: the first
// line below it that is not blank and not indented past col, less trailing
// blank lines. With toDocEnd, it is the end of the document instead.
func blockEnd(lines []string, line, col int, toDocEnd bool) int {
	last := line
	for n := line + 1; n <= len(lines); n++ {
		l := strings.TrimRight(lines[n-1], "\r\n")
		if strings.TrimSpace(l) == "" {
			continue
		}
		if toDocEnd {
			if strings.HasPrefix(l, "---") || strings.HasPrefix(l, "...") {
				break
			}
		} else if ind := len(l) - len(strings.TrimLeft(l, " ")); ind < col {
			break
		}
		last = n
	}
	return last + 1
}
