package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/fsm"
)

// TestRollingUpgrade upgrades a 3-node cluster one node at a time under a
// spawn load. The nodes start as an earlier release would run: they claim
// and apply only the baseline command versions (Config.FSM.Reads). While
// any voter is old the leader writes nothing it cannot apply: no entry is
// sealed, and a spawn with stdin (spec record version 2) is refused before
// it is written. No agent stops on an entry it cannot apply, and once every
// voter is new, entries are sealed and stdin spawns are accepted.
func TestRollingUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("rolling upgrade: slow")
	}
	c := MakeCluster(t, 3, func(i int, cfg *Config) { cfg.FSM.Reads = fsm.Baseline() })
	c.leader()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	live := c.up()
	leaderNow := func() *Agent {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range live {
			if a != nil && a.isLeader() {
				return a
			}
		}
		return nil
	}
	acked := 0
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				l := leaderNow()
				if l == nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				res, err := l.submit(ctx, nil, &fsm.Spawn{Parent: fsm.InitPID, Owner: "root", Spec: fsm.Spec{Command: "true"}, Now: time.Now().UnixNano()})
				cancel()
				if err == nil && res.Err == nil {
					mu.Lock()
					acked++
					mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	stdin := fsm.Spec{Command: "cat", Stdin: true}
	for i := range c.cfgs {
		// With an old voter in the cluster: nothing sealed, stdin refused.
		l := c.leader()
		checkUnsealed(t, l, 20)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := l.submit(ctx, nil, &fsm.Spawn{Parent: fsm.InitPID, Owner: "root", Spec: stdin, Now: time.Now().UnixNano()})
		cancel()
		if !errors.Is(err, fsm.ErrVersion) {
			t.Fatalf("step %d: a stdin spawn with an old voter: got %v, want ErrVersion", i, err)
		}
		// Upgrade node i: stop it, start it again on its data dir as the
		// new release.
		mu.Lock()
		live[i] = nil
		mu.Unlock()
		c.shutdown(i)
		c.cfgs[i].FSM.Reads = fsm.Versions{}
		c.cfgs[i].Join = c.joinAddrs(i)
		a := c.start(i)
		mu.Lock()
		live[i] = a
		mu.Unlock()
		c.waitVoters(3)
		for _, a := range c.up() {
			if err := a.Err(); err != nil {
				t.Fatalf("step %d: %s stopped: %v", i, a.Name(), err)
			}
		}
	}
	// Every voter is new: gossip carries their reports, and then entries
	// are sealed and stdin spawns accepted.
	poll(t, 30*time.Second, func() error {
		l := c.leaderNow()
		if l == nil {
			return errors.New("no leader")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		res, err := l.submit(ctx, nil, &fsm.Spawn{Parent: fsm.InitPID, Owner: "root", Spec: stdin, Now: time.Now().UnixNano()})
		if err != nil {
			return err
		}
		if res.Err != nil {
			return res.Err
		}
		var e raft.Log
		if err := l.replica.LogEntry(res.Index, &e); err != nil {
			return err
		}
		if !fsm.Sealed(e.Data) {
			return fmt.Errorf("entry %d is not sealed", res.Index)
		}
		return nil
	})
	close(stop)
	wg.Wait()
	c.waitConverged()
	for _, a := range c.up() {
		if err := a.Err(); err != nil {
			t.Fatalf("%s stopped: %v", a.Name(), err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if acked == 0 {
		t.Fatal("no spawn was acknowledged during the upgrade")
	}
}

// checkUnsealed checks the last n command entries of a's log: none is
// sealed.
func checkUnsealed(t *testing.T, a *Agent, n int) {
	t.Helper()
	last := a.replica.LastIndex()
	for i := last; i > 0 && i+uint64(n) > last; i-- {
		var e raft.Log
		if err := a.replica.LogEntry(i, &e); err != nil {
			continue // compacted
		}
		if e.Type == raft.LogCommand && fsm.Sealed(e.Data) {
			t.Fatalf("%s: entry %d is sealed while a voter does not know the envelope", a.Name(), i)
		}
	}
}

// joinAddrs returns the gossip addresses of the other running nodes.
func (c *testCluster) joinAddrs(i int) []string {
	var out []string
	for j, a := range c.agents {
		if j != i && a != nil {
			out = append(out, a.GossipAddr())
		}
	}
	return out
}

// waitVoters waits until the leader's raft configuration has n voters and
// the cluster has a ready leader.
func (c *testCluster) waitVoters(n int) {
	c.t.Helper()
	poll(c.t, 30*time.Second, func() error {
		l := c.leaderNow()
		if l == nil {
			return errors.New("no leader")
		}
		f := l.raft.GetConfiguration()
		if err := f.Error(); err != nil {
			return err
		}
		voters := 0
		for _, s := range f.Configuration().Servers {
			if s.Suffrage == raft.Voter {
				voters++
			}
		}
		if voters != n {
			return fmt.Errorf("%d voters, want %d", voters, n)
		}
		return nil
	})
	c.leader()
}
