package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeSignals stands in for os/signal: the test sends signals to the
// channels the agent registered.
type fakeSignals struct {
	mu   sync.Mutex
	subs map[os.Signal][]chan<- os.Signal // guarded by mu
}

func (f *fakeSignals) notify(c chan<- os.Signal, sig ...os.Signal) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range sig {
		f.subs[s] = append(f.subs[s], c)
	}
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, s := range sig {
			for i, x := range f.subs[s] {
				if x == c {
					f.subs[s] = append(f.subs[s][:i:i], f.subs[s][i+1:]...)
					break
				}
			}
		}
	}
}

func (f *fakeSignals) send(sig os.Signal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.subs[sig] {
		c <- sig
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer // guarded by mu
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAgentAsService runs an agent as systemd would: it reports READY=1
// once it serves, reloads its config file on SIGHUP (RELOADING=1, then
// READY=1), and reports STOPPING=1 and exits 0 on SIGTERM.
func TestAgentAsService(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	next := func() string {
		t.Helper()
		buf := make([]byte, 256)
		conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("waiting for the agent's notification: %v", err)
		}
		return string(buf[:n])
	}
	cfgFile := writeFile(t, dir, "agent.hcl", "retention = \"1h\"\nlog_level = \"info\"\n")
	sigs := &fakeSignals{subs: make(map[os.Signal][]chan<- os.Signal)}
	var stderr syncBuffer
	e := &env{
		stdin:  strings.NewReader(""),
		stdout: &bytes.Buffer{},
		stderr: &stderr,
		getenv: func(k string) string {
			if k == "NOTIFY_SOCKET" {
				return sock
			}
			return ""
		},
		notify: sigs.notify,
	}
	code := make(chan int, 1)
	go func() {
		code <- run(context.Background(), []string{"agent", "--dev", "--config", cfgFile,
			"--http-addr", "127.0.0.1:0", "--raft-addr", "127.0.0.1:0", "--gossip-addr", "127.0.0.1:0"}, e)
	}()
	if got := next(); got != "READY=1" {
		t.Fatalf("got %q, want READY=1", got)
	}
	writeFile(t, dir, "agent.hcl", "retention = \"2h\"\nlog_level = \"debug\"\ncpus = 3\n")
	sigs.send(syscall.SIGHUP)
	if got := next(); !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Errorf("after SIGHUP: got %q, want RELOADING=1 with the monotonic clock", got)
	}
	if got := next(); got != "READY=1" {
		t.Errorf("after the reload: got %q, want READY=1", got)
	}
	sigs.send(syscall.SIGTERM)
	if got := next(); got != "STOPPING=1" {
		t.Errorf("after SIGTERM: got %q, want STOPPING=1", got)
	}
	waitAgentExit(t, code, &stderr)
	log := stderr.String()
	if !strings.Contains(log, `msg="settings reloaded" node=dev retention=2h0m0s`) || !strings.Contains(log, "keys=[cpus]") {
		t.Errorf("got log\n%s\nwant the new retention applied and cpus waiting for a restart", log)
	}
}

// waitAgentExit waits for the agent run on code to exit after SIGTERM,
// and fails the test unless it exits 0.
func waitAgentExit(t *testing.T, code <-chan int, stderr *syncBuffer) {
	t.Helper()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("agent exited %d, want 0; stderr:\n%s", c, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the agent did not stop on SIGTERM")
	}
}
