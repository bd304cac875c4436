//go:build linux

package jepsen

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/internal/ctxutil"
)

// Scenarios are the scripted runs: the deliberately broken builds that the
// checkers must catch, and one regression scenario for each bug the suite
// has found.
var Scenarios = []Scenario{
	{
		Name: "StaleReadWithoutReadRecipe",
		About: "the leader is paused and cut off; the majority elects another and a spawn commits through it; " +
			"the old leader wakes up still calling itself leader and is asked for the new PID. " +
			"Without the read recipe (Guarantee 6) it answers from its stale table; with it, it refuses.",
		Nodes: 3, Netns: true,
		Builds: []Build{
			{Name: "normal"},
			{Name: "unsafe-reads", Tags: []string{TagUnsafeReads}, Env: []string{"VPROC_UNSAFE_READS=1"}, MustFail: []string{checkLinTable}, MayFail: []string{"no lost spawn"}},
		},
		Script: staleRead,
	},
	{
		Name: "TwoRunnersWithoutFencing",
		About: "a heartbeat process's node is cut off past the lost timeout, so the leader declares it lost and " +
			"restarts it elsewhere, then the cut heals. With fencing (Guarantee 3) the cut-off node froze before " +
			"that; without it both incarnations run at once.",
		Nodes: 3, Netns: true, Fencing: true,
		Builds: []Build{
			{Name: "normal"},
			{Name: "unsafe-nofence", Tags: []string{TagUnsafeNoFence}, MustFail: []string{checkOneRunner}},
		},
		Script: twoRunners,
	},
	{
		Name: "IssueGracefulLeaveLosesItsProcesses",
		About: "regression (membership fault, found by the suite): a node that left gracefully kept its processes " +
			"running in the table for ever. A node joins, runs a long sleep, and leaves with SIGTERM; " +
			"the sleep must end up lost.",
		Nodes:  3,
		Builds: []Build{{Name: "normal"}},
		Script: gracefulLeave,
	},
	{
		Name: "IssueKillIsFinalInMinority",
		About: "regression (seed 11, majority-minority): a heartbeat's node is cut off in the minority and the " +
			"majority commits SIGKILL for it; the cut-off incarnation must complete no system call later than " +
			"the fence timeout after that (Guarantee 4).",
		Nodes: 3, Netns: true, Fencing: true,
		Builds: []Build{
			{Name: "normal"},
			{Name: "unsafe-nofence", Tags: []string{TagUnsafeNoFence}, MustFail: []string{checkKillFinal}},
		},
		Script: killInMinority,
	},
	{
		Name: "IssuePausedLeaderRenewsItsOwnLease",
		About: "regression (pause-leader, seed 1795675651409629808): the leader runs a heartbeat and is paused " +
			"(SIGSTOP) past the lost timeout; the others elect a new leader, which restarts the heartbeat " +
			"elsewhere; the old leader is resumed. It must not run its incarnation again (Guarantee 3).",
		Nodes: 3,
		Builds: []Build{
			{Name: "normal"},
			{Name: "unsafe-nofence", Tags: []string{TagUnsafeNoFence}, MustFail: []string{checkOneRunner}},
		},
		Script: pausedLeader,
	},
	{
		Name: "IssueRegistryReadsFromStaleTable",
		About: "regression (registry workload, seed 1795676777860813345): a FIFO or queue name created through one " +
			"node was answered ENOENT when unlinked through another a moment later, because that node decided " +
			"from its own table before it had applied the create. Names are created and unlinked through " +
			"rotating nodes, back to back; the registries must stay linearizable (Guarantees 6 and 7).",
		Nodes:  3,
		Builds: []Build{{Name: "normal"}},
		Script: registryRotation,
	},
	{
		Name: "WholeClusterCrashRunsNothingTwice",
		About: "regression (an operator's whole-cluster kill -9, which ran restart=never processes again): heartbeat processes run on every node and every agent is killed with " +
			"SIGKILL within a second, then all are started again from their data dirs. Every process died with " +
			"its agent, so no incarnation may run again; only the restart policy runs a process again, as a new " +
			"incarnation.",
		Nodes:  3,
		Builds: []Build{{Name: "normal"}},
		Script: crashAll,
	},
}

// crashAll runs heartbeats, kills every node at once and restarts them.
func crashAll(ctx context.Context, s *Script) error {
	members := s.Members()
	leader, err := s.Leader(ctx, members)
	if err != nil {
		return err
	}
	c := s.Client(leader)
	for range 2 * len(members) {
		if _, err := s.heartbeat(ctx, c, "50ms"); err != nil {
			c.close()
			return err
		}
	}
	c.close()
	ctxutil.Sleep(ctx, time.Second)
	f, err := s.Inject(FaultKillAll, members, "SIGKILL", func() error {
		var errs []error
		for _, m := range members {
			errs = append(errs, s.r.cl.Kill(m))
		}
		return errors.Join(errs...)
	})
	if err != nil {
		return err
	}
	ctxutil.Sleep(ctx, time.Second)
	err = f.Heal(func() error {
		var errs []error
		for _, m := range members {
			errs = append(errs, s.r.cl.Start(m))
		}
		return errors.Join(errs...)
	})
	if err != nil {
		return err
	}
	if _, err := s.Leader(ctx, members); err != nil {
		return err
	}
	ctxutil.Sleep(ctx, 5*time.Second) // long enough for a rerun to beat
	return nil
}

// registryRotations is how many create/unlink pairs registryRotation makes
// in each registry.
const registryRotations = 30

// registryRotation creates each name through one node and unlinks it at
// once through the next.
func registryRotation(ctx context.Context, s *Script) error {
	members := s.Members()
	clients := make([]*client, len(members))
	for i, m := range members {
		clients[i] = s.Client(m)
		defer clients[i].close()
	}
	for i := 0; i < registryRotations; i++ {
		for _, reg := range []string{"fifo", "mq"} {
			name := fmt.Sprintf("/rotation-%d", i)
			a, b := clients[i%len(clients)], clients[(i+1)%len(clients)]
			if op := a.Create(ctx, reg, name); op.Outcome != OutcomeOK {
				return fmt.Errorf("%s create %s through %s: %s %s", reg, name, members[i%len(members)], op.Code, op.Error)
			}
			if op := b.Unlink(ctx, reg, name); op.Outcome != OutcomeOK {
				s.logf("script: %s unlink %s through %s right after the create: %s %s", reg, name, members[(i+1)%len(members)], op.Code, op.Error)
			}
		}
	}
	return nil
}

// staleReadAttempts bounds the rounds of staleRead, and staleReaders is
// how many reads each round sends to the old leader.
const (
	staleReadAttempts = 15
	staleReaders      = 8
)

// staleRead isolates the leader, writes through the majority and reads
// from the old leader.
//
// Raft's leader lease makes a cut-off leader step down (after
// LeaderLeaseTimeout) before the others can elect a new one (after
// HeartbeatTimeout), so a leader that is only cut off never calls itself
// leader next to a newer one. A process pause is what breaks that: the
// leader is stopped (SIGSTOP) before it is cut off, the majority elects a
// new leader and commits a spawn through it, the reads of the new PID are
// sent to the stopped old leader (they wait in its sockets), and then it
// is woken up. It still believes it leads until its lease check runs;
// whether a read gets in before that is a race, so the round is repeated
// until some read is answered, up to staleReadAttempts times. On the
// normal build no read can be answered while the old leader is cut off,
// so every round runs.
func staleRead(ctx context.Context, s *Script) error {
	members := s.Members()
	for attempt := 1; attempt <= staleReadAttempts; attempt++ {
		old, err := s.Leader(ctx, members)
		if err != nil {
			return err
		}
		rest := without(members, old)
		pause, err := s.Pause(old)
		if err != nil {
			return err
		}
		cut, err := s.Isolate(old)
		if err != nil {
			_ = pause.Heal(func() error { return s.r.cl.Resume(old) })
			return err
		}
		answered, err := staleReadRound(ctx, s, old, rest)
		herr := errors.Join(pause.Heal(func() error { return s.r.cl.Resume(old) }), cut.HealPartition())
		if err = errors.Join(err, herr); err != nil {
			return err
		}
		s.logf("script: round %d: %d of %d reads from the old leader %s were answered", attempt, answered, staleReaders, old)
		if answered > 0 {
			return nil
		}
	}
	s.logf("script: no read from the old leader was answered in %d rounds", staleReadAttempts)
	return nil
}

// staleReadRound runs one round while old is stopped and cut off, and
// resumes it; it returns how many reads old answered.
func staleReadRound(ctx context.Context, s *Script, old string, rest []string) (int, error) {
	leader, err := s.Leader(ctx, rest)
	if err != nil {
		return 0, err
	}
	c := s.Client(leader)
	defer c.close()
	var spawn Op
	for i := 0; i < 10; i++ {
		if spawn = c.Spawn(ctx, api.SpawnRequest{Command: "true"}); spawn.Outcome == OutcomeOK || !ctxutil.Sleep(ctx, 200*time.Millisecond) {
			break
		}
	}
	if spawn.Outcome != OutcomeOK {
		return 0, fmt.Errorf("spawn through the new leader %s: %s %s", leader, spawn.Code, spawn.Error)
	}
	s.logf("script: spawn through %s acknowledged: PID %d", leader, spawn.RetPID)
	reads := make([]Op, staleReaders)
	var wg sync.WaitGroup
	for i := range reads {
		r := s.Client(old)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.close()
			reads[i] = r.Get(ctx, spawn.RetPID)
		}()
	}
	ctxutil.Sleep(ctx, 500*time.Millisecond) // the requests reach the stopped node's sockets
	if err := s.r.cl.Resume(old); err != nil {
		return 0, err
	}
	wg.Wait()
	n := 0
	for _, op := range reads {
		if op.Informative() {
			n++
			s.logf("script: the old leader %s answered get(%d): %s %s", old, spawn.RetPID, op.Outcome, op.Code)
		}
	}
	return n, nil
}

// heartbeat spawns a heartbeat process that beats every period, with
// restart policy always, through c, and waits until it runs.
func (s *Script) heartbeat(ctx context.Context, c *client, period string) (api.Process, error) {
	hb := c.Spawn(ctx, api.SpawnRequest{Command: "heartbeat", Args: []string{period}, Restart: "always"})
	if hb.Outcome != OutcomeOK {
		return api.Process{}, fmt.Errorf("spawn heartbeat: %s %s", hb.Code, hb.Error)
	}
	return s.Running(ctx, c, hb.RetPID, 30*time.Second, nil)
}

// lostWait bounds the wait for the leader to declare a cut-off node's
// processes lost and restart them: the agents' lost timeout (2 s by
// default) plus the election, placement and start, with room to spare on
// a loaded machine.
const lostWait = 45 * time.Second

// twoRunners cuts a heartbeat's node off until the leader restarts the
// heartbeat elsewhere, holds the cut a little longer, and heals it.
func twoRunners(ctx context.Context, s *Script) error {
	members := s.Members()
	leader, err := s.Leader(ctx, members)
	if err != nil {
		return err
	}
	c := s.Client(leader)
	defer c.close()
	first, err := s.heartbeat(ctx, c, "100ms")
	if err != nil {
		return err
	}
	s.logf("script: heartbeat %d runs on %s, incarnation %d", first.PID, first.Node, first.Incarnation)
	ctxutil.Sleep(ctx, time.Second) // some beats before the cut
	cut, err := s.Isolate(first.Node)
	if err != nil {
		return err
	}
	rest := without(members, first.Node)
	err = func() error {
		leader, err := s.Leader(ctx, rest)
		if err != nil {
			return err
		}
		c2 := s.Client(leader)
		defer c2.close()
		second, err := s.Running(ctx, c2, first.PID, lostWait, func(p api.Process) bool {
			return p.Incarnation > first.Incarnation && p.Node != first.Node
		})
		if err != nil {
			return err
		}
		s.logf("script: heartbeat %d restarted on %s, incarnation %d", first.PID, second.Node, second.Incarnation)
		ctxutil.Sleep(ctx, 3*time.Second) // both would run now, without fencing
		return nil
	}()
	return errors.Join(err, cut.HealPartition())
}

// gracefulLeave adds a node, runs a long sleep on it, and removes the node
// gracefully.
func gracefulLeave(ctx context.Context, s *Script) error {
	var name string
	f, err := s.Inject(FaultMembership, nil, "graceful leave", func() (err error) {
		name, err = s.r.cl.AddNode(ctx)
		return err
	})
	if err != nil {
		return err
	}
	f.f.Targets = []string{name}
	err = func() error {
		leader, err := s.Leader(ctx, s.Members())
		if err != nil {
			return err
		}
		c := s.Client(leader)
		defer c.close()
		// The new node can take processes once the leader has it in the
		// table.
		var sp Op
		for i := 0; i < 120; i++ {
			sp = c.Spawn(ctx, api.SpawnRequest{Command: "sleep", Args: []string{strconv.Itoa(600)}, Node: name})
			if sp.Outcome == OutcomeOK || !ctxutil.Sleep(ctx, 500*time.Millisecond) {
				break
			}
		}
		if sp.Outcome != OutcomeOK {
			return fmt.Errorf("spawn on %s: %s %s", name, sp.Code, sp.Error)
		}
		if _, err := s.Running(ctx, c, sp.RetPID, 30*time.Second, func(p api.Process) bool { return p.Node == name }); err != nil {
			return err
		}
		s.logf("script: sleep %d runs on %s; %s leaves", sp.RetPID, name, name)
		return nil
	}()
	return errors.Join(err, f.Heal(func() error { return s.r.cl.RemoveNode(ctx, name) }))
}

// killInMinority cuts a heartbeat's node off, kills the heartbeat through
// the majority, holds the cut past the kill grace, and heals it.
func killInMinority(ctx context.Context, s *Script) error {
	members := s.Members()
	leader, err := s.Leader(ctx, members)
	if err != nil {
		return err
	}
	c := s.Client(leader)
	defer c.close()
	p, err := s.heartbeat(ctx, c, "100ms")
	if err != nil {
		return err
	}
	ctxutil.Sleep(ctx, time.Second)
	g := Grudge{}
	rest := without(members, p.Node)
	g.cut([]string{p.Node}, rest)
	cut, err := s.Inject(FaultMajorityMinority, []string{p.Node}, g.String(), func() error { return s.r.cl.Partition(g) })
	if err != nil {
		return err
	}
	err = func() error {
		leader, err := s.Leader(ctx, rest)
		if err != nil {
			return err
		}
		c2 := s.Client(leader)
		defer c2.close()
		var k Op
		for i := 0; i < 10; i++ {
			if k = c2.Kill(ctx, p.PID, 9); k.Outcome == OutcomeOK || !ctxutil.Sleep(ctx, 300*time.Millisecond) {
				break
			}
		}
		if k.Outcome != OutcomeOK {
			return fmt.Errorf("kill -9 %d through %s: %s %s", p.PID, leader, k.Code, k.Error)
		}
		s.logf("script: SIGKILL for %d committed through %s while %s is cut off", p.PID, leader, p.Node)
		ctxutil.Sleep(ctx, s.r.cfg.KillGrace+2*time.Second)
		return nil
	}()
	return errors.Join(err, cut.HealPartition())
}

// pausedLeader spawns heartbeats until one runs on the leader, pauses the
// leader until the others have restarted that heartbeat elsewhere, and
// resumes it.
func pausedLeader(ctx context.Context, s *Script) error {
	members := s.Members()
	leader, err := s.Leader(ctx, members)
	if err != nil {
		return err
	}
	c := s.Client(leader)
	defer c.close()
	var mine api.Process
	for i := 0; i < 2*len(members) && mine.PID == 0; i++ {
		p, err := s.heartbeat(ctx, c, "50ms")
		if err != nil {
			return err
		}
		if p.Node == leader {
			mine = p
		}
	}
	if mine.PID == 0 {
		return fmt.Errorf("no heartbeat was placed on the leader %s in %d spawns", leader, 2*len(members))
	}
	s.logf("script: heartbeat %d runs on the leader %s, incarnation %d", mine.PID, leader, mine.Incarnation)
	ctxutil.Sleep(ctx, time.Second)
	pause, err := s.Inject(FaultPauseLeader, []string{leader}, "SIGSTOP", func() error { return s.r.cl.Pause(leader) })
	if err != nil {
		return err
	}
	err = func() error {
		rest := without(members, leader)
		l2, err := s.Leader(ctx, rest)
		if err != nil {
			return err
		}
		c2 := s.Client(l2)
		defer c2.close()
		p, err := s.Running(ctx, c2, mine.PID, lostWait, func(p api.Process) bool {
			return p.Incarnation > mine.Incarnation && p.Node != leader
		})
		if err != nil {
			return err
		}
		s.logf("script: heartbeat %d restarted on %s, incarnation %d", mine.PID, p.Node, p.Incarnation)
		ctxutil.Sleep(ctx, time.Second)
		return nil
	}()
	err = errors.Join(err, pause.Heal(func() error { return s.r.cl.Resume(leader) }))
	ctxutil.Sleep(ctx, 2*time.Second) // the old leader wakes up next to the new incarnation
	return err
}
