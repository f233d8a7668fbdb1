package engine

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/outflow-dev/outflow/engine/yamlkit"
)

// TestFailure is an expectation of a test that a run did not meet.
type TestFailure struct {
	// At is where the expectation is written, "file:line:col".
	At string `json:"at"`
	// Path locates the expectation in the test, such as "expect.outputs.total".
	Path string `json:"path,omitempty"`
	// Message says what was expected and what the run gave.
	Message string `json:"message"`
}

// String formats the failure as "file:line:col: path: message".
func (f TestFailure) String() string {
	if f.Path == "" {
		return f.At + ": " + f.Message
	}
	return f.At + ": " + f.Path + ": " + f.Message
}

// Verify checks the record of a run of the test's target against its
// expectations, in the order the test writes them. calls says how many
// calls a step (by its path in the record) made; it may be nil when the
// test counts none.
func (tc *TestCase) Verify(rec *Record, calls func(step string) int) []TestFailure {
	v := &verifier{tc: tc}
	e := &tc.Expect
	if rec == nil {
		v.fail("", "the run left no execution record")
		return v.out
	}
	if rec.Status != e.Status {
		p := "expect.status"
		if _, set := tc.Places[p]; !set {
			p = ""
		}
		msg := fmt.Sprintf("the run %s, expected it to have %s", rec.Status, e.Status)
		if rec.Status == StatusFailed && rec.Error != nil {
			msg += ": " + rec.Error.Message
		}
		v.fail(p, "%s", msg)
	}
	if e.Error != "" {
		got := ""
		if rec.Error != nil {
			got = rec.Error.Message
		}
		if !strings.Contains(got, e.Error) {
			v.fail("expect.error", "expected the run's error to contain %s, got %s", show(e.Error), showError(got))
		}
	}
	// A run that failed when it should not have computed no outputs: the
	// status failure above says why, and a line per output would bury it.
	skipOutputs := rec.Status != e.Status && rec.Status == StatusFailed && len(rec.Outputs) == 0
	for _, k := range keysInOrder(tc.order("expect.outputs"), e.Outputs) {
		if skipOutputs {
			break
		}
		p := yamlkit.JoinPath("expect.outputs", k)
		got, ok := rec.Outputs[k]
		if !ok {
			v.fail(p, "expected output %q to be %s, but the run has no output %q%s", k, show(e.Outputs[k]), k, outputsNote(rec))
			continue
		}
		v.match(p, e.Outputs[k], jsonValue(got), e.OutputsMatch == "exact")
	}
	if e.OutputsMatch == "exact" && !skipOutputs {
		var extra []string
		for k := range rec.Outputs {
			if _, ok := e.Outputs[k]; !ok {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		if len(extra) > 0 {
			v.fail("expect.outputs_match", "outputs_match is exact, but the run also has %s", yamlkit.QuoteList(extra))
		}
	}
	for _, k := range keysInOrder(tc.order("expect.steps"), e.Steps) {
		v.step(yamlkit.JoinPath("expect.steps", k), k, e.Steps[k], rec, calls)
	}
	if len(e.Assert) > 0 {
		env := newAssertEnv(rec)
		for i, a := range e.Assert {
			p := yamlkit.IndexPath("expect.assert", i)
			ok, detail, err := a.Check(env)
			switch {
			case err != nil:
				msg := strings.TrimSpace(exprLocation.ReplaceAllString(yamlkit.FirstLine(err.Error()), ""))
				v.fail(p, "%s fails: %s", a, msg)
			case !ok && detail != "":
				v.fail(p, "%s is false: %s", a, detail)
			case !ok:
				v.fail(p, "%s is false", a)
			}
		}
	}
	return v.out
}

// order lists the keys of the mapping at path as the test writes them.
func (tc *TestCase) order(path string) []string {
	return tc.Order[path]
}

// keysInOrder lists the keys of m in the order the test writes them, then
// any others, sorted: a test case changed after loading checks what it holds.
func keysInOrder[V any](order []string, m map[string]V) []string {
	out := make([]string, 0, len(m))
	seen := map[string]bool{}
	for _, k := range order {
		if _, ok := m[k]; ok && !seen[k] {
			out = append(out, k)
			seen[k] = true
		}
	}
	for _, k := range sortedKeys(m) {
		if !seen[k] {
			out = append(out, k)
		}
	}
	return out
}

type verifier struct {
	tc  *TestCase
	out []TestFailure
}

func (v *verifier) fail(path, format string, args ...any) {
	v.out = append(v.out, TestFailure{At: v.tc.Where(path), Path: path, Message: fmt.Sprintf(format, args...)})
}

func outputsNote(rec *Record) string {
	if rec.Status == StatusFailed {
		return " (a failed run computes no outputs)"
	}
	if len(rec.Outputs) == 0 {
		return " (it has none)"
	}
	return fmt.Sprintf(" (it has %s)", strings.Join(sortedKeys(rec.Outputs), ", "))
}

func showError(s string) string {
	if s == "" {
		return "no error"
	}
	return show(s)
}

// step checks the records of the steps named by a path of the test.
func (v *verifier) step(p, name string, se TestStepExpectation, rec *Record, calls func(string) int) {
	var matched []*StepRecord
	for _, s := range rec.Steps {
		if MatchStepPath(name, s.ID) {
			matched = append(matched, s)
		}
	}
	if len(matched) == 0 {
		last := ""
		if n := len(rec.Steps); n > 0 {
			last = fmt.Sprintf("; the last step that ran is %q (%s)", rec.Steps[n-1].ID, rec.Steps[n-1].Status)
		}
		v.fail(p, "step %q did not run%s", name, last)
		return
	}
	for _, s := range matched {
		who := ""
		if s.ID != name {
			who = fmt.Sprintf("%s: ", s.ID)
		}
		if se.Status != "" && s.Status != se.Status {
			msg := fmt.Sprintf("%sexpected status %s, got %s", who, se.Status, s.Status)
			if s.Error != nil {
				msg += ": " + s.Error.Message
			}
			v.fail(p+".status", "%s", msg)
		}
		if se.StatusCode != 0 {
			switch {
			case s.Response == nil:
				v.fail(p+".status_code", "%sexpected HTTP status %d, but the step got no response%s", who, se.StatusCode, errorNote(s))
			case s.Response.StatusCode != se.StatusCode:
				v.fail(p+".status_code", "%sexpected HTTP status %d, got %d", who, se.StatusCode, s.Response.StatusCode)
			}
		}
		if se.Calls != 0 && calls != nil {
			if got := calls(s.ID); got != se.Calls {
				v.fail(p+".calls", "%sexpected %d %s, got %d", who, se.Calls, plural(se.Calls, "call", "calls"), got)
			}
		}
		if se.Error != "" {
			got := ""
			if s.Error != nil {
				got = s.Error.Message
			}
			if !strings.Contains(got, se.Error) {
				v.fail(p+".error", "%sexpected the step's error to contain %s, got %s", who, show(se.Error), showError(got))
			}
		}
		if r := se.Request; r != nil {
			v.request(p+".request", who, r, s)
		}
		for _, k := range keysInOrder(v.tc.order(p+".outputs"), se.Outputs) {
			op := yamlkit.JoinPath(p+".outputs", k)
			got, ok := s.Outputs[k]
			if !ok {
				v.fail(op, "%sexpected output %q to be %s, but the step has no output %q", who, k, show(se.Outputs[k]), k)
				continue
			}
			v.match(op, se.Outputs[k], jsonValue(got), false)
		}
	}
}

func errorNote(s *StepRecord) string {
	if s.Error != nil {
		return " (" + s.Error.Message + ")"
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func (v *verifier) request(p, who string, r *TestRequestExpectation, s *StepRecord) {
	req := s.Request
	if req == nil {
		v.fail(p, "%sthe step sent no request%s", who, errorNote(s))
		return
	}
	if r.Method != "" && !strings.EqualFold(r.Method, req.Method) {
		v.fail(p+".method", "%sexpected method %s, got %s", who, r.Method, req.Method)
	}
	if r.URL != "" && r.URL != req.URL {
		v.fail(p+".url", "%sexpected URL %s, got %s", who, r.URL, req.URL)
	}
	for _, k := range keysInOrder(v.tc.order(p+".headers"), r.Headers) {
		want := Stringify(r.Headers[k])
		got, ok := req.Headers[strings.ToLower(k)]
		switch {
		case !ok:
			v.fail(yamlkit.JoinPath(p+".headers", k), "%sexpected header %s: %s, but the request has no %s header", who, k, want, k)
		case got != want:
			v.fail(yamlkit.JoinPath(p+".headers", k), "%sexpected header %s: %s, got %s", who, k, show(want), show(got))
		}
	}
	switch want := r.Body.(type) {
	case nil:
	case string:
		if want != req.Body {
			v.fail(p+".body", "%sexpected the body %s, got %s", who, show(want), show(req.Body))
		}
	default:
		var got any
		if err := json.Unmarshal([]byte(req.Body), &got); err != nil {
			v.fail(p+".body", "%sexpected a JSON body matching %s, got %s", who, show(want), show(req.Body))
			break
		}
		v.match(p+".body", want, got, false)
	}
	if r.BodyContains != "" && !strings.Contains(req.Body, r.BodyContains) {
		v.fail(p+".body_contains", "%sexpected the body to contain %s, got %s", who, show(r.BodyContains), show(req.Body))
	}
}

// match compares an expected value from the test with a value of the run,
// reporting the first difference at its own path in the test.
func (v *verifier) match(p string, want, got any, exact bool) {
	if where, w, g, ok := diff(want, got, exact, ""); !ok {
		at := p
		if where != "" {
			at = p + where
		}
		// The deepest path the test wrote is where the failure points.
		for at != p && v.tc.Places != nil {
			if _, known := v.tc.Places[at]; known {
				break
			}
			at = yamlkit.ParentPath(at)
		}
		v.fail(at, "expected %s, got %s%s", w, g, inside(p, at, where))
	}
}

// inside names the part of a value that differs when the test does not
// write it, such as a missing field.
func inside(p, at, where string) string {
	if p+where == at || where == "" {
		return ""
	}
	return fmt.Sprintf(" at %s", strings.TrimPrefix(p+where, at))
}

// diff finds the first difference between want and got: where it is (a
// path suffix such as ".lines[1].sku") and both sides in words. Without
// exact, mappings match when got holds the fields of want.
func diff(want, got any, exact bool, where string) (string, string, string, bool) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return where, show(want), show(got), false
		}
		for _, k := range sortedKeys(w) {
			gv, ok := g[k]
			if !ok {
				return subPath(where, k), show(w[k]), "no field " + show(k), false
			}
			if wh, ws, gs, ok := diff(w[k], gv, exact, subPath(where, k)); !ok {
				return wh, ws, gs, false
			}
		}
		if exact && len(g) != len(w) {
			for _, k := range sortedKeys(g) {
				if _, ok := w[k]; !ok {
					return subPath(where, k), "no field " + show(k), show(g[k]), false
				}
			}
		}
		return "", "", "", true
	case []any:
		g, ok := got.([]any)
		if !ok {
			return where, show(want), show(got), false
		}
		if len(g) != len(w) {
			return where, fmt.Sprintf("%d %s", len(w), plural(len(w), "element", "elements")), fmt.Sprintf("%d: %s", len(g), show(got)), false
		}
		for i := range w {
			if wh, ws, gs, ok := diff(w[i], g[i], exact, yamlkit.IndexPath(where, i)); !ok {
				return wh, ws, gs, false
			}
		}
		return "", "", "", true
	}
	if wn, ok := number(want); ok {
		if gn, ok := number(got); ok && wn == gn {
			return "", "", "", true
		}
		return where, show(want), show(got), false
	}
	if want != got {
		return where, show(want), show(got), false
	}
	return "", "", "", true
}

// subPath appends a key to a path suffix, as joinPath does to a path.
func subPath(where, key string) string {
	if !yamlkit.PlainKey.MatchString(key) {
		return fmt.Sprintf("%s[%q]", where, key)
	}
	return where + "." + key
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// jsonValue turns a value of a record into the shapes JSON gives, so that
// it compares with what the test writes whatever Go types the run used.
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return v
	}
	return out
}

// assertEnv is what the assertions of a test read: the record as JSON, and
// its steps by path.
func newAssertEnv(rec *Record) AssertEnv {
	r, _ := jsonValue(rec).(map[string]any)
	steps := map[string]any{}
	if list, ok := r["steps"].([]any); ok {
		for _, s := range list {
			if m, ok := s.(map[string]any); ok {
				if id, ok := m["id"].(string); ok {
					steps[id] = m
				}
			}
		}
	}
	outputs := r["outputs"]
	if outputs == nil {
		outputs = map[string]any{}
	}
	inputs := r["inputs"]
	if inputs == nil {
		inputs = map[string]any{}
	}
	return AssertEnv{Outputs: outputs, Inputs: inputs, Steps: steps, Record: r}
}
