package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/internal/wasmtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { wasmtest.Cleanup() }))
}

// fakeAPI is an httptest agent whose routes a test installs. It records the
// bodies of spawn and kill requests.
type fakeAPI struct {
	srv *httptest.Server
	mux *http.ServeMux

	mu     sync.Mutex
	spawns []api.SpawnRequest // guarded by mu
	kills  []api.KillRequest  // guarded by mu
	hits   map[string]int     // guarded by mu; requests per path
	// queries are the query strings of the listings, guarded by mu.
	queries []url.Values
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{mux: http.NewServeMux(), hits: map[string]int{}}
	f.mux.HandleFunc("POST /v1/session", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, api.Session{ID: 1})
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.hits[r.URL.Path]++
		f.mu.Unlock()
		f.mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// onSpawn answers spawns with pid, recording each request.
func (f *fakeAPI) onSpawn(pid uint64) {
	f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
		var req api.SpawnRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeAnswer(w, 400, api.Error{Code: api.CodeBadRequest, Message: err.Error()})
			return
		}
		f.mu.Lock()
		f.spawns = append(f.spawns, req)
		f.mu.Unlock()
		writeAnswer(w, 200, api.SpawnResponse{PID: pid, Index: 9})
	})
}

func (f *fakeAPI) onKill() {
	f.mux.HandleFunc("POST /v1/kill", func(w http.ResponseWriter, r *http.Request) {
		var req api.KillRequest
		json.NewDecoder(r.Body).Decode(&req)
		f.mu.Lock()
		f.kills = append(f.kills, req)
		f.mu.Unlock()
		writeAnswer(w, 200, api.KillResponse{})
	})
}

func (f *fakeAPI) hitsOf(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits[path]
}

func (f *fakeAPI) lastSpawn(t *testing.T) api.SpawnRequest {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.spawns) == 0 {
		t.Fatal("no spawn request reached the agent")
	}
	return f.spawns[len(f.spawns)-1]
}

func writeAnswer(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// result is what a command line did.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs vproc with args against addr (VPROC_ADDR) and stdin.
func runCLI(t *testing.T, addr, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{
		stdin:  strings.NewReader(stdin),
		stdout: &stdout,
		stderr: &stderr,
		getenv: func(k string) string {
			switch k {
			case "VPROC_ADDR":
				return addr
			case "USER":
				return "alice"
			}
			return ""
		},
	}
	code := run(context.Background(), args, e)
	return result{code, stdout.String(), stderr.String()}
}

// checkOneLine fails unless stderr is exactly one "vproc: " line.
func checkOneLine(t *testing.T, args []string, stderr string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "vproc: ") || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("%v: got stderr %q, want one line starting with \"vproc: \"", args, stderr)
	}
	if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "Usage:") {
		t.Errorf("%v: got stderr %q, want no stack trace and no usage", args, stderr)
	}
}

// unreachable is an address where no agent listens.
func unreachable(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	return addr
}

func TestRootAndUsage(t *testing.T) {
	cases := []struct {
		args      []string
		code      int
		wantUsage bool
	}{
		{[]string{}, 0, false},
		{[]string{"--help"}, 0, false},
		{[]string{"nosuchverb"}, 1, true},
		{[]string{"spawn", "--bogus", "x"}, 1, true},
		{[]string{"spawn"}, 1, true},
		{[]string{"ps", "--bogus"}, 1, true},
		{[]string{"ps", "extra"}, 1, true},
		{[]string{"ps", "-o", "xml"}, 1, true},
		{[]string{"run", "--bogus", "x"}, 125, true},
		{[]string{"run"}, 125, true},
		{[]string{"wait"}, 125, true},
		{[]string{"logs"}, 1, true},
		{[]string{"operator"}, 1, true},
		{[]string{"operator", "raft", "nope"}, 1, true},
		{[]string{"snapshot", "save"}, 1, true},
		{[]string{"bench", "spawn", "--concurrency", "0"}, 1, true},
		{[]string{"agent", "--log-level", "loud"}, 1, true},
	}
	for _, tc := range cases {
		r := runCLI(t, unreachable(t), "", tc.args...)
		if r.code != tc.code {
			t.Errorf("%v: got exit %d, want %d (stderr %q)", tc.args, r.code, tc.code, r.stderr)
		}
		if got := strings.Contains(r.stderr, "Usage: "); got != tc.wantUsage {
			t.Errorf("%v: got usage %v, want %v (stderr %q)", tc.args, got, tc.wantUsage, r.stderr)
		}
		if tc.wantUsage && !strings.HasPrefix(r.stderr, "vproc: ") {
			t.Errorf("%v: got stderr %q, want it to start with the error", tc.args, r.stderr)
		}
	}
}

func TestAddrFlagBeatsEnv(t *testing.T) {
	f := newFakeAPI(t)
	f.onSpawn(7)
	for _, args := range [][]string{
		{"--addr", f.srv.URL, "spawn", "true"},
		{"spawn", "--addr", f.srv.URL, "--", "true"},
	} {
		r := runCLI(t, unreachable(t), "", args...)
		if r.code != 0 || r.stdout != "7\n" {
			t.Errorf("%v: got %+v, want PID 7", args, r)
		}
	}
}

// TestNoStdin checks that run without -i does not read stdin.
func TestNoStdin(t *testing.T) {
	f := newFakeAPI(t)
	f.onSpawn(3)
	code := 0
	f.mux.HandleFunc("GET /v1/procs/3/wait", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, api.Process{PID: 3, State: "exited", ExitCode: &code})
	})
	f.mux.HandleFunc("GET /v1/procs/3/logs", func(w http.ResponseWriter, r *http.Request) {})
	r := runCLI(t, f.srv.URL, "secret", "run", "cat")
	if r.code != 0 || f.hitsOf("/v1/procs/3/stdin") != 0 || f.lastSpawn(t).Stdin {
		t.Errorf("got %+v, stdin posts %d; want exit 0 and no stdin", r, f.hitsOf("/v1/procs/3/stdin"))
	}
}
