package sched

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

func shuffled(v *view, seed uint64) *view {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := &view{
		nodes:   slices.Clone(v.nodes),
		running: slices.Clone(v.running),
		pending: slices.Clone(v.pending),
		objects: v.objects,
	}
	rng.Shuffle(len(out.nodes), func(i, j int) { out.nodes[i], out.nodes[j] = out.nodes[j], out.nodes[i] })
	rng.Shuffle(len(out.running), func(i, j int) { out.running[i], out.running[j] = out.running[j], out.running[i] })
	rng.Shuffle(len(out.pending), func(i, j int) { out.pending[i], out.pending[j] = out.pending[j], out.pending[i] })
	for i := range out.pending {
		if cs := out.pending[i].Constraints; len(cs) > 1 {
			cs = slices.Clone(cs)
			slices.Reverse(cs)
			out.pending[i].Constraints = cs
		}
	}
	return out
}

func TestPlanDeterminism(t *testing.T) {
	specs := []clusterSpec{
		{nodes: 10, running: 200, pending: 500, rich: true},
		{nodes: 5, running: 400, pending: 300, rich: true, lowRunning: true},
		{nodes: 20, running: 0, pending: 2000},
	}
	for i, spec := range specs {
		for _, strategy := range []Strategy{StrategySpread, StrategyBinpack} {
			t.Run(fmt.Sprintf("%d/%s", i, strategy), func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.ProcsPerSlot = 16
				pl, _ := New(cfg)
				v := genCluster(uint64(i), spec)
				first, err := pl.Plan(strategy, v)
				if err != nil {
					t.Fatal(err)
				}
				if len(first.Placements) == 0 || len(first.Unplaced) == 0 {
					t.Fatalf("degenerate test input: %d placed, %d unplaced", len(first.Placements), len(first.Unplaced))
				}
				t.Logf("%d placed, %d preempted, %d unplaced", len(first.Placements), len(first.Preemptions), len(first.Unplaced))
				again, _ := pl.Plan(strategy, v)
				if !reflect.DeepEqual(first, again) {
					t.Fatalf("same input gave different plans")
				}
				for seed := range uint64(5) {
					got, _ := pl.Plan(strategy, shuffled(v, seed))
					if !reflect.DeepEqual(first, got) {
						t.Fatalf("input shuffled with seed %d gave a different plan", seed)
					}
				}
			})
		}
	}
}

// TestPlanDoesNotModifyInput checks that the view is read-only to the planner.
func TestPlanDoesNotModifyInput(t *testing.T) {
	v := genCluster(7, clusterSpec{nodes: 5, running: 300, pending: 300, rich: true, lowRunning: true})
	before := shuffled(v, 0)
	copy(before.nodes, v.nodes)
	copy(before.running, v.running)
	copy(before.pending, v.pending)
	pl, _ := New(testConfig())
	if _, err := pl.Plan(StrategySpread, v); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before.nodes, v.nodes) || !reflect.DeepEqual(before.running, v.running) || !reflect.DeepEqual(before.pending, v.pending) {
		t.Fatal("Plan modified its input")
	}
}
