package sched

import (
	"cmp"
	"testing"

	"pgregory.net/rapid"
)

// TestRankAgreesWithPlan checks that Rank, the quick ranking of one
// process, picks the node a Plan picks for a lone unconstrained pending
// process, under both strategies, over random clusters.
func TestRankAgreesWithPlan(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := DefaultConfig()
		cfg.ProcsPerSlot = rapid.IntRange(1, 4).Draw(t, "perSlot")
		pl, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		strategy := rapid.SampledFrom([]Strategy{StrategySpread, StrategyBinpack}).Draw(t, "strategy")
		v := &view{}
		held := map[string]Usage{}
		pid := uint64(100)
		for i := range rapid.IntRange(1, 5).Draw(t, "nodes") {
			n := Node{
				ID:     string(rune('a' + i)),
				Slots:  rapid.IntRange(0, 3).Draw(t, "slots"),
				Memory: int64(rapid.IntRange(0, 4).Draw(t, "mem")) * mib,
				Alive:  rapid.IntRange(0, 4).Draw(t, "alive") > 0,
				Load:   Load{BusySlots: rapid.IntRange(0, 4).Draw(t, "busy"), RunQueue: rapid.IntRange(0, 4).Draw(t, "queue")},
			}
			v.nodes = append(v.nodes, n)
			for range rapid.IntRange(0, 6).Draw(t, "running") {
				p := run(pid, 50, n.ID)
				p.Memory = int64(rapid.IntRange(0, 1).Draw(t, "pmem")) * mib
				pid++
				v.running = append(v.running, p)
				u := held[n.ID]
				u.Procs++
				u.Memory += p.Memory
				held[n.ID] = u
			}
		}
		demand := int64(rapid.IntRange(0, 2).Draw(t, "demand")) * mib
		v.pending = []Proc{with(pend(1, 50), func(p *Proc) { p.Memory = demand })}
		plan, err := pl.Plan(strategy, v)
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		if len(plan.Placements) == 1 {
			want = plan.Placements[0].Node
		}

		got := ""
		var best, bestPressure int64
		for i := range v.nodes {
			n := &v.nodes[i]
			s, fits := pl.Rank(strategy, n, held[n.ID], demand)
			if !fits {
				continue
			}
			p := Pressure(n)
			if strategy == StrategyBinpack {
				p = 0 // binpack ignores gossip, ties and all
			}
			if got == "" || cmp.Or(cmp.Compare(s, best), cmp.Compare(bestPressure, p), cmp.Compare(got, n.ID)) > 0 {
				got, best, bestPressure = n.ID, s, p
			}
		}
		if got != want {
			t.Fatalf("Rank chose %q, Plan chose %q (plan %+v)", got, want, plan)
		}
	})
}
