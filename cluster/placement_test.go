package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/client"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/testwait"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// schedCluster starts three nodes of one CPU slot each, holding perSlot
// processes each as placement counts them, so that capacity is exact.
func schedCluster(t *testing.T, perSlot int, opts ...func(i int, c *Config)) *testCluster {
	t.Helper()
	return MakeCluster(t, 3, append([]func(int, *Config){func(i int, c *Config) {
		c.CPUs = 1
		c.Scheduler.ProcsPerSlot = perSlot
		c.PreemptGrace = 5 * time.Second
	}}, opts...)...)
}

// clientOf returns a Go client of agent a's HTTP API.
func clientOf(t *testing.T, a *Agent) *client.Client {
	t.Helper()
	cfg := client.DefaultConfig()
	cfg.Addr = "http://" + a.HTTPAddr()
	cl, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func sleeper(prio int) fsm.Spec {
	return fsm.Spec{Command: "sleep", Args: []string{"600"}, Priority: prio}
}

// proc returns pid's record as the leader has it.
func (c *testCluster) proc(pid uint64) fsm.Process {
	c.t.Helper()
	p, ok := c.leader().localView().Get(pid)
	if !ok {
		c.t.Fatalf("pid %d is not in the table", pid)
	}
	return p
}

// waitProc polls pid's record until cond holds, and returns it.
func (c *testCluster) waitProc(pid uint64, what string, cond func(p fsm.Process) bool) fsm.Process {
	c.t.Helper()
	var p fsm.Process
	poll(c.t, 20*time.Second, func() error {
		var ok bool
		if p, ok = c.leader().localView().Get(pid); ok && cond(p) {
			return nil
		}
		return fmt.Errorf("pid %d is %s on %q (incarnation %d), want %s", pid, p.State, p.Node, p.Incarnation, what)
	})
	return p
}

// kill SIGKILLs pid and waits until it has exited.
func (c *testCluster) kill(pid uint64) {
	c.t.Helper()
	c.submit(&fsm.Signal{Target: int64(pid), Signal: fsm.SIGKILL, Now: time.Now().UnixNano()})
	c.waitProc(pid, "exited", func(p fsm.Process) bool { return !p.State.Live() })
}

// perNode counts the processes of pids by node.
func (c *testCluster) perNode(pids []uint64) map[string]int {
	out := map[string]int{}
	for _, pid := range pids {
		out[c.waitPlaced(pid).Node]++
	}
	return out
}

func sortedCounts(m map[string]int) []int {
	var out []int
	for _, n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// TestPlacementSpreadAndBinpack places six processes on three nodes of four
// each: spread puts two on every node; binpack, set through a follower's
// HTTP API as `vproc operator scheduler set-config` does, fills one node
// and puts the rest on a second.
func TestPlacementSpreadAndBinpack(t *testing.T) {
	c := schedCluster(t, 4)
	cl := clientOf(t, c.followers()[0])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if cfg, err := cl.SchedulerConfig(ctx, false); err != nil || cfg.Strategy != "spread" {
		t.Fatalf("default scheduler config: %+v %v, want spread", cfg, err)
	}
	var pids []uint64
	for range 6 {
		pids = append(pids, c.spawnSpec(sleeper(0)))
	}
	if got := sortedCounts(c.perNode(pids)); !slices.Equal(got, []int{2, 2, 2}) {
		t.Fatalf("spread: processes per node %v, want 2 on each", c.perNode(pids))
	}
	for _, pid := range pids {
		c.kill(pid)
	}

	cfg, err := cl.SetSchedulerConfig(ctx, api.SchedulerConfigRequest{Strategy: "binpack"})
	if err != nil || cfg.Strategy != "binpack" || cfg.ModifyIndex == 0 {
		t.Fatalf("set binpack: %+v %v", cfg, err)
	}
	var ae *api.Error
	if _, err := cl.SetSchedulerConfig(ctx, api.SchedulerConfigRequest{Strategy: "random"}); !errors.As(err, &ae) || ae.Code != api.CodeBadRequest {
		t.Fatalf("set an unknown strategy: %v, want bad_request", err)
	}
	if got, err := clientOf(t, c.leader()).SchedulerConfig(ctx, false); err != nil || got.Strategy != "binpack" {
		t.Fatalf("scheduler config after set: %+v %v", got, err)
	}
	pids = pids[:0]
	for range 6 {
		pids = append(pids, c.spawnSpec(sleeper(0)))
	}
	if got := sortedCounts(c.perNode(pids)); !slices.Equal(got, []int{2, 4}) {
		t.Fatalf("binpack: processes per node %v, want 4 on one and 2 on another", c.perNode(pids))
	}
	// The placement loop follows the strategy too: a process that uses a
	// queue not registered yet skips the spawn path, and binpack puts it
	// on the fuller node that has room.
	for range 2 {
		pid := c.spawnSpec(fsm.Spec{Command: "sleep", Args: []string{"600"}, Uses: []fsm.Use{{Kind: fsm.KindMQ, Name: "/later"}}})
		pids = append(pids, pid)
	}
	if got := sortedCounts(c.perNode(pids)); !slices.Equal(got, []int{4, 4}) {
		t.Fatalf("binpack through the placement loop: processes per node %v, want two full nodes", c.perNode(pids))
	}
	nodes, err := cl.Nodes(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Nodes {
		if n.Capacity != 4 || n.Assigned > 4 {
			t.Errorf("node %s: capacity %d assigned %d, want capacity 4 and no more assigned", n.Name, n.Capacity, n.Assigned)
		}
	}
}

// TestPlacementConstraints places by --node and --constraint through the
// HTTP API, and leaves what no node satisfies pending until a node that
// does exists.
func TestPlacementConstraints(t *testing.T) {
	c := schedCluster(t, 8, func(i int, c *Config) {
		if i == 1 {
			c.Labels = map[string]string{"zone": "b", "disk": "ssd"}
		}
		if i == 2 {
			c.Labels = map[string]string{"zone": "b"}
		}
	})
	cl := clientOf(t, c.agents[0])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	spawn := func(req api.SpawnRequest) api.Process {
		t.Helper()
		req.Command, req.Args = "sleep", []string{"600"}
		res, err := cl.Spawn(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return api.Process{PID: res.PID, Node: c.waitPlaced(res.PID).Node}
	}
	for range 3 {
		if p := spawn(api.SpawnRequest{Node: "node2"}); p.Node != "node2" {
			t.Errorf("--node node2: placed on %s", p.Node)
		}
		if p := spawn(api.SpawnRequest{Constraints: []string{"zone=b", "disk=ssd"}}); p.Node != "node1" {
			t.Errorf("--constraint zone=b --constraint disk=ssd: placed on %s, want node1", p.Node)
		}
		if p := spawn(api.SpawnRequest{Constraints: []string{"zone=b"}}); p.Node != "node1" && p.Node != "node2" {
			t.Errorf("--constraint zone=b: placed on %s, want node1 or node2", p.Node)
		}
	}
	// No node has zone=c: the spawn is refused, never left pending.
	_, err := cl.Spawn(ctx, api.SpawnRequest{Command: "sleep", Args: []string{"600"}, Constraints: []string{"zone=c"}})
	if se := (*client.StatusError)(nil); !errors.As(err, &se) || se.StatusCode != 400 || se.Err.Code != api.CodeUnplaceable {
		t.Fatalf("--constraint zone=c (no such node): got %v, want 400 %s", err, api.CodeUnplaceable)
	}
	// In the table, where a spawn is not checked again, it stays pending.
	pid := c.spawnSpec(fsm.Spec{Command: "sleep", Args: []string{"600"}, Constraints: []fsm.Constraint{{Label: "zone", Value: "c"}}})
	witness := c.waitPlaced(c.spawnSpec(sleeper(0)))
	if p := c.proc(pid); p.State != fsm.StatePending {
		t.Fatalf("zone=c (no such node) is %s on %q, want pending; a later spawn went to %s", p.State, p.Node, witness.Node)
	}
	// A shared-memory segment pins the processes that use it to its node.
	// The registry entry below has no segment behind it in node2's kernel:
	// node2's first lease grant, which reports such names lost, must come
	// first. A second renewal starts only after the first grant is done.
	testwait.For(t, "node2's first lease grant", 10*time.Second, func() bool {
		return c.agents[2].serving.lease.Stats().Renewals >= 2
	})
	c.submit(&fsm.RegistryCreate{Kind: fsm.KindSHM, Name: "/seg", Node: "node2", Owner: "root", Mode: 0o600, Now: time.Now().UnixNano()})
	for range 3 {
		if p := spawn(api.SpawnRequest{Uses: []string{"shm:/seg"}}); p.Node != "node2" {
			t.Errorf("--uses shm:/seg (on node2): placed on %s", p.Node)
		}
	}
	// A message queue is preferred: its node wins while it has room.
	c.submit(&fsm.RegistryCreate{Kind: fsm.KindMQ, Name: "/q", Node: "node0", Owner: "root", Mode: 0o600, Attrs: fsm.Attrs{MaxMsg: 10, MsgSize: 64}, Now: time.Now().UnixNano()})
	if p := spawn(api.SpawnRequest{Uses: []string{"mq:/q"}}); p.Node != "node0" {
		t.Errorf("--uses mq:/q (on node0): placed on %s", p.Node)
	}
}

// TestPlacementPriorityOrder fills the cluster, then queues processes whose
// priorities are too close to preempt anything: as room frees up, the
// highest priority goes first, and equal priorities go in spawn order.
func TestPlacementPriorityOrder(t *testing.T) {
	c := schedCluster(t, 1)
	var running []uint64
	for range 3 {
		running = append(running, c.spawnSpec(sleeper(50)))
	}
	c.perNode(running)
	first := c.spawnSpec(sleeper(45))
	high := c.spawnSpec(sleeper(55)) // 5 points above: not enough to preempt
	second := c.spawnSpec(sleeper(45))
	for _, pid := range []uint64{first, high, second} {
		if p := c.proc(pid); p.State != fsm.StatePending {
			t.Fatalf("pid %d (priority %d) is %s on a full cluster, want pending", pid, p.Spec.Priority, p.State)
		}
	}
	order := []uint64{high, first, second}
	for i, want := range order {
		c.kill(running[i])
		freed := c.proc(running[i]).Node
		p := c.waitProc(want, "placed", func(p fsm.Process) bool { return p.State.OnNode() })
		if p.Node != freed {
			t.Errorf("pid %d placed on %s, want %s, whose room was freed", want, p.Node, freed)
		}
		for _, later := range order[i+1:] {
			if q := c.proc(later); q.State != fsm.StatePending {
				t.Fatalf("pid %d (priority %d) was placed before pid %d (priority %d)", later, q.Spec.Priority, want, p.Spec.Priority)
			}
		}
	}
}

// TestPlacementPreemption fills the cluster with low-priority processes and
// spawns a high-priority one: it evicts one of them with SIGTERM, takes
// its room, and the victim is requeued (being preempted is not a kill) and
// placed again as soon as room frees up. A victim that ignores SIGTERM is
// SIGKILLed after the grace period.
func TestPlacementPreemption(t *testing.T) {
	c := schedCluster(t, 1, func(i int, c *Config) { c.PreemptGrace = 300 * time.Millisecond })
	for _, a := range c.agents {
		programTable(t, a.serving.kernel).Register("stubborn", stubborn)
	}
	low := []uint64{c.spawnSpec(sleeper(10)), c.spawnSpec(sleeper(10))}
	hold := c.spawnSpec(fsm.Spec{Command: "stubborn", Priority: 5})
	for _, pid := range append(slices.Clone(low), hold) {
		c.waitProc(pid, "running", func(p fsm.Process) bool { return p.State == fsm.StateRunning })
	}
	// Running in the table is not yet running the program: wait until the
	// stubborn one ignores SIGTERM.
	waitFor(t, "the stubborn process to ignore SIGTERM", 10*time.Second, func() bool { return stubbornReady.Load() > 0 })
	// 15 points above the sleepers: enough. The stubborn one, at 5, is
	// the cheapest victim.
	high := c.spawnSpec(fsm.Spec{Command: "sleep", Args: []string{"600"}, Priority: 25})
	victim := c.waitProc(hold, "requeued", func(p fsm.Process) bool { return p.Incarnation == 2 })
	if victim.Status.Signal != fsm.SIGKILL || victim.Restarts != 0 || victim.Killed {
		t.Errorf("stubborn victim after the grace period: status %+v restarts %d killed %v, want SIGKILL, not counted, not killed",
			victim.Status, victim.Restarts, victim.Killed)
	}
	p := c.waitProc(high, "running", func(p fsm.Process) bool { return p.State == fsm.StateRunning })
	for _, pid := range low {
		if q := c.proc(pid); q.Incarnation != 1 || !q.State.OnNode() {
			t.Errorf("sleeper %d was disturbed: incarnation %d %s", pid, q.Incarnation, q.State)
		}
	}
	if v := c.proc(hold); v.State != fsm.StatePending {
		t.Errorf("victim is %s, want pending: priority 5 cannot preempt 10", v.State)
	}

	// A second high-priority process evicts a sleeper: SIGTERM, its
	// default action, at once.
	high2 := c.spawnSpec(fsm.Spec{Command: "sleep", Args: []string{"600"}, Priority: 30})
	var evicted fsm.Process
	poll(t, 20*time.Second, func() error {
		for _, pid := range low {
			if q := c.proc(pid); q.Incarnation == 2 {
				evicted = q
				return nil
			}
		}
		return fmt.Errorf("no sleeper evicted yet")
	})
	if evicted.Status.Signal != 15 || evicted.Restarts != 0 || evicted.Killed {
		t.Errorf("evicted sleeper: status %+v restarts %d, want SIGTERM, not counted", evicted.Status, evicted.Restarts)
	}
	c.waitProc(high2, "running", func(p fsm.Process) bool { return p.State == fsm.StateRunning })

	// Room frees up: the requeued sleeper (priority 10) goes before the
	// stubborn one (5).
	c.kill(high)
	q := c.waitProc(evicted.PID, "placed again", func(q fsm.Process) bool { return q.State.OnNode() })
	if q.Node != p.Node {
		t.Errorf("requeued pid %d placed on %s, want %s, whose room was freed", q.PID, q.Node, p.Node)
	}
	if v := c.proc(hold); v.State != fsm.StatePending {
		t.Errorf("priority 5 placed (%s) before priority 10", v.State)
	}
}

// stubbornReady counts the stubborn processes that ignore SIGTERM.
var stubbornReady atomic.Int64

// stubborn ignores SIGTERM and sleeps until it is killed.
func stubborn(s *node.Sys) int {
	if _, err := s.Sigaction(ipc.SIGTERM, &node.SigAction{Ignore: true}); err != nil {
		return 1
	}
	stubbornReady.Add(1)
	for {
		if err := s.Sleep(time.Hour); err != nil && !isEINTR(err) {
			return 2
		}
	}
}

func isEINTR(err error) bool { return errors.Is(err, ipc.EINTR) }

// TestPlacementSpawnFlagsEndToEnd spawns through one node with every
// scheduler-facing spawn flag, reads the record, logs and micro-state
// through another, and kills it through the third.
func TestPlacementSpawnFlagsEndToEnd(t *testing.T) {
	c := schedCluster(t, 8, func(i int, c *Config) {
		if i == 2 {
			c.Labels = map[string]string{"zone": "b"}
		}
	})
	cls := []*client.Client{clientOf(t, c.agents[0]), clientOf(t, c.agents[1]), clientOf(t, c.agents[2])}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	spawn := func(req api.SpawnRequest) uint64 {
		t.Helper()
		res, err := cls[0].Spawn(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return res.PID
	}
	logs := func(pid uint64, want string) {
		t.Helper()
		poll(t, 20*time.Second, func() error {
			rc, err := cls[1].Logs(ctx, pid, false, 0)
			if err != nil {
				return err
			}
			out, _ := io.ReadAll(rc)
			rc.Close()
			if !strings.Contains(string(out), want) {
				return fmt.Errorf("logs of pid %d through node1: %q, want %q", pid, out, want)
			}
			return nil
		})
	}
	// --env and --cwd reach the program; the logs come from the node that
	// ran it, through another.
	logs(spawn(api.SpawnRequest{Command: "env", Env: []string{"GREETING=hello"}, Node: "node2"}), "GREETING=hello\n")
	logs(spawn(api.SpawnRequest{Command: "pwd", Cwd: "/", Node: "node1"}), "/\n")

	pid := spawn(api.SpawnRequest{
		Command: "sleep", Args: []string{"600"},
		Priority: 70, Limits: []string{"cpu=10s:20s", "nofile=64"}, Restart: "on-failure:3",
		Node: "node2", Constraints: []string{"zone=b"}, Uses: []string{"mq:/jobs"},
	})
	poll(t, 20*time.Second, func() error {
		p, err := cls[1].Get(ctx, pid, client.ReadOpts{})
		if err != nil {
			return err
		}
		if p.State != "running" || p.MicroState == "" {
			return fmt.Errorf("pid %d is %s/%q", pid, p.State, p.MicroState)
		}
		if p.Node != "node2" || p.Priority != 70 || p.Restart != "on-failure:3" || p.Limits != "cpu=10s:20s,nofile=64" {
			return fmt.Errorf("record %+v", p)
		}
		return nil
	})
	// ps through node1 shows the micro-state, from node2.
	poll(t, 20*time.Second, func() error {
		list, err := cls[1].List(ctx, client.ListOpts{})
		if err != nil {
			return err
		}
		for _, p := range list.Processes {
			if p.PID == pid && p.MicroState == "waiting" && p.Node == "node2" {
				return nil
			}
		}
		return fmt.Errorf("ps through node1: %+v, want pid %d waiting on node2", list.Processes, pid)
	})
	if _, err := cls[2].Kill(ctx, api.KillRequest{Targets: []int64{int64(pid)}, Signal: 9}); err != nil {
		t.Fatal(err)
	}
	p, err := cls[0].Wait(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	if p.Signal == nil || *p.Signal != 9 || p.Restarts != 0 || p.Incarnation != 1 {
		t.Errorf("killed through node2: %+v, want SIGKILL and no restart (kill is final)", p)
	}
}
