package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/lease"
	"github.com/vproc/vproc/fsm"
)

// leaseTiming shortens the leases of a test cluster, keeping the
// relations Validate checks.
func leaseTiming(_ int, c *Config) {
	c.FenceTimeout = time.Second
	c.LostTimeout = 1500 * time.Millisecond
}

func TestConfigLeaseRelations(t *testing.T) {
	for _, tc := range []struct {
		name         string
		fence, lost  time.Duration
		wantAccepted bool
	}{
		{"defaults", 2400 * time.Millisecond, 3100 * time.Millisecond, true},
		{"fence within an election", time.Second, 3 * time.Second, false},
		{"lost below fence·(1+ρ)+election", 2400 * time.Millisecond, 2900 * time.Millisecond, false},
		{"longer leases", 5 * time.Second, 10 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.DataDir = t.TempDir()
			c.FenceTimeout, c.LostTimeout = tc.fence, tc.lost
			if err := c.Validate(); (err == nil) != tc.wantAccepted {
				t.Fatalf("Validate: %v, want accepted=%v", err, tc.wantAccepted)
			}
		})
	}
}

// TestNodeCrashReschedulesByPolicy crashes a follower: the leader declares
// it lost once its lease expired, and its processes go through their
// restart policies: always and on-failure run again elsewhere as the next
// incarnation, never ends lost. Processes on the other nodes are left
// alone.
func TestNodeCrashReschedulesByPolicy(t *testing.T) {
	if testing.Short() {
		t.Skip("a slow multi-node test; skipped with -short")
	}
	c := MakeCluster(t, 3, leaseTiming)
	leader := c.leader()
	policies := []fsm.RestartPolicy{fsm.RestartAlways, fsm.RestartOnFailure, fsm.RestartNever}
	var pids []uint64
	for i := 0; i < 9; i++ {
		res := c.submit(&fsm.Spawn{Spec: fsm.Spec{
			Command: "sleep", Args: []string{"600"},
			Restart: fsm.Restart{Policy: policies[i%3]},
		}, Now: time.Now().UnixNano()})
		pids = append(pids, res.PID)
	}
	before := map[uint64]fsm.Process{}
	poll(t, 10*time.Second, func() error {
		v := leader.fsm.View()
		for _, pid := range pids {
			p, ok := v.Get(pid)
			if !ok || p.State != fsm.StateRunning {
				return fmt.Errorf("pid %d: %v", pid, p.State)
			}
			before[pid] = p
		}
		return nil
	})
	// The victim: the follower running the most processes.
	count := map[string]int{}
	for _, p := range before {
		count[p.Node]++
	}
	victim := -1
	for _, f := range c.followers() {
		if i := c.index(f); victim < 0 || count[f.Name()] > count[c.agents[victim].Name()] {
			victim = i
		}
	}
	name := c.agents[victim].Name()
	if count[name] == 0 {
		t.Fatalf("no process on a follower: %v", count)
	}
	crashed := time.Now()
	c.crash(victim)

	var movedAt time.Duration
	poll(t, 20*time.Second, func() error {
		l := c.leaderNow()
		if l == nil {
			return fmt.Errorf("no leader")
		}
		v := l.fsm.View()
		for _, pid := range pids {
			was := before[pid]
			p, _ := v.Get(pid)
			switch {
			case was.Node != name:
				if p.Incarnation != was.Incarnation || p.State != fsm.StateRunning {
					t.Fatalf("pid %d on a healthy node changed: %+v", pid, p)
				}
			case p.Spec.Restart.Policy == fsm.RestartNever:
				if p.State != fsm.StateLost {
					return fmt.Errorf("pid %d (never): %s", pid, p.State)
				}
			default:
				if p.State != fsm.StateRunning || p.Node == name || p.Incarnation != was.Incarnation+1 {
					return fmt.Errorf("pid %d (%s): %s on %q, incarnation %d", pid, p.Spec.Restart.Policy, p.State, p.Node, p.Incarnation)
				}
			}
		}
		if n, ok := v.Node(name); !ok || n.Status != fsm.NodeDown {
			return fmt.Errorf("node %s: %+v", name, n.Status)
		}
		movedAt = time.Since(crashed)
		return nil
	})
	t.Logf("%d processes of the crashed node settled %v after the crash (lost timeout %v)",
		count[name], movedAt.Round(time.Millisecond), c.cfgs[victim].LostTimeout)
	if movedAt < c.cfgs[victim].LostTimeout-lease.RenewInterval(c.cfgs[victim].FenceTimeout) {
		t.Fatalf("processes moved %v after the crash, before the lost timeout", movedAt)
	}
}
