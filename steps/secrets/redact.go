package secrets

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Redacted replaces secret values in logs.
const Redacted = "[REDACTED]"

// minRedactLen is the shortest value redacted by value: shorter ones
// ("1", "yes") would blank out ordinary words and say little anyway.
const minRedactLen = 4

// maxSeen bounds the values remembered.
const maxSeen = 4096

// Seen remembers the secret values a worker resolved, so that its logs can
// redact them wherever they appear. The zero value is ready to use; it is
// safe for concurrent use.
type Seen struct {
	mu       sync.RWMutex
	values   map[string]struct{}
	replacer *strings.Replacer // rebuilt lazily after a change
}

// Add remembers v.
func (s *Seen) Add(v string) {
	if s == nil || len(v) < minRedactLen {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.values[v]; ok {
		return
	}
	if s.values == nil || len(s.values) >= maxSeen {
		s.values = map[string]struct{}{}
	}
	s.values[v] = struct{}{}
	s.replacer = nil
}

// Redact returns text with every remembered value replaced.
func (s *Seen) Redact(text string) string {
	if s == nil {
		return text
	}
	s.mu.RLock()
	r, n := s.replacer, len(s.values)
	s.mu.RUnlock()
	if n == 0 {
		return text
	}
	if r == nil {
		s.mu.Lock()
		if s.replacer == nil {
			// Longest first: where values overlap at one position (a
			// password and the base64 form that starts like it), the
			// replacer takes the first in argument order.
			values := make([]string, 0, len(s.values))
			for v := range s.values {
				values = append(values, v)
			}
			sort.Slice(values, func(i, j int) bool {
				if len(values[i]) != len(values[j]) {
					return len(values[i]) > len(values[j])
				}
				return values[i] < values[j]
			})
			pairs := make([]string, 0, 2*len(values))
			for _, v := range values {
				pairs = append(pairs, v, Redacted)
			}
			s.replacer = strings.NewReplacer(pairs...)
		}
		r = s.replacer
		s.mu.Unlock()
	}
	return r.Replace(text)
}

// Watch makes r remember in seen every value it resolves from now on.
func (r *Resolver) Watch(seen *Seen) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = seen
}

// secretKey matches attribute keys whose values are secrets whatever they are.
var secretKey = regexp.MustCompile(`(?i)(pass(word|wd|phrase)?|secret|token|authorization|api[-_]?key|cookie|private[-_]?key|credential)`)

// RedactHandler wraps h so that no secret reaches the log: attributes
// whose key names a secret (password, secret, token, authorization,
// api_key, cookie, private_key, credential) are replaced whatever their
// value, and every value seen remembers is replaced wherever it appears,
// in the message and in attribute values (errors and other values are
// formatted first). seen may be nil.
func RedactHandler(h slog.Handler, seen *Seen) slog.Handler {
	return &redactHandler{inner: h, seen: seen}
}

type redactHandler struct {
	inner slog.Handler
	seen  *Seen
}

func (h *redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.seen.Redact(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.redact(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h *redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.redact(a)
	}
	return &redactHandler{inner: h.inner.WithAttrs(red), seen: h.seen}
}

func (h *redactHandler) WithGroup(name string) slog.Handler {
	return &redactHandler{inner: h.inner.WithGroup(name), seen: h.seen}
}

func (h *redactHandler) redact(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = h.redact(ga)
		}
		return slog.Group(a.Key, red...)
	}
	if secretKey.MatchString(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.seen.Redact(v.String()))
	case slog.KindAny:
		// Errors, structs, byte slices: their text is what the log shows.
		text := fmt.Sprint(v.Any())
		if red := h.seen.Redact(text); red != text {
			return slog.String(a.Key, red)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
