package telemetry

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/node"
)

// TestSeveralAgentsInOneProcess: metrics for several agents, even with
// the same name, never collide, and the global sinks are installed once.
func TestSeveralAgentsInOneProcess(t *testing.T) {
	g1, err := InstallGlobalSinks()
	if err != nil {
		t.Fatal(err)
	}
	var ms []*Metrics
	for _, name := range []string{"a", "b", "a"} {
		m, err := New(name, Sources{})
		if err != nil {
			t.Fatalf("New(%s): %v", name, err)
		}
		ms = append(ms, m)
	}
	if g2, _ := InstallGlobalSinks(); g2 != g1 {
		t.Fatal("the global registry changed")
	}
	ms[0].ObserveRequest("/v1/procs", "GET", 200, time.Millisecond)
	if got := testutil.ToFloat64(ms[0].httpRequests.WithLabelValues("/v1/procs", "GET", "200")); got != 1 {
		t.Errorf("agent a: %v requests", got)
	}
	if got := testutil.ToFloat64(ms[1].httpRequests.WithLabelValues("/v1/procs", "GET", "200")); got != 0 {
		t.Errorf("agent b counted agent a's request: %v", got)
	}
	if _, err := New("", Sources{}); err == nil {
		t.Error("New without a name: no error")
	}
}

// TestApplied counts the table's commands by what they did.
func TestApplied(t *testing.T) {
	m, err := New("n1", Sources{})
	if err != nil {
		t.Fatal(err)
	}
	ok := &fsm.Result{}
	spawn := &fsm.Spawn{Spec: fsm.Spec{Command: "true"}}
	m.Applied(40, spawn, ok)
	m.Applied(40, spawn, &fsm.Result{Err: fsm.ErrStale}) // refused: not counted
	m.Applied(40, &fsm.SessionRequest{Command: &fsm.Signal{}}, ok)
	exit := func(st fsm.Status, state fsm.State) {
		m.Applied(30, &fsm.Exited{PID: 2, Incarnation: 1, Status: st}, &fsm.Result{State: state})
	}
	exit(fsm.Status{Exited: true}, fsm.StateExited)
	exit(fsm.Status{Exited: true, Code: 3}, fsm.StateExited)
	exit(fsm.Status{Signal: 9}, fsm.StateExited)
	exit(fsm.Status{Exited: true, Code: 1}, fsm.StatePending) // restarted
	batch := &fsm.Batch{Commands: []fsm.Command{&fsm.NodeLost{Node: "n2"}, spawn}}
	m.Applied(90, batch, []*fsm.Result{{Targets: []fsm.Target{{PID: 5}, {PID: 6}}}, ok})
	m.Applied(90, batch, []*fsm.Result{ok}) // results that do not match: only its size

	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"spawns", testutil.ToFloat64(m.spawns), 2},
		{"kills", testutil.ToFloat64(m.kills), 1},
		{"exit_zero", testutil.ToFloat64(m.exits.WithLabelValues("exit_zero")), 1},
		{"exit_nonzero", testutil.ToFloat64(m.exits.WithLabelValues("exit_nonzero")), 1},
		{"signal", testutil.ToFloat64(m.exits.WithLabelValues("signal")), 1},
		{"restarts", testutil.ToFloat64(m.restarts), 1},
		{"lost", testutil.ToFloat64(m.lost), 2},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestScrapeGauges serves the gauges read from Sources, and the placement
// gauges only while the node leads.
func TestScrapeGauges(t *testing.T) {
	m, err := New("n1", Sources{
		Raft: func() map[string]string {
			return map[string]string{"commit_index": "12", "applied_index": "11", "last_log_index": "12", "term": "3", "state": "Leader"}
		},
		Kernel: func() node.Stats {
			return node.Stats{Slots: 4, BusySlots: 2, RunQueue: 5, Processes: map[node.ProcessState]int{node.StateWaiting: 7},
				IPC: node.IPCStats{PipeBytes: 100, PipeWrites: 4, MQBytes: 30, MQMessages: 3}}
		},
		Members: func() []string { return []string{"alive", "alive", "suspect"} },
		Lease:   func() LeaseStats { return LeaseStats{Renewals: 9, Failures: 2, Freezes: 1} },
	})
	if err != nil {
		t.Fatal(err)
	}
	m.PlacementRound(time.Millisecond, 2, 1, map[string]int{"full": 3, "backoff": 1})
	m.SpawnPick(20 * time.Microsecond)
	body := scrapeText(t, m)
	for _, want := range []string{
		`vproc_raft_commit_index{node="n1"} 12`,
		`vproc_raft_term{node="n1"} 3`,
		`vproc_raft_is_leader{node="n1"} 1`,
		`vproc_kernel_run_queue{node="n1"} 5`,
		`vproc_kernel_slots_busy{node="n1"} 2`,
		`vproc_kernel_processes{node="n1",state="waiting"} 7`,
		`vproc_kernel_processes{node="n1",state="ready"} 0`,
		`vproc_kernel_ipc_bytes_total{kind="pipe",node="n1"} 100`,
		`vproc_kernel_ipc_messages_total{kind="mq",node="n1"} 3`,
		`vproc_gossip_members{node="n1",status="alive"} 2`,
		`vproc_gossip_members{node="n1",status="down"} 0`,
		`vproc_lease_renewals_total{node="n1",result="failed"} 2`,
		`vproc_lease_freezes_total{node="n1"} 1`,
		`vproc_placement_pending{cause="full",node="n1"} 3`,
		`vproc_placement_preemptions_total{node="n1"} 1`,
		`# TYPE vproc_placement_round_duration_seconds histogram`,
		`vproc_placement_spawn_pick_seconds_count{node="n1"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("missing %q", want)
		}
	}
	m.Leadership(false)
	if body := scrapeText(t, m); strings.Contains(body, "vproc_placement_pending{") {
		t.Error("a follower reports placement_pending")
	}
}

func scrapeText(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// BenchmarkAppliedBatch measures what counting a group-committed entry of
// 64 spawns costs raft's apply goroutine.
func BenchmarkAppliedBatch(b *testing.B) {
	m, err := New("bench", Sources{})
	if err != nil {
		b.Fatal(err)
	}
	batch := &fsm.Batch{}
	results := make([]*fsm.Result, 64)
	for i := range results {
		batch.Commands = append(batch.Commands, &fsm.Spawn{Spec: fsm.Spec{Command: "sleep", Args: []string{"60"}}})
		results[i] = &fsm.Result{PID: uint64(i + 2)}
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Applied(4096, batch, results)
	}
}
