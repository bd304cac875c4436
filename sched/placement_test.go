package sched

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

const mib = 1 << 20

// testConfig has one process per slot, so that slot counts are process counts.
func testConfig() Config {
	c := DefaultConfig()
	c.ProcsPerSlot = 1
	return c
}

func alive(id string, slots int) Node { return Node{ID: id, Slots: slots, Alive: true} }

func labelled(id string, slots int, kv ...string) Node {
	n := alive(id, slots)
	n.Labels = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		n.Labels[kv[i]] = kv[i+1]
	}
	return n
}

func withMem(n Node, mem int64) Node { n.Memory = mem; return n }

func dead(n Node) Node { n.Alive = false; return n }

func busy(n Node, busySlots, runQueue int) Node {
	n.Load = Load{BusySlots: busySlots, RunQueue: runQueue}
	return n
}

func pend(pid uint64, prio int) Proc {
	return Proc{PID: pid, Incarnation: 1, State: "pending", Priority: prio, Seq: pid}
}

func run(pid uint64, prio int, node string) Proc {
	return Proc{PID: pid, Incarnation: 1, State: "running", Priority: prio, Seq: pid, PlacedAt: pid, Node: node}
}

// fill returns n running processes of the given priority on node, with PIDs
// from first.
func fill(node string, first uint64, n, prio int) []Proc {
	var ps []Proc
	for i := range n {
		ps = append(ps, run(first+uint64(i), prio, node))
	}
	return ps
}

func with(p Proc, edit func(*Proc)) Proc { edit(&p); return p }

type planCase struct {
	name     string
	strategy Strategy
	cfg      func(*Config)
	nodes    []Node
	running  []Proc
	pending  []Proc
	objects  map[Use]string

	placed   []string          // "pid@node", in plan order
	unplaced map[uint64]Cause  // every unplaced pid and its cause
	reason   map[uint64]string // substrings of reasons
	evicted  []string          // "victim@node>for", in plan order
}

func (tc planCase) run(t *testing.T) *Plan {
	t.Helper()
	cfg := testConfig()
	if tc.cfg != nil {
		tc.cfg(&cfg)
	}
	pl, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	v := &view{nodes: tc.nodes, pending: tc.pending, running: tc.running, objects: tc.objects}
	plan, err := pl.Plan(tc.strategy, v)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return plan
}

func (tc planCase) check(t *testing.T, plan *Plan) {
	t.Helper()
	var placed, evicted []string
	for _, p := range plan.Placements {
		placed = append(placed, fmt.Sprintf("%d@%s", p.PID, p.Node))
		if p.Incarnation != 1 || p.ExpectState != "pending" {
			t.Errorf("placement %+v does not carry the expected incarnation 1 and state pending", p)
		}
	}
	for _, e := range plan.Preemptions {
		evicted = append(evicted, fmt.Sprintf("%d@%s>%d", e.PID, e.Node, e.For))
		if e.ExpectState != "running" {
			t.Errorf("preemption %+v does not expect state running", e)
		}
	}
	if !slices.Equal(placed, tc.placed) {
		t.Errorf("placements = %v, want %v\nunplaced: %+v", placed, tc.placed, plan.Unplaced)
	}
	if !slices.Equal(evicted, tc.evicted) {
		t.Errorf("preemptions = %v, want %v", evicted, tc.evicted)
	}
	got := map[uint64]Unplaced{}
	for _, u := range plan.Unplaced {
		got[u.PID] = u
	}
	if len(got) != len(tc.unplaced) {
		t.Errorf("unplaced = %+v, want pids %v", plan.Unplaced, tc.unplaced)
	}
	for pid, cause := range tc.unplaced {
		u, ok := got[pid]
		switch {
		case !ok:
			t.Errorf("pid %d: not unplaced, want cause %v", pid, cause)
		case u.Cause != cause:
			t.Errorf("pid %d: cause %v (%q), want %v", pid, u.Cause, u.Reason, cause)
		case tc.reason[pid] != "" && !strings.Contains(u.Reason, tc.reason[pid]):
			t.Errorf("pid %d: reason %q, want it to contain %q", pid, u.Reason, tc.reason[pid])
		}
	}
}

func runCases(t *testing.T, cases []planCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, tc.run(t))
		})
	}
}

func TestPlanOrder(t *testing.T) {
	runCases(t, []planCase{
		{
			name:    "higher priority first, FIFO among equals",
			nodes:   []Node{alive("a", 3)},
			pending: []Proc{pend(1, 10), pend(2, 90), pend(3, 50), with(pend(4, 50), func(p *Proc) { p.Seq = 0 }), pend(5, 0)},
			placed:  []string{"2@a", "4@a", "3@a"},
			unplaced: map[uint64]Cause{
				5: CauseFull, 1: CauseFull,
			},
			reason: map[uint64]string{1: "node a is full"},
		},
		{
			name:     "priority 0 is the default, out of range is clamped",
			nodes:    []Node{alive("a", 2)},
			pending:  []Proc{pend(1, 49), pend(2, 0), pend(3, 1000), pend(4, -5)},
			placed:   []string{"3@a", "2@a"},
			unplaced: map[uint64]Cause{1: CauseFull, 4: CauseFull},
		},
		{
			name:     "no head-of-line blocking",
			nodes:    []Node{withMem(labelled("a", 2, "zone", "us"), 1024*mib)},
			pending:  []Proc{with(pend(1, 90), func(p *Proc) { p.Memory = 2048 * mib }), with(pend(2, 90), func(p *Proc) { p.Constraints = []Constraint{{Label: "zone", Value: "eu"}} }), pend(3, 10)},
			placed:   []string{"3@a"},
			unplaced: map[uint64]Cause{1: CauseInfeasible, 2: CauseInfeasible},
			reason:   map[uint64]string{1: "needs 2GiB of memory, more than any feasible node has", 2: "no node satisfies constraint zone=eu"},
		},
		{
			name:     "plan limit defers the rest",
			cfg:      func(c *Config) { c.MaxPlacementsPerPlan = 2 },
			nodes:    []Node{alive("a", 10)},
			pending:  []Proc{pend(1, 50), pend(2, 50), pend(3, 50), pend(4, 50)},
			placed:   []string{"1@a", "2@a"},
			unplaced: map[uint64]Cause{3: CauseDeferred, 4: CauseDeferred},
			reason:   map[uint64]string{3: "plan limit of 2 placements reached"},
		},
		{
			name:     "duplicate pending PID is decided once",
			nodes:    []Node{alive("a", 10)},
			pending:  []Proc{pend(1, 50), pend(1, 50)},
			placed:   []string{"1@a"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "empty cluster",
			pending:  []Proc{pend(1, 50)},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: "no nodes in the cluster"},
		},
	})
}

func TestPlanStrategy(t *testing.T) {
	three := []Node{alive("a", 4), alive("b", 4), alive("c", 4)}
	loaded := append(fill("a", 100, 2, 50), fill("b", 200, 1, 50)...)
	runCases(t, []planCase{
		{
			name:     "spread fills the emptiest node, ties by ID",
			nodes:    three,
			running:  loaded,
			pending:  []Proc{pend(1, 50), pend(2, 50), pend(3, 50)},
			placed:   []string{"1@c", "2@b", "3@c"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "binpack fills the fullest node",
			strategy: StrategyBinpack,
			nodes:    three,
			running:  loaded,
			pending:  []Proc{pend(1, 50), pend(2, 50), pend(3, 50)},
			placed:   []string{"1@a", "2@a", "3@b"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "spread weighs capacity: the bigger node takes more",
			nodes:    []Node{alive("a", 1), alive("b", 3)},
			pending:  []Proc{pend(1, 50), pend(2, 50), pend(3, 50), pend(4, 50)},
			placed:   []string{"1@b", "2@b", "3@a", "4@b"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "spread counts memory utilisation",
			nodes:    []Node{withMem(alive("a", 4), 1024*mib), withMem(alive("b", 4), 1024*mib)},
			running:  []Proc{with(run(100, 50, "a"), func(p *Proc) { p.Memory = 900 * mib }), run(101, 50, "b"), run(102, 50, "b")},
			pending:  []Proc{pend(1, 50)},
			placed:   []string{"1@b"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "spread breaks ties with gossiped load",
			nodes:    []Node{busy(alive("a", 4), 4, 3), alive("b", 4)},
			pending:  []Proc{pend(1, 50)},
			placed:   []string{"1@b"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "gossip weight 0 still breaks ties",
			cfg:      func(c *Config) { c.GossipWeight = 0 },
			nodes:    []Node{busy(alive("a", 4), 1, 0), alive("b", 4)},
			pending:  []Proc{pend(1, 50)},
			placed:   []string{"1@b"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "gossip outweighs a small load difference under spread",
			nodes:    []Node{busy(alive("a", 2), 2, 8), alive("b", 2)},
			running:  fill("b", 100, 0, 50),
			pending:  []Proc{pend(1, 50)},
			placed:   []string{"1@b"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "binpack ignores gossip",
			strategy: StrategyBinpack,
			nodes:    []Node{busy(alive("a", 4), 4, 9), alive("b", 4)},
			pending:  []Proc{pend(1, 50)},
			placed:   []string{"1@a"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "processes share a slot",
			cfg:      func(c *Config) { c.ProcsPerSlot = 3 },
			nodes:    []Node{alive("a", 1)},
			pending:  []Proc{pend(1, 50), pend(2, 50), pend(3, 50), pend(4, 50)},
			placed:   []string{"1@a", "2@a", "3@a"},
			unplaced: map[uint64]Cause{4: CauseFull},
		},
	})
}

func TestPlanConstraints(t *testing.T) {
	zones := []Node{labelled("a", 4, "zone", "us"), labelled("b", 4, "zone", "eu", "disk", "ssd"), labelled("c", 4, "zone", "eu")}
	runCases(t, []planCase{
		{
			name:     "label constraint",
			nodes:    zones,
			running:  fill("b", 100, 3, 50),
			pending:  []Proc{with(pend(1, 50), func(p *Proc) { p.Constraints = []Constraint{{Label: "zone", Value: "eu"}} })},
			placed:   []string{"1@c"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:    "all constraints must hold",
			nodes:   zones,
			running: fill("b", 100, 3, 50),
			pending: []Proc{with(pend(1, 50), func(p *Proc) {
				p.Constraints = []Constraint{{Label: "disk", Value: "ssd"}, {Label: "zone", Value: "eu"}}
			})},
			placed:   []string{"1@b"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "unknown label value",
			nodes:    zones,
			pending:  []Proc{with(pend(1, 50), func(p *Proc) { p.Constraints = []Constraint{{Label: "zone", Value: "ap"}} })},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: "no node satisfies constraint zone=ap"},
		},
		{
			name:  "unknown label",
			nodes: zones,
			pending: []Proc{with(pend(1, 50), func(p *Proc) {
				p.Constraints = []Constraint{{Label: "zone", Value: "eu"}, {Label: "gpu", Value: "yes"}}
			})},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: "no node satisfies constraint gpu=yes"},
		},
		{
			name:  "constraints satisfiable apart but not together",
			nodes: zones,
			pending: []Proc{with(pend(1, 50), func(p *Proc) {
				p.Constraints = []Constraint{{Label: "zone", Value: "us"}, {Label: "disk", Value: "ssd"}}
			})},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: "no alive node satisfies all of the constraints disk=ssd, zone=us"},
		},
		{
			name:     "matching node is dead",
			nodes:    []Node{labelled("a", 4, "zone", "us"), dead(labelled("b", 4, "zone", "eu"))},
			pending:  []Proc{with(pend(1, 50), func(p *Proc) { p.Constraints = []Constraint{{Label: "zone", Value: "eu"}} })},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: "no alive node satisfies constraint zone=eu; the nodes that do are not alive"},
		},
		{
			name:     "constrained nodes full",
			nodes:    zones,
			running:  append(fill("b", 100, 4, 50), fill("c", 200, 4, 50)...),
			pending:  []Proc{with(pend(1, 50), func(p *Proc) { p.Constraints = []Constraint{{Label: "zone", Value: "eu"}} })},
			unplaced: map[uint64]Cause{1: CauseFull},
			reason:   map[uint64]string{1: "all 2 feasible nodes are full"},
		},
		{
			name:     "required node by name",
			nodes:    []Node{{ID: "n-1", Name: "alpha", Slots: 4, Alive: true}, {ID: "n-2", Name: "beta", Slots: 4, Alive: true}},
			running:  fill("n-2", 100, 0, 50),
			pending:  []Proc{with(pend(1, 50), func(p *Proc) { p.RequiredNode = "beta" }), with(pend(2, 50), func(p *Proc) { p.RequiredNode = "beta" })},
			placed:   []string{"1@n-2", "2@n-2"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "required node by ID",
			nodes:    []Node{{ID: "n-1", Name: "alpha", Slots: 4, Alive: true}, {ID: "n-2", Name: "beta", Slots: 4, Alive: true}},
			running:  fill("n-2", 100, 3, 50),
			pending:  []Proc{with(pend(1, 50), func(p *Proc) { p.RequiredNode = "n-2" })},
			placed:   []string{"1@n-2"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "unknown required node",
			nodes:    zones,
			pending:  []Proc{with(pend(1, 50), func(p *Proc) { p.RequiredNode = "ghost" })},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: `node "ghost" does not exist`},
		},
		{
			name:     "ambiguous node name",
			nodes:    []Node{{ID: "n-1", Name: "x", Slots: 4, Alive: true}, {ID: "n-2", Name: "x", Slots: 4, Alive: true}},
			pending:  []Proc{with(pend(1, 50), func(p *Proc) { p.RequiredNode = "x" })},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: "ambiguous"},
		},
		{
			name:     "required node is dead",
			nodes:    []Node{alive("a", 4), dead(alive("b", 4))},
			pending:  []Proc{with(pend(1, 50), func(p *Proc) { p.RequiredNode = "b" })},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: "node b, required by --node, is not alive"},
		},
		{
			name:     "required node lacks the label",
			nodes:    zones,
			pending:  []Proc{with(pend(1, 50), func(p *Proc) { p.RequiredNode = "a"; p.Constraints = []Constraint{{Label: "zone", Value: "eu"}} })},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: "node a, required by --node, does not satisfy constraint zone=eu"},
		},
		{
			name:     "required node is full",
			nodes:    []Node{alive("a", 4), alive("b", 1)},
			running:  fill("b", 100, 1, 50),
			pending:  []Proc{with(pend(1, 50), func(p *Proc) { p.RequiredNode = "b" })},
			unplaced: map[uint64]Cause{1: CauseFull},
			reason:   map[uint64]string{1: "node b is full"},
		},
		{
			name:     "dead nodes are never chosen",
			nodes:    []Node{dead(alive("a", 8)), alive("b", 2)},
			running:  fill("b", 100, 1, 50),
			pending:  []Proc{pend(1, 50), pend(2, 50)},
			placed:   []string{"1@b"},
			unplaced: map[uint64]Cause{2: CauseFull},
		},
		{
			name:     "no alive nodes",
			nodes:    []Node{dead(alive("a", 8))},
			pending:  []Proc{pend(1, 50)},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: "no alive nodes"},
		},
		{
			name:     "node without slots",
			nodes:    []Node{alive("a", 0)},
			pending:  []Proc{pend(1, 50)},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: "no feasible node has CPU slots"},
		},
		{
			name:  "memory feasibility",
			nodes: []Node{withMem(alive("a", 4), 1024*mib), withMem(alive("b", 4), 1024*mib), alive("c", 1)},
			running: []Proc{
				with(run(100, 50, "a"), func(p *Proc) { p.Memory = 768 * mib }),
				with(run(101, 50, "b"), func(p *Proc) { p.Memory = 256 * mib }),
				run(102, 50, "c"),
			},
			pending: []Proc{
				with(pend(1, 50), func(p *Proc) { p.Memory = 512 * mib; p.Constraints = nil }),
				with(pend(2, 50), func(p *Proc) { p.Memory = 512 * mib }),
				with(pend(3, 50), func(p *Proc) { p.Memory = 64 * mib }),
			},
			placed:   []string{"1@b", "3@a"},
			unplaced: map[uint64]Cause{2: CauseFull},
			reason:   map[uint64]string{2: "no room on any of 3 feasible nodes: 1 full, 2 short of memory"},
		},
		{
			name:     "memory 0 means unlimited, demand 0 means unknown",
			nodes:    []Node{alive("a", 2)},
			running:  []Proc{with(run(100, 50, "a"), func(p *Proc) { p.Memory = 1 << 40 })},
			pending:  []Proc{with(pend(1, 50), func(p *Proc) { p.Memory = 1 << 40 })},
			placed:   []string{"1@a"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "required node with too little memory",
			nodes:    []Node{withMem(alive("a", 4), 256*mib)},
			pending:  []Proc{with(pend(1, 50), func(p *Proc) { p.Memory = 512 * mib; p.RequiredNode = "a" })},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: "needs 512MiB of memory, more than node a has"},
		},
	})
}

func TestPlanAffinity(t *testing.T) {
	nodes := []Node{alive("a", 4), alive("b", 4), alive("c", 4)}
	bLoaded := fill("b", 100, 2, 50)
	bFull := fill("b", 100, 4, 50)
	objs := map[Use]string{
		{Kind: UseSHM, Name: "/s"}: "b", {Kind: UseFIFO, Name: "/f"}: "b", {Kind: UseMQ, Name: "/q"}: "c",
		{Kind: UseSHM, Name: "/lost"}: "gone", {Kind: UseSHM, Name: "/dead"}: "d", {Kind: UseFIFO, Name: "/dead"}: "d",
	}
	withDead := append(slices.Clone(nodes), dead(alive("d", 8)))
	uses := func(us ...Use) func(*Proc) { return func(p *Proc) { p.Uses = us } }
	child := func(parent uint64, node string, pipes bool) func(*Proc) {
		return func(p *Proc) { p.Parent, p.ParentNode, p.InheritsPipes = parent, node, pipes }
	}
	runCases(t, []planCase{
		{
			name:     "shm segment is required",
			nodes:    nodes,
			running:  bLoaded,
			objects:  objs,
			pending:  []Proc{with(pend(1, 50), uses(Use{Kind: UseSHM, Name: "/s"})), with(pend(2, 50), uses(Use{Kind: UseSHM, Name: "/s"})), with(pend(3, 50), uses(Use{Kind: UseSHM, Name: "/s"}))},
			placed:   []string{"1@b", "2@b"},
			unplaced: map[uint64]Cause{3: CauseFull},
			reason:   map[uint64]string{3: "node b is full"},
		},
		{
			name:     "shm segment on a dead node",
			nodes:    withDead,
			objects:  objs,
			pending:  []Proc{with(pend(1, 50), uses(Use{Kind: UseSHM, Name: "/dead"}))},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: "node d, required by segment /dead, is not alive"},
		},
		{
			name:     "shm segment on a node the table forgot",
			nodes:    nodes,
			objects:  objs,
			pending:  []Proc{with(pend(1, 50), uses(Use{Kind: UseSHM, Name: "/lost"}))},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: `segment /lost is on node "gone", which is not in the table`},
		},
		{
			name:     "shm segment and --node disagree",
			nodes:    nodes,
			objects:  objs,
			pending:  []Proc{with(pend(1, 50), func(p *Proc) { p.RequiredNode = "a"; p.Uses = []Use{{Kind: UseSHM, Name: "/s"}} })},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: "--node needs node a but segment /s needs node b"},
		},
		{
			name:     "new segment: later users follow the first",
			nodes:    nodes,
			running:  fill("a", 100, 1, 50),
			objects:  objs,
			pending:  []Proc{with(pend(1, 50), uses(Use{Kind: UseSHM, Name: "/new"})), pend(2, 50), with(pend(3, 50), uses(Use{Kind: UseSHM, Name: "/new"}))},
			placed:   []string{"1@b", "2@c", "3@b"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "fifo owner is preferred over a less loaded node",
			nodes:    nodes,
			running:  bLoaded,
			objects:  objs,
			pending:  []Proc{with(pend(1, 50), uses(Use{Kind: UseFIFO, Name: "/f"}))},
			placed:   []string{"1@b"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "mq owner is preferred, also under binpack",
			strategy: StrategyBinpack,
			nodes:    nodes,
			running:  bLoaded,
			objects:  objs,
			pending:  []Proc{with(pend(1, 50), uses(Use{Kind: UseMQ, Name: "/q"}))},
			placed:   []string{"1@c"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "fifo owner full: goes elsewhere",
			nodes:    nodes,
			running:  bFull,
			objects:  objs,
			pending:  []Proc{with(pend(1, 50), uses(Use{Kind: UseFIFO, Name: "/f"}))},
			placed:   []string{"1@a"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "fifo owner dead: goes elsewhere",
			nodes:    withDead,
			objects:  objs,
			pending:  []Proc{with(pend(1, 50), uses(Use{Kind: UseFIFO, Name: "/dead"}))},
			placed:   []string{"1@a"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "unregistered fifo: no preference",
			nodes:    nodes,
			running:  fill("a", 100, 1, 50),
			objects:  objs,
			pending:  []Proc{with(pend(1, 50), uses(Use{Kind: UseFIFO, Name: "/nope"}))},
			placed:   []string{"1@b"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "queue outweighs the parent's node",
			nodes:    nodes,
			objects:  objs,
			pending:  []Proc{with(with(pend(1, 50), uses(Use{Kind: UseMQ, Name: "/q"})), child(7, "a", false))},
			placed:   []string{"1@c"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "pipe-inheriting child goes to its parent's node",
			nodes:    nodes,
			running:  bLoaded,
			pending:  []Proc{with(pend(1, 50), child(100, "b", true))},
			placed:   []string{"1@b"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "pipe-inheriting child stays pending when the parent's node is full",
			nodes:    nodes,
			running:  bFull,
			pending:  []Proc{with(pend(1, 50), child(100, "b", true))},
			unplaced: map[uint64]Cause{1: CauseFull},
			reason:   map[uint64]string{1: "node b is full"},
		},
		{
			name:     "pipe-inheriting child of a parent on a dead node",
			nodes:    withDead,
			pending:  []Proc{with(pend(1, 50), child(100, "d", true))},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: "node d, required by its parent's pipes, is not alive"},
		},
		{
			name:     "pipe-inheriting child of a parent placed in the same plan",
			nodes:    nodes,
			running:  fill("a", 100, 1, 50),
			pending:  []Proc{pend(1, 50), pend(2, 50), with(pend(3, 50), child(1, "", true))},
			placed:   []string{"1@b", "2@c", "3@b"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "pipe-inheriting child of an unplaced parent",
			nodes:    nodes,
			pending:  []Proc{with(pend(1, 50), child(9, "", true))},
			unplaced: map[uint64]Cause{1: CauseInfeasible},
			reason:   map[uint64]string{1: "parent 9, whose pipes it inherits, is not placed"},
		},
		{
			name:     "child prefers its parent's node",
			nodes:    nodes,
			running:  bLoaded,
			pending:  []Proc{with(pend(1, 50), child(100, "b", false)), with(pend(2, 50), child(100, "b", false)), with(pend(3, 50), child(100, "b", false))},
			placed:   []string{"1@b", "2@b", "3@a"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "child of a parent placed in the same plan prefers it",
			nodes:    nodes,
			pending:  []Proc{pend(1, 50), pend(2, 50), with(pend(3, 50), child(1, "", false))},
			placed:   []string{"1@a", "2@b", "3@a"},
			unplaced: map[uint64]Cause{},
		},
		{
			name:     "a constraint overrides the parent preference",
			nodes:    []Node{labelled("a", 4, "zone", "us"), labelled("b", 4, "zone", "eu")},
			running:  fill("b", 100, 3, 50),
			pending:  []Proc{with(with(pend(1, 50), child(7, "a", false)), func(p *Proc) { p.Constraints = []Constraint{{Label: "zone", Value: "eu"}} })},
			placed:   []string{"1@b"},
			unplaced: map[uint64]Cause{},
		},
	})
}
