package cluster

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

func TestHTTPLogs(t *testing.T) {
	h := newHarness(t, nil, true)
	pid := h.spawn(api.SpawnRequest{Command: "echo", Args: []string{"hello", "world"}})
	h.waitState(pid, fsm.StateExited)

	r := do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/logs", h.url, pid), nil, nil)
	if r.status != 200 || string(r.body) != "hello world\n" {
		t.Fatalf("logs: got %d %q", r.status, r.body)
	}
	if r.header.Get(api.HeaderOffset) != "0" {
		t.Errorf("offset header: got %q, want 0", r.header.Get(api.HeaderOffset))
	}
	r = do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/logs?offset=6", h.url, pid), nil, nil)
	if r.status != 200 || string(r.body) != "world\n" || r.header.Get(api.HeaderOffset) != "6" {
		t.Errorf("logs from offset 6: got %d %q offset %q", r.status, r.body, r.header.Get(api.HeaderOffset))
	}
	r = do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/logs?offset=100", h.url, pid), nil, nil)
	if r.status != 200 || len(r.body) != 0 {
		t.Errorf("logs past the end: got %d %q", r.status, r.body)
	}
	// follow on an exited process ends once everything is sent.
	r = do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/logs?follow", h.url, pid), nil, nil)
	if r.status != 200 || string(r.body) != "hello world\n" {
		t.Errorf("follow of an exited process: got %d %q", r.status, r.body)
	}
	// stderr goes to the same log.
	pid = h.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"nonsense"}})
	h.waitState(pid, fsm.StateExited)
	r = do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/logs", h.url, pid), nil, nil)
	if !strings.Contains(string(r.body), "invalid time interval") {
		t.Errorf("stderr in the log: got %q", r.body)
	}
}

func TestHTTPLogsFollow(t *testing.T) {
	h := newHarness(t, nil, true)
	pid := h.spawn(api.SpawnRequest{Command: "sh", Args: []string{"-c", "echo one; sleep 0.3; echo two; sleep 0.3; echo three"}})
	res, err := http.Get(fmt.Sprintf("%s/v1/procs/%d/logs?follow", h.url, pid))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	start := time.Now()
	line, err := br.ReadString('\n')
	if err != nil || line != "one\n" {
		t.Fatalf("first line: got %q, %v", line, err)
	}
	if p, _ := h.proc(pid); !p.State.Live() {
		t.Fatalf("the first line came only after the exit")
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("follow: %v", err)
	}
	if string(rest) != "two\nthree\n" {
		t.Errorf("follow: got %q, want %q", rest, "two\nthree\n")
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("follow took %v", el)
	}
	if p, _ := h.proc(pid); p.State != fsm.StateExited {
		t.Errorf("follow ended while the process is %s", p.State)
	}
}

func TestHTTPLogsFollowPending(t *testing.T) {
	// A follow of a process not yet placed waits for it.
	c := newFakeCore(t, "n1")
	c.autoPlace.Store(false)
	h := newHarness(t, c, true)
	pid := h.spawn(api.SpawnRequest{Command: "echo", Args: []string{"late"}})
	done := make(chan resp, 1)
	go func() { done <- do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/logs?follow", h.url, pid), nil, nil) }()
	c.apply(&fsm.Place{PID: pid, Incarnation: 1, ExpectState: fsm.StatePending, Node: "n1", Now: time.Now().UnixNano()})
	select {
	case r := <-done:
		if r.status != 200 || string(r.body) != "late\n" {
			t.Errorf("follow of a pending process: got %d %q", r.status, r.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow of a pending process did not end")
	}
}

func TestHTTPStdin(t *testing.T) {
	h := newHarness(t, nil, true)
	pid := h.spawn(api.SpawnRequest{Command: "cat", Stdin: true})
	r := do(t, "POST", fmt.Sprintf("%s/v1/procs/%d/stdin", h.url, pid), "hello\nvia stdin\n", nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("stdin: got %d %s", r.status, r.body)
	}
	r = do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/wait?timeout=10s", h.url, pid), nil, nil)
	var p api.Process
	r.decode(t, &p)
	if r.status != 200 || p.ExitCode == nil || *p.ExitCode != 0 {
		t.Fatalf("cat after EOF: got %d %s", r.status, r.body)
	}
	r = do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/logs", h.url, pid), nil, nil)
	if string(r.body) != "hello\nvia stdin\n" {
		t.Errorf("cat echoed %q", r.body)
	}
	// Stdin is a field of the table's spec, not an entry of the process's
	// environment.
	env := h.spawn(api.SpawnRequest{Command: "env", Stdin: true, Env: []string{"A=b"}})
	h.waitState(env, fsm.StateRunning, fsm.StateExited)
	r = do(t, "POST", fmt.Sprintf("%s/v1/procs/%d/stdin", h.url, env), "", nil)
	if r.status != http.StatusNoContent && r.status != http.StatusConflict {
		t.Errorf("stdin of env: %d %s", r.status, r.body)
	}
	h.waitState(env, fsm.StateExited)
	r = do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/logs", h.url, env), nil, nil)
	if strings.Contains(string(r.body), "VPROC_STDIN") || !strings.Contains(string(r.body), "A=b") {
		t.Errorf("env output: %q", r.body)
	}
	// It learns where and as which incarnation it runs.
	if !strings.Contains(string(r.body), "VPROC_INCARNATION=1\n") || !strings.Contains(string(r.body), "VPROC_NODE=") {
		t.Errorf("env output without VPROC_NODE and VPROC_INCARNATION: %q", r.body)
	}
	// An environment variable named VPROC_STDIN is just a variable: it
	// asks for no standard input.
	plain := h.spawn(api.SpawnRequest{Command: "env", Env: []string{"VPROC_STDIN=1"}})
	h.waitState(plain, fsm.StateExited)
	r = do(t, "POST", fmt.Sprintf("%s/v1/procs/%d/stdin", h.url, plain), "x", nil)
	if r.status != http.StatusBadRequest {
		t.Errorf("stdin of a process spawned without it: got %d %s, want 400", r.status, r.body)
	}
	r = do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/logs", h.url, plain), nil, nil)
	if !strings.Contains(string(r.body), "VPROC_STDIN=1\n") {
		t.Errorf("env output: got %q, want it to hold VPROC_STDIN=1", r.body)
	}
}

func TestHTTPStdinErrors(t *testing.T) {
	h := newHarness(t, nil, true)
	noStdin := h.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"10"}})
	r := do(t, "POST", fmt.Sprintf("%s/v1/procs/%d/stdin", h.url, noStdin), "x", nil)
	if r.status != 400 || r.err().Code != api.CodeBadRequest {
		t.Errorf("stdin without Stdin: got %d %s", r.status, r.body)
	}
	// A second stream while the first is attached is a conflict.
	pid := h.spawn(api.SpawnRequest{Command: "cat", Stdin: true})
	pr, pw := io.Pipe()
	first := make(chan resp, 1)
	go func() { first <- do(t, "POST", fmt.Sprintf("%s/v1/procs/%d/stdin", h.url, pid), pr, nil) }()
	if _, err := pw.Write([]byte("abc\n")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "cat to echo", 10*time.Second, func() bool {
		r := do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/logs", h.url, pid), nil, nil)
		return string(r.body) == "abc\n"
	})
	r = do(t, "POST", fmt.Sprintf("%s/v1/procs/%d/stdin", h.url, pid), "more", nil)
	if r.status != http.StatusConflict || r.err().Code != api.CodeConflict {
		t.Errorf("second stdin: got %d %s", r.status, r.body)
	}
	pw.Close()
	if r := <-first; r.status != http.StatusNoContent {
		t.Errorf("first stdin: got %d %s", r.status, r.body)
	}
	h.waitState(pid, fsm.StateExited)
	r = do(t, "POST", fmt.Sprintf("%s/v1/procs/%d/stdin", h.url, pid), "late", nil)
	if r.status != http.StatusConflict {
		t.Errorf("stdin after exit: got %d %s", r.status, r.body)
	}
}

func TestHTTPStdinKill(t *testing.T) {
	// A process blocked reading stdin dies at once when killed.
	h := newHarness(t, nil, true)
	pid := h.spawn(api.SpawnRequest{Command: "cat", Stdin: true})
	pr, pw := io.Pipe()
	defer pw.Close()
	done := make(chan resp, 1)
	go func() { done <- do(t, "POST", fmt.Sprintf("%s/v1/procs/%d/stdin", h.url, pid), pr, nil) }()
	h.waitState(pid, fsm.StateRunning)
	if r := do(t, "POST", h.url+"/v1/kill", api.KillRequest{Targets: []int64{int64(pid)}, Signal: 9}, nil); r.status != 200 {
		t.Fatalf("kill: %d %s", r.status, r.body)
	}
	p := h.waitState(pid, fsm.StateExited)
	if p.Status.Signal != 9 {
		t.Errorf("status: got %+v, want SIGKILL", p.Status)
	}
	pw.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stdin stream did not end after the kill")
	}
}
