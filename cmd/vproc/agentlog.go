package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
)

// The agent's log format, --log-format and the log_format key.
const (
	logFormatText = "text"
	logFormatJSON = "json"
)

// errBadLogFormat is the error of a --log-format that is not a format.
var errBadLogFormat = errors.New("bad --log-format")

// checkLogFormat checks --log-format.
func checkLogFormat(s string) error {
	switch s {
	case logFormatText, logFormatJSON:
		return nil
	}
	return fmt.Errorf("%w %q (want text or json)", errBadLogFormat, s)
}

// newAgentLogger returns the agent's logger: slog's text (logfmt) or JSON
// lines on w at level, each line carrying the node's name, and every error
// and message on one line (oneLineHandler).
func newAgentLogger(w io.Writer, format string, level slog.Leveler, nodeName string) (*slog.Logger, error) {
	if err := checkLogFormat(format); err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == logFormatJSON {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(oneLineHandler{h}).With("node", nodeName), nil
}

// oneLineHandler writes each record's message, errors and strings on one
// line: a multi-error (go-multierror's "1 error occurred:" block, or
// errors.Join's lines) becomes its errors joined by "; ", and any other
// line break a space. The handlers would escape the breaks anyway; this
// keeps a line readable and greppable.
type oneLineHandler struct{ h slog.Handler }

func (o oneLineHandler) Enabled(ctx context.Context, l slog.Level) bool { return o.h.Enabled(ctx, l) }

func (o oneLineHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, oneLogLine(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(flattenAttr(a))
		return true
	})
	return o.h.Handle(ctx, out)
}

func (o oneLineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	flat := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		flat[i] = flattenAttr(a)
	}
	return oneLineHandler{o.h.WithAttrs(flat)}
}

func (o oneLineHandler) WithGroup(name string) slog.Handler {
	return oneLineHandler{o.h.WithGroup(name)}
}

// flattenAttr puts an error or a string value on one line.
func flattenAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		if s := v.String(); strings.ContainsAny(s, "\r\n") {
			return slog.String(a.Key, oneLogLine(s))
		}
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return slog.String(a.Key, flattenError(err))
		}
	case slog.KindGroup:
		g := v.Group()
		flat := make([]any, len(g))
		for i, ga := range g {
			flat[i] = flattenAttr(ga)
		}
		return slog.Group(a.Key, flat...)
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// flattenError renders err on one line: the errors of a multi-error
// joined by "; ", each flattened in turn.
func flattenError(err error) string {
	var errs []error
	switch e := err.(type) {
	case interface{ WrappedErrors() []error }: // go-multierror
		errs = e.WrappedErrors()
	case interface{ Unwrap() []error }: // errors.Join, fmt.Errorf with several %w
		errs = e.Unwrap()
	}
	if len(errs) == 0 {
		return oneLogLine(err.Error())
	}
	parts := make([]string, 0, len(errs))
	for _, e := range errs {
		if e != nil {
			parts = append(parts, flattenError(e))
		}
	}
	return strings.Join(parts, "; ")
}

var (
	// multiHeader is go-multierror's header line, "N error(s) occurred:".
	multiHeader = regexp.MustCompile(`\d+ errors? occurred:\s*`)
	// multiItem is the break before one of its items, "\n\t* ".
	multiItem = regexp.MustCompile(`\s*\n\t\* `)
)

// oneLogLine puts s on one line: a go-multierror block wrapped in another
// error keeps its items, joined by "; ", and any other run of spaces and
// line breaks becomes one space.
func oneLogLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	s = multiItem.ReplaceAllString(s, "; ")
	s = multiHeader.ReplaceAllStringFunc(s, func(string) string { return "" })
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, ": ; ", ": ")
	return strings.TrimPrefix(strings.TrimSpace(s), "; ")
}
