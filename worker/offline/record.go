package offline

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/outflow-dev/outflow/engine"
	"github.com/outflow-dev/outflow/steps/httpcall"
)

// Recording turns a real run into mocks: what the partner answered each
// step, so that the test replays it without the partner. What could let
// someone in is left out: credential, cookie and API key headers, and
// fields of bodies whose names say they hold a secret.

// droppedHeaders describe a connection rather than an answer; a mock
// computes its own length.
var droppedHeaders = map[string]bool{
	"date": true, "content-length": true, "connection": true, "keep-alive": true,
	"transfer-encoding": true, "server": true, "strict-transport-security": true,
}

// sensitiveField reports whether a body field holds a secret by its name,
// such as access_token, password or client_secret.
func sensitiveField(name string, cred *engine.Credential) bool {
	n := strings.ToLower(name)
	return httpcall.IsSensitiveHeader(name, cred) || strings.Contains(n, "api_key") || strings.Contains(n, "apikey") ||
		strings.Contains(n, "private_key") || strings.Contains(n, "credential")
}

// sensitiveElement finds the text of XML elements whose names say they hold
// a secret (Password, SessionToken, ApiKey...), in any namespace.
var sensitiveElement = regexp.MustCompile(`(?i)(<(?:[\w.-]+:)?[\w.-]*(?:password|secret|token|api_?key)[\w.-]*(?:\s[^>]*)?>)([^<]+)(</)`)

// Fixtures returns the mocks of a run as YAML, a mapping of step paths to
// mocks in the order the steps ran, and notes on what could not be
// recorded as the partner sent it.
func Fixtures(rec *engine.Record, plan *engine.Plan) (block []byte, notes []string, err error) {
	type entry struct {
		step string
		mock yaml.MapSlice
	}
	var entries []entry
	for _, s := range rec.Steps {
		if !engine.CallsActivity(s.Kind) || s.Status == engine.StatusSkipped {
			continue
		}
		var cred *engine.Credential
		if c := plan.Connections[s.Connection]; c != nil {
			cred = c.Credential
		}
		m, note := fixture(s, cred)
		if note != "" {
			notes = append(notes, note)
		}
		if m != nil {
			entries = append(entries, entry{s.ID, m})
		}
	}
	// The items of a foreach that all got the same answer share one mock.
	groups := map[string][]int{}
	var order []string
	for i, e := range entries {
		pat := foreachItems.ReplaceAllString(e.step, "[*]")
		if _, seen := groups[pat]; !seen {
			order = append(order, pat)
		}
		groups[pat] = append(groups[pat], i)
	}
	var out yaml.MapSlice
	for _, pat := range order {
		idx := groups[pat]
		same := len(idx) > 1
		for _, i := range idx[1:] {
			if !reflect.DeepEqual(entries[i].mock, entries[idx[0]].mock) {
				same = false
				break
			}
		}
		if same {
			out = append(out, yaml.MapItem{Key: pat, Value: entries[idx[0]].mock})
			continue
		}
		for _, i := range idx {
			out = append(out, yaml.MapItem{Key: entries[i].step, Value: entries[i].mock})
		}
	}
	if len(out) == 0 {
		return nil, notes, fmt.Errorf("the run of %s %q made no call that could be recorded", strings.ToLower(rec.Kind), rec.Flow)
	}
	block, err = yaml.MarshalWithOptions(out, yaml.UseLiteralStyleIfMultiline(true), yaml.Indent(2), yaml.IndentSequence(true))
	if err != nil {
		return nil, notes, fmt.Errorf("writing the mocks as YAML: %w", err)
	}
	return block, notes, nil
}

var foreachItems = regexp.MustCompile(`\[[0-9]+\]`)

// fixture is the mock of one step's last call, or nil with a note saying
// why there is none.
func fixture(s *engine.StepRecord, cred *engine.Credential) (yaml.MapSlice, string) {
	if s.Response == nil {
		if s.Error == nil {
			return nil, ""
		}
		switch s.Error.Type {
		case engine.ErrConnection:
			return yaml.MapSlice{{Key: "error", Value: "connection"}}, ""
		case engine.ErrTimeout:
			return yaml.MapSlice{{Key: "error", Value: "timeout"}}, ""
		case engine.ErrTLSHandshake:
			return yaml.MapSlice{{Key: "error", Value: "tls"}}, ""
		}
		return nil, fmt.Sprintf("step %s failed before the partner answered (%s: %s); it has no mock", s.ID, s.Error.Type, s.Error.Message)
	}
	r := s.Response
	var m yaml.MapSlice
	if r.StatusCode != 200 {
		m = append(m, yaml.MapItem{Key: "status", Value: r.StatusCode})
	}
	var headers yaml.MapSlice
	for _, k := range sortedKeys(r.Headers) {
		if droppedHeaders[k] || httpcall.IsSensitiveHeader(k, cred) {
			continue
		}
		if k == "content-type" && defaultContentType(s.Kind, r) {
			continue // the mock sends it unasked
		}
		headers = append(headers, yaml.MapItem{Key: k, Value: r.Headers[k]})
	}
	if len(headers) > 0 {
		m = append(m, yaml.MapItem{Key: "headers", Value: headers})
	}
	var note string
	switch {
	case r.JSON != nil:
		m = append(m, yaml.MapItem{Key: "body", Value: redactJSON(r.JSON, cred)})
	case r.Body != "":
		body := sensitiveElement.ReplaceAllString(r.Body, "${1}"+httpcall.Redacted+"${3}")
		m = append(m, yaml.MapItem{Key: "body", Value: body})
	}
	if r.BodyTruncated {
		note = fmt.Sprintf("the body of step %s was cut at the body limit (%d of %d bytes); its mock holds the part that was kept", s.ID, len(r.Body), r.BodySize)
	}
	if s.Polls > 1 {
		note = fmt.Sprintf("step %s polled %d times; the record keeps its last answer only, which its mock gives every call", s.ID, s.Polls)
	}
	if len(s.Pages) > 1 {
		note = fmt.Sprintf("step %s read %d pages; the record keeps its last page only, so its mock answers with that page; write one reply per page into its mock to test the walk", s.ID, len(s.Pages))
	}
	if len(m) == 0 {
		m = yaml.MapSlice{{Key: "status", Value: r.StatusCode}}
	}
	return m, note
}

// defaultContentType reports whether a response's content type is the one
// a mock of its step sends without being told.
func defaultContentType(kind string, r *engine.ResponseSummary) bool {
	ct := strings.ToLower(strings.ReplaceAll(r.Headers["content-type"], " ", ""))
	if kind == "soap" {
		return ct == "text/xml;charset=utf-8" || ct == "application/soap+xml;charset=utf-8"
	}
	return r.JSON != nil && (ct == "application/json" || ct == "application/json;charset=utf-8")
}

// redactJSON copies a JSON value with the values of secret-looking fields
// replaced, and integral numbers written as integers.
func redactJSON(v any, cred *engine.Credential) any {
	switch x := v.(type) {
	case map[string]any:
		out := yaml.MapSlice{}
		for _, k := range sortedKeys(x) {
			val := redactJSON(x[k], cred)
			if sensitiveField(k, cred) {
				if _, nested := x[k].(map[string]any); !nested {
					val = httpcall.Redacted
				}
			}
			out = append(out, yaml.MapItem{Key: k, Value: val})
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactJSON(e, cred)
		}
		return out
	case float64:
		if x == float64(int64(x)) && x < 1e15 && x > -1e15 {
			return int64(x)
		}
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
