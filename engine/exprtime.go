package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/expr-lang/expr"
)

// Time in expressions. now() is the workflow's time (workflow.Now, the same
// on every replay), bound by the flow's scope under the name "now" as a
// function; it is never the machine's clock. The language's own date(),
// duration() and time arithmetic (a time plus a duration, a time minus a
// time) work on the values now() returns; formattime and parsetime below
// add the named layouts a sync needs.

// nowKey is the name the scope binds the workflow clock under in an
// environment map.
const nowKey = "now"

// errNoClock is what now() says where no flow runs (validation, a test of
// one expression).
var errNoClock = errors.New("now() reads the flow's time and is only available while a flow runs")

// nowOf returns the clock an environment map binds, or one that fails.
func nowOf(env map[string]any) func() (time.Time, error) {
	if f, ok := env[nowKey].(func() time.Time); ok && f != nil {
		return func() (time.Time, error) { return f(), nil }
	}
	return func() (time.Time, error) { return time.Time{}, errNoClock }
}

// maxLayout bounds a time layout: formatting writes at most a few bytes per
// byte of layout, so the result stays small.
const maxLayout = 128

// timeLayouts are the layout names formattime and parsetime know besides
// Go layouts ("2006-01-02").
var timeLayouts = map[string]string{
	"rfc3339":     time.RFC3339,
	"rfc3339nano": time.RFC3339Nano,
	"rfc1123":     time.RFC1123,
	"rfc1123z":    time.RFC1123Z,
	"date":        "2006-01-02",
	"datetime":    "2006-01-02 15:04:05",
}

func layoutOf(name string) (string, error) {
	if l, ok := timeLayouts[strings.ToLower(name)]; ok {
		return l, nil
	}
	if len(name) > maxLayout {
		return "", fmt.Errorf("layout is %d bytes, more than %d", len(name), maxLayout)
	}
	if name == "" {
		return "", fmt.Errorf("empty layout")
	}
	return name, nil
}

// toTime reads a time from a time or from an RFC 3339 string (what a time
// becomes in vars, records and after continue-as-new).
func toTime(fn string, v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case string:
		t, err := time.Parse(time.RFC3339Nano, x)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 time such as 2026-01-02T15:04:05Z", fn, truncate(x, 40))
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s: needs a time, got %T", fn, v)
}

// fnFormatTime is formattime(t, layout): t (a time, or an RFC 3339 string)
// written in layout (a Go layout such as "2006-01-02", or rfc3339, date,
// datetime, rfc1123, unix, unixmilli), in t's own zone.
func fnFormatTime(p ...any) (any, error) {
	t, err := toTime("formattime", p[0])
	if err != nil {
		return nil, err
	}
	name := Stringify(p[1])
	switch strings.ToLower(name) {
	case "unix":
		return t.Unix(), nil
	case "unixmilli":
		return t.UnixMilli(), nil
	}
	layout, err := layoutOf(name)
	if err != nil {
		return nil, fmt.Errorf("formattime: %w", err)
	}
	return t.Format(layout), nil
}

// fnParseTime is parsetime(s, layout): the time s says in layout (as for
// formattime; unix and unixmilli take numbers). Without a zone in s, UTC.
func fnParseTime(p ...any) (any, error) {
	name := Stringify(p[1])
	switch strings.ToLower(name) {
	case "unix", "unixmilli":
		var n int64
		switch x := p[0].(type) {
		case int:
			n = int64(x)
		case int64:
			n = x
		case float64:
			n = int64(x)
		default:
			return nil, fmt.Errorf("parsetime: %s needs a number, got %T", name, p[0])
		}
		if strings.ToLower(name) == "unix" {
			return time.Unix(n, 0).UTC(), nil
		}
		return time.UnixMilli(n).UTC(), nil
	}
	layout, err := layoutOf(name)
	if err != nil {
		return nil, fmt.Errorf("parsetime: %w", err)
	}
	s, ok := p[0].(string)
	if !ok {
		return nil, fmt.Errorf("parsetime: needs a string, got %T", p[0])
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return nil, fmt.Errorf("parsetime: %q does not match layout %q", truncate(s, 40), layout)
	}
	return t, nil
}

// timeOptions are the time functions, the same bounded and legacy: their
// results are a few dozen bytes at most (layouts are bounded).
func timeOptions() []expr.Option {
	return []expr.Option{
		expr.Function("formattime", fnFormatTime, new(func(any, string) any)),
		expr.Function("parsetime", fnParseTime, new(func(any, string) time.Time)),
	}
}

// storable turns what an expression yields into what a flow keeps (vars,
// records, continue-as-new input): a time becomes its RFC 3339 text and a
// duration its text ("1h30m0s"), which date() and duration() read back.
func storable(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case time.Duration:
		return x.String()
	}
	return v
}
