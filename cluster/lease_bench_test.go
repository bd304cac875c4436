package cluster

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vproc/vproc/fsm"
)

// BenchmarkRescheduleAfterCrash measures how long after a node crashes its
// processes (restart policy always) run on another node, on a 3-node
// loopback cluster with DefaultConfig's raft and lease timing. Each
// iteration builds a cluster, so run it with a small -benchtime, such as
// 5x. It reports the median and the worst iteration.
func BenchmarkRescheduleAfterCrash(b *testing.B) {
	for _, victim := range []string{"follower", "leader"} {
		b.Run(victim, func(b *testing.B) {
			var ds []time.Duration
			for i := 0; i < b.N; i++ {
				ds = append(ds, rescheduleOnce(b, victim == "leader"))
			}
			slices.Sort(ds)
			b.ReportMetric(float64(ds[len(ds)/2].Milliseconds()), "ms-median")
			b.ReportMetric(float64(ds[len(ds)-1].Milliseconds()), "ms-max")
		})
	}
}

func rescheduleOnce(b *testing.B, leader bool) time.Duration {
	b.Helper()
	c := MakeCluster(b, 3, func(_ int, c *Config) { productionRaftTiming(c) })
	defer func() {
		for i, a := range c.agents {
			if a != nil {
				c.crash(i)
			}
		}
	}()
	var pids []uint64
	for i := 0; i < 6; i++ {
		res := c.submit(&fsm.Spawn{Spec: fsm.Spec{
			Command: "sleep", Args: []string{"600"}, Restart: fsm.Restart{Policy: fsm.RestartAlways},
		}, Now: time.Now().UnixNano()})
		pids = append(pids, res.PID)
	}
	l := c.leader()
	victim := c.index(l)
	if !leader {
		victim = c.index(c.followers()[0])
	}
	name := c.agents[victim].Name()
	var moved []uint64
	poll(b, 10*time.Second, func() error {
		moved = moved[:0]
		v := l.fsm.View()
		for _, pid := range pids {
			p, _ := v.Get(pid)
			if p.State != fsm.StateRunning {
				return fmt.Errorf("pid %d: %s", pid, p.State)
			}
			if p.Node == name {
				moved = append(moved, pid)
			}
		}
		if len(moved) == 0 {
			return fmt.Errorf("nothing runs on %s", name)
		}
		return nil
	})
	b.ResetTimer()
	crashed := time.Now()
	c.crash(victim)
	for {
		if time.Since(crashed) > 30*time.Second {
			b.Fatalf("the processes of %s did not run elsewhere within 30s", name)
		}
		if nl := c.leaderNow(); nl != nil {
			v := nl.fsm.View()
			done := true
			for _, pid := range moved {
				if p, _ := v.Get(pid); p.State != fsm.StateRunning || p.Node == name || p.Node == "" {
					done = false
					break
				}
			}
			if done {
				d := time.Since(crashed)
				b.StopTimer()
				return d
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
}
