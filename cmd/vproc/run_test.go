package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

func intp(n int) *int { return &n }

func TestExitCode(t *testing.T) {
	cases := []struct {
		p      api.Process
		code   int
		reason bool
		line   string
	}{
		{api.Process{PID: 5, State: "exited", ExitCode: intp(0)}, 0, false, "5: exit status 0"},
		{api.Process{PID: 5, State: "exited", ExitCode: intp(3)}, 3, false, "5: exit status 3"},
		{api.Process{PID: 5, State: "exited", ExitCode: intp(255)}, 255, false, "5: exit status 255"},
		{api.Process{PID: 5, State: "exited", ExitCode: intp(127), Reason: "unknown program"}, 127, false, "5: exit status 127 (unknown program)"},
		{api.Process{PID: 5, State: "exited", Signal: intp(9)}, 137, false, "5: killed by SIGKILL"},
		{api.Process{PID: 5, State: "exited", Signal: intp(6), Core: true}, 134, false, "5: killed by SIGABRT (core dumped)"},
		{api.Process{PID: 5, State: "exited", Signal: intp(15)}, 143, false, "5: killed by SIGTERM"},
		{api.Process{PID: 5, State: "lost", Reason: "node n2 down"}, 125, true, "5: lost (node n2 down)"},
		{api.Process{PID: 5, State: "exited"}, 125, true, "5: no exit status (state exited)"},
	}
	for _, tc := range cases {
		code, reason := exitCode(tc.p)
		if code != tc.code || (reason != "") != tc.reason {
			t.Errorf("exitCode(%+v): got %d %q, want %d, reason %v", tc.p, code, reason, tc.code, tc.reason)
		}
		if got := statusLine(tc.p); got != tc.line {
			t.Errorf("statusLine(%+v): got %q, want %q", tc.p, got, tc.line)
		}
	}
}

// procAPI is a fake agent that runs one process: spawn answers pid, logs
// give out, and wait gives final.
func procAPI(t *testing.T, pid uint64, out string, final api.Process) *fakeAPI {
	f := newFakeAPI(t)
	f.onSpawn(pid)
	f.onKill()
	p := fmt.Sprintf("/v1/procs/%d", pid)
	f.mux.HandleFunc("GET "+p+"/logs", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("offset") == "" {
			writeLog(w, r, 0, api.LogChunk{Stream: "stdout", Data: []byte(out)})
		}
	})
	f.mux.HandleFunc("GET "+p+"/wait", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, final)
	})
	f.mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, final)
	})
	f.mux.HandleFunc("POST "+p+"/stdin", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.hits["stdin:"+string(b)]++
		f.mu.Unlock()
	})
	return f
}

func TestRunExitCodes(t *testing.T) {
	cases := []struct {
		name   string
		final  api.Process
		code   int
		stderr string
	}{
		{"success", api.Process{PID: 8, State: "exited", ExitCode: intp(0)}, 0, ""},
		{"own code", api.Process{PID: 8, State: "exited", ExitCode: intp(42)}, 42, ""},
		{"signal", api.Process{PID: 8, State: "exited", Signal: intp(9)}, 137, ""},
		{"unknown program at exec", api.Process{PID: 8, State: "exited", ExitCode: intp(127)}, 127, ""},
		{"lost", api.Process{PID: 8, State: "lost", Reason: "node n3 lost"}, 125, "vproc: process 8 was lost: node n3 lost\n"},
		{"cannot start", api.Process{PID: 8, State: "exited", ExitCode: intp(126), Reason: "cannot start: chdir /nonexistent: no such file or directory"}, 126,
			"vproc: cannot start: chdir /nonexistent: no such file or directory\n"},
		{"unknown program at start", api.Process{PID: 8, State: "exited", ExitCode: intp(127), Reason: "unknown program nope"}, 127, "vproc: unknown program nope\n"},
		{"own 126 with a reason-less exit", api.Process{PID: 8, State: "exited", ExitCode: intp(126)}, 126, ""},
	}
	for _, tc := range cases {
		f := procAPI(t, 8, "hello\nworld\n", tc.final)
		r := runCLI(t, f.srv.URL, "", "run", "--", "prog", "a")
		if r.code != tc.code || r.stdout != "hello\nworld\n" || r.stderr != tc.stderr {
			t.Errorf("%s: got %+v, want exit %d, the output, stderr %q", tc.name, r, tc.code, tc.stderr)
		}
		if req := f.lastSpawn(t); req.Command != "prog" || req.Stdin {
			t.Errorf("%s: got spawn %+v, want prog without stdin", tc.name, req)
		}
	}
}

func TestRunSpawnFailures(t *testing.T) {
	f := newFakeAPI(t)
	f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 400, api.Error{Code: api.CodeUnknownProgram, Message: "unknown program: nope"})
	})
	r := runCLI(t, f.srv.URL, "", "run", "nope")
	if r.code != 127 || r.stderr != "vproc: unknown program: nope\n" {
		t.Errorf("unknown program: got %+v, want exit 127", r)
	}

	f = newFakeAPI(t)
	f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 500, api.Error{Code: api.CodeInternal, Message: "disk full"})
	})
	r = runCLI(t, f.srv.URL, "", "run", "true")
	if r.code != 125 || r.stderr != "vproc: spawn: disk full\n" {
		t.Errorf("agent failure: got %+v, want exit 125", r)
	}

	r = runCLI(t, unreachable(t), "", "run", "true")
	checkOneLine(t, []string{"run"}, r.stderr)
	if r.code != 125 || !strings.Contains(r.stderr, "cannot reach the agent") {
		t.Errorf("unreachable: got %+v, want exit 125", r)
	}

	// The process vanished while run waited for it.
	f = newFakeAPI(t)
	f.onSpawn(4)
	f.mux.HandleFunc("GET /v1/procs/4/logs", func(w http.ResponseWriter, r *http.Request) {})
	f.mux.HandleFunc("GET /v1/procs/4/wait", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 404, api.Error{Code: api.CodeNoSuchProcess, Message: "no such process: 4"})
	})
	r = runCLI(t, f.srv.URL, "", "run", "true")
	checkOneLine(t, []string{"run"}, r.stderr)
	if r.code != 125 {
		t.Errorf("vanished: got %+v, want exit 125", r)
	}
}

func TestRunInteractive(t *testing.T) {
	// cat exits once its stdin reaches EOF: the fake's wait answers only
	// after the stdin stream has ended (an exited process may otherwise
	// end run before the stream is sent, and the test would race it).
	f := newFakeAPI(t)
	f.onSpawn(6)
	got := make(chan string, 1)
	f.mux.HandleFunc("GET /v1/procs/6/logs", func(w http.ResponseWriter, r *http.Request) {})
	f.mux.HandleFunc("POST /v1/procs/6/stdin", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	})
	seen := make(chan string, 1)
	f.mux.HandleFunc("GET /v1/procs/6/wait", func(w http.ResponseWriter, r *http.Request) {
		select {
		case b := <-got:
			seen <- b
		case <-time.After(10 * time.Second):
			seen <- "(no stdin stream)"
		}
		writeAnswer(w, 200, api.Process{PID: 6, State: "exited", ExitCode: intp(0)})
	})
	r := runCLI(t, f.srv.URL, "line one\n", "run", "-i", "--", "cat")
	if r.code != 0 {
		t.Fatalf("got %+v, want exit 0", r)
	}
	if !f.lastSpawn(t).Stdin {
		t.Error("run -i spawned without stdin")
	}
	if stdin := <-seen; stdin != "line one\n" {
		t.Errorf("stdin stream %q, want %q", stdin, "line one\n")
	}
}

func TestRunResumesBrokenLogs(t *testing.T) {
	f := newFakeAPI(t)
	f.onSpawn(9)
	waited := make(chan struct{})
	f.mux.HandleFunc("GET /v1/procs/9/logs", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("offset") {
		case "":
			writeLog(w, r, 0, api.LogChunk{Stream: "stdout", Data: []byte("abc")}) // then the stream ends early
		case "3":
			if r.URL.Query().Get("follow") == "true" {
				<-waited
				return
			}
			writeLog(w, r, 3, api.LogChunk{Stream: "stdout", Data: []byte("def")})
		}
	})
	f.mux.HandleFunc("GET /v1/procs/9/wait", func(w http.ResponseWriter, r *http.Request) {
		defer close(waited)
		writeAnswer(w, 200, api.Process{PID: 9, State: "exited", ExitCode: intp(0)})
	})
	r := runCLI(t, f.srv.URL, "", "run", "prog")
	if r.code != 0 || r.stdout != "abcdef" {
		t.Errorf("got %+v, want exit 0 and output abcdef", r)
	}
}

func TestWait(t *testing.T) {
	f := newFakeAPI(t)
	finals := map[string]api.Process{
		"1": {PID: 1, State: "exited", ExitCode: intp(0)},
		"2": {PID: 2, State: "exited", ExitCode: intp(3)},
		"3": {PID: 3, State: "exited", Signal: intp(15)},
		"4": {PID: 4, State: "lost"},
	}
	f.mux.HandleFunc("GET /v1/procs/{pid}/wait", func(w http.ResponseWriter, r *http.Request) {
		p, ok := finals[r.PathValue("pid")]
		if !ok {
			writeAnswer(w, 404, api.Error{Code: api.CodeNoSuchProcess, Message: "no such process"})
			return
		}
		writeAnswer(w, 200, p)
	})
	cases := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"1"}, 0, "1: exit status 0\n", ""},
		{[]string{"1", "2"}, 3, "1: exit status 0\n2: exit status 3\n", ""},
		{[]string{"2", "1"}, 0, "2: exit status 3\n1: exit status 0\n", ""},
		{[]string{"2", "3"}, 143, "2: exit status 3\n3: killed by SIGTERM\n", ""},
		{[]string{"4"}, 125, "4: lost\n", "vproc: process 4 was lost\n"},
		{[]string{"99"}, 125, "", "vproc: no such process: 99\n"},
		{[]string{"99", "2"}, 3, "2: exit status 3\n", "vproc: no such process: 99\n"},
		{[]string{"x"}, 125, "", "vproc: bad PID \"x\": want a whole number from 1 up\n"},
		{[]string{"0"}, 125, "", "vproc: bad PID \"0\": want a whole number from 1 up\n"},
	}
	for _, tc := range cases {
		r := runCLI(t, f.srv.URL, "", append([]string{"wait"}, tc.args...)...)
		if r.code != tc.code || r.stdout != tc.stdout || r.stderr != tc.stderr {
			t.Errorf("wait %v: got %+v, want exit %d, stdout %q, stderr %q", tc.args, r, tc.code, tc.stdout, tc.stderr)
		}
	}
	if f.hitsOf("/v1/procs/1/reap") != 0 {
		t.Error("wait reaped")
	}
}

func TestLogs(t *testing.T) {
	f := newFakeAPI(t)
	f.mux.HandleFunc("GET /v1/procs/5/logs", func(w http.ResponseWriter, r *http.Request) {
		writeLog(w, r, 0, api.LogChunk{Stream: "stdout", Data: []byte("follow=" + r.URL.Query().Get("follow") + "\n")})
	})
	f.mux.HandleFunc("GET /v1/procs/6/logs", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 404, api.Error{Code: api.CodeNoSuchProcess, Message: "no such process"})
	})
	if r := runCLI(t, f.srv.URL, "", "logs", "5"); r.code != 0 || r.stdout != "follow=\n" {
		t.Errorf("logs 5: got %+v", r)
	}
	if r := runCLI(t, f.srv.URL, "", "logs", "-f", "5"); r.code != 0 || r.stdout != "follow=true\n" {
		t.Errorf("logs -f 5: got %+v", r)
	}
	if r := runCLI(t, f.srv.URL, "", "logs", "6"); r.code != 1 || r.stderr != "vproc: no such process: 6\n" {
		t.Errorf("logs 6: got %+v", r)
	}
	if r := runCLI(t, f.srv.URL, "", "logs", "-5"); r.code != 1 {
		t.Errorf("logs -5: got %+v, want exit 1", r)
	}
}
