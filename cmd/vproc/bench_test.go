package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

func TestBenchSpawn(t *testing.T) {
	f := newFakeAPI(t)
	f.onSpawn(3)
	r := runCLI(t, f.srv.URL, "", "bench", "spawn", "--concurrency", "1,4", "--count", "20", "-o", "json")
	if r.code != 0 {
		t.Fatalf("got %+v", r)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("not a report: %v\n%s", err, r.stdout)
	}
	if rep.Bench != "spawn" || len(rep.Results) != 2 || strings.Join(rep.Command, " ") != "true" {
		t.Fatalf("got %+v", rep)
	}
	for i, res := range rep.Results {
		if res.Concurrency != []int{1, 4}[i] || res.Ops != 20 || res.Errors != 0 || res.PerSecond <= 0 || res.P50Ms <= 0 || res.P999Ms < res.P50Ms {
			t.Errorf("result %d: got %+v", i, res)
		}
	}
	if got := f.hitsOf("/v1/spawn"); got != 40 {
		t.Errorf("got %d spawns, want 40", got)
	}
	if s := f.hitsOf("/v1/session"); s != 1 {
		t.Errorf("got %d sessions, want 1 (one client)", s)
	}
	if req := f.lastSpawn(t); req.Command != "true" {
		t.Errorf("got command %q, want true", req.Command)
	}
}

func TestBenchSpawnTableAndCommand(t *testing.T) {
	f := newFakeAPI(t)
	f.onSpawn(3)
	r := runCLI(t, f.srv.URL, "", "bench", "spawn", "--concurrency", "2", "--duration", "50ms", "--", "sleep", "0")
	lines := strings.Split(r.stdout, "\n")
	if r.code != 0 || len(lines) < 4 || !strings.HasPrefix(lines[0], "vproc bench spawn: sleep 0, against ") ||
		strings.Join(strings.Fields(lines[2]), " ") != "CONCURRENCY SPAWNS ERRORS SPAWNS/S P50 P99 P999" {
		t.Fatalf("got %+v", r)
	}
	// One row: the concurrency, whole counts, a rate and three latencies,
	// aligned under the header as the other verbs' tables are.
	row := strings.Fields(lines[3])
	if len(row) != 7 || row[0] != "2" || !strings.HasSuffix(row[4], "ms") || len(row[0])+strings.Index(lines[3][len(row[0]):], row[1]) != strings.Index(lines[2], "SPAWNS") {
		t.Errorf("got row %q under header %q", lines[3], lines[2])
	}
	if req := f.lastSpawn(t); req.Command != "sleep" || len(req.Args) != 1 || req.Args[0] != "0" {
		t.Errorf("got %+v, want sleep 0", req)
	}
}

func TestBenchLifecycle(t *testing.T) {
	f := newFakeAPI(t)
	var n atomic.Uint64
	f.mux.HandleFunc("POST /v1/spawn", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, api.SpawnResponse{PID: n.Add(1)})
	})
	f.mux.HandleFunc("GET /v1/procs/{pid}/wait", func(w http.ResponseWriter, r *http.Request) {
		code := 0
		if r.PathValue("pid") == "3" {
			code = 1 // one lifecycle fails
		}
		writeAnswer(w, 200, api.Process{State: "exited", ExitCode: &code})
	})
	r := runCLI(t, f.srv.URL, "", "bench", "lifecycle", "--concurrency", "2", "--count", "10", "-o", "json")
	var rep benchReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("got %+v, %v", r, err)
	}
	res := rep.Results[0]
	if res.Ops != 9 || res.Errors != 1 || !strings.Contains(res.FirstError, "exit status 1") {
		t.Errorf("got %+v, want 9 lifecycles and 1 error", res)
	}
}

func TestBenchAllFail(t *testing.T) {
	r := runCLI(t, unreachable(t), "", "bench", "spawn", "--concurrency", "1", "--count", "2")
	checkOneLine(t, []string{"bench"}, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "every operation failed") {
		t.Errorf("got %+v, want exit 1", r)
	}
}

func TestPercentile(t *testing.T) {
	var lats []time.Duration
	for i := 1; i <= 1000; i++ {
		lats = append(lats, time.Duration(i)*time.Millisecond)
	}
	cases := []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {0.999, 999 * time.Millisecond}, {1, time.Second}}
	for _, tc := range cases {
		if got := percentile(lats, tc.q); got != tc.want {
			t.Errorf("percentile(1..1000ms, %v): got %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile(nil): got %v, want 0", got)
	}
}
