//go:build linux

package jepsen

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

// fakeAPI is an in-process, single-copy stand-in for the agents' HTTP API:
// enough of it for the workload, with optional bugs for the checkers to
// find. It has the mq registry but no fifo one.
type fakeAPI struct {
	beatEvery   time.Duration // how often a heartbeat prints
	sleepUnit   time.Duration // what `sleep 1` lasts
	reuseAt     int           // bug: the PID counter restarts after this many spawns (0: never)
	forgetAt    int           // bug: every forgetAt-th spawn is dropped after its answer (0: never)
	noHeartbeat bool          // the kernel lacks the heartbeat program
	leader      string        // the name health answers with
	dedupe      bool          // a retry with the same session and request id gets the first answer
	dropEvery   int           // every dropEvery-th write applies but loses its answer (0: none)

	mu       sync.Mutex
	next     uint64
	spawns   int
	index    uint64
	sessions uint64
	procs    map[uint64]*fakeProc
	names    map[string]bool
	answers  map[string]answer // session/request → the first answer
	writes   int
}

type fakeProc struct {
	p         api.Process
	exitAt    time.Time // zero: runs until killed
	heartbeat bool
	lastBeat  int64 // CLOCK_MONOTONIC of the last line printed
	log       []byte
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{
		beatEvery: 10 * time.Millisecond, sleepUnit: 5 * time.Millisecond,
		next: 2, procs: make(map[uint64]*fakeProc), names: make(map[string]bool),
		answers: make(map[string]answer), dedupe: true, leader: "f1",
	}
}

func (f *fakeAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/session", f.session)
	mux.HandleFunc("POST /v1/spawn", f.write(f.spawn))
	mux.HandleFunc("POST /v1/kill", f.write(f.kill))
	mux.HandleFunc("GET /v1/procs", f.list)
	mux.HandleFunc("GET /v1/procs/{pid}", f.get)
	mux.HandleFunc("GET /v1/procs/{pid}/wait", f.wait)
	mux.HandleFunc("GET /v1/procs/{pid}/logs", f.logs)
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, api.Health{Node: f.leader, Leader: f.leader, OK: true})
	})
	mux.HandleFunc("GET /v1/state", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		reply(w, 200, api.StateInfo{Node: "f1", AppliedIndex: f.index, Hash: fmt.Sprintf("%x", f.index*31+uint64(len(f.procs)))})
	})
	mux.HandleFunc("POST /v1/mq", f.write(f.create))
	mux.HandleFunc("DELETE /v1/mq", f.write(f.unlink))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, 404, api.CodeNotFound, "no route "+r.URL.Path)
	})
	return mux
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	reply(w, status, api.Error{Code: code, Message: msg})
}

// tick advances a process to now: prints its due heartbeats, ends a sleep.
// f.mu is held.
func (f *fakeAPI) tick(fp *fakeProc) {
	if fp.p.State != "running" {
		return
	}
	now := MonoNow()
	if fp.heartbeat {
		for m := fp.lastBeat + int64(f.beatEvery); m <= now; m += int64(f.beatEvery) {
			fp.log = fmt.Appendf(fp.log, "hb pid=%d inc=%d node=f1 mono=%d\n", fp.p.PID, fp.p.Incarnation, m)
			fp.lastBeat = m
		}
	}
	if !fp.exitAt.IsZero() && !time.Now().Before(fp.exitAt) {
		fp.p.State, fp.p.ExitCode = "exited", new(int)
	}
}

func (f *fakeAPI) lookup(w http.ResponseWriter, r *http.Request) *fakeProc {
	pid, err := strconv.ParseUint(r.PathValue("pid"), 10, 64)
	if err != nil {
		fail(w, 400, api.CodeBadRequest, err.Error())
		return nil
	}
	fp := f.procs[pid]
	if fp == nil {
		fail(w, 404, api.CodeNoSuchProcess, "no such process")
		return nil
	}
	f.tick(fp)
	return fp
}

func (f *fakeAPI) session(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions++
	reply(w, 200, api.Session{ID: f.sessions})
}

// answer is what a write answers: a status and a body.
type answer struct {
	status int
	body   any
}

// write applies a write once per session and request id (Guarantee 9),
// unless the fake is told not to, and drops every dropEvery-th answer after
// applying it, so that the client sees an unknown outcome.
func (f *fakeAPI) write(apply func(r *http.Request) answer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(api.HeaderSession) + "/" + r.Header.Get(api.HeaderRequest)
		f.mu.Lock()
		a, seen := f.answers[key]
		if !seen || !f.dedupe {
			a = apply(r)
			f.answers[key] = a
		}
		f.writes++
		drop := f.dropEvery > 0 && f.writes%f.dropEvery == 0
		f.mu.Unlock()
		if drop {
			panic(http.ErrAbortHandler) // applied, but the answer is lost
		}
		if a.body == nil {
			w.WriteHeader(a.status)
			return
		}
		reply(w, a.status, a.body)
	}
}

func failed(status int, code, msg string) answer {
	return answer{status, api.Error{Code: code, Message: msg}}
}

// spawn applies a spawn; f.mu is held.
func (f *fakeAPI) spawn(r *http.Request) answer {
	var req api.SpawnRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return failed(400, api.CodeBadRequest, err.Error())
	}
	fp := &fakeProc{p: api.Process{Command: req.Command, Args: req.Args, Owner: req.Owner, State: "running", Incarnation: 1, Restart: req.Restart}}
	switch req.Command {
	case "true":
		fp.p.State, fp.p.ExitCode = "exited", new(int)
	case "sleep":
		n, _ := strconv.Atoi(req.Args[0])
		fp.exitAt = time.Now().Add(time.Duration(n) * f.sleepUnit)
	case "heartbeat":
		if f.noHeartbeat {
			return failed(400, api.CodeUnknownProgram, "unknown program heartbeat")
		}
		fp.heartbeat, fp.lastBeat = true, MonoNow()
	default:
		return failed(400, api.CodeUnknownProgram, "unknown program "+req.Command)
	}
	f.spawns++
	if f.reuseAt > 0 && f.spawns%f.reuseAt == 0 {
		f.next = 2
	}
	fp.p.PID = f.next
	f.next++
	f.index++
	f.procs[fp.p.PID] = fp
	if f.forgetAt > 0 && f.spawns%f.forgetAt == 0 {
		delete(f.procs, fp.p.PID)
	}
	return answer{200, api.SpawnResponse{PID: fp.p.PID, Index: f.index}}
}

// kill applies a kill; f.mu is held.
func (f *fakeAPI) kill(r *http.Request) answer {
	var req api.KillRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Targets) != 1 {
		return failed(400, api.CodeBadRequest, "one target")
	}
	fp := f.procs[uint64(req.Targets[0])]
	if fp == nil {
		return failed(404, api.CodeNoSuchProcess, "no such process")
	}
	f.tick(fp)
	f.index++
	if fp.p.State == "running" {
		switch req.Signal {
		case 9, 15:
			sig := req.Signal
			fp.p.State, fp.p.Signal = "exited", &sig
		case 10, 12:
			if fp.heartbeat {
				fp.log = fmt.Appendf(fp.log, "sig pid=%d inc=%d node=f1 sig=%d mono=%d\n", fp.p.PID, fp.p.Incarnation, req.Signal, MonoNow())
			}
		}
	}
	return answer{200, api.KillResponse{Reached: []api.Target{{PID: fp.p.PID, Incarnation: fp.p.Incarnation}}, Index: f.index}}
}

func (f *fakeAPI) list(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var l api.ProcessList
	for _, fp := range f.procs {
		f.tick(fp)
		l.Processes = append(l.Processes, fp.p)
	}
	sort.Slice(l.Processes, func(a, b int) bool { return l.Processes[a].PID < l.Processes[b].PID })
	l.Index = f.index
	reply(w, 200, l)
}

func (f *fakeAPI) get(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fp := f.lookup(w, r); fp != nil {
		reply(w, 200, fp.p)
	}
}

func (f *fakeAPI) wait(w http.ResponseWriter, r *http.Request) {
	limit, _ := time.ParseDuration(r.URL.Query().Get("timeout"))
	deadline := time.Now().Add(limit)
	for {
		f.mu.Lock()
		fp := f.lookup(w, r)
		if fp == nil {
			f.mu.Unlock()
			return
		}
		if fp.p.State == "exited" {
			p := fp.p
			f.mu.Unlock()
			reply(w, 200, p)
			return
		}
		f.mu.Unlock()
		if limit > 0 && time.Now().After(deadline) || r.Context().Err() != nil {
			fail(w, 408, api.CodeTimeout, "timeout")
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fakeAPI) logs(w http.ResponseWriter, r *http.Request) {
	off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	follow := r.URL.Query().Has("follow")
	f.mu.Lock()
	if f.lookup(w, r) == nil {
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	w.Header().Set(api.HeaderOffset, strconv.Itoa(off))
	w.WriteHeader(200)
	for {
		f.mu.Lock()
		fp := f.procs[mustPID(r)]
		f.tick(fp)
		var chunk []byte
		if off < len(fp.log) {
			chunk = slices.Clone(fp.log[off:])
		}
		done := fp.p.State != "running"
		f.mu.Unlock()
		if len(chunk) > 0 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			off += len(chunk)
			w.(http.Flusher).Flush()
		}
		if !follow || done {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func mustPID(r *http.Request) uint64 {
	pid, _ := strconv.ParseUint(r.PathValue("pid"), 10, 64)
	return pid
}

// create applies a registry create; f.mu is held.
func (f *fakeAPI) create(r *http.Request) answer {
	var req struct{ Name string }
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		return failed(400, api.CodeBadRequest, err.Error())
	}
	if f.names[req.Name] {
		return failed(409, "name_exists", "name exists")
	}
	f.names[req.Name] = true
	f.index++
	return answer{status: 204}
}

// unlink applies a registry unlink; f.mu is held.
func (f *fakeAPI) unlink(r *http.Request) answer {
	name := r.URL.Query().Get("name")
	if !f.names[name] {
		return failed(404, "no_such_name", "no such name")
	}
	delete(f.names, name)
	f.index++
	return answer{status: 204}
}

// runFake runs the workload against a fake for d and checks the history.
func runFake(t *testing.T, f *fakeAPI, d time.Duration, tweak ...func(*WorkloadConfig)) ([]Verdict, *Workload, []Op) {
	t.Helper()
	srv := httptest.NewServer(f.handler())
	t.Cleanup(srv.Close)
	eps := []Endpoint{{Name: "f1", URL: srv.URL}, {Name: "f2", URL: srv.URL}}
	cfg := DefaultWorkloadConfig()
	cfg.Seed, cfg.Clients, cfg.OpTimeout, cfg.ThinkTime, cfg.SleepMax = 7, 4, 2*time.Second, 2*time.Millisecond, 5
	cfg.Heartbeats, cfg.MaxHeartbeats, cfg.HeartbeatInterval, cfg.HeartbeatLife, cfg.RegistryNames = 2, 6, 10*time.Millisecond, 300*time.Millisecond, 2
	cfg.Pipelines = 0 // the fake runs no shell; CheckPipelines has tests of its own
	for _, fn := range tweak {
		fn(&cfg)
	}
	hist := NewHistory(NewClock())
	w, err := NewWorkload(cfg, hist, func() []Endpoint { return eps }, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := w.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithTimeout(ctx, d)
	w.Run(runCtx)
	cancel()
	stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	w.StopFollowers(stopCtx)
	cancel()
	final := ReadFinal(ctx, eps, hist, 10*time.Second)
	if !final.OK {
		t.Fatal(final.Err)
	}
	ops := hist.Ops()
	vs := CheckAll(CheckInput{
		Ops: ops, Beats: hist.Beats(), Deliveries: hist.Deliveries(),
		Final:      final,
		Rounds:     [][]StateSample{ReadState(ctx, eps, time.Second)},
		Heartbeats: w.HeartbeatsEnabled(), KillGrace: 100 * time.Millisecond, LinTimeout: 20 * time.Second,
	})
	return vs, w, ops
}

func TestWorkloadAgainstFake(t *testing.T) {
	vs, w, ops := runFake(t, newFakeAPI(), time.Second)
	for _, v := range vs {
		if v.Status != StatusPass && (v.Check != "pipelines across nodes" || v.Status != StatusSkipped) {
			t.Errorf("%s: got %s (%s) %v, want pass", v.Check, v.Status, v.Summary, v.Violations)
		}
	}
	counts := CountOps(ops)
	for _, k := range []OpKind{OpSpawn, OpKill, OpGet, OpWait, OpList, OpCreate, OpUnlink} {
		if counts[k][OutcomeOK] == 0 {
			t.Errorf("no successful %s in %d operations: %v", k, len(ops), counts)
		}
	}
	if !w.HeartbeatsEnabled() {
		t.Error("heartbeats not enabled against a fake that has them")
	}
	if regs := w.RegistriesEnabled(); !slices.Equal(regs, []string{"mq"}) {
		t.Errorf("got registries %v, want only mq (the fake has no fifo route)", regs)
	}
	if sk := strings.Join(w.Skipped(), "\n"); !strings.Contains(sk, "fifo registry") {
		t.Errorf("the missing fifo route was not reported as skipped: %q", sk)
	}
}

func TestWorkloadSkipsMissingHeartbeat(t *testing.T) {
	f := newFakeAPI()
	f.noHeartbeat = true
	srv := httptest.NewServer(f.handler())
	defer srv.Close()
	hist := NewHistory(NewClock())
	w, err := NewWorkload(DefaultWorkloadConfig(), hist, func() []Endpoint { return []Endpoint{{Name: "f1", URL: srv.URL}} }, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w.HeartbeatsEnabled() {
		t.Error("heartbeats enabled though the program is unknown")
	}
	if sk := strings.Join(w.Skipped(), "\n"); !strings.Contains(sk, "no heartbeat program") {
		t.Errorf("the missing program was not reported: %q", sk)
	}
}

func TestCheckersCatchFakeBugs(t *testing.T) {
	t.Run("reused PIDs", func(t *testing.T) {
		f := newFakeAPI()
		f.reuseAt = 10
		vs, _, _ := runFake(t, f, 400*time.Millisecond)
		wantFailed(t, vs, "unique PIDs")
	})
	t.Run("lost spawns", func(t *testing.T) {
		f := newFakeAPI()
		f.forgetAt = 5
		vs, _, _ := runFake(t, f, 400*time.Millisecond)
		wantFailed(t, vs, "no lost spawn")
	})
}

func TestUnknownOutcomes(t *testing.T) {
	t.Run("retries applied once", func(t *testing.T) {
		f := newFakeAPI()
		f.dropEvery = 4
		vs, _, ops := runFake(t, f, 800*time.Millisecond, func(c *WorkloadConfig) { c.Attempts = 1 })
		for _, v := range vs {
			if v.Status == StatusFail {
				t.Errorf("%s: got FAIL %v", v.Check, v.Violations)
			}
		}
		var unknown, resolved int
		ended := make(map[int]Op) // stream → its unknown operation
		for _, op := range ops {
			if op.Outcome == OutcomeUnknown {
				unknown++
				if op.Return != Unknown {
					t.Errorf("unknown op #%d returns at %d, want Unknown", op.ID, op.Return)
				}
				if prev, ok := ended[op.Stream]; ok {
					t.Errorf("stream %d has two unknown operations, #%d and #%d", op.Stream, prev.ID, op.ID)
				}
				ended[op.Stream] = op
			}
			if op.Resolved {
				resolved++
			}
		}
		if unknown == 0 || resolved == 0 {
			t.Errorf("got %d unknown and %d resolved operations, want some of each", unknown, resolved)
		}
		// A client that met an unknown outcome goes on in a fresh stream:
		// nothing on its old stream is called after that operation. (A
		// fresh stream shows only once it issues something, so the last
		// operations of a run say nothing about the count.)
		for _, op := range ops {
			if u, ok := ended[op.Stream]; ok && op.ID != u.ID && op.Call > u.Call {
				t.Errorf("op #%d on stream %d was called after the stream's unknown op #%d", op.ID, op.Stream, u.ID)
			}
		}
	})
	t.Run("retries applied twice", func(t *testing.T) {
		f := newFakeAPI()
		f.dropEvery, f.dedupe = 3, false
		vs, _, _ := runFake(t, f, 500*time.Millisecond)
		wantFailed(t, vs, "unique PIDs")
	})
}

func wantFailed(t *testing.T, vs []Verdict, check string) {
	t.Helper()
	for _, v := range vs {
		if v.Check == check {
			if v.Status != StatusFail {
				t.Errorf("%s: got %s (%s), want FAIL", check, v.Status, v.Summary)
			}
			return
		}
	}
	t.Errorf("no verdict %q", check)
}
