package runner

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/testwait"
	"github.com/vproc/vproc/node"
)

// syncingSender is a recordingSender that also answers SyncedView with the
// leader's table.
type syncingSender struct {
	recordingSender
	leader *fsmTable
}

func (s *syncingSender) SyncedView(context.Context) (*fsm.View, error) {
	return s.leader.LocalView(), nil
}

// TestRunnerCatchUpStartsNothingStale: the node's replica is behind and
// shows a process as placed here, while at the leader's commit index it
// is running (it ran before the agent restarted). The runner reports it
// lost and never starts it, nor a placed one that may have started.
func TestRunnerCatchUpStartsNothingStale(t *testing.T) {
	for _, tc := range []struct {
		name    string
		syncs   bool
		started bool // want the stale record started (no catch-up)
	}{
		{"with catch-up", true, false},
		{"without the ability", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Now().UnixNano()
			local, leader := newTable(t), newTable(t)
			spawn := &fsm.Spawn{Parent: fsm.InitPID, Spec: fsm.Spec{Command: "sleep", Args: []string{"60"}}, Place: "n1", Now: now}
			placed := &fsm.Spawn{Parent: fsm.InitPID, Spec: fsm.Spec{Command: "sleep", Args: []string{"60"}}, Place: "n1", Now: now}
			pid := local.apply(t, spawn).PID
			local.apply(t, placed)
			leader.apply(t, spawn)
			leader.apply(t, placed)
			leader.apply(t, &fsm.Started{PID: pid, Incarnation: 1, Node: "n1", Now: now})

			snd := &syncingSender{leader: leader}
			var out Sender = &snd.recordingSender
			if tc.syncs {
				out = snd
			}
			r, _ := startTestRunner(t, local, out)
			// reports returns, per PID, whether the runner reported it
			// lost, and whether it reported a start or an exit: it tried
			// to run it.
			reports := func() (lost, ran map[uint64]bool) {
				lost, ran = map[uint64]bool{}, map[uint64]bool{}
				batches, singles := snd.calls()
				for _, b := range append(batches, singles) {
					for _, c := range b {
						switch c := c.(type) {
						case *fsm.Lost:
							lost[c.PID] = true
						case *fsm.Started:
							ran[c.PID] = true
						case *fsm.Exited:
							ran[c.PID] = true
						}
					}
				}
				return lost, ran
			}
			if tc.started {
				testwait.For(t, "the stale record started", 10*time.Second, func() bool {
					_, ran := reports()
					return ran[pid]
				})
				return
			}
			testwait.For(t, "lost reports", 10*time.Second, func() bool {
				lost, _ := reports()
				return lost[pid] && lost[pid+1]
			})
			testwait.For(t, "three passes", 10*time.Second, func() bool { return r.Passes() >= 3 })
			if _, ran := reports(); ran[pid] || ran[pid+1] {
				t.Fatalf("the runner tried to run a process assigned before it started: %v", ran)
			}
		})
	}
}

func newTable(t *testing.T) *fsmTable {
	t.Helper()
	f, err := fsm.New(fsm.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	table := &fsmTable{f: f}
	table.apply(t, &fsm.NodeUpsert{ID: "n1", Name: "n1", Capacity: fsm.Capacity{Slots: 4}, Now: time.Now().UnixNano()})
	return table
}

// startTestRunner starts a runner of node n1 over table, reporting to
// out, with its kernel. Its cleanup stops both.
func startTestRunner(t *testing.T, table *fsmTable, out Sender) (*Runner, *node.ProcessManager) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Name = "n1"
	cfg.GCAfter = table.index // the log's end when the agent started
	r, err := New(cfg, table, discardLogs{}, out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	kcfg := node.DefaultConfig()
	kcfg.Slots = 2
	kcfg.PIDs, kcfg.Signals, kcfg.OnEvent = r, r, r.OnEvent
	k, err := node.New(kcfg)
	if err != nil {
		t.Fatal(err)
	}
	r.SetKernel(k)
	r.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := k.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		r.Stop()
	})
	return r, k
}
