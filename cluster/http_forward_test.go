package cluster

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

// twoNodes starts a leader (n1) and a follower (n2), each a serving over
// its own fake core. The follower's core shares nothing with the leader's:
// what it answers for writes and linearizable reads must come through
// forwarding. seen records the forwarding header of each request the
// leader gets.
func twoNodes(t *testing.T) (leader, follower *harness, seen func() []string) {
	t.Helper()
	leader = newHarness(t, nil, false)
	var mu sync.Mutex
	var fwd []string
	inner := leader.srv.Config.Handler
	leader.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fwd = append(fwd, r.Header.Get(api.HeaderFwd))
		mu.Unlock()
		inner.ServeHTTP(w, r)
	})
	fc := newFakeCore(t, "n2")
	fc.setLeader("n1", leader.url, false)
	follower = newHarness(t, fc, false)
	return leader, follower, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), fwd...)
	}
}

func TestHTTPForwardToLeader(t *testing.T) {
	leader, follower, seen := twoNodes(t)
	r := do(t, "POST", follower.url+"/v1/spawn", api.SpawnRequest{Command: "sleep", Args: []string{"5"}}, nil)
	if r.status != 200 {
		t.Fatalf("forwarded spawn: %d %s", r.status, r.body)
	}
	var sr api.SpawnResponse
	r.decode(t, &sr)
	if _, ok := leader.proc(sr.PID); !ok {
		t.Errorf("the spawn did not reach the leader's table")
	}
	if _, ok := follower.proc(sr.PID); ok {
		t.Errorf("the follower applied the spawn itself")
	}
	if got := r.header.Get(api.HeaderNode); got != "n1" {
		t.Errorf("forwarded answer from node %q, want n1", got)
	}
	if s := seen(); len(s) != 1 || s[0] != "n2" {
		t.Errorf("forward header at the leader: got %q, want [n2]", s)
	}

	// A linearizable read goes to the leader; a stale one stays.
	r = do(t, "GET", fmt.Sprintf("%s/v1/procs/%d", follower.url, sr.PID), nil, nil)
	if r.status != 200 || r.header.Get(api.HeaderNode) != "n1" {
		t.Errorf("forwarded read: %d from %q", r.status, r.header.Get(api.HeaderNode))
	}
	r = do(t, "GET", fmt.Sprintf("%s/v1/procs/%d?stale", follower.url, sr.PID), nil, nil)
	if r.status != 404 || r.header.Get(api.HeaderNode) != "n2" || r.header.Get(api.HeaderStale) != "" && r.status == 200 {
		t.Errorf("stale read on the follower: %d from %q", r.status, r.header.Get(api.HeaderNode))
	}

	// A session through the follower, and a kill.
	r = do(t, "POST", follower.url+"/v1/session", nil, nil)
	if r.status != 200 {
		t.Errorf("forwarded session: %d %s", r.status, r.body)
	}
	r = do(t, "POST", follower.url+"/v1/kill", api.KillRequest{Targets: []int64{int64(sr.PID)}, Signal: 0}, nil)
	if r.status != 200 {
		t.Errorf("forwarded kill: %d %s", r.status, r.body)
	}
	// Errors come back unchanged.
	r = do(t, "POST", follower.url+"/v1/spawn", `{"command":"true","x":1}`, nil)
	if r.status != 400 || r.err().Code != api.CodeBadRequest {
		t.Errorf("forwarded bad request: %d %s", r.status, r.body)
	}
}

func TestHTTPForwardFailures(t *testing.T) {
	_, follower, _ := twoNodes(t)
	spawn := api.SpawnRequest{Command: "true"}

	// A forwarded request reaching a non-leader is refused, not forwarded.
	r := do(t, "POST", follower.url+"/v1/spawn", spawn, map[string]string{api.HeaderFwd: "n3"})
	if r.status != 503 || r.err().Code != api.CodeNotLeader {
		t.Errorf("forwarded to a follower: %d %s", r.status, r.body)
	}
	// No leader known.
	follower.c.setLeader("", "", false)
	r = do(t, "POST", follower.url+"/v1/spawn", spawn, nil)
	if r.status != 503 || r.err().Code != api.CodeNoLeader {
		t.Errorf("no leader: %d %s", r.status, r.body)
	}
	// The leader refuses connections: the request never reached it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	follower.c.setLeader("n1", dead, false)
	r = do(t, "POST", follower.url+"/v1/spawn", spawn, nil)
	if r.status != 503 || r.err().Code != api.CodeNoLeader {
		t.Errorf("unreachable leader: %d %s", r.status, r.body)
	}
	// The leader takes the request and drops the connection: unknown.
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer hang.Close()
	follower.c.setLeader("n1", hang.URL, false)
	r = do(t, "POST", follower.url+"/v1/spawn", spawn, nil)
	if r.status != 503 || r.err().Code != api.CodeUnknownOutcome {
		t.Errorf("leader dropped the connection: %d %s", r.status, r.body)
	}
	if r.header.Get(api.HeaderLeader) != hang.URL {
		t.Errorf("leader header: got %q, want %q", r.header.Get(api.HeaderLeader), hang.URL)
	}
	// A read that fails the same way is only unavailable.
	r = do(t, "GET", follower.url+"/v1/procs", nil, nil)
	if r.status != 503 || r.err().Code != api.CodeUnavailable {
		t.Errorf("read from a broken leader: %d %s", r.status, r.body)
	}
}

func TestHTTPForwardLogsToNode(t *testing.T) {
	// n1 runs the process; n2's table says so; logs and stdin asked of n2
	// come from n1.
	leader := newHarness(t, nil, true)
	pid := leader.spawn(api.SpawnRequest{Command: "cat", Stdin: true})
	leader.waitState(pid, fsm.StateRunning)

	fc := newFakeCore(t, "n2")
	fc.autoPlace.Store(false)
	fc.setLeader("n1", leader.url, false)
	fc.setAddr("n1", leader.url)
	fc.apply(&fsm.NodeUpsert{ID: "n1", Name: "n1"})
	spawns := leader.c.commands(fsm.TypeSpawn)
	if r := fc.apply(spawns[0]); r.PID != pid {
		t.Fatalf("the follower's copy got pid %d, want %d", r.PID, pid)
	}
	fc.apply(&fsm.Place{PID: pid, Incarnation: 1, ExpectState: fsm.StatePending, Node: "n1"})
	follower := newHarness(t, fc, false)

	r := do(t, "POST", fmt.Sprintf("%s/v1/procs/%d/stdin", follower.url, pid), "through n2\n", nil)
	if r.status != 204 || r.header.Get(api.HeaderNode) != "n1" {
		t.Fatalf("stdin through n2: %d from %q: %s", r.status, r.header.Get(api.HeaderNode), r.body)
	}
	leader.waitState(pid, fsm.StateExited)
	r = do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/logs", follower.url, pid), nil, nil)
	if r.status != 200 || string(r.body) != "through n2\n" || r.header.Get(api.HeaderNode) != "n1" {
		t.Fatalf("logs through n2: %d from %q: %q", r.status, r.header.Get(api.HeaderNode), r.body)
	}

	// Micro-states and CPU times of processes on n1 come from n1.
	pid2 := leader.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"10"}})
	leader.waitState(pid2, fsm.StateRunning)
	fc.apply(spawns[0])
	fc.apply(&fsm.Place{PID: pid2, Incarnation: 1, ExpectState: fsm.StatePending, Node: "n1"})
	fc.apply(&fsm.Started{PID: pid2, Incarnation: 1, Node: "n1"})
	var l api.ProcessList
	do(t, "GET", follower.url+"/v1/procs?stale", nil, nil).decode(t, &l)
	found := false
	for _, p := range l.Processes {
		if p.PID == pid2 {
			found = true
			if p.MicroState == "" {
				t.Errorf("pid %d listed by n2 without the micro-state n1 knows: %+v", pid2, p)
			}
		}
	}
	if !found {
		t.Errorf("n2 does not list pid %d", pid2)
	}
	var p api.Process
	do(t, "GET", fmt.Sprintf("%s/v1/procs/%d?stale", follower.url, pid2), nil, nil).decode(t, &p)
	if p.MicroState == "" {
		t.Errorf("pid %d got by n2 without its micro-state: %+v", pid2, p)
	}
}
