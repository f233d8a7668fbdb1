package secrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestRedactHandler(t *testing.T) {
	t.Setenv("REDACT_TEST_PASSWORD", "hunter2-correct-horse")
	r := New("")
	seen := &Seen{}
	r.Watch(seen)
	if _, err := r.Resolve(context.Background(), "env:REDACT_TEST_PASSWORD"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(RedactHandler(slog.NewJSONHandler(&buf, nil), seen))
	log = log.With("conn", "partner", "Authorization", "Basic abc")
	log.Info("calling with hunter2-correct-horse",
		"error", errors.New("partner said: bad password hunter2-correct-horse"),
		"api_key", "k-123",
		"db_password", 42,
		slog.Group("req", "header", "x hunter2-correct-horse y", "token", "t"),
		"count", 3,
	)
	out := buf.String()
	if strings.Contains(out, "hunter2") || strings.Contains(out, "k-123") || strings.Contains(out, "abc") {
		t.Fatalf("secret in log: %s", out)
	}
	var e map[string]any
	if err := json.Unmarshal(buf.Bytes(), &e); err != nil {
		t.Fatal(err)
	}
	req := e["req"].(map[string]any)
	if e["msg"] != "calling with [REDACTED]" || e["error"] != "partner said: bad password [REDACTED]" || e["api_key"] != Redacted ||
		e["db_password"] != Redacted || e["Authorization"] != Redacted || req["header"] != "x [REDACTED] y" || req["token"] != Redacted ||
		e["count"] != 3.0 || e["conn"] != "partner" {
		t.Fatalf("log line: %v", e)
	}
}

func TestSeenSkipsShortValuesAndIsBounded(t *testing.T) {
	s := &Seen{}
	s.Add("abc")
	if got := s.Redact("abc abc"); got != "abc abc" {
		t.Fatalf("short values must not be redacted: %q", got)
	}
	var nilSeen *Seen
	nilSeen.Add("whatever")
	if nilSeen.Redact("whatever") != "whatever" {
		t.Fatal("a nil Seen redacts nothing")
	}
	for i := range maxSeen + 10 {
		s.Add(strings.Repeat("x", 4) + string(rune('a'+i%26)) + strings.Repeat("y", i))
	}
	if len(s.values) > maxSeen {
		t.Fatalf("%d values remembered", len(s.values))
	}
}

func TestSeenPrefersTheLongestValue(t *testing.T) {
	for i := range 20 { // map order differs between runs of the loop
		s := &Seen{}
		s.Add("token-abc")
		s.Add("token-abc-and-more")
		s.Add(strings.Repeat("z", 5+i))
		if got := s.Redact("x token-abc-and-more y"); got != "x [REDACTED] y" {
			t.Fatalf("got %q: the shorter value was replaced first and left the rest", got)
		}
	}
}
