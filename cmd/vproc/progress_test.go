package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/internal/testwait"
)

// terminal is a pseudo-terminal: the commands write to its tty, and the
// test reads what a person would see from its other end.
type terminal struct {
	tty  *os.File
	seen syncBuffer
	done chan struct{}
}

func newTerminal(t *testing.T) *terminal {
	t.Helper()
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	term := &terminal{tty: tty, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		io.Copy(&term.seen, ptm) // ends with EIO once the tty is closed
	}()
	t.Cleanup(func() {
		tty.Close()
		ptm.Close()
		<-term.done
	})
	return term
}

// waitFor waits until the terminal has shown s.
func (term *terminal) waitFor(t *testing.T, s string) {
	t.Helper()
	testwait.For(t, "the terminal to show "+s, time.Minute, func() bool { return strings.Contains(term.seen.String(), s) })
}

// runOn runs vproc against addr with stdout and stderr as given.
func runOn(addr string, stdout, stderr io.Writer, args ...string) int {
	e := &env{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, getenv: func(k string) string {
		if k == "VPROC_ADDR" {
			return addr
		}
		return ""
	}}
	return run(context.Background(), args, e)
}

// TestWaitProgress waits on two PIDs on a terminal: it shows how many have
// exited while the second is still running, and prints both statuses; off
// a terminal it shows no progress.
func TestWaitProgress(t *testing.T) {
	f := newFakeAPI(t)
	release := make(chan struct{})
	f.mux.HandleFunc("GET /v1/procs/4/wait", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, api.Process{PID: 4, State: "exited", ExitCode: intp(0)})
	})
	f.mux.HandleFunc("GET /v1/procs/5/wait", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		writeAnswer(w, 200, api.Process{PID: 5, State: "exited", ExitCode: intp(2)})
	})
	term := newTerminal(t)
	var stdout syncBuffer
	code := make(chan int, 1)
	go func() { code <- runOn(f.srv.URL, &stdout, term.tty, "wait", "4", "5") }()
	term.waitFor(t, "waiting: 1 of 2 exited")
	if got := stdout.String(); got != "4: exit status 0\n" {
		t.Errorf("while 5 runs: got stdout %q, want 4's status", got)
	}
	close(release)
	if c := <-code; c != 2 || stdout.String() != "4: exit status 0\n5: exit status 2\n" {
		t.Errorf("got exit %d, stdout %q", c, stdout.String())
	}

	var out, errOut bytes.Buffer
	if c := runOn(f.srv.URL, &out, &errOut, "wait", "4", "5"); c != 2 || errOut.Len() != 0 {
		t.Errorf("off a terminal: got exit %d, stderr %q; want no progress", c, errOut.String())
	}
}

// TestBenchProgress runs bench on a terminal: it shows each concurrency as
// it runs and then the table; off a terminal it shows only the table.
func TestBenchProgress(t *testing.T) {
	f := newFakeAPI(t)
	f.onSpawn(3)
	term := newTerminal(t)
	var stdout bytes.Buffer
	if c := runOn(f.srv.URL, &stdout, term.tty, "bench", "spawn", "--concurrency", "1,2", "--count", "5"); c != 0 {
		t.Fatalf("exit %d, stdout %q, terminal %q", c, stdout.String(), term.seen.String())
	}
	term.waitFor(t, "vproc bench spawn: concurrency 1 (1 of 2): ")
	term.waitFor(t, "vproc bench spawn: concurrency 2 (2 of 2): ")
	if !strings.Contains(stdout.String(), "CONCURRENCY") {
		t.Errorf("got stdout %q, want the table", stdout.String())
	}
	var out, errOut bytes.Buffer
	if c := runOn(f.srv.URL, &out, &errOut, "bench", "spawn", "--concurrency", "1", "--count", "3"); c != 0 || errOut.Len() != 0 || !strings.Contains(out.String(), "CONCURRENCY") {
		t.Errorf("off a terminal: got exit %d, stdout %q, stderr %q", c, out.String(), errOut.String())
	}
}

// TestSnapshotProgress saves and restores a snapshot on a terminal: each
// shows its bytes and rate; off a terminal neither says anything.
func TestSnapshotProgress(t *testing.T) {
	f := newFakeAPI(t)
	body := bytes.Repeat([]byte("snapshot"), 12800) // 100 KiB
	var restored atomic.Int64
	f.mux.HandleFunc("GET /v1/snapshot", func(w http.ResponseWriter, r *http.Request) { w.Write(body) })
	f.mux.HandleFunc("PUT /v1/snapshot", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		restored.Store(int64(len(b)))
		writeAnswer(w, 200, struct{}{})
	})
	file := filepath.Join(t.TempDir(), "table.snap")
	term := newTerminal(t)
	if c := runOn(f.srv.URL, io.Discard, term.tty, "snapshot", "save", file); c != 0 {
		t.Fatalf("save: exit %d, terminal %q", c, term.seen.String())
	}
	term.waitFor(t, "snapshot saved: 100.0 KiB in ")
	if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("saved %d bytes (%v), want %d", len(got), err, len(body))
	}
	if c := runOn(f.srv.URL, io.Discard, term.tty, "snapshot", "restore", file); c != 0 {
		t.Fatalf("restore: exit %d, terminal %q", c, term.seen.String())
	}
	term.waitFor(t, "snapshot restored: 100.0 KiB in ")
	if n := restored.Load(); n != int64(len(body)) {
		t.Errorf("the agent got %d bytes, want %d", n, len(body))
	}
	if !strings.Contains(term.seen.String(), "/s)") {
		t.Errorf("no rate on the terminal: %q", term.seen.String())
	}

	var errOut bytes.Buffer
	if c := runOn(f.srv.URL, io.Discard, &errOut, "snapshot", "save", file); c != 0 || errOut.Len() != 0 {
		t.Errorf("off a terminal: exit %d, stderr %q", c, errOut.String())
	}
}

// TestTopOnTerminal checks that top redraws the screen on a terminal and
// writes plain refreshes elsewhere.
func TestTopOnTerminal(t *testing.T) {
	f := psAPI(t)
	f.mux.HandleFunc("GET /v1/nodes", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, api.NodeList{Nodes: []api.Node{{Name: "n1"}}})
	})
	term := newTerminal(t)
	if c := runOn(f.srv.URL, term.tty, io.Discard, "top", "--once"); c != 0 {
		t.Fatalf("exit %d", c)
	}
	term.waitFor(t, "\x1b[H\x1b[2J")
	term.waitFor(t, "vproc top - ")
	var out bytes.Buffer
	if c := runOn(f.srv.URL, &out, io.Discard, "top", "-n", "2", "-d", "10ms"); c != 0 || strings.Contains(out.String(), "\x1b") ||
		strings.Count(out.String(), "vproc top - ") != 2 {
		t.Errorf("off a terminal: exit %d, stdout %q", c, out.String())
	}
}
