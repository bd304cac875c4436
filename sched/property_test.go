package sched

import (
	"fmt"
	"reflect"
	"testing"

	"pgregory.net/rapid"
)

// TestPlanProperties checks invariants of plans for random clusters:
// everything pending is decided once, no placement overfills a node, every
// placement honours its hard requirements, preemptions respect the gap and
// never repeat, a lower-priority process never takes room a higher-priority
// one needed, and the plan does not depend on input order.
func TestPlanProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := DefaultConfig()
		cfg.ProcsPerSlot = rapid.IntRange(1, 3).Draw(t, "procsPerSlot")
		cfg.PreemptGap = rapid.IntRange(1, 30).Draw(t, "gap")
		strategy := rapid.SampledFrom([]Strategy{StrategySpread, StrategyBinpack}).Draw(t, "strategy")
		v := drawView(t)
		pl, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := pl.Plan(strategy, v)
		if err != nil {
			t.Fatal(err)
		}
		checkPlan(t, cfg, v, plan)
		if again, _ := pl.Plan(strategy, shuffled(v, rapid.Uint64().Draw(t, "shuffle"))); !reflect.DeepEqual(plan, again) {
			t.Fatalf("shuffled input gave a different plan:\n%+v\n%+v", plan, again)
		}
	})
}

func drawView(t *rapid.T) *view {
	v := &view{objects: map[Use]string{}}
	nNodes := rapid.IntRange(1, 6).Draw(t, "nodes")
	var refs []string
	for i := range nNodes {
		n := Node{
			ID:     fmt.Sprintf("id%d", i),
			Name:   fmt.Sprintf("name%d", i),
			Labels: map[string]string{"zone": rapid.SampledFrom([]string{"us", "eu"}).Draw(t, "zone")},
			Slots:  rapid.IntRange(0, 3).Draw(t, "slots"),
			Memory: int64(rapid.IntRange(0, 8).Draw(t, "memory")) * 100,
			Alive:  rapid.IntRange(0, 4).Draw(t, "alive") != 0,
			Load:   Load{BusySlots: rapid.IntRange(0, 4).Draw(t, "busy"), RunQueue: rapid.IntRange(0, 4).Draw(t, "runq")},
		}
		v.nodes = append(v.nodes, n)
		refs = append(refs, n.ID, n.Name)
	}
	nodeRef := rapid.SampledFrom(append(refs, "ghost"))
	pid := uint64(2)
	for range rapid.IntRange(0, 15).Draw(t, "running") {
		v.running = append(v.running, Proc{
			PID: pid, Incarnation: 1, State: "running",
			Priority: rapid.IntRange(1, 100).Draw(t, "prio"),
			PlacedAt: uint64(rapid.IntRange(0, 5).Draw(t, "placedAt")),
			Node:     nodeRef.Draw(t, "node"),
			Memory:   int64(rapid.IntRange(0, 4).Draw(t, "mem")) * 50,
			Evicting: rapid.IntRange(0, 5).Draw(t, "evicting") == 0,
		})
		pid++
	}
	objects := []Use{{Kind: UseSHM, Name: "/s0"}, {Kind: UseSHM, Name: "/s1"}, {Kind: UseFIFO, Name: "/f0"}, {Kind: UseMQ, Name: "/q0"}}
	for _, u := range objects {
		if rapid.Bool().Draw(t, "registered") {
			v.objects[u] = nodeRef.Draw(t, "objectNode")
		}
	}
	for range rapid.IntRange(0, 20).Draw(t, "pending") {
		p := Proc{
			PID: pid, Incarnation: 1, State: "pending",
			Priority: rapid.IntRange(0, 100).Draw(t, "prio"),
			Seq:      uint64(rapid.IntRange(0, 10).Draw(t, "seq")),
			Memory:   int64(rapid.IntRange(0, 4).Draw(t, "mem")) * 50,
		}
		if rapid.IntRange(0, 3).Draw(t, "constrained") == 0 {
			p.Constraints = []Constraint{{Label: "zone", Value: rapid.SampledFrom([]string{"us", "eu", "ap"}).Draw(t, "zone")}}
		}
		if rapid.IntRange(0, 5).Draw(t, "pinned") == 0 {
			p.RequiredNode = nodeRef.Draw(t, "requiredNode")
		}
		for _, u := range objects {
			if rapid.IntRange(0, 4).Draw(t, "uses") == 0 {
				p.Uses = append(p.Uses, u)
			}
		}
		switch rapid.IntRange(0, 3).Draw(t, "parent") {
		case 0:
			if len(v.running) > 0 {
				parent := rapid.SampledFrom(v.running).Draw(t, "runningParent")
				p.Parent, p.ParentNode = parent.PID, parent.Node
			}
		case 1:
			if len(v.pending) > 0 {
				p.Parent = rapid.SampledFrom(v.pending).Draw(t, "pendingParent").PID
			}
		}
		p.InheritsPipes = p.Parent != 0 && rapid.Bool().Draw(t, "pipes")
		v.pending = append(v.pending, p)
		pid++
	}
	return v
}

// oracle resolves node references the way the planner documents.
type oracle struct {
	v     *view
	cfg   Config
	byRef map[string]*Node
	// load after the plan, before any eviction completes
	cnt, mem map[string]int64
	unsafe   map[string]bool // nodes with evictions, where reservations apply
	placedOn map[uint64]string
	newShm   map[Use]string // unregistered segments: the node of their first user
}

func newOracle(cfg Config, v *view, plan *Plan) *oracle {
	o := &oracle{v: v, cfg: cfg, byRef: map[string]*Node{}, cnt: map[string]int64{}, mem: map[string]int64{},
		unsafe: map[string]bool{}, placedOn: map[uint64]string{}, newShm: map[Use]string{}}
	for i := range v.nodes {
		o.byRef[v.nodes[i].ID] = &v.nodes[i]
	}
	for i := range v.nodes {
		if _, ok := o.byRef[v.nodes[i].Name]; !ok {
			o.byRef[v.nodes[i].Name] = &v.nodes[i]
		}
	}
	for _, r := range v.running {
		if n := o.byRef[r.Node]; n != nil {
			o.cnt[n.ID]++
			o.mem[n.ID] += r.Memory
			if r.Evicting {
				o.unsafe[n.ID] = true
			}
		}
	}
	pending := o.pendingByPID()
	for _, pl := range plan.Placements {
		o.cnt[pl.Node]++
		o.mem[pl.Node] += pending[pl.PID].Memory
		o.placedOn[pl.PID] = pl.Node
	}
	for _, e := range plan.Preemptions {
		o.unsafe[e.Node] = true
	}
	return o
}

func (o *oracle) pendingByPID() map[uint64]Proc {
	m := map[uint64]Proc{}
	for _, p := range o.v.pending {
		m[p.PID] = p
	}
	return m
}

func (o *oracle) node(ref string) *Node { return o.byRef[ref] }

// feasible reports whether p's hard requirements allow node n, given what
// the plan placed.
func (o *oracle) feasible(p Proc, n *Node) bool {
	if !n.Alive {
		return false
	}
	for _, c := range p.Constraints {
		if v, ok := n.Labels[c.Label]; !ok || v != c.Value {
			return false
		}
	}
	if p.RequiredNode != "" && o.node(p.RequiredNode) != n {
		return false
	}
	for _, u := range p.Uses {
		if u.Kind != UseSHM {
			continue
		}
		if ref, ok := o.v.objects[u]; ok && o.node(ref) != n {
			return false
		}
		if id, ok := o.newShm[u]; ok && id != n.ID {
			return false
		}
	}
	if p.InheritsPipes {
		ref := p.ParentNode
		if ref == "" {
			ref = o.placedOn[p.Parent]
		}
		if o.node(ref) != n {
			return false
		}
	}
	return true
}

// fits reports whether one more process of memory demand d fits node n on
// top of cnt processes and mem bytes.
func (o *oracle) fits(n *Node, cnt, mem, d int64) bool {
	if int64(n.Slots)*int64(o.cfg.ProcsPerSlot) < cnt+1 {
		return false
	}
	return n.Memory == 0 || mem+d <= n.Memory
}

func checkPlan(t *rapid.T, cfg Config, v *view, plan *Plan) {
	o := newOracle(cfg, v, plan)
	pending := o.pendingByPID()
	prio := func(p Proc) int { return normPriority(p.Priority) }

	// Every pending process is decided exactly once.
	seen := map[uint64]int{}
	for _, pl := range plan.Placements {
		seen[pl.PID]++
	}
	unplaced := map[uint64]Unplaced{}
	for _, u := range plan.Unplaced {
		seen[u.PID]++
		unplaced[u.PID] = u
	}
	for pid := range pending {
		if seen[pid] != 1 {
			t.Fatalf("pid %d decided %d times, want once", pid, seen[pid])
		}
	}
	if len(seen) != len(pending) {
		t.Fatalf("plan decides %d pids, want the %d pending ones", len(seen), len(pending))
	}

	// Placements fit and honour the hard requirements.
	for _, pl := range plan.Placements {
		n := o.node(pl.Node)
		if n == nil || n.ID != pl.Node {
			t.Fatalf("placement %+v names no node by ID", pl)
		}
		p := pending[pl.PID]
		if pl.Incarnation != p.Incarnation || pl.ExpectState != p.State {
			t.Fatalf("placement %+v does not carry (incarnation, state) = (%d, %s)", pl, p.Incarnation, p.State)
		}
		for _, u := range p.Uses {
			if _, ok := v.objects[u]; u.Kind == UseSHM && !ok {
				if other, ok := o.newShm[u]; ok && other != n.ID {
					t.Fatalf("new segment %s used on %s and %s", u, other, n.ID)
				}
				o.newShm[u] = n.ID
			}
		}
		if !o.feasible(p, n) {
			t.Fatalf("placement %+v violates the requirements of %+v", pl, p)
		}
		if !o.fits(n, o.cnt[n.ID]-1, o.mem[n.ID]-p.Memory, p.Memory) {
			t.Fatalf("node %s over capacity after the plan: %d processes, %d bytes; slots %d, memory %d",
				n.ID, o.cnt[n.ID], o.mem[n.ID], n.Slots, n.Memory)
		}
	}

	// Preemptions respect the gap and never repeat.
	victims := map[uint64]bool{}
	running := map[uint64]Proc{}
	for _, r := range v.running {
		running[r.PID] = r
	}
	for _, e := range plan.Preemptions {
		r, ok := running[e.PID]
		if !ok || r.Evicting || victims[e.PID] || o.node(r.Node) == nil || o.node(r.Node).ID != e.Node {
			t.Fatalf("preemption %+v of %+v: not a running, non-evicting process on that node, or repeated", e, r)
		}
		victims[e.PID] = true
		p := pending[e.For]
		if prio(r) > prio(p)-cfg.PreemptGap {
			t.Fatalf("preemption %+v: victim priority %d, preemptor %d, gap %d", e, prio(r), prio(p), cfg.PreemptGap)
		}
		if u := unplaced[e.For]; u.Cause != CausePreempting {
			t.Fatalf("preemption %+v for a process that is %+v", e, u)
		}
	}

	// A lower-priority placement never took room a higher-priority process
	// needed. Nodes with evictions are skipped: their room is governed by
	// reservations.
	for _, u := range plan.Unplaced {
		if u.Cause != CauseFull && u.Cause != CausePreempting {
			continue
		}
		p := pending[u.PID]
		for _, pl := range plan.Placements {
			q := pending[pl.PID]
			n := o.node(pl.Node)
			if prio(q) >= prio(p) || o.unsafe[n.ID] || !o.feasible(p, n) {
				continue
			}
			if o.fits(n, o.cnt[n.ID]-1, o.mem[n.ID]-q.Memory, p.Memory) {
				t.Fatalf("pid %d (priority %d) left pending (%s) while pid %d (priority %d) took room on %s that it needed",
					p.PID, prio(p), u.Reason, q.PID, prio(q), n.ID)
			}
		}
	}
}
