package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/creack/pty"
)

// runOnTerminal runs the CLI with its standard output on a
// pseudo-terminal of cols columns and returns what the terminal got, lines
// without their carriage returns.
func runOnTerminal(t *testing.T, addr string, cols uint16, columnsEnv string, args ...string) []string {
	t.Helper()
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptm.Close()
	if err := pty.Setsize(tty, &pty.Winsize{Rows: 24, Cols: cols}); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(&got, ptm) // ends with EIO once the terminal is closed
	}()
	var stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: tty, stderr: &stderr, getenv: func(k string) string {
		switch k {
		case "VPROC_ADDR":
			return addr
		case "COLUMNS":
			return columnsEnv
		}
		return ""
	}}
	code := run(context.Background(), args, e)
	tty.Close()
	<-done
	if code != 0 {
		t.Fatalf("%v: exit %d, stderr %s", args, code, stderr.String())
	}
	return strings.Split(strings.TrimSpace(strings.ReplaceAll(got.String(), "\r", "")), "\n")
}

// TestPsCutsToTerminalWidth: on a terminal ps cuts each line to its
// width, or to $COLUMNS, without the spaces the cut leaves at its end; -w
// prints whole lines, as a pipe gets them.
func TestPsCutsToTerminalWidth(t *testing.T) {
	f := psAPI(t)
	whole := strings.Split(strings.TrimSpace(runCLI(t, f.srv.URL, "", "ps", "-a").stdout), "\n")
	for _, tc := range []struct {
		name       string
		cols       uint16
		columnsEnv string
		args       []string
		width      int // 0: whole lines
	}{
		{"terminal width", 50, "", []string{"ps", "-a"}, 50},
		{"COLUMNS", 50, "72", []string{"ps", "-a"}, 72},
		{"wide", 50, "", []string{"ps", "-a", "-w"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines := runOnTerminal(t, f.srv.URL, tc.cols, tc.columnsEnv, tc.args...)
			if len(lines) != len(whole) {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(whole), strings.Join(lines, "\n"))
			}
			for i, l := range lines {
				want := whole[i]
				if tc.width > 0 && utf8.RuneCountInString(want) > tc.width {
					want = strings.TrimRight(string([]rune(want)[:tc.width]), " ")
				}
				if l != want {
					t.Errorf("line %d: got\n%q\nwant\n%q", i, l, want)
				}
			}
		})
	}
}

// TestCommandLineQuotes: a command line joins its words with spaces and
// quotes, as Go does, only the words a shell would split or expand.
func TestCommandLineQuotes(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		args []string
		want string
	}{
		{"sleep", []string{"5"}, "sleep 5"},
		{"true", nil, "true"},
		{"sh", []string{"-c", "echo job 7"}, `sh -c "echo job 7"`},
		{"", []string{"", "a$b", `q"uote`, "é"}, `"" "" "a$b" "q\"uote" é`},
		{"printf", []string{"a\tb\n", `back\slash`, "it's"}, `printf "a\tb\n" "back\\slash" "it's"`},
	} {
		if got := commandLine(tc.cmd, tc.args); got != tc.want {
			t.Errorf("commandLine(%q, %q) = %s, want %s", tc.cmd, tc.args, got, tc.want)
		}
	}
}
