package sched

import (
	"testing"
)

func TestPlanPreemption(t *testing.T) {
	mem := func(m int64) func(*Proc) { return func(p *Proc) { p.Memory = m } }
	evicting := func(p *Proc) { p.Evicting = true }
	runCases(t, []planCase{
		{
			name:     "gap of 10 preempts",
			nodes:    []Node{alive("a", 2)},
			running:  []Proc{run(100, 40, "a"), run(101, 45, "a")},
			pending:  []Proc{pend(1, 50)},
			evicted:  []string{"100@a>1"},
			unplaced: map[uint64]Cause{1: CausePreempting},
			reason:   map[uint64]string{1: "evicting 1 lower-priority process on node a"},
		},
		{
			name:     "gap of 9 is not enough",
			nodes:    []Node{alive("a", 2)},
			running:  []Proc{run(100, 41, "a"), run(101, 45, "a")},
			pending:  []Proc{pend(1, 50)},
			unplaced: map[uint64]Cause{1: CauseFull},
		},
		{
			name:     "a larger gap setting",
			cfg:      func(c *Config) { c.PreemptGap = 30 },
			nodes:    []Node{alive("a", 2)},
			running:  []Proc{run(100, 40, "a"), run(101, 20, "a")},
			pending:  []Proc{pend(1, 50)},
			evicted:  []string{"101@a>1"},
			unplaced: map[uint64]Cause{1: CausePreempting},
		},
		{
			name:     "preemption disabled",
			cfg:      func(c *Config) { c.DisablePreemption = true },
			nodes:    []Node{alive("a", 1)},
			running:  []Proc{run(100, 1, "a")},
			pending:  []Proc{pend(1, 100)},
			unplaced: map[uint64]Cause{1: CauseFull},
		},
		{
			name:     "no preemption while any node has room",
			nodes:    []Node{alive("a", 1), alive("b", 2)},
			running:  []Proc{run(100, 1, "a"), run(101, 50, "b")},
			pending:  []Proc{pend(1, 100)},
			placed:   []string{"1@b"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "lowest priority, then most recently placed, is evicted",
			nodes:    []Node{alive("a", 4)},
			running:  []Proc{run(100, 10, "a"), with(run(101, 10, "a"), func(p *Proc) { p.PlacedAt = 500 }), run(102, 20, "a"), run(103, 5, "a")},
			pending:  []Proc{pend(1, 60), pend(2, 60), pend(3, 60)},
			evicted:  []string{"103@a>1", "101@a>2", "100@a>3"},
			unplaced: map[uint64]Cause{1: CausePreempting, 2: CausePreempting, 3: CausePreempting},
		},
		{
			name:  "memory victims are pruned to a minimal set",
			nodes: []Node{withMem(alive("a", 10), 200*mib)},
			running: []Proc{
				with(run(100, 10, "a"), mem(10*mib)),
				with(run(101, 20, "a"), mem(100*mib)),
				with(run(102, 15, "a"), mem(0)),
			},
			pending:  []Proc{with(pend(1, 90), mem(190*mib))},
			evicted:  []string{"101@a>1"},
			unplaced: map[uint64]Cause{1: CausePreempting},
		},
		{
			name:  "several victims when one is not enough",
			nodes: []Node{withMem(alive("a", 10), 300*mib)},
			running: []Proc{
				with(run(100, 10, "a"), mem(100*mib)),
				with(run(101, 20, "a"), mem(100*mib)),
				with(run(102, 30, "a"), mem(100*mib)),
			},
			pending:  []Proc{with(pend(1, 90), mem(200*mib))},
			evicted:  []string{"100@a>1", "101@a>1"},
			unplaced: map[uint64]Cause{1: CausePreempting},
			reason:   map[uint64]string{1: "evicting 2 lower-priority processes on node a"},
		},
		{
			name:     "the node with the least important victims is chosen",
			nodes:    []Node{alive("a", 2), alive("b", 2), alive("c", 2)},
			running:  []Proc{run(100, 30, "a"), run(101, 30, "a"), run(102, 20, "b"), run(103, 35, "b"), run(104, 20, "c"), run(105, 25, "c")},
			pending:  []Proc{pend(1, 80)},
			evicted:  []string{"102@b>1"},
			unplaced: map[uint64]Cause{1: CausePreempting},
		},
		{
			name:     "victims only on feasible nodes",
			nodes:    []Node{labelled("a", 1, "zone", "us"), labelled("b", 1, "zone", "eu")},
			running:  []Proc{run(100, 1, "a"), run(101, 30, "b")},
			pending:  []Proc{with(pend(1, 90), func(p *Proc) { p.Constraints = []Constraint{{Label: "zone", Value: "eu"}} })},
			evicted:  []string{"101@b>1"},
			unplaced: map[uint64]Cause{1: CausePreempting},
		},
		{
			name:     "no victim is evicted twice",
			nodes:    []Node{alive("a", 2)},
			running:  []Proc{with(run(100, 10, "a"), evicting), run(101, 10, "a")},
			pending:  []Proc{pend(1, 90), pend(2, 90), pend(3, 90)},
			evicted:  []string{"101@a>2"},
			unplaced: map[uint64]Cause{1: CausePreempting, 2: CausePreempting, 3: CauseFull},
			reason:   map[uint64]string{1: "waiting for evictions in flight on node a", 3: "node"},
		},
		{
			name:     "evictions in flight are claimed before new ones are made",
			nodes:    []Node{alive("a", 1), alive("b", 1)},
			running:  []Proc{run(100, 10, "a"), with(run(101, 10, "b"), evicting)},
			pending:  []Proc{pend(1, 90)},
			unplaced: map[uint64]Cause{1: CausePreempting},
			reason:   map[uint64]string{1: "waiting for evictions in flight on node b"},
		},
		{
			name:     "in-flight evictions are claimed without a priority gap",
			nodes:    []Node{alive("a", 1)},
			running:  []Proc{with(run(100, 50, "a"), evicting)},
			pending:  []Proc{pend(1, 50), pend(2, 50)},
			unplaced: map[uint64]Cause{1: CausePreempting, 2: CauseFull},
		},
		{
			name:  "lower priority does not take room reserved by a preemption",
			nodes: []Node{withMem(alive("a", 3), 1000*mib)},
			running: []Proc{
				with(run(100, 10, "a"), mem(500*mib)),
			},
			pending: []Proc{
				with(pend(1, 90), mem(800*mib)),
				with(pend(2, 50), mem(400*mib)),
				with(pend(3, 40), mem(100*mib)),
			},
			evicted:  []string{"100@a>1"},
			placed:   []string{"3@a"},
			unplaced: map[uint64]Cause{1: CausePreempting, 2: CauseFull},
			reason:   map[uint64]string{2: "the free room on node a is reserved for a higher-priority process"},
		},
		{
			name:  "lower priority uses another node instead of reserved room",
			nodes: []Node{withMem(alive("a", 3), 1000*mib), withMem(alive("b", 3), 1000*mib)},
			running: []Proc{
				with(run(100, 10, "a"), mem(500*mib)),
				with(run(101, 60, "b"), mem(500*mib)),
			},
			pending: []Proc{
				with(pend(1, 90), mem(800*mib)),
				with(pend(2, 50), mem(400*mib)),
			},
			evicted:  []string{"100@a>1"},
			placed:   []string{"2@b"},
			unplaced: map[uint64]Cause{1: CausePreempting},
		},
		{
			name:     "preemption for a pinned process stays on its node",
			nodes:    []Node{alive("a", 1), alive("b", 1)},
			running:  []Proc{run(100, 1, "a"), run(101, 20, "b")},
			pending:  []Proc{with(pend(1, 90), func(p *Proc) { p.RequiredNode = "b" })},
			evicted:  []string{"101@b>1"},
			unplaced: map[uint64]Cause{1: CausePreempting},
		},
		{
			name:     "a process too big for any node preempts nothing",
			nodes:    []Node{withMem(alive("a", 4), 100*mib)},
			running:  []Proc{with(run(100, 1, "a"), mem(50*mib))},
			pending:  []Proc{with(pend(1, 90), mem(200*mib))},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
		},
	})
}

// TestPendingPlacedWhenCapacityFrees follows a process through three plans:
// no room, room made by preemption, then placed once the victim has left.
func TestPendingPlacedWhenCapacityFrees(t *testing.T) {
	pl, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	v := &view{
		nodes:   []Node{alive("a", 2)},
		running: []Proc{run(100, 50, "a"), run(101, 50, "a")},
		pending: []Proc{pend(1, 50)},
	}
	plan, _ := pl.Plan(StrategySpread, v)
	if len(plan.Placements) != 0 || len(plan.Unplaced) != 1 || plan.Unplaced[0].Cause != CauseFull {
		t.Fatalf("full cluster: plan = %+v, want pid 1 unplaced as full", plan)
	}
	if !plan.Empty() {
		t.Fatalf("Empty() = false for %+v", plan)
	}

	v.running = v.running[:1] // pid 101 exited
	plan, _ = pl.Plan(StrategySpread, v)
	if len(plan.Placements) != 1 || plan.Placements[0].PID != 1 || plan.Placements[0].Node != "a" {
		t.Fatalf("after capacity freed: plan = %+v, want pid 1 placed on a", plan)
	}

	// Preemption round trip: a high-priority process evicts, waits, is placed.
	v.running = []Proc{run(100, 50, "a"), run(101, 20, "a")}
	v.pending = []Proc{pend(2, 90)}
	plan, _ = pl.Plan(StrategySpread, v)
	if len(plan.Preemptions) != 1 || plan.Preemptions[0].PID != 101 || plan.Preemptions[0].Incarnation != 1 {
		t.Fatalf("preemption round: plan = %+v, want pid 101 evicted", plan)
	}
	v.running[1].Evicting = true // the FSM committed the eviction
	plan, _ = pl.Plan(StrategySpread, v)
	if len(plan.Preemptions) != 0 || len(plan.Placements) != 0 || plan.Unplaced[0].Cause != CausePreempting {
		t.Fatalf("while evicting: plan = %+v, want nothing new, pid 2 waiting", plan)
	}
	v.running = v.running[:1] // the victim left and was requeued as pending
	v.pending = append(v.pending, with(pend(101, 20), func(p *Proc) { p.Incarnation = 2 }))
	plan, _ = pl.Plan(StrategySpread, v)
	if len(plan.Placements) != 1 || plan.Placements[0].PID != 2 {
		t.Fatalf("after eviction: plan = %+v, want pid 2 placed", plan)
	}
	if len(plan.Unplaced) != 1 || plan.Unplaced[0].PID != 101 || plan.Unplaced[0].Incarnation != 2 {
		t.Fatalf("after eviction: unplaced = %+v, want pid 101 incarnation 2 pending", plan.Unplaced)
	}
}
