package sched

import "testing"

// The target: 10k pending processes on 100 nodes planned in ≤ 100 ms
// (100e6 ns/op) on one core.

func benchPlan(b *testing.B, strategy Strategy, spec clusterSpec) {
	v := genCluster(42, spec)
	pl, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	var plan *Plan
	b.ReportAllocs()
	for b.Loop() {
		plan, err = pl.Plan(strategy, v)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(plan.Placements)), "placed")
	b.ReportMetric(float64(len(plan.Preemptions)), "evicted")
	b.ReportMetric(float64(len(plan.Unplaced)), "unplaced")
}

// BenchmarkPlan10kOn100 places 10k unconstrained pending processes on 100
// nodes that already run 5k.
func BenchmarkPlan10kOn100(b *testing.B) {
	benchPlan(b, StrategySpread, clusterSpec{nodes: 100, running: 5000, pending: 10000})
}

// BenchmarkPlan10kOn100Binpack is BenchmarkPlan10kOn100 with binpack.
func BenchmarkPlan10kOn100Binpack(b *testing.B) {
	benchPlan(b, StrategyBinpack, clusterSpec{nodes: 100, running: 5000, pending: 10000})
}

// BenchmarkPlan10kOn100Constrained adds memory demands, label constraints,
// --node, parents, pipes and IPC affinities.
func BenchmarkPlan10kOn100Constrained(b *testing.B) {
	benchPlan(b, StrategySpread, clusterSpec{nodes: 100, running: 5000, pending: 10000, rich: true})
}

// BenchmarkPlan10kOn100Preempting runs on a cluster full of low-priority
// processes, so that every pending process looks for victims.
func BenchmarkPlan10kOn100Preempting(b *testing.B) {
	benchPlan(b, StrategySpread, clusterSpec{nodes: 100, running: 40000, pending: 10000, lowRunning: true})
}

// BenchmarkPlan10kOn100Overloaded runs on a cluster filled beyond capacity
// by processes of every priority: some pending processes preempt, most find
// neither room nor victims.
func BenchmarkPlan10kOn100Overloaded(b *testing.B) {
	benchPlan(b, StrategySpread, clusterSpec{nodes: 100, running: 40000, pending: 10000})
}
