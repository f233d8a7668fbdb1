package flows

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/outflow-dev/outflow/engine"
)

// TestCase is a Test compiled for a runner: the plan of its target, its
// inputs and mocks, and its expectations, each traceable to its place in
// the file.
type TestCase struct {
	Name        string
	Description string
	// File is the test's file, relative to the project folder with forward
	// slashes; Line is where its document starts.
	File string
	Line int
	// Target names the flow or action the test runs; Plan is its plan.
	Target string
	Plan   *engine.Plan
	Inputs map[string]any
	// Mocks are in the order the file writes them.
	Mocks  []MockRule
	Expect Expectation

	doc *document
}

// MockRule is the mock of one step path, which may name every item of a
// foreach with [*].
type MockRule struct {
	Step      string         `json:"step"`
	Responses []MockResponse `json:"responses"`
	// At is where the mock is written, "file:line:col".
	At string `json:"at"`
}

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
	tc := &TestCase{
		Name: t.Name, Description: t.Description, File: doc.file, Line: doc.at.Line,
		Target: t.Target, Plan: plan, doc: doc,
	}
	if t.Inputs != nil {
		tc.Inputs = deepCopy(t.Inputs).(map[string]any)
	}
	for _, k := range doc.order["mocks"] {
		kp := joinPath("mocks", k)
		rule := MockRule{Step: k, At: tc.Where(kp)}
		for _, r := range t.Mocks[k] {
			r.Body = deepCopy(r.Body)
			rule.Responses = append(rule.Responses, r)
		}
		tc.Mocks = append(tc.Mocks, rule)
	}
	if t.Expect != nil {
		tc.Expect = *t.Expect
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

// Where is the place of the value at path in the test's document, such as
// Where("expect.outputs.total") → "order-sync.test.yaml:31:12", for
// messages about what the test expects.
func (tc *TestCase) Where(path string) string {
	if tc.doc == nil {
		return tc.File
	}
	at := tc.doc.valPos(path)
	return fmt.Sprintf("%s:%d:%d", tc.File, at.Line, at.Col)
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
