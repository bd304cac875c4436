package cluster

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

func TestHTTPSpawnGetList(t *testing.T) {
	h := newHarness(t, nil, true)
	pid := h.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"30"}, Priority: 70, Limits: []string{"cpu=2s:5s", "mem=64M"}, Restart: "on-failure:3:2s"})
	if pid != 2 {
		t.Fatalf("first PID: got %d, want 2", pid)
	}
	h.waitState(pid, fsm.StateRunning)

	r := do(t, "GET", fmt.Sprintf("%s/v1/procs/%d", h.url, pid), nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("get: status %d %s", r.status, r.body)
	}
	if r.header.Get(api.HeaderIndex) == "" || r.header.Get(api.HeaderNode) != "n1" || r.header.Get(api.HeaderStale) != "" {
		t.Errorf("get headers: index %q node %q stale %q", r.header.Get(api.HeaderIndex), r.header.Get(api.HeaderNode), r.header.Get(api.HeaderStale))
	}
	var p api.Process
	r.decode(t, &p)
	if p.PID != pid || p.PPID != 1 || p.Pgid != pid || p.State != "running" || p.Node != "n1" || p.Command != "sleep" ||
		p.Priority != 70 || p.Incarnation != 1 || p.Owner != "root" {
		t.Errorf("get: got %+v", p)
	}
	if p.ExitCode != nil || p.Signal != nil {
		t.Errorf("exit_code/signal of a running process: got %v %v, want null", p.ExitCode, p.Signal)
	}
	if p.Limits != "cpu=2s:5s,mem=64M" || p.Restart != "on-failure:3:2s" {
		t.Errorf("limits/restart: got %q %q", p.Limits, p.Restart)
	}
	if p.MicroState == "" {
		t.Errorf("micro_state of a local running process is empty")
	}
	if !bytes.Contains(r.body, []byte(`"exit_code":null`)) || !bytes.Contains(r.body, []byte(`"signal":null`)) {
		t.Errorf("exit_code and signal must be null in %s", r.body)
	}

	// A second process that exits: listed only with ?all.
	pid2 := h.spawn(api.SpawnRequest{Command: "false"})
	h.waitState(pid2, fsm.StateExited)
	var l api.ProcessList
	do(t, "GET", h.url+"/v1/procs", nil, nil).decode(t, &l)
	if got := pids(l); got != "1,2" {
		t.Errorf("list: got %s, want 1,2", got)
	}
	do(t, "GET", h.url+"/v1/procs?all", nil, nil).decode(t, &l)
	if got := pids(l); got != "1,2,3" {
		t.Errorf("list all: got %s, want 1,2,3", got)
	}
	ex := l.Processes[2]
	if ex.ExitCode == nil || *ex.ExitCode != 1 || ex.Signal != nil || ex.State != "exited" {
		t.Errorf("exited process: got state %s exit %v signal %v", ex.State, ex.ExitCode, ex.Signal)
	}
	// ?local lists what this node runs.
	do(t, "GET", h.url+"/v1/procs?local&all", nil, nil).decode(t, &l)
	if got := pids(l); got != "2,3" {
		t.Errorf("local list: got %s, want 2,3", got)
	}
}

func pids(l api.ProcessList) string {
	var s []string
	for _, p := range l.Processes {
		s = append(s, strconv.FormatUint(p.PID, 10))
	}
	return strings.Join(s, ",")
}

func TestHTTPErrors(t *testing.T) {
	h := newHarness(t, nil, false)
	big := `{"command":"true","args":["` + strings.Repeat("x", api.MaxBodyBytes) + `"]}`
	tests := []struct {
		name, method, path string
		body               any
		hdr                map[string]string
		status             int
		code               string
	}{
		{"bad json", "POST", "/v1/spawn", `{"command":`, nil, 400, api.CodeBadRequest},
		{"unknown field", "POST", "/v1/spawn", `{"command":"true","bogus":1}`, nil, 400, api.CodeBadRequest},
		{"trailing data", "POST", "/v1/spawn", `{"command":"true"} {}`, nil, 400, api.CodeBadRequest},
		{"empty body", "POST", "/v1/spawn", "", nil, 400, api.CodeBadRequest},
		{"too large", "POST", "/v1/spawn", big, nil, 413, api.CodeTooLarge},
		{"empty command", "POST", "/v1/spawn", api.SpawnRequest{}, nil, 400, api.CodeBadRequest},
		{"unknown program", "POST", "/v1/spawn", api.SpawnRequest{Command: "nosuchprog"}, nil, 400, api.CodeUnknownProgram},
		{"bad limit grammar", "POST", "/v1/spawn", api.SpawnRequest{Command: "true", Limits: []string{"cpu=fast"}}, nil, 400, api.CodeBadRequest},
		{"unknown limit", "POST", "/v1/spawn", api.SpawnRequest{Command: "true", Limits: []string{"disk=1G"}}, nil, 400, api.CodeBadRequest},
		{"zero limit", "POST", "/v1/spawn", api.SpawnRequest{Command: "true", Limits: []string{"nofile=0"}}, nil, 400, api.CodeBadRequest},
		{"soft above hard", "POST", "/v1/spawn", api.SpawnRequest{Command: "true", Limits: []string{"cpu=5s:2s"}}, nil, 400, api.CodeBadRequest},
		{"bad restart", "POST", "/v1/spawn", api.SpawnRequest{Command: "true", Restart: "sometimes"}, nil, 400, api.CodeBadRequest},
		{"bad restart max", "POST", "/v1/spawn", api.SpawnRequest{Command: "true", Restart: "always:-1"}, nil, 400, api.CodeBadRequest},
		{"restart max out of range", "POST", "/v1/spawn", api.SpawnRequest{Command: "true", Restart: "always:99999999999"}, nil, 400, api.CodeBadRequest},
		{"bad restart backoff", "POST", "/v1/spawn", api.SpawnRequest{Command: "true", Restart: "always:3:soon"}, nil, 400, api.CodeBadRequest},
		{"bad constraint", "POST", "/v1/spawn", api.SpawnRequest{Command: "true", Constraints: []string{"rack"}}, nil, 400, api.CodeBadRequest},
		{"bad uses kind", "POST", "/v1/spawn", api.SpawnRequest{Command: "true", Uses: []string{"sock:/x"}}, nil, 400, api.CodeBadRequest},
		{"bad uses name", "POST", "/v1/spawn", api.SpawnRequest{Command: "true", Uses: []string{"mq:q"}}, nil, 400, api.CodeBadRequest},
		{"bad uses name for the table", "POST", "/v1/spawn", api.SpawnRequest{Command: "true", Uses: []string{"mq:/a/b"}}, nil, 400, "invalid"},
		{"priority too high", "POST", "/v1/spawn", api.SpawnRequest{Command: "true", Priority: 101}, nil, 400, api.CodeBadRequest},
		{"priority negative", "POST", "/v1/spawn", api.SpawnRequest{Command: "true", Priority: -1}, nil, 400, api.CodeBadRequest},
		{"bad env", "POST", "/v1/spawn", api.SpawnRequest{Command: "true", Env: []string{"NOEQUALS"}}, nil, 400, api.CodeBadRequest},
		{"bad session header", "POST", "/v1/spawn", api.SpawnRequest{Command: "true"}, map[string]string{api.HeaderSession: "x", api.HeaderRequest: "1"}, 400, api.CodeBadRequest},
		{"session without request", "POST", "/v1/spawn", api.SpawnRequest{Command: "true"}, map[string]string{api.HeaderSession: "5"}, 400, api.CodeBadRequest},
		{"expired session", "POST", "/v1/spawn", api.SpawnRequest{Command: "true"}, map[string]string{api.HeaderSession: "99", api.HeaderRequest: "1"}, 410, api.CodeSessionExpired},
		{"kill bad signal", "POST", "/v1/kill", api.KillRequest{Targets: []int64{2}, Signal: 32}, nil, 400, api.CodeBadRequest},
		{"kill negative signal", "POST", "/v1/kill", api.KillRequest{Targets: []int64{2}, Signal: -1}, nil, 400, api.CodeBadRequest},
		{"kill no targets", "POST", "/v1/kill", api.KillRequest{Signal: 15}, nil, 400, api.CodeBadRequest},
		{"kill target 0", "POST", "/v1/kill", api.KillRequest{Targets: []int64{0}, Signal: 15}, nil, 400, api.CodeBadRequest},
		{"kill target -1", "POST", "/v1/kill", api.KillRequest{Targets: []int64{-1}, Signal: 15}, nil, 400, api.CodeBadRequest},
		{"kill unknown pid", "POST", "/v1/kill", api.KillRequest{Targets: []int64{999}, Signal: 15}, nil, 404, api.CodeNoSuchProcess},
		{"kill unknown group", "POST", "/v1/kill", api.KillRequest{Targets: []int64{-999}, Signal: 15}, nil, 404, api.CodeNoSuchProcess},
		{"kill init", "POST", "/v1/kill", api.KillRequest{Targets: []int64{1}, Signal: 9}, nil, 403, "permission"},
		{"get unknown pid", "GET", "/v1/procs/999", nil, nil, 404, api.CodeNoSuchProcess},
		{"get bad pid", "GET", "/v1/procs/abc", nil, nil, 400, api.CodeBadRequest},
		{"wait unknown pid", "GET", "/v1/procs/999/wait", nil, nil, 404, api.CodeNoSuchProcess},
		{"logs unknown pid", "GET", "/v1/procs/999/logs", nil, nil, 404, api.CodeNoSuchProcess},
		{"logs bad offset", "GET", "/v1/procs/1/logs?offset=-3", nil, nil, 400, api.CodeBadRequest},
		{"stdin unknown pid", "POST", "/v1/procs/999/stdin", "x", nil, 404, api.CodeNoSuchProcess},
		{"bad index", "GET", "/v1/procs?index=x", nil, nil, 400, api.CodeBadRequest},
		{"bad wait", "GET", "/v1/procs?index=1&wait=forever", nil, nil, 400, api.CodeBadRequest},
		{"no route", "GET", "/v1/nope", nil, nil, 404, api.CodeNotFound},
		{"wrong method", "DELETE", "/v1/spawn", nil, nil, 405, api.CodeNotAllowed},
		{"session with body fields", "POST", "/v1/session", `{"x":1}`, nil, 400, api.CodeBadRequest},
		{"command from a stranger", "POST", "/v1/internal/command", fsm.Encode(&fsm.SignalDelivered{ID: 1, PID: 2, Incarnation: 1}), map[string]string{api.HeaderNode: "mallory"}, 403, "permission"},
		{"bad command", "POST", "/v1/internal/command", []byte{0x7f, 1}, map[string]string{api.HeaderNode: "n1"}, 400, api.CodeBadRequest},
		{"another node's event", "POST", "/v1/internal/command", fsm.Encode(&fsm.Started{PID: 2, Incarnation: 1, Node: "n2"}), map[string]string{api.HeaderNode: "n1"}, 403, "permission"},
		{"not a node's command", "POST", "/v1/internal/command", fsm.Encode(&fsm.Preempt{PID: 2, Incarnation: 1}), map[string]string{api.HeaderNode: "n1"}, 403, "permission"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, h.url+tt.path, tt.body, tt.hdr)
			e := r.err()
			if r.status != tt.status || e.Code != tt.code {
				t.Fatalf("%s %s: got %d %q (%s), want %d %q", tt.method, tt.path, r.status, e.Code, e.Message, tt.status, tt.code)
			}
			if e.Message == "" {
				t.Errorf("error without a message: %s", r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type: got %q, want application/json", ct)
			}
			if r.header.Get(api.HeaderNode) != "n1" {
				t.Errorf("error answer without %s", api.HeaderNode)
			}
		})
	}
}

func TestHTTPSessionRetry(t *testing.T) {
	h := newHarness(t, nil, false)
	r := do(t, "POST", h.url+"/v1/session", nil, nil)
	if r.status != http.StatusOK {
		t.Fatalf("session: %d %s", r.status, r.body)
	}
	var sess api.Session
	r.decode(t, &sess)
	hdr := func(req, acked uint64) map[string]string {
		return map[string]string{
			api.HeaderSession: strconv.FormatUint(sess.ID, 10),
			api.HeaderRequest: strconv.FormatUint(req, 10),
			api.HeaderAcked:   strconv.FormatUint(acked, 10),
		}
	}
	spawn := func(req uint64) api.SpawnResponse {
		t.Helper()
		r := do(t, "POST", h.url+"/v1/spawn", api.SpawnRequest{Command: "sleep", Args: []string{"10"}}, hdr(req, 1))
		if r.status != http.StatusOK {
			t.Fatalf("spawn %d: %d %s", req, r.status, r.body)
		}
		var out api.SpawnResponse
		r.decode(t, &out)
		return out
	}
	first := spawn(1)
	again := spawn(1)
	if again != first {
		t.Errorf("retry: got %+v, want the first answer %+v", again, first)
	}
	if other := spawn(2); other.PID == first.PID {
		t.Errorf("a new request got the same PID %d", other.PID)
	}
	if n := len(h.c.commands(fsm.TypeSpawn)); n != 3 {
		t.Errorf("spawns applied: got %d, want 3 (the retry returns the cached answer)", n)
	}
	if l := h.c.f.List(fsm.Filter{}); len(l) != 3 {
		t.Errorf("table: got %d processes, want 3 (init and two spawns)", len(l))
	}

	// A kill of several targets, retried: each target's signal is made
	// pending once (the runner is not running, so nothing is delivered).
	// The targets run: a signal to a process that has not run acts at once.
	for _, pid := range []uint64{2, 3} {
		p, _ := h.c.f.Get(pid)
		if res := h.c.apply(&fsm.Started{PID: pid, Incarnation: 1, Node: p.Node, Now: time.Now().UnixNano()}); res.Err != nil {
			t.Fatalf("starting pid %d: %v", pid, res.Err)
		}
	}
	kill := api.KillRequest{Targets: []int64{2, 3}, Signal: 10}
	for range 2 {
		r := do(t, "POST", h.url+"/v1/kill", kill, hdr(3, 1))
		if r.status != http.StatusOK {
			t.Fatalf("kill: %d %s", r.status, r.body)
		}
		var out api.KillResponse
		r.decode(t, &out)
		if len(out.Reached) != 2 || out.Reached[0].PID != 2 || out.Reached[1].PID != 3 {
			t.Fatalf("kill reached: got %+v", out.Reached)
		}
	}
	v := h.c.f.View()
	for _, pid := range []uint64{2, 3} {
		if n := len(v.SignalsFor(pid)); n != 1 {
			t.Errorf("pid %d: got %d pending signals after a retried kill, want 1", pid, n)
		}
	}
	// A single target with a session, retried.
	for range 2 {
		if r := do(t, "POST", h.url+"/v1/kill", api.KillRequest{Targets: []int64{2}, Signal: 12}, hdr(4, 1)); r.status != 200 {
			t.Fatalf("kill: %d %s", r.status, r.body)
		}
	}
	if n := len(h.c.f.View().SignalsFor(2)); n != 2 {
		t.Errorf("pid 2: got %d pending signals, want 2 (SIGUSR1 and one SIGUSR2)", n)
	}
	// Partial failure: one target reached, one unknown.
	r = do(t, "POST", h.url+"/v1/kill", api.KillRequest{Targets: []int64{3, 999}, Signal: 0}, nil)
	var out api.KillResponse
	r.decode(t, &out)
	if r.status != 200 || len(out.Reached) != 1 || len(out.Errors) != 1 || out.Errors[0].Code != api.CodeNoSuchProcess || out.Errors[0].Target != 999 {
		t.Errorf("partial kill: got %d %s", r.status, r.body)
	}
}

func TestHTTPStaleAndHeaders(t *testing.T) {
	h := newHarness(t, nil, false)
	r := do(t, "GET", h.url+"/v1/procs?stale", nil, nil)
	if r.status != 200 || r.header.Get(api.HeaderStale) != "true" {
		t.Errorf("stale list: status %d, %s %q", r.status, api.HeaderStale, r.header.Get(api.HeaderStale))
	}
	idx, err := strconv.ParseUint(r.header.Get(api.HeaderIndex), 10, 64)
	if err != nil || idx != h.c.f.AppliedIndex() {
		t.Errorf("index header: got %q, want %d", r.header.Get(api.HeaderIndex), h.c.f.AppliedIndex())
	}
	r = do(t, "GET", h.url+"/v1/procs", nil, nil)
	if r.header.Get(api.HeaderStale) != "" {
		t.Errorf("linearizable list carries %s", api.HeaderStale)
	}
	r = do(t, "GET", h.url+"/v1/nodes?stale", nil, nil)
	var nl api.NodeList
	r.decode(t, &nl)
	if r.status != 200 || len(nl.Nodes) != 1 || nl.Nodes[0].Name != "n1" || r.header.Get(api.HeaderStale) != "true" {
		t.Errorf("nodes: %d %s", r.status, r.body)
	}
}

func TestHTTPBlockingList(t *testing.T) {
	h := newHarness(t, nil, false)
	idx := h.c.f.AppliedIndex()
	type answer struct {
		r   resp
		dur time.Duration
	}
	done := make(chan answer, 1)
	go func() {
		start := time.Now()
		r := do(t, "GET", fmt.Sprintf("%s/v1/procs?index=%d&wait=10s", h.url, idx), nil, nil)
		done <- answer{r, time.Since(start)}
	}()
	// The query blocks until the table changes.
	select {
	case a := <-done:
		t.Fatalf("blocking query answered at once: %d %s", a.r.status, a.r.body)
	case <-time.After(100 * time.Millisecond):
	}
	pid := h.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"10"}})
	a := <-done
	var l api.ProcessList
	a.r.decode(t, &l)
	if a.r.status != 200 || l.Index <= idx {
		t.Fatalf("blocking query: got %d index %d, want an index above %d", a.r.status, l.Index, idx)
	}
	found := false
	for _, p := range l.Processes {
		found = found || p.PID == pid
	}
	if !found {
		t.Errorf("woken list does not have pid %d: %s", pid, a.r.body)
	}

	// Without a change it answers when the wait runs out.
	start := time.Now()
	cur := h.c.f.AppliedIndex()
	r := do(t, "GET", fmt.Sprintf("%s/v1/procs?index=%d&wait=150ms", h.url, cur), nil, nil)
	el := time.Since(start)
	if r.status != 200 || el < 150*time.Millisecond || el > 5*time.Second {
		t.Errorf("timed out blocking query: status %d after %v", r.status, el)
	}
	if got := r.header.Get(api.HeaderIndex); got != strconv.FormatUint(cur, 10) {
		t.Errorf("timed out blocking query index: got %s, want %d", got, cur)
	}
}

func TestHTTPWait(t *testing.T) {
	h := newHarness(t, nil, true)
	pid := h.spawn(api.SpawnRequest{Command: "sh", Args: []string{"-c", "sleep 0.1; exit 3"}})
	r := do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/wait", h.url, pid), nil, nil)
	var p api.Process
	r.decode(t, &p)
	if r.status != 200 || p.State != "exited" || p.ExitCode == nil || *p.ExitCode != 3 || p.Signal != nil {
		t.Fatalf("wait: got %d %s", r.status, r.body)
	}
	// wait never reaps: a second wait sees the same status.
	r2 := do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/wait", h.url, pid), nil, nil)
	var p2 api.Process
	r2.decode(t, &p2)
	if r2.status != 200 || *p2.ExitCode != 3 || p2.ExitedAt != p.ExitedAt {
		t.Errorf("second wait: got %d %s", r2.status, r2.body)
	}
	if _, ok := h.proc(pid); !ok {
		t.Errorf("wait reaped pid %d", pid)
	}

	// A timeout.
	long := h.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"30"}})
	r = do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/wait?timeout=100ms", h.url, long), nil, nil)
	if r.status != http.StatusRequestTimeout || r.err().Code != api.CodeTimeout {
		t.Errorf("wait timeout: got %d %s", r.status, r.body)
	}
	// A kill ends the wait with the signal.
	done := make(chan resp, 1)
	go func() { done <- do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/wait", h.url, long), nil, nil) }()
	h.waitState(long, fsm.StateRunning)
	if r := do(t, "POST", h.url+"/v1/kill", api.KillRequest{Targets: []int64{int64(long)}, Signal: 9}, nil); r.status != 200 {
		t.Fatalf("kill: %d %s", r.status, r.body)
	}
	r = <-done
	r.decode(t, &p)
	if r.status != 200 || p.Signal == nil || *p.Signal != 9 || p.ExitCode != nil {
		t.Errorf("wait on a killed process: got %d %s", r.status, r.body)
	}
}

func TestHTTPHealthPeersStateSnapshot(t *testing.T) {
	h := newHarness(t, nil, false)
	r := do(t, "GET", h.url+"/v1/health", nil, nil)
	var hl api.Health
	r.decode(t, &hl)
	if r.status != 200 || !hl.OK || hl.Leader != "n1" || hl.Node != "n1" {
		t.Errorf("health: %d %s", r.status, r.body)
	}
	h.c.setLeader("", "", false)
	r = do(t, "GET", h.url+"/v1/health", nil, nil)
	r.decode(t, &hl)
	if r.status != 503 || hl.OK {
		t.Errorf("health without a leader: %d %s", r.status, r.body)
	}
	h.c.setLeader("n1", h.url, true)

	r = do(t, "GET", h.url+"/v1/operator/raft/peers", nil, nil)
	var pl api.PeerList
	r.decode(t, &pl)
	if r.status != 200 || len(pl.Peers) != 1 || !pl.Peers[0].Leader {
		t.Errorf("peers: %d %s", r.status, r.body)
	}

	h.spawn(api.SpawnRequest{Command: "true"})
	r = do(t, "GET", h.url+"/v1/state", nil, nil)
	var st api.StateInfo
	r.decode(t, &st)
	if r.status != 200 || st.AppliedIndex != h.c.f.AppliedIndex() || len(st.Hash) != 64 {
		t.Errorf("state: %d %s", r.status, r.body)
	}

	snap := do(t, "GET", h.url+"/v1/snapshot", nil, nil)
	if snap.status != 200 || !bytes.HasPrefix(snap.body, []byte("vprocfsm")) {
		t.Fatalf("snapshot: %d (%d bytes)", snap.status, len(snap.body))
	}
	h.spawn(api.SpawnRequest{Command: "true"})
	r = do(t, "PUT", h.url+"/v1/snapshot", snap.body, nil)
	if r.status != 200 {
		t.Fatalf("restore: %d %s", r.status, r.body)
	}
	if _, ok := h.proc(3); ok {
		t.Errorf("pid 3 survived the restore of an older snapshot")
	}
	r = do(t, "PUT", h.url+"/v1/snapshot", "not a snapshot", nil)
	if r.status != 400 {
		t.Errorf("restore of garbage: %d %s", r.status, r.body)
	}
}

func TestHTTPRecoverPanic(t *testing.T) {
	h := newHarness(t, nil, false)
	h.c.panicPeers.Store(true)
	r := do(t, "GET", h.url+"/v1/operator/raft/peers", nil, nil)
	e := r.err()
	if r.status != 500 || e.Code != api.CodeInternal {
		t.Fatalf("panic: got %d %s", r.status, r.body)
	}
	if bytes.Contains(r.body, []byte("goroutine")) || bytes.Contains(r.body, []byte("exploded")) {
		t.Errorf("the answer leaks the panic: %s", r.body)
	}
	// The server still serves.
	if r := do(t, "GET", h.url+"/v1/health", nil, nil); r.status != 200 {
		t.Errorf("after a panic: %d", r.status)
	}
}

func TestHTTPInternalCommand(t *testing.T) {
	h := newHarness(t, nil, false)
	pid := h.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"10"}})
	r := do(t, "POST", h.url+"/v1/internal/command", fsm.Encode(&fsm.Started{PID: pid, Incarnation: 1, Node: "n1"}), map[string]string{api.HeaderNode: "n1"})
	var cr api.CommandResult
	r.decode(t, &cr)
	if r.status != 200 || cr.Code != "" || cr.State != "running" {
		t.Fatalf("started: %d %s", r.status, r.body)
	}
	if p, _ := h.proc(pid); p.State != fsm.StateRunning || p.StartedAt == 0 {
		t.Errorf("after started: %s, started at %d", p.State, p.StartedAt)
	}
	// A stale incarnation is a 200 with the domain code.
	r = do(t, "POST", h.url+"/v1/internal/command", fsm.Encode(&fsm.Started{PID: pid, Incarnation: 7, Node: "n1"}), map[string]string{api.HeaderNode: "n1"})
	r.decode(t, &cr)
	if r.status != 200 || cr.Code != "stale" {
		t.Errorf("stale started: %d %s", r.status, r.body)
	}
}

// TestHTTPDebugProfiles: /debug/pprof/ is served only with EnableDebug.
func TestHTTPDebugProfiles(t *testing.T) {
	off := newHarness(t, nil, false)
	if r := do(t, "GET", off.url+"/debug/pprof/", nil, nil); r.status != 404 || r.err().Code != api.CodeNotFound {
		t.Errorf("without EnableDebug: %d %s, want 404 %s", r.status, r.body, api.CodeNotFound)
	}
	on := newHarness(t, nil, false, func(o *harnessOpts) { o.cfg.EnableDebug = true })
	r := do(t, "GET", on.url+"/debug/pprof/", nil, nil)
	if r.status != 200 || !bytes.Contains(r.body, []byte("goroutine")) {
		t.Errorf("with EnableDebug: %d %.200s, want 200 and the profile index", r.status, r.body)
	}
	if r := do(t, "GET", on.url+"/debug/pprof/goroutine?debug=1", nil, nil); r.status != 200 {
		t.Errorf("goroutine profile: %d", r.status)
	}
}
