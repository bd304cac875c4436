package cluster

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/ctxutil"
)

// BenchmarkSubmitSpawn measures spawns through the leader's group commit
// on a three-node loopback cluster with BoltDB and DefaultConfig's raft
// timing, at 1, 16, 64, 128 and 256 concurrent clients. A spawn counts when its
// spawn entry, placement included, has committed (README.md, "Replicated spawns");
// the node runners then start and reap the `true` processes as they
// would in production. It reports spawns/s and the p50 and p99 latency.
//
// The "norun" variants place every spawn on a phantom node, a table node
// without an agent, so that no runner starts the processes: they measure
// the replication half alone (group commit, raft, the FSM and placement).
func BenchmarkSubmitSpawn(b *testing.B) {
	for _, run := range []bool{true, false} {
		for _, conc := range []int{1, 16, 64, 128, 256} {
			name := fmt.Sprintf("conc=%d", conc)
			if !run {
				name = "norun/" + name
			}
			b.Run(name, func(b *testing.B) { benchSpawn(b, conc, run) })
		}
	}
}

func benchSpawn(b *testing.B, conc int, run bool) {
	c := MakeCluster(b, 3, func(i int, c *Config) { productionRaftTiming(c) })
	spec := fsm.Spec{Command: "true"}
	if !run {
		c.submit(&fsm.NodeUpsert{ID: "phantom", Capacity: fsm.Capacity{Slots: 1 << 20}, Now: time.Now().UnixNano()})
		spec.Node = "phantom"
	}
	c.leader()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if !run {
		// The phantom node has no agent to renew its lease: renew it here,
		// so that the leader keeps placing on it and never declares it lost.
		done := make(chan struct{})
		var renewing sync.WaitGroup
		renewing.Add(1)
		go func() {
			defer renewing.Done()
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			for {
				if l := c.leaderNow(); l != nil {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					_, _ = l.renewLease(ctx, "phantom")
					cancel()
				}
				select {
				case <-done:
					return
				case <-t.C:
				}
			}
		}()
		defer func() { close(done); renewing.Wait() }()
	}
	lat := make([]time.Duration, 0, b.N)
	var mu sync.Mutex
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	idx0 := c.leader().raft.LastIndex()
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) && failed.Load() == nil {
				t0 := time.Now()
				if err := c.spawnPlaced(ctx, spec); err != nil {
					failed.Store(&err)
					return
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "spawns/s")
	if l := c.leaderNow(); l != nil && l.raft.LastIndex() > idx0 {
		// Spawns per raft entry, which also carry the runners' reports
		// and any placements: the group commit factor.
		b.ReportMetric(float64(len(lat))/float64(l.raft.LastIndex()-idx0), "spawns/entry")
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

// spawnPlaced spawns spec through the leader and waits until the spawn's
// placement has committed. A leader change (a loaded machine can stall a
// leader out of its lease) retries on the next leader.
func (c *testCluster) spawnPlaced(ctx context.Context, spec fsm.Spec) error {
	var l *Agent
	var res *fsm.Result
	for {
		if l = c.leaderNow(); l == nil {
			if !ctxutil.Sleep(ctx, time.Millisecond) {
				return ctx.Err()
			}
			continue
		}
		var err error
		res, err = l.submit(ctx, nil, &fsm.Spawn{Spec: spec, Now: time.Now().UnixNano()})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return err
		}
	}
	if res.Err != nil {
		return res.Err
	}
	for {
		v := l.localView()
		if p, ok := v.Get(res.PID); !ok || p.State != fsm.StatePending {
			return nil
		}
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		err := l.waitApplied(wctx, v.Index())
		cancel()
		if ctx.Err() != nil {
			return err
		}
	}
}

// BenchmarkRawRaftApply is the baseline for BenchmarkSubmitSpawn: the same
// cluster and store, clients calling raft.Apply directly with no group
// commit, one spawn per entry ("records=1", what a spawn-per-entry design
// gets) or 100 per entry ("records=100", the ceiling). It reports entries/s,
// records/s and the p50 and p99 latency of an apply.
func BenchmarkRawRaftApply(b *testing.B) {
	for _, records := range []int{1, 100} {
		for _, conc := range []int{1, 16, 64, 128, 256} {
			b.Run(fmt.Sprintf("records=%d/conc=%d", records, conc), func(b *testing.B) {
				benchRawRaft(b, conc, records)
			})
		}
	}
}

func benchRawRaft(b *testing.B, conc, records int) {
	c := MakeCluster(b, 3, func(i int, c *Config) { productionRaftTiming(c) })
	c.submit(&fsm.NodeUpsert{ID: "phantom", Now: time.Now().UnixNano()})
	c.leader()
	one := fsm.Encode(&fsm.Spawn{Spec: fsm.Spec{Command: "true", Node: "phantom"}, Now: time.Now().UnixNano()})
	data := one
	if records > 1 {
		entries := make([][]byte, records)
		for i := range entries {
			entries[i] = one
		}
		var err error
		if data, err = fsm.EncodeBatch(entries); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, 0, b.N)
	var mu sync.Mutex
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) && failed.Load() == nil {
				t0 := time.Now()
				for { // a leader change retries on the next leader
					l := c.leaderNow()
					if l == nil {
						time.Sleep(time.Millisecond)
						continue
					}
					err := l.raft.Apply(data, 0).Error()
					if err == nil {
						break
					}
					if time.Since(t0) > time.Minute {
						failed.Store(&err)
						return
					}
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "entries/s")
	b.ReportMetric(float64(len(lat)*records)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(lat[len(lat)/2])/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)])/float64(time.Millisecond), "p99-ms")
}
