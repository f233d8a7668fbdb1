package flows

import (
	"fmt"
	"sort"
	"strings"
)

// index holds the documents of a project by kind and name.
type index struct {
	flows       map[string]*document
	actions     map[string]*document
	connections map[string]*document
	profiles    map[string]*document
	tests       map[string]*document
	settings    *ProjectSettings
	docs        []*document // in file and line order
}

// reservedProfiles are the names of the built-in protocol profiles.
var reservedProfiles = []string{"http", "https"}

// checker runs the checks that span fields and documents.
type checker struct {
	l   *loader
	idx *index
	// calls records which actions each action calls, to find cycles.
	calls map[string][]actionCall
	// events collects, per flow, the waits for events and the
	// callback_url calls, to match them (events.go).
	events *flowEvents
}

type actionCall struct {
	to   string
	doc  *document
	path string
}

func (c *checker) errorf(doc *document, at pos, path, format string, args ...any) {
	c.l.problems = append(c.l.problems, Problem{File: doc.file, Line: at.Line, Col: at.Col, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) warnf(doc *document, at pos, path, format string, args ...any) {
	c.l.warnings = append(c.l.warnings, Problem{File: doc.file, Line: at.Line, Col: at.Col, Path: path, Message: fmt.Sprintf(format, args...)})
}

// check indexes the decoded documents and checks everything that spans
// fields: references, expressions, step scopes and cycles.
func (l *loader) check() *index {
	idx := &index{
		flows:       map[string]*document{},
		actions:     map[string]*document{},
		connections: map[string]*document{},
		profiles:    map[string]*document{},
		tests:       map[string]*document{},
	}
	sort.SliceStable(l.docs, func(i, j int) bool {
		a, b := l.docs[i], l.docs[j]
		if a.file != b.file {
			return a.file < b.file
		}
		return a.at.Line < b.at.Line
	})
	idx.docs = l.docs
	c := &checker{l: l, idx: idx, calls: map[string][]actionCall{}}
	var settingsDoc *document
	for _, doc := range l.docs {
		if doc.kind == KindProject {
			if base := doc.file; base != SettingsFile && base != "outflow.yml" {
				c.errorf(doc, doc.keyPos("kind"), "kind", "project settings belong in %s at the root of the project folder; move this document there", SettingsFile)
				continue
			}
			if settingsDoc != nil {
				c.errorf(doc, doc.keyPos("kind"), "kind", "project settings are already given at %s:%d; keep one kind: Project document", settingsDoc.file, settingsDoc.at.Line)
				continue
			}
			settingsDoc = doc
			idx.settings = doc.value.(*ProjectSettings)
			continue
		}
		if doc.name == "" {
			continue // reported as missing
		}
		var m map[string]*document
		switch doc.kind {
		case KindFlow, KindAction:
			// Flows and actions share one namespace: both run by name.
			other := idx.flows[doc.name]
			if other == nil {
				other = idx.actions[doc.name]
			}
			if other != nil {
				c.errorf(doc, doc.valPos("name"), "name", "duplicate name %q: %s %q is defined at %s:%d already; flows and actions share one namespace", doc.name, other.kind, doc.name, other.file, other.at.Line)
				continue
			}
			m = idx.flows
			if doc.kind == KindAction {
				m = idx.actions
			}
		case KindConnection:
			m = idx.connections
		case KindProtocolProfile:
			m = idx.profiles
		case KindTest:
			m = idx.tests
		}
		if other := m[doc.name]; other != nil {
			c.errorf(doc, doc.valPos("name"), "name", "duplicate %s %q: it is defined at %s:%d already", doc.kind, doc.name, other.file, other.at.Line)
			continue
		}
		m[doc.name] = doc
	}
	if settingsDoc != nil {
		c.checkSettings(settingsDoc, idx.settings)
	}
	for _, kind := range []string{KindProtocolProfile, KindConnection, KindAction, KindFlow, KindTest} {
		for _, doc := range l.docs {
			if doc.kind == kind && doc.name != "" {
				c.checkDocument(doc)
			}
		}
	}
	c.checkCycles()
	return idx
}

// checkDocument runs the checks of one named document.
func (c *checker) checkDocument(doc *document) {
	switch v := doc.value.(type) {
	case *ProtocolProfile:
		c.checkProfile(doc)
	case *Connection:
		c.checkConnection(doc)
	case *Action:
		c.events = nil
		c.checkRunnable(doc, "action", v.Inputs, nil, v.Steps, v.Outputs, v.OnFailure)
	case *Flow:
		c.events = &flowEvents{}
		b := c.checkRunnable(doc, "flow", v.Inputs, v.Vars, v.Steps, v.Outputs, v.OnFailure)
		for i, t := range v.Triggers {
			c.checkSchedule(b, indexPath("triggers", i)+".schedule", t.Schedule)
			c.checkTrigger(b, indexPath("triggers", i), t)
		}
		c.checkFlowEvents(doc)
	case *Test:
		c.checkTest(doc)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (c *checker) checkSettings(doc *document, s *ProjectSettings) {
	// Step results travel through Temporal, whose payloads are limited to
	// 2 MB by default; a body kept whole and parsed as JSON counts twice.
	if s.BodyLimit > 1<<20 {
		c.warnf(doc, doc.valPos("body_limit"), "body_limit", "a body limit above 1MiB can make step results exceed Temporal's payload limit (2 MB by default), which fails the step")
	}
	c.checkGateway(doc, s.Gateway)
	if s.RecordLimit > 1536<<10 {
		c.warnf(doc, doc.valPos("record_limit"), "record_limit", "a record limit above 1536KiB can make the record exceed Temporal's payload limit (2 MB by default), which fails queries and the flow's result")
	}
}

// checkCycles reports actions that call themselves, directly or through
// other actions, which would recurse without end.
func (c *checker) checkCycles() {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var stack []string
	reported := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		state[name] = visiting
		stack = append(stack, name)
		for _, call := range c.calls[name] {
			switch state[call.to] {
			case unvisited:
				visit(call.to)
			case visiting:
				i := len(stack) - 1
				for stack[i] != call.to {
					i--
				}
				cycle := append(append([]string(nil), stack[i:]...), call.to)
				key := cycleKey(cycle[:len(cycle)-1])
				if !reported[key] {
					reported[key] = true
					if c.anyFlow(cycle) {
						c.errorf(call.doc, call.doc.valPos(call.path), call.path, "flow cycle: %s; a flow cannot start itself, directly or through other flows and actions", strings.Join(cycle, " → "))
					} else {
						c.errorf(call.doc, call.doc.valPos(call.path), call.path, "action cycle: %s; an action cannot call itself, directly or through other actions", strings.Join(cycle, " → "))
					}
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
	}
	for _, name := range sortedKeys(c.calls) {
		if state[name] == unvisited {
			visit(name)
		}
	}
}

// anyFlow says a cycle of calls goes through a flow.
func (c *checker) anyFlow(names []string) bool {
	for _, n := range names {
		if c.idx.flows[n] != nil {
			return true
		}
	}
	return false
}

// cycleKey names a cycle the same whichever action it starts from.
func cycleKey(cycle []string) string {
	best := 0
	for i := range cycle {
		if cycle[i] < cycle[best] {
			best = i
		}
	}
	rotated := append(append([]string(nil), cycle[best:]...), cycle[:best]...)
	return strings.Join(rotated, "\x00")
}
