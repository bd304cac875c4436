package sched

import "testing"

func TestZZDebug(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ProcsPerSlot = 16
	pl, _ := New(cfg)
	v := genCluster(0, clusterSpec{nodes: 10, running: 200, pending: 500, rich: true})
	a, _ := pl.Plan(StrategySpread, v)
	b, _ := pl.Plan(StrategySpread, shuffled(v, 0))
	for i := range a.Placements {
		if a.Placements[i] != b.Placements[i] {
			t.Logf("placement %d: %+v vs %+v", i, a.Placements[i], b.Placements[i])
			break
		}
	}
	for i := range a.Unplaced {
		if a.Unplaced[i] != b.Unplaced[i] {
			t.Logf("unplaced %d: %+v vs %+v", i, a.Unplaced[i], b.Unplaced[i])
			break
		}
	}
	for i := range a.Preemptions {
		if a.Preemptions[i] != b.Preemptions[i] {
			t.Logf("pre %d: %+v vs %+v", i, a.Preemptions[i], b.Preemptions[i])
			break
		}
	}
}
