package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vproc/vproc/fsm"
)

// TestWholeClusterCrashRunsNothingTwice crashes every agent of a 3-node
// cluster under a spawn load of restart=never processes and starts them
// again from their data dirs. Every process died with its agent, so none
// may run again: each acknowledged PID is still in the table (Guarantee
// 2) and ends lost, never placed or running again; the PID counter never
// goes back (Guarantee 1); and a spawn after the restart runs normally.
func TestWholeClusterCrashRunsNothingTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("whole-cluster crash: slow")
	}
	c := MakeCluster(t, 3)
	c.leader()

	var (
		mu    sync.Mutex
		acked = map[uint64]bool{}
		live  = c.up() // the agents the load may use; nil once crashed
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	leaderNow := func() *Agent {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range live {
			if a.isLeader() {
				return a
			}
		}
		return nil
	}
	// Each run of a process logs "begin" once: a log with two says it ran
	// twice.
	never := fsm.Spec{Command: "sh", Args: []string{"-c", "echo begin; sleep 600"}, Restart: fsm.Restart{Policy: fsm.RestartNever}}
	for w := 0; w < 6; w++ {
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
				res, err := l.submit(ctx, nil, &fsm.Spawn{Parent: fsm.InitPID, Owner: "root", Spec: never, Now: time.Now().UnixNano()})
				cancel()
				if err == nil && res.Err == nil {
					mu.Lock()
					acked[res.PID] = true
					mu.Unlock()
				}
			}
		}()
	}
	// Crash while spawns are in flight, once some processes run.
	poll(t, 30*time.Second, func() error {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		running := 0
		if l := leaderNow(); l != nil {
			for _, p := range l.fsm.List(fsm.Filter{OnNodeOnly: true}) {
				if p.State == fsm.StateRunning {
					running++
				}
			}
		}
		if n < 40 || running < 10 {
			return fmt.Errorf("%d spawns acknowledged, %d running", n, running)
		}
		return nil
	})
	var floor uint64
	for _, a := range c.up() {
		floor = max(floor, a.fsm.NextPID())
	}
	mu.Lock()
	live = nil
	mu.Unlock()
	for i := range c.agents {
		c.crash(i)
	}
	close(stop)
	wg.Wait()
	mu.Lock()
	pids := make([]uint64, 0, len(acked))
	var maxAcked uint64
	for pid := range acked {
		pids = append(pids, pid)
		maxAcked = max(maxAcked, pid)
	}
	mu.Unlock()

	for i := range c.cfgs {
		c.start(i)
	}
	l := c.leader()
	if next := l.fsm.NextPID(); next <= maxAcked {
		t.Fatalf("PID counter went back: next %d, but %d was acknowledged", next, maxAcked)
	}
	// What had started before the crash, as far as the table knows.
	startedBefore := map[uint64]bool{}
	{
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		v, err := l.replica.ConsistentView(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, pid := range pids {
			if p, ok := v.Get(pid); ok && p.StartedAt != 0 {
				startedBefore[pid] = true
			}
		}
	}
	pollChecking(t, 60*time.Second, func() error {
		l := c.leaderNow()
		if l == nil {
			return fmt.Errorf("no leader")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		v, err := l.replica.ConsistentView(ctx)
		if err != nil {
			return err
		}
		for _, pid := range pids {
			p, ok := v.Get(pid)
			if !ok {
				t.Fatalf("acknowledged pid %d is not in the table", pid)
			}
			switch {
			case p.State == fsm.StateLost, p.State == fsm.StateExited:
			case p.State == fsm.StateRunning && !startedBefore[pid]:
				// Placed on a node that never applied its placement
				// before the crash: this is its first run.
			default:
				return fmt.Errorf("pid %d is %s", pid, p.State)
			}
		}
		return nil
	}, func() {
		// While the table settles, no kernel runs what had started.
		for _, a := range c.up() {
			for _, pid := range pids {
				if _, err := a.serving.kernel.Get(int(pid)); err == nil && startedBefore[pid] {
					t.Fatalf("%s runs pid %d (restart=never) again after the crash", a.Name(), pid)
				}
			}
		}
	})
	// No process ran twice: no log says "begin" more than once.
	for _, a := range c.up() {
		for _, pid := range pids {
			buf := make([]byte, 4096)
			n, _, err := a.serving.logs.Read(pid, 0, buf)
			if err != nil {
				t.Fatal(err)
			}
			if k := strings.Count(string(buf[:n]), "begin"); k > 1 {
				t.Fatalf("pid %d ran %d times on %s: log %q", pid, k, a.Name(), buf[:n])
			}
		}
	}
	if next := l.fsm.NextPID(); next < floor {
		t.Fatalf("PID counter went back: %d, was %d", next, floor)
	}
	// A placement after the restart starts normally.
	res := c.submit(&fsm.Spawn{Parent: fsm.InitPID, Owner: "root", Spec: never, Now: time.Now().UnixNano()})
	if res.PID <= maxAcked {
		t.Fatalf("new spawn got pid %d, at or below the acknowledged %d", res.PID, maxAcked)
	}
	poll(t, 30*time.Second, func() error {
		l := c.leaderNow()
		if l == nil {
			return fmt.Errorf("no leader")
		}
		if p, ok := l.fsm.Get(res.PID); !ok || p.State != fsm.StateRunning {
			return fmt.Errorf("new pid %d: %+v", res.PID, p)
		}
		return nil
	})
}

// pollChecking polls cond as poll does, and runs check before each try.
func pollChecking(t testing.TB, timeout time.Duration, cond func() error, check func()) {
	t.Helper()
	poll(t, timeout, func() error {
		check()
		return cond()
	})
}
