package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/cluster/runner"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

func TestRunnerStartsAndReports(t *testing.T) {
	h := newHarness(t, nil, true)
	pid := h.spawn(api.SpawnRequest{Command: "sh", Args: []string{"-c", "exit 7"}})
	p := h.waitState(pid, fsm.StateExited)
	if !p.Status.Exited || p.Status.Code != 7 || p.StartedAt == 0 || p.ExitedAt == 0 {
		t.Errorf("exited record: got %+v", p)
	}
	if n := h.c.reportedStarts(pid); n != 1 {
		t.Errorf("reported starts: got %d, want 1", n)
	}
	if n := len(h.c.commands(fsm.TypeExited)); n != 1 {
		t.Errorf("exited reports: got %d, want 1", n)
	}
	// The kernel's zombie is reaped, so the PID could run again.
	waitFor(t, "the kernel to reap pid "+strconv.FormatUint(pid, 10), 5*time.Second, func() bool {
		_, err := h.s.kernel.Get(int(pid))
		return err != nil
	})
}

func TestRunnerUnknownProgram(t *testing.T) {
	// The table may hold a command this node does not know (a spawn
	// checked by a node of another build): it exits with 127.
	h := newHarness(t, nil, true)
	r := h.c.apply(&fsm.Spawn{Parent: 1, Spec: fsm.Spec{Command: "no-such-program"}})
	p := h.waitState(r.PID, fsm.StateExited)
	if !p.Status.Exited || p.Status.Code != 127 || p.Status.Reason == "" {
		t.Errorf("unknown program: got status %+v, want exit 127 with a reason", p.Status)
	}
	// A bad working directory: 126.
	pid := h.spawn(api.SpawnRequest{Command: "true", Cwd: "/no/such/dir"})
	p = h.waitState(pid, fsm.StateExited)
	if p.Status.Code != 126 || p.Status.Reason == "" {
		t.Errorf("bad cwd: got status %+v, want exit 126 with a reason", p.Status)
	}
}

func TestRunnerRestartsWithNewIncarnation(t *testing.T) {
	h := newHarness(t, nil, true)
	pid := h.spawn(api.SpawnRequest{Command: "false", Restart: "on-failure:2:1ms"})
	// The fake placer places a restart when something is applied after its
	// backoff: tick.
	var p fsm.Process
	waitFor(t, "the restarts to give up", 10*time.Second, func() bool {
		h.c.apply(&fsm.Tick{Now: time.Now().UnixNano()})
		p, _ = h.proc(pid)
		return p.State == fsm.StateExited
	})
	if p.Incarnation != 3 || p.Restarts != 2 || p.Status.Code != 1 {
		t.Errorf("after restarts: got incarnation %d restarts %d status %+v", p.Incarnation, p.Restarts, p.Status)
	}
	if n := h.c.reportedStarts(pid); n != 3 {
		t.Errorf("reported starts: got %d, want 3", n)
	}
}

// counter counts the SIGUSR1s that the "usr1" program handles.
var usr1Count atomic.Int64

func registerTestPrograms(t testing.TB, k *node.ProcessManager) {
	programTable(t, k).Register("usr1", func(s *node.Sys) int {
		if err := s.Signal(ipc.SIGUSR1, func(*node.Sys, ipc.Signal) { usr1Count.Add(1) }); err != nil {
			return 2
		}
		for {
			if err := s.Sleep(time.Hour); err != nil && !errors.Is(err, ipc.EINTR) {
				return 1
			}
		}
	})
	programTable(t, k).Register("spawner", func(s *node.Sys) int {
		pid, err := s.Spawn(node.SpawnAttr{Command: "echo", Args: []string{"child"}})
		if err != nil {
			s.Errorf("spawn: %v", err)
			return 1
		}
		s.Printf("child %d\n", pid)
		_, st, err := s.Waitpid(pid, 0)
		if err != nil {
			s.Errorf("wait: %v", err)
			return 1
		}
		return st.ExitStatus()
	})
}

func TestRunnerSignalsOnce(t *testing.T) {
	h := newHarness(t, nil, true)
	registerTestPrograms(t, h.s.kernel)
	usr1Count.Store(0)
	pid := h.spawn(api.SpawnRequest{Command: "usr1"})
	h.waitState(pid, fsm.StateRunning)
	// Let the process install its handler: it sleeps once it has.
	waitFor(t, "the handler", 5*time.Second, func() bool {
		micro, _, _ := h.s.runner.LocalInfo(pid, 1)
		return micro == "waiting"
	})

	// The first acknowledgements fail, so the runner reads the request
	// again and again before its ack commits: it must deliver once.
	var fails atomic.Int64
	h.c.setHook(func(c fsm.Command) error {
		if c.Type() == fsm.TypeSignalDelivered && fails.Add(1) <= 3 {
			return commit.ErrUnknownOutcome
		}
		return nil
	})
	for i := 1; i <= 3; i++ {
		r := do(t, "POST", h.url+"/v1/kill", api.KillRequest{Targets: []int64{int64(pid)}, Signal: int(ipc.SIGUSR1)}, nil)
		if r.status != 200 {
			t.Fatalf("kill: %d %s", r.status, r.body)
		}
		waitFor(t, "the signal to be acknowledged", 10*time.Second, func() bool {
			return len(h.c.f.View().SignalsFor(pid)) == 0
		})
		waitFor(t, fmt.Sprintf("%d handled signals", i), 5*time.Second, func() bool { return usr1Count.Load() >= int64(i) })
		// More passes of the runner over the same table: a second
		// delivery would be handled before the process sleeps again.
		passes := h.s.runner.Passes()
		waitFor(t, "three more passes", 10*time.Second, func() bool {
			h.s.runner.Kick()
			return h.s.runner.Passes() >= passes+3
		})
		waitFor(t, "the process to sleep again", 5*time.Second, func() bool {
			micro, _, _ := h.s.runner.LocalInfo(pid, 1)
			return micro == "waiting"
		})
		if got := usr1Count.Load(); got != int64(i) {
			t.Fatalf("after %d kills: the handler ran %d times", i, got)
		}
	}
	if got := len(h.c.commands(fsm.TypeSignalDelivered)); got != 3 {
		t.Errorf("acknowledgements applied: got %d, want 3", got)
	}
}

func TestRunnerKillsWhatTheTableKills(t *testing.T) {
	h := newHarness(t, nil, true)
	pid := h.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"60"}})
	h.waitState(pid, fsm.StateRunning)
	r := do(t, "POST", h.url+"/v1/kill", api.KillRequest{Targets: []int64{int64(pid)}, Signal: 9}, nil)
	if r.status != 200 {
		t.Fatalf("kill: %d %s", r.status, r.body)
	}
	p := h.waitState(pid, fsm.StateExited)
	if p.Status.Signal != 9 || !p.Killed {
		t.Errorf("killed: got %+v", p.Status)
	}
	waitFor(t, "the kernel to drop the process", 5*time.Second, func() bool {
		kp, err := h.s.kernel.Get(int(pid))
		return err != nil || kp.State == node.StateZombie
	})
}

func TestRunnerKillsUnassigned(t *testing.T) {
	// The table declares the node lost: its incarnations must not run on.
	h := newHarness(t, nil, true)
	pid := h.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"60"}})
	h.waitState(pid, fsm.StateRunning)
	h.c.autoPlace.Store(false)
	h.c.apply(&fsm.NodeLost{Node: "n1", Now: time.Now().UnixNano()})
	if p, _ := h.proc(pid); p.State != fsm.StateLost {
		t.Fatalf("after node lost: %s", p.State)
	}
	waitFor(t, "the runner to kill the unassigned incarnation", 5*time.Second, func() bool {
		_, err := h.s.kernel.Get(int(pid))
		return err != nil
	})
	if n := h.s.kernel.Count(); n != 0 {
		t.Errorf("live local processes: got %d, want 0", n)
	}
}

func TestLeaseEndFreezesAndReturnKillsUnassigned(t *testing.T) {
	// Guarantee 3: a node that cannot renew its lease freezes its
	// processes; when it renews again, an incarnation the table moved away
	// meanwhile dies without completing another system call.
	h := newHarness(t, nil, true, func(o *harnessOpts) { o.cfg.FenceTimeout = 400 * time.Millisecond })
	var calls atomic.Int64
	programTable(t, h.s.kernel).Register("count", func(s *node.Sys) int {
		for {
			s.Getpid()
			calls.Add(1)
		}
	})
	pid := h.spawn(api.SpawnRequest{Command: "count"})
	h.waitState(pid, fsm.StateRunning)
	waitFor(t, "the process to run", 5*time.Second, func() bool { return calls.Load() > 0 })
	h.c.refuseLeases.Store(true)
	waitFor(t, "the lease to end", 5*time.Second, h.s.kernel.Frozen)
	waitFor(t, "the process to park", 5*time.Second, func() bool {
		p, err := h.s.kernel.Get(int(pid))
		return err == nil && p.State == node.StateReady
	})
	frozen := calls.Load()
	// The runner's own loop would kill the incarnation as soon as it saw
	// the table change; stopped, it leaves the return path alone to act,
	// as when a partitioned node's table is stale until the renewal.
	h.s.runner.Stop()
	h.c.autoPlace.Store(false)
	h.c.apply(&fsm.NodeLost{Node: "n1", Now: time.Now().UnixNano()})
	h.c.refuseLeases.Store(false)
	waitFor(t, "the incarnation to die", 5*time.Second, func() bool {
		p, err := h.s.kernel.Get(int(pid))
		return err != nil || p.State == node.StateZombie
	})
	waitFor(t, "the lease to be renewed", 5*time.Second, func() bool { return !h.s.kernel.Frozen() })
	if got := calls.Load(); got > frozen {
		t.Fatalf("%d system calls completed after the lease ended", got-frozen)
	}
}

func TestRunnerReportsLostAfterRestart(t *testing.T) {
	// An agent that restarts finds the table saying its processes run;
	// they died with it: it reports them lost.
	c := newFakeCore(t, "n1")
	h := newHarness(t, c, true)
	pid := h.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"60"}})
	h.waitState(pid, fsm.StateRunning)
	h.close()
	if p, _ := c.f.View().Get(pid); p.State != fsm.StateRunning {
		t.Fatalf("after stop: %s", p.State)
	}
	newHarness(t, c, true)
	p := h.waitState(pid, fsm.StateLost)
	if p.Status.Reason == "" {
		t.Errorf("lost without a reason: %+v", p.Status)
	}
}

func TestRunnerChildrenGetTablePIDs(t *testing.T) {
	for _, auto := range []bool{true, false} {
		t.Run(fmt.Sprintf("autoPlace=%v", auto), func(t *testing.T) {
			c := newFakeCore(t, "n1")
			h := newHarness(t, c, true)
			registerTestPrograms(t, h.s.kernel)
			c.autoPlace.Store(auto) // with it, the placer wins the race to place the child
			pid := h.spawn(api.SpawnRequest{Command: "spawner"})
			if !auto {
				c.apply(&fsm.Place{PID: pid, Incarnation: 1, ExpectState: fsm.StatePending, Node: "n1"})
			}
			p := h.waitState(pid, fsm.StateExited)
			if p.Status.Code != 0 {
				t.Fatalf("spawner: %+v", p.Status)
			}
			// The child was in the table, ran here, exited, and left the
			// table when its parent's wait reaped it.
			spawns := c.commands(fsm.TypeSpawn)
			if len(spawns) != 2 {
				t.Fatalf("spawns applied: got %d, want 2", len(spawns))
			}
			ks := spawns[1].(*fsm.Spawn)
			if ks.Parent != pid || ks.Spec.Command != "echo" || ks.Spec.Node != "n1" || ks.Spec.InheritsPipesFrom != pid {
				t.Errorf("child spawn: got %+v", ks)
			}
			kid := fsm.Process{PID: pid + 1}
			waitFor(t, "the child's reap", 10*time.Second, func() bool {
				for _, cmd := range c.commands(fsm.TypeReap) {
					if cmd.(*fsm.Reap).PID == kid.PID {
						_, still := c.f.View().Get(kid.PID)
						return !still
					}
				}
				return false
			})
			started := c.reportedStarts(kid.PID) == 1
			exited := false
			for _, cmd := range c.commands(fsm.TypeExited) {
				e := cmd.(*fsm.Exited)
				exited = exited || (e.PID == kid.PID && e.Status.Exited && e.Status.Code == 0)
			}
			if !started || !exited {
				t.Errorf("child lifecycle: started %v, exited with 0 %v", started, exited)
			}
			r := do(t, "GET", fmt.Sprintf("%s/v1/procs/%d/logs", h.url, pid), nil, nil)
			if want := fmt.Sprintf("child %d\nchild\n", kid.PID); string(r.body) != want && string(r.body) != fmt.Sprintf("child\nchild %d\n", kid.PID) {
				t.Errorf("spawner output: got %q, want %q", r.body, want)
			}
		})
	}
}

func TestRunnerOrphanChildRecord(t *testing.T) {
	// A child record that no local spawn claims (its parent's spawn failed
	// after the PID was allocated) ends with 126.
	c := newFakeCore(t, "n1")
	// A short grace: the record is unclaimed from the start.
	h := newHarness(t, c, false, withRunner(func(rc *runner.Config) { rc.ChildGrace = 200 * time.Millisecond }))
	parent := h.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"60"}})
	kid := c.apply(&fsm.Spawn{Parent: parent, Spec: fsm.Spec{Command: "true", Node: "n1", InheritsPipesFrom: parent}}).PID
	h.s.start()
	p := h.waitState(kid, fsm.StateExited)
	if p.Status.Code != 126 {
		t.Errorf("orphan child record: got %+v", p.Status)
	}
}

func TestRunnerFollowerReportsThroughLeader(t *testing.T) {
	// A node that is not the leader reports through the leader's internal
	// route. The leader here is a serving over the same table.
	c := newFakeCore(t, "n1")
	leader := newHarness(t, c, false)
	follower := &fakeFollower{fakeCore: c, leaderURL: leader.url}
	s, err := newServing(follower, Config{Name: "n1", Dev: true, CPUs: 1, FenceTimeout: 2 * time.Second, LostTimeout: 4 * time.Second}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.stop(ctx)
	})
	// The leader's runner is not running: the follower's runs the process.
	pid := leader.spawn(api.SpawnRequest{Command: "sh", Args: []string{"-c", "exit 4"}})
	p := leader.waitState(pid, fsm.StateExited)
	if p.Status.Code != 4 {
		t.Errorf("status through the internal route: %+v", p.Status)
	}
}

// fakeFollower is the fake core seen from a node that is not the leader:
// it submits nothing itself.
type fakeFollower struct {
	*fakeCore
	leaderURL string
}

func (f *fakeFollower) isLeader() bool                 { return false }
func (f *fakeFollower) leader() (string, string, bool) { return "n0", f.leaderURL, true }
func (f *fakeFollower) registerSession(context.Context) (uint64, error) {
	return 0, commit.ErrNotLeader
}
func (f *fakeFollower) submit(context.Context, *commit.SessionRef, fsm.Command) (*fsm.Result, error) {
	return nil, commit.ErrNotLeader
}
func (f *fakeFollower) submitBatch(_ context.Context, _ []*commit.SessionRef, cmds []fsm.Command) []commit.Outcome {
	outs := make([]commit.Outcome, len(cmds))
	for i := range outs {
		outs[i].Err = commit.ErrNotLeader
	}
	return outs
}

func TestRunnerStartsTheNextIncarnationAfterTheOldEnds(t *testing.T) {
	// The table moves a process to a new incarnation on this same node
	// while the old one still runs here: the runner kills the old one,
	// and starts the new one once the kernel reports the old one's exit,
	// with no table change in between (Guarantee 3: one runner per PID).
	h := newHarness(t, nil, true)
	pid := h.spawn(api.SpawnRequest{Command: "sleep", Args: []string{"60"}, Restart: "always"})
	h.waitState(pid, fsm.StateRunning)
	res := h.c.apply(&fsm.Lost{PID: pid, Incarnation: 1, Node: "n1", Reason: "test", Now: time.Now().UnixNano()})
	if res.Err != nil || res.Incarnation != 2 {
		t.Fatalf("lost: %+v", res)
	}
	p := h.waitState(pid, fsm.StateRunning)
	if p.Incarnation != 2 || p.Node != "n1" {
		t.Fatalf("after the loss: incarnation %d on %q, want 2 on n1", p.Incarnation, p.Node)
	}
	kp, err := h.s.kernel.Get(int(pid))
	if err != nil || kp.State == node.StateZombie {
		t.Fatalf("the kernel's pid %d: %+v, %v; want the new incarnation running", pid, kp, err)
	}
}
