package logbridge

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestStdlogWriterLevels(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w := StdlogWriter(l)
	in := "[WARN] memberlist: probe failed\nplain line\n"
	if n, err := w.Write([]byte(in)); err != nil || n != len(in) {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(in))
	}
	out := buf.String()
	for _, want := range []string{`msg="memberlist: probe failed" level=WARN`, `msg="plain line"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
}

func TestHCLogDebugOnly(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := HCLog(l, "raft")
	h.Error("election lost")
	if buf.Len() != 0 {
		t.Errorf("an info-level logger got %q, want nothing", buf.String())
	}
	if h.IsDebug() {
		t.Errorf("IsDebug() = true for an info-level logger")
	}
}
