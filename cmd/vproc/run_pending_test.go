package main

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

// TestRunSaysItsProcessIsPending: run waits, and after a second says once
// on stderr that its process is pending and why; it still ends with the
// process.
func TestRunSaysItsProcessIsPending(t *testing.T) {
	f := newFakeAPI(t)
	f.onSpawn(7)
	f.onKill()
	looked := make(chan struct{})
	var once sync.Once
	f.mux.HandleFunc("GET /v1/procs/7", func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(looked) })
		writeAnswer(w, 200, api.Process{PID: 7, State: "pending", PendingReason: "no node of the cluster has zone=b"})
	})
	f.mux.HandleFunc("GET /v1/procs/7/logs", func(w http.ResponseWriter, r *http.Request) {})
	f.mux.HandleFunc("GET /v1/procs/7/wait", func(w http.ResponseWriter, r *http.Request) {
		// The process ends (say, by a signal) once run has looked at it.
		select {
		case <-looked:
		case <-time.After(30 * time.Second):
		}
		writeAnswer(w, 200, api.Process{PID: 7, State: "exited", Signal: intp(15)})
	})
	r := runCLI(t, f.srv.URL, "", "run", "--constraint", "zone=b", "--", "sleep", "1")
	if r.code != 143 {
		t.Fatalf("run: exit %d, want 143 (SIGTERM); stderr %q", r.code, r.stderr)
	}
	want := "vproc: process 7 is pending: no node of the cluster has zone=b"
	if n := strings.Count(r.stderr, want); n != 1 {
		t.Fatalf("run's stderr %q: %d times %q, want once", r.stderr, n, want)
	}
}
