package devserver

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// levelOff is above every level the server logs at, so nothing passes.
const levelOff = slog.Level(100)

func parseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "warn", "warning":
		return slog.LevelWarn, nil
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "error":
		return slog.LevelError, nil
	case "off", "none", "never":
		return levelOff, nil
	}
	return 0, fmt.Errorf("invalid log level %q (want debug, info, warn, error or off)", s)
}

func defaultSlogger() *slog.Logger {
	// Stderr, because stdout belongs to the command that embeds the server
	// (tables, JSON) and must stay parseable.
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// serverLogger adapts the server's logging interface to slog. The level is a
// LevelVar so that Stop can silence the warnings the server routinely emits
// while it shuts down.
type serverLogger struct {
	log   *slog.Logger
	level *slog.LevelVar
	tags  []tag.Tag
	// exit, when set, ends the process on Fatal instead of panicking: a
	// server that is the whole process (outflow server) fails like
	// Temporal's own, with the message and no goroutine dump.
	exit func(code int)
}

var (
	_ log.Logger     = (*serverLogger)(nil)
	_ log.WithLogger = (*serverLogger)(nil)
)

func (l *serverLogger) Debug(msg string, tags ...tag.Tag) { l.emit(slog.LevelDebug, msg, tags) }
func (l *serverLogger) Info(msg string, tags ...tag.Tag)  { l.emit(slog.LevelInfo, msg, tags) }
func (l *serverLogger) Warn(msg string, tags ...tag.Tag)  { l.emit(slog.LevelWarn, msg, tags) }
func (l *serverLogger) Error(msg string, tags ...tag.Tag) { l.emit(slog.LevelError, msg, tags) }

// DPanic is a development-mode assertion in the server; an embedded server
// must not crash its host process over one.
func (l *serverLogger) DPanic(msg string, tags ...tag.Tag) { l.emit(slog.LevelError, msg, tags) }

// Panic and Fatal are how the server reports broken setup (a port it cannot
// bind, unreadable certificates). Its own logger would exit the process; this
// one panics with a fatalError that Start recovers into an ordinary error when
// it happens on the starting goroutine.
func (l *serverLogger) Panic(msg string, tags ...tag.Tag) { l.fatal(msg, tags) }
func (l *serverLogger) Fatal(msg string, tags ...tag.Tag) { l.fatal(msg, tags) }

func (l *serverLogger) With(tags ...tag.Tag) log.Logger {
	return &serverLogger{log: l.log, level: l.level, tags: append(l.tags[:len(l.tags):len(l.tags)], tags...), exit: l.exit}
}

func (l *serverLogger) fatal(msg string, tags []tag.Tag) {
	l.emit(slog.LevelError, msg, tags)
	fe := &fatalError{msg: msg, attrs: l.attrs(tags)}
	if l.exit != nil {
		fmt.Fprintf(os.Stderr, "temporal server: %v\n", fe)
		l.exit(1)
	}
	panic(fe)
}

// routineWarnings are what the server logs as warnings about requests it
// handles as asked: the Temporal Web UI asks for history pages larger than
// the server's maximum, and the server serves the maximum, logging each
// time while the UI is open. They are logged at debug level.
var routineWarnings = []string{
	"GetHistory page size is larger than threshold",
}

func (l *serverLogger) emit(level slog.Level, msg string, tags []tag.Tag) {
	if level == slog.LevelWarn && slices.Contains(routineWarnings, msg) {
		level = slog.LevelDebug
	}
	if level < l.level.Level() || !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.LogAttrs(context.Background(), level, msg, l.attrs(tags)...)
}

func (l *serverLogger) attrs(tags []tag.Tag) []slog.Attr {
	attrs := make([]slog.Attr, 0, len(l.tags)+len(tags))
	for _, t := range l.tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	for _, t := range tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	return attrs
}

// fatalError is what a Fatal log call of the server turns into.
type fatalError struct {
	msg   string
	attrs []slog.Attr
}

func (e *fatalError) Error() string {
	var b strings.Builder
	b.WriteString(e.msg)
	for _, a := range e.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	return b.String()
}

// recoverFatal turns a fatalError panic raised by the server during fn into an
// error; other panics keep unwinding.
func recoverFatal(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(*fatalError)
			if !ok {
				panic(r)
			}
			err = fe
		}
	}()
	return fn()
}
