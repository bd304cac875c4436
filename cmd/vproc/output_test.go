package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

func psAPI(t *testing.T) *fakeAPI {
	f := newFakeAPI(t)
	ago := time.Now().Add(-3 * time.Hour).UTC()
	f.mux.HandleFunc("GET /v1/procs", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.queries = append(f.queries, r.URL.Query())
		f.mu.Unlock()
		procs := []api.Process{
			{PID: 12, PPID: 1, Pgid: 12, State: "running", MicroState: "waiting", Node: "n2",
				Command: "sleep", Args: []string{"100"}, Priority: 50, CPUMillis: 1500, Owner: "alice", Incarnation: 1,
				CreatedAt: ago, StartedAt: ago},
			{PID: 1, State: "running", Command: "init", Priority: 50, Owner: "root", Incarnation: 1},
		}
		if r.URL.Query().Get("all") == "true" || r.URL.Query().Get("state") != "" {
			procs = append(procs,
				api.Process{PID: 7, PPID: 1, Pgid: 7, State: "exited", Node: "n1",
					Command: "echo", Args: []string{"hello world"}, Priority: 20, ExitCode: intp(0), Owner: "bob", Incarnation: 2,
					CreatedAt: ago, StartedAt: ago, ExitedAt: ago},
				api.Process{PID: 8, PPID: 1, Pgid: 8, State: "exited", Node: "n1",
					Command: "crash", Priority: 50, Signal: intp(11), Core: true, Owner: "bob", Incarnation: 1,
					CreatedAt: ago, StartedAt: ago, ExitedAt: ago},
				api.Process{PID: 9, PPID: 1, Pgid: 9, State: "lost", Node: "n3",
					Command: "far", Priority: 50, Owner: "alice", Incarnation: 1, Reason: "node lost", CreatedAt: ago})
		}
		// An answer with a field this client does not know, in the
		// JSON object an agent that does not know rows answers.
		b, _ := json.Marshal(api.ProcessList{Processes: procs, Index: 30})
		w.Write(append(b[:len(b)-1], []byte(`,"future":{"x":1}}`)...))
	})
	return f
}

func TestPsTable(t *testing.T) {
	f := psAPI(t)
	start := startTime(time.Now().Add(-3*time.Hour), time.Now())
	r := runCLI(t, f.srv.URL, "", "ps")
	want := "" +
		"PID  PPID  USER   STATE    STATUS  MICRO    NODE  PRI  CPU   START  AGE  COMMAND\n" +
		"1    0     root   running  -       -        -     50   0s    -      -    init\n" +
		"12   1     alice  running  -       waiting  n2    50   1.5s  " + start + "  3h   sleep 100\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("ps: got exit %d, stdout\n%s\nwant\n%s", r.code, r.stdout, want)
	}
	r = runCLI(t, f.srv.URL, "", "ps", "-a")
	for _, row := range []string{
		`7    1     bob    exited   exited (0)              -        n1    20   0s    ` + start + `  3h   echo "hello world"`,
		`8    1     bob    exited   killed (SIGSEGV, core)  -        n1    50   0s    ` + start + `  3h   crash`,
		`9    1     alice  lost     lost                    -        n3    50   0s    -      3h   far`,
	} {
		if r.code != 0 || !strings.Contains(r.stdout, row) {
			t.Errorf("ps -a: got\n%s\nwant a line with\n%s", r.stdout, row)
		}
	}
}

// TestPsFilters: --node, --state and --user go to the agent, and ps keeps
// only the states and owner asked for from an agent that answers more.
func TestPsFilters(t *testing.T) {
	f := psAPI(t)
	r := runCLI(t, f.srv.URL, "", "ps", "--state", "exited,lost", "--user", "bob", "--node", "n1")
	if r.code != 0 {
		t.Fatalf("got %+v", r)
	}
	var pids []string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n")[1:] {
		pids = append(pids, strings.Fields(line)[0])
	}
	if strings.Join(pids, " ") != "7 8" {
		t.Errorf("got PIDs %v, want 7 8:\n%s", pids, r.stdout)
	}
	f.mu.Lock()
	q := f.queries[len(f.queries)-1]
	f.mu.Unlock()
	if q.Get("state") != "exited,lost" || q.Get("owner") != "bob" || q.Get("node") != "n1" || q.Get("format") != "ndjson" {
		t.Errorf("query %v, want state, owner, node and format", q)
	}
	r = runCLI(t, f.srv.URL, "", "ps", "--state", "zombie")
	if r.code != 1 || !strings.Contains(r.stderr, `bad --state "zombie"`) {
		t.Errorf("--state zombie: got %+v", r)
	}
}

func TestPsTimes(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 30, 0, 0, time.Local)
	for _, tc := range []struct {
		t          time.Time
		start, age string
	}{
		{time.Time{}, "-", "-"},
		{now.Add(-90 * time.Second), "15:28", "90s"},
		{now.Add(-119 * time.Minute), "13:31", "119m"},
		{now.Add(-47 * time.Hour), "Dec05", "47h"},
		{now.Add(-400 * 24 * time.Hour), "2025", "400d"},
		{now.Add(time.Minute), "15:31", "0s"}, // a clock ahead of this one
	} {
		if got := startTime(tc.t, now); got != tc.start {
			t.Errorf("startTime(%v) = %q, want %q", tc.t, got, tc.start)
		}
		if got := age(tc.t, now); got != tc.age {
			t.Errorf("age(%v) = %q, want %q", tc.t, got, tc.age)
		}
	}
}

func TestPsJSON(t *testing.T) {
	f := psAPI(t)
	r := runCLI(t, f.srv.URL, "", "ps", "-a", "-o", "json")
	if r.code != 0 {
		t.Fatalf("got %+v", r)
	}
	var procs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &procs); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, r.stdout)
	}
	if len(procs) != 5 {
		t.Fatalf("got %d processes, want 5", len(procs))
	}
	fields := strings.Fields("pid ppid pgid state micro_state node command args priority exit_code signal cpu_ms owner incarnation")
	for _, p := range procs {
		for _, k := range fields {
			if _, ok := p[k]; !ok {
				t.Errorf("pid %v: no field %q", p["pid"], k)
			}
		}
		if p["signal"] != nil && p["pid"] != float64(8) {
			t.Errorf("pid %v: got signal %v, want null", p["pid"], p["signal"])
		}
		if _, ok := p["args"].([]any); !ok {
			t.Errorf("pid %v: got args %v, want an array", p["pid"], p["args"])
		}
	}
	// Sorted by PID: 1 and 12 are live, 7 has exited, 8 was killed.
	if procs[0]["exit_code"] != nil || procs[4]["exit_code"] != nil {
		t.Errorf("live processes: got exit codes %v %v, want null", procs[0]["exit_code"], procs[4]["exit_code"])
	}
	if procs[2]["pid"] != float64(8) || procs[2]["signal"] != float64(11) || procs[2]["exit_code"] != nil {
		t.Errorf("killed process: got %v", procs[2])
	}
	if procs[1]["pid"] != float64(7) || procs[1]["exit_code"] != float64(0) {
		t.Errorf("exited process: got pid %v exit_code %v, want 7 and 0", procs[1]["pid"], procs[1]["exit_code"])
	}
	empty := newFakeAPI(t)
	empty.mux.HandleFunc("GET /v1/procs", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"processes":null,"index":1}`)
	})
	if r := runCLI(t, empty.srv.URL, "", "ps", "-o", "json"); r.stdout != "[]\n" {
		t.Errorf("no processes: got %q, want []", r.stdout)
	}
}

func TestNodes(t *testing.T) {
	f := newFakeAPI(t)
	f.mux.HandleFunc("GET /v1/nodes", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, api.NodeList{Nodes: []api.Node{
			{Name: "n2", Status: "suspect", HTTPAddr: "10.0.0.2:7070", Slots: 4, Voter: true,
				Load: api.Load{BusySlots: 1, RunQueue: 3, Procs: 9}, Capacity: 256, Assigned: 9, AssignedMemory: 32 << 20},
			{Name: "n1", Status: "alive", HTTPAddr: "10.0.0.1:7070", Slots: 8, Memory: 64 << 20, Voter: true, Leader: true,
				Labels: map[string]string{"rack": "a", "ssd": "yes"}},
		}})
	})
	r := runCLI(t, f.srv.URL, "", "nodes")
	want := "" +
		"NAME  STATUS   ROLE    ADDRESS        SLOTS  MEMORY  ASSIGNED   BUSY  QUEUE  PROCS  LABELS\n" +
		"n1    alive    leader  10.0.0.1:7070  8      64M     0          0     0      0      rack=a,ssd=yes\n" +
		"n2    suspect  voter   10.0.0.2:7070  4      -       9/256 32M  1     3      9      -\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("nodes: got\n%s\nwant\n%s", r.stdout, want)
	}
	r = runCLI(t, f.srv.URL, "", "nodes", "-o", "json")
	var nodes []api.Node
	if err := json.Unmarshal([]byte(r.stdout), &nodes); err != nil || len(nodes) != 2 || nodes[0].Name != "n1" || nodes[1].Load.RunQueue != 3 {
		t.Errorf("nodes -o json: got %v, %v", nodes, err)
	}
}

func TestHealth(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   any
		code   int
	}{
		{"leader", 200, api.Health{Node: "n1", Leader: "n2", OK: true}, 0},
		{"no leader", 503, api.Health{Node: "n1"}, 1},
		{"error", 500, api.Error{Code: api.CodeInternal, Message: "boom"}, 1},
	}
	for _, tc := range cases {
		f := newFakeAPI(t)
		f.mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
			writeAnswer(w, tc.status, tc.body)
		})
		r := runCLI(t, f.srv.URL, "", "health")
		if r.code != tc.code {
			t.Errorf("%s: got %+v, want exit %d", tc.name, r, tc.code)
		}
		if tc.code != 0 {
			checkOneLine(t, []string{"health"}, r.stderr)
		}
	}
	r := runCLI(t, unreachable(t), "", "health")
	checkOneLine(t, []string{"health"}, r.stderr)
	if r.code != 1 {
		t.Errorf("unreachable: got %+v, want exit 1", r)
	}
}

func TestListPeers(t *testing.T) {
	f := newFakeAPI(t)
	f.mux.HandleFunc("GET /v1/operator/raft/peers", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 200, api.PeerList{Peers: []api.Peer{
			{ID: "n1", Address: "10.0.0.1:7071", Suffrage: "voter", Leader: true},
			{ID: "n4", Address: "10.0.0.4:7071", Suffrage: "nonvoter"},
		}})
	})
	r := runCLI(t, f.srv.URL, "", "operator", "raft", "list-peers")
	want := "" +
		"ID  ADDRESS        STATE     VOTER\n" +
		"n1  10.0.0.1:7071  leader    true\n" +
		"n4  10.0.0.4:7071  follower  false\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("list-peers: got\n%s\nwant\n%s", r.stdout, want)
	}
	r = runCLI(t, f.srv.URL, "", "operator", "raft", "list-peers", "-o", "json")
	var peers []api.Peer
	if err := json.Unmarshal([]byte(r.stdout), &peers); err != nil || len(peers) != 2 {
		t.Errorf("list-peers -o json: got %q, %v", r.stdout, err)
	}
}

func TestSnapshot(t *testing.T) {
	f := newFakeAPI(t)
	var restored []string
	f.mux.HandleFunc("GET /v1/snapshot", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "SNAPSHOT-BYTES")
	})
	f.mux.HandleFunc("PUT /v1/snapshot", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		restored = append(restored, string(b))
	})
	file := filepath.Join(t.TempDir(), "table.snap")
	if r := runCLI(t, f.srv.URL, "", "snapshot", "save", file); r.code != 0 {
		t.Fatalf("save: got %+v", r)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "SNAPSHOT-BYTES" {
		t.Errorf("saved file: got %q, %v", b, err)
	}
	if r := runCLI(t, f.srv.URL, "", "snapshot", "save", "-"); r.code != 0 || r.stdout != "SNAPSHOT-BYTES" {
		t.Errorf("save -: got %+v", r)
	}
	if r := runCLI(t, f.srv.URL, "", "snapshot", "restore", file); r.code != 0 {
		t.Errorf("restore: got %+v", r)
	}
	if r := runCLI(t, f.srv.URL, "from stdin", "snapshot", "restore", "-"); r.code != 0 {
		t.Errorf("restore -: got %+v", r)
	}
	if len(restored) != 2 || restored[0] != "SNAPSHOT-BYTES" || restored[1] != "from stdin" {
		t.Errorf("restored %q", restored)
	}
	r := runCLI(t, f.srv.URL, "", "snapshot", "restore", filepath.Join(t.TempDir(), "missing"))
	checkOneLine(t, []string{"snapshot", "restore"}, r.stderr)
	if r.code != 1 {
		t.Errorf("restore of a missing file: got %+v, want exit 1", r)
	}

	// A failed save leaves no file behind.
	bad := newFakeAPI(t)
	bad.mux.HandleFunc("GET /v1/snapshot", func(w http.ResponseWriter, r *http.Request) {
		writeAnswer(w, 500, api.Error{Code: api.CodeInternal, Message: "disk full"})
	})
	dir := t.TempDir()
	r = runCLI(t, bad.srv.URL, "", "snapshot", "save", filepath.Join(dir, "x.snap"))
	if ents, _ := os.ReadDir(dir); r.code != 1 || len(ents) != 0 {
		t.Errorf("failed save: got %+v and %d files, want exit 1 and none", r, len(ents))
	}
}
