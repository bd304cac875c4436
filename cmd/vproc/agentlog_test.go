package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/vproc/vproc/internal/testwait"
)

// jsonLines parses every line of out as a JSON object.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("a log line that is not JSON: %v\n%s", err, l)
		}
		lines = append(lines, m)
	}
	return lines
}

// TestAgentLoggerJSON: every line is a JSON object naming the node, and
// the PID and raft index a call site gives are attributes of their own.
func TestAgentLoggerJSON(t *testing.T) {
	var buf bytes.Buffer
	l, err := newAgentLogger(&buf, "json", slog.LevelInfo, "n7")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("process started", "pid", 42, "index", 17)
	l.With("component", "raft").Warn("two\nlines")
	l.Debug("not at info")
	lines := jsonLines(t, buf.String())
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), buf.String())
	}
	for _, m := range lines {
		if m["node"] != "n7" || m["time"] == nil || m["level"] == nil {
			t.Errorf("line without node, time or level: %v", m)
		}
	}
	if lines[0]["pid"] != float64(42) || lines[0]["index"] != float64(17) || lines[0]["msg"] != "process started" {
		t.Errorf("first line: %v", lines[0])
	}
	if lines[1]["msg"] != "two lines" || lines[1]["component"] != "raft" {
		t.Errorf("second line: %v", lines[1])
	}
}

// TestAgentLoggerMultiError: a multi-error, bare or wrapped, from
// go-multierror or errors.Join, is logged on one line with its errors
// joined by "; " and no "N errors occurred" header.
func TestAgentLoggerMultiError(t *testing.T) {
	one := multierror.Append(nil, errors.New("Failed to join 10.0.0.9:7072: connection refused"))
	two := multierror.Append(nil, errors.New("a failed"), errors.New("b failed"))
	for _, tc := range []struct {
		err  error
		want string
	}{
		{one, "Failed to join 10.0.0.9:7072: connection refused"},
		{two, "a failed; b failed"},
		{fmt.Errorf("joining: %w", two), "joining: a failed; b failed"},
		{errors.Join(errors.New("x"), errors.New("y")), "x; y"},
		{fmt.Errorf("stopping: %w", errors.Join(errors.New("x"), errors.New("y"))), "stopping: x y"},
	} {
		for _, format := range []string{"text", "json"} {
			var buf bytes.Buffer
			l, err := newAgentLogger(&buf, format, slog.LevelInfo, "n1")
			if err != nil {
				t.Fatal(err)
			}
			l.Error("joining seeds failed", "error", tc.err)
			out := buf.String()
			if strings.Count(out, "\n") != 1 || strings.Contains(out, `\n`) || strings.Contains(out, "occurred") {
				t.Errorf("%s: %q is not one clean line", format, out)
			}
			if format == "json" {
				if got := jsonLines(t, out)[0]["error"]; got != tc.want {
					t.Errorf("json: error %q, want %q", got, tc.want)
				}
			} else if !strings.Contains(out, "node=n1") || !strings.Contains(out, tc.want) {
				t.Errorf("text: %q lacks node=n1 or %q", out, tc.want)
			}
		}
	}
	if _, err := newAgentLogger(&bytes.Buffer{}, "xml", slog.LevelInfo, "n1"); !errors.Is(err, errBadLogFormat) {
		t.Errorf("format xml: got %v, want errBadLogFormat", err)
	}
}

// TestAgentJSONLogs runs the agent with --log-format json and a seed that
// refuses: every line it writes is JSON naming the node, and memberlist's
// multi-error about the seed is on the line of its own.
func TestAgentJSONLogs(t *testing.T) {
	sigs := &fakeSignals{subs: make(map[os.Signal][]chan<- os.Signal)}
	var stderr syncBuffer
	e := &env{
		stdin:  strings.NewReader(""),
		stdout: &bytes.Buffer{},
		stderr: &stderr,
		getenv: func(string) string { return "" },
		notify: sigs.notify,
	}
	code := make(chan int, 1)
	go func() {
		code <- run(context.Background(), []string{"agent", "--name", "jnode", "--data-dir", t.TempDir(),
			"--bootstrap-expect", "1", "--join", "127.0.0.1:1", "--log-format", "json",
			"--http-addr", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0", "--gossip-addr", "127.0.0.1:0"}, e)
	}()
	testwait.For(t, "the agent running and its failed join logged", 60*time.Second, func() bool {
		s := stderr.String()
		return strings.Contains(s, "agent running") && strings.Contains(s, "joining seeds failed")
	})
	sigs.send(syscall.SIGTERM)
	waitAgentExit(t, code, &stderr)
	var joinErr string
	for _, m := range jsonLines(t, stderr.String()) {
		if m["node"] != "jnode" {
			t.Errorf("a line without node=jnode: %v", m)
		}
		if m["msg"] == "joining seeds failed; retrying" {
			joinErr, _ = m["error"].(string)
		}
	}
	if !strings.Contains(joinErr, "127.0.0.1:1") || strings.Contains(joinErr, "occurred") || strings.ContainsAny(joinErr, "\n\t") {
		t.Errorf("the failed join's error: %q, want memberlist's error on one line", joinErr)
	}
}
