package runner

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// TestRunnerOlderViewLeavesAStartedProcessAlone: a view older than the
// record the runner started a process from says nothing about it. The
// lease's return path once settled the runner's processes against a view
// read before the runner took one up, and killed it or forgot it, so that
// its exit was never reported.
func TestRunnerOlderViewLeavesAStartedProcessAlone(t *testing.T) {
	r, table, k := newTestRunner(t)
	old := table.LocalView()
	res := table.apply(t, &fsm.Spawn{Parent: fsm.InitPID, Spec: fsm.Spec{Command: "sleep", Args: []string{"60"}}, Place: "n1", Now: time.Now().UnixNano()})
	p, ok := table.LocalView().Get(res.PID)
	if !ok || p.Node != "n1" {
		t.Fatalf("spawned: %+v", p)
	}
	r.startProcess(&p)
	r.mu.Lock()
	lp := r.procs[p.PID]
	if lp != nil {
		q, _ := old.Get(p.PID)
		r.settleLocked(old, p.PID, lp, &q, false)
	}
	kept := r.procs[p.PID] == lp && lp != nil && !lp.killed
	r.mu.Unlock()
	if !kept {
		t.Fatal("an older view killed or forgot a process the runner had started")
	}
	if _, err := k.Get(int(p.PID)); err != nil {
		t.Fatalf("the process: %v", err)
	}
	if err := k.Kill(int(p.PID), ipc.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

// fsmTable is a Table over an fsm.FSM that the test applies commands to.
type fsmTable struct {
	f     *fsm.FSM
	index uint64
}

func (t *fsmTable) LocalView() *fsm.View { return t.f.View() }

func (t *fsmTable) WaitApplied(ctx context.Context, index uint64) error {
	if t.f.AppliedIndex() > index {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func (t *fsmTable) apply(tb testing.TB, cmd fsm.Command) *fsm.Result {
	tb.Helper()
	t.index++
	res := t.f.Apply(t.index, fsm.Encode(cmd)).(*fsm.Result)
	if res.Err != nil {
		tb.Fatalf("apply %T: %v", cmd, res.Err)
	}
	return res
}

// discardLogs drops the processes' output.
type discardLogs struct{}

func (discardLogs) Writer(uint64) io.Writer { return io.Discard }
func (discardLogs) Finish(uint64)           {}
func (discardLogs) Remove(uint64)           {}
func (discardLogs) PIDs() []uint64          { return nil }

func (discardLogs) Writers(uint64) (io.Writer, io.Writer) { return io.Discard, io.Discard }

// newTestRunner returns a runner of node n1 over a fresh table that has
// the node, with its kernel, not started. Its cleanup stops both.
func newTestRunner(t *testing.T) (*Runner, *fsmTable, *node.ProcessManager) {
	t.Helper()
	f, err := fsm.New(fsm.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	table := &fsmTable{f: f}
	table.apply(t, &fsm.NodeUpsert{ID: "n1", Name: "n1", Capacity: fsm.Capacity{Slots: 4}, Now: time.Now().UnixNano()})
	cfg := DefaultConfig()
	cfg.Name = "n1"
	r, err := New(cfg, table, discardLogs{}, &recordingSender{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	kcfg := node.DefaultConfig()
	kcfg.Slots = 2
	// The kernel holds no programs of its own: the tests run "sleep", which
	// waits for a signal.
	progs := node.NewProgramTable()
	progs.Register("sleep", func(s *node.Sys) int {
		_ = s.Pause()
		return 0
	})
	kcfg.Programs = progs
	kcfg.PIDs, kcfg.Signals, kcfg.OnEvent = r, r, r.OnEvent
	k, err := node.New(kcfg)
	if err != nil {
		t.Fatal(err)
	}
	r.SetKernel(k)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := k.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		r.cancel()
		r.wg.Wait()
	})
	return r, table, k
}

// lagSender is a leader whose spawn entries place nothing, and whose Place
// commits are not yet applied by this node's replica (the table), as
// right after a leader change.
type lagSender struct {
	recordingSender
	t     testing.TB
	table *fsmTable
}

func (s *lagSender) Send(ctx context.Context, ref *commit.SessionRef, cmd fsm.Command) (*fsm.Result, error) {
	switch c := cmd.(type) {
	case *fsm.Spawn:
		c.Place = ""
		c.Now = time.Now().UnixNano()
		return s.table.apply(s.t, c), nil
	case *fsm.Place:
		return &fsm.Result{Index: s.table.index + 5}, nil
	}
	return s.recordingSender.Send(ctx, ref, cmd)
}

// TestRunnerKeepsAChildItPlacedItself: a child whose spawn entry left it
// pending, which the runner placed itself, is not killed by a pass over a
// view that has applied the spawn but not yet the Place. After a leader
// change such a pass killed the writer of a pipeline just started, and the
// pipeline ended with exit 0 and its output cut.
func TestRunnerKeepsAChildItPlacedItself(t *testing.T) {
	r, table, _ := newTestRunner(t)
	r.out = &lagSender{t: t, table: table}
	res := table.apply(t, &fsm.Spawn{Parent: fsm.InitPID, Spec: fsm.Spec{Command: "sleep", Args: []string{"60"}}, Place: "n1", Now: time.Now().UnixNano()})
	table.apply(t, &fsm.Started{PID: res.PID, Incarnation: 1, Node: "n1", Now: time.Now().UnixNano()})
	alloc, err := r.AllocPID(node.PIDRequest{Parent: int(res.PID), Command: "sleep", Args: []string{"60"}})
	if err != nil {
		t.Fatal(err)
	}
	pid := uint64(alloc.PID)
	if p, ok := table.LocalView().Get(pid); !ok || p.State != fsm.StatePending {
		t.Fatalf("the child in the lagging table: %+v, want pending", p)
	}
	r.mu.Lock()
	lp := r.procs[pid]
	lp.spawned = true // the kernel runs it
	r.mu.Unlock()
	r.KillUnassigned()
	r.mu.Lock()
	killed, kept := lp.killed, r.procs[pid] == lp
	r.mu.Unlock()
	if killed || !kept {
		t.Fatalf("a view without the child's Place killed (%v) or forgot (%v) it", killed, !kept)
	}
}
