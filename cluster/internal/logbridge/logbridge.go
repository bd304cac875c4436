package logbridge

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// hclogAdapter is an hclog.Logger writing to a slog.Logger at debug level.
type hclogAdapter struct {
	l    *slog.Logger
	name string
	args []any
}

var _ hclog.Logger = (*hclogAdapter)(nil)

// HCLog returns an hclog.Logger named name that writes to l at debug level.
func HCLog(l *slog.Logger, name string) hclog.Logger {
	return &hclogAdapter{l: l, name: name}
}

// StdlogWriter returns a writer for the standard log package (memberlist's
// LogOutput) that turns its lines into debug records of l.
func StdlogWriter(l *slog.Logger) io.Writer {
	return &stdlogWriter{logger: l}
}

func (h *hclogAdapter) enabled() bool { return h.l.Enabled(context.Background(), slog.LevelDebug) }

func (h *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || !h.enabled() {
		return
	}
	all := make([]any, 0, len(h.args)+len(args)+4)
	all = append(all, "module", h.name, "level", level.String())
	all = append(all, h.args...)
	all = append(all, args...)
	h.l.Debug(msg, all...)
}

func (h *hclogAdapter) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hclogAdapter) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hclogAdapter) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hclogAdapter) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hclogAdapter) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }
func (h *hclogAdapter) IsTrace() bool                 { return false }
func (h *hclogAdapter) IsDebug() bool                 { return h.enabled() }
func (h *hclogAdapter) IsInfo() bool                  { return h.enabled() }
func (h *hclogAdapter) IsWarn() bool                  { return h.enabled() }
func (h *hclogAdapter) IsError() bool                 { return h.enabled() }
func (h *hclogAdapter) ImpliedArgs() []any            { return h.args }
func (h *hclogAdapter) Name() string                  { return h.name }
func (h *hclogAdapter) SetLevel(hclog.Level)          {}

func (h *hclogAdapter) GetLevel() hclog.Level {
	if h.enabled() {
		return hclog.Debug
	}
	return hclog.Off
}

func (h *hclogAdapter) With(args ...any) hclog.Logger {
	return &hclogAdapter{l: h.l, name: h.name, args: append(append([]any(nil), h.args...), args...)}
}

func (h *hclogAdapter) Named(name string) hclog.Logger {
	n := name
	if h.name != "" {
		n = h.name + "." + name
	}
	return &hclogAdapter{l: h.l, name: n, args: h.args}
}

func (h *hclogAdapter) ResetNamed(name string) hclog.Logger {
	return &hclogAdapter{l: h.l, name: name, args: h.args}
}

func (h *hclogAdapter) StandardLogger(*hclog.StandardLoggerOptions) *log.Logger {
	return log.New(h.StandardWriter(nil), "", 0)
}

func (h *hclogAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return &stdlogWriter{logger: h.l.With("module", h.name)}
}

// stdlogWriter turns lines of the standard log package ("[WARN] memberlist:
// ...") into debug records.
type stdlogWriter struct {
	logger *slog.Logger
}

func (w *stdlogWriter) Write(p []byte) (int, error) {
	if !w.logger.Enabled(context.Background(), slog.LevelDebug) {
		return len(p), nil
	}
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		s := strings.TrimSpace(string(line))
		level := ""
		if strings.HasPrefix(s, "[") {
			if i := strings.IndexByte(s, ']'); i > 0 {
				level, s = s[1:i], strings.TrimSpace(s[i+1:])
			}
		}
		if level != "" {
			w.logger.Debug(s, "level", level)
		} else {
			w.logger.Debug(s)
		}
	}
	return len(p), nil
}
