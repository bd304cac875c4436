package sched

import (
	"cmp"
	"fmt"
	"slices"
)

// Planner computes placement plans. It holds nothing but its configuration,
// so one Planner may be shared by many goroutines; each Plan call works on
// its own state and is a pure function of its arguments.
type Planner struct {
	cfg Config
}

// New returns a Planner with the given configuration, which it validates.
func New(cfg Config) (*Planner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Planner{cfg: cfg}, nil
}

// Config returns the planner's configuration.
func (pl *Planner) Config() Config { return pl.cfg }

// Plan computes one placement plan for the pending processes of st, ranking
// nodes with strategy ("" means DefaultStrategy). It is pure: it does no I/O,
// reads no clock, draws no random numbers and starts no goroutines, and the
// same view gives the same plan whatever the order of the slices st returns.
// The only error is an unknown strategy, wrapping ErrUnknownStrategy.
//
// Pending processes are considered in priority order, highest first, and
// FIFO (Seq, then PID) among equal priorities. Each one is checked for
// feasibility, ranked over the feasible nodes that have room, and placed on
// the best; when none has room it may preempt lower-priority processes. See
// the package README for the whole pipeline.
func (pl *Planner) Plan(strategy Strategy, st State) (*Plan, error) {
	s, err := ParseStrategy(string(strategy))
	if err != nil {
		return nil, err
	}
	r := newRound(pl.cfg, s, st)
	r.run()
	return r.plan, nil
}

// round is the working state of one Plan call. It is owned by that call.
type round struct {
	cfg      Config
	strategy Strategy
	st       State

	nodes []nodeState // sorted by ID
	ref   map[string]int32
	alive bitset // indexes of the alive nodes

	pending []pendingProc
	running []Proc // as returned by State.Running

	objects   map[Use]objectLoc     // registry answers, plus objects pinned by this plan
	singleSet map[Constraint]bitset // feasible-node sets of one-constraint processes
	multiSet  map[string]bitset     // feasible-node sets of multi-constraint processes
	parentOf  map[uint64]int32      // pending parents whose children look for them: node index once placed, else -1

	prefs []pref // scratch: preferred nodes of the current process

	placed int
	plan   *Plan
}

// nodeState is a node plus the capacity accounting of the round.
type nodeState struct {
	id, name string
	shown    string // name and ID, for reasons
	labels   map[string]string
	alive    bool

	capCnt int64 // process capacity: Slots × ProcsPerSlot
	capMem int64 // memory capacity in bytes; 0 means unlimited

	cnt, mem         int64 // held by running processes and by this plan's placements
	freeCnt, freeMem int64 // held by processes being evicted (in flight or proposed here)
	resCnt, resMem   int64 // reserved for pending processes waiting for those evictions

	pressure int64 // gossiped CPU pressure in ppm, 0 under binpack
	penalty  int64 // spread's ranking penalty derived from pressure

	victims   []victim // preemptible running processes, sorted lazily
	sorted    bool
	cursor    int   // victims before cursor are all chosen
	spareCnt  int64 // number of victims not chosen yet
	spareMem  int64 // memory of victims not chosen yet
	victimMin int   // lowest priority among victims, for a quick reject

	version uint64   // bumped by every change to the accounting above
	memo    pickMemo // the last victim search on this node
}

// victim is a running process that a higher-priority process may preempt.
// It holds no pointers, so that the slab of all victims costs the garbage
// collector nothing to scan.
type victim struct {
	pid      uint64
	placedAt uint64
	mem      int64
	prio     int32
	ref      int32 // index into round.running
	chosen   bool
}

// pendingProc is a pending process with its normalised priority.
type pendingProc struct {
	p    *Proc
	prio int
}

// objectLoc is where an IPC object lives.
type objectLoc struct {
	known bool   // registered, or pinned by an earlier placement of this plan
	idx   int32  // node index, -1 if the node is unknown
	node  string // the node as the registry names it
}

func newRound(cfg Config, strategy Strategy, st State) *round {
	r := &round{
		cfg:      cfg,
		strategy: strategy,
		st:       st,
		plan:     &Plan{Strategy: strategy},
	}
	r.initNodes(st.Nodes())
	r.initRunning(st.Running())
	r.initPending(st.Pending())
	return r
}

func (r *round) initNodes(in []Node) {
	sorted := make([]*Node, len(in))
	for i := range in {
		sorted[i] = &in[i]
	}
	slices.SortFunc(sorted, func(a, b *Node) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Name, b.Name))
	})
	sorted = slices.CompactFunc(sorted, func(a, b *Node) bool { return a.ID == b.ID })

	r.nodes = make([]nodeState, len(sorted))
	r.ref = make(map[string]int32, 2*len(sorted))
	r.alive = newBitset(len(sorted))
	for i, n := range sorted {
		ns := &r.nodes[i]
		ns.id, ns.name, ns.labels, ns.alive = n.ID, n.Name, n.Labels, n.Alive
		ns.shown = displayName(n.ID, n.Name)
		ns.capCnt, ns.capMem = r.cfg.capacity(n)
		if r.strategy == StrategySpread {
			ns.pressure, ns.penalty = r.cfg.pressure(n)
		}
		if n.Alive {
			r.alive.set(i)
		}
		r.ref[n.ID] = int32(i)
	}
	// Names resolve where no ID shadows them; a name two nodes share
	// resolves to refAmbiguous.
	for i, n := range sorted {
		if n.Name == "" || n.Name == n.ID {
			continue
		}
		j, taken := r.ref[n.Name]
		switch {
		case !taken:
			r.ref[n.Name] = int32(i)
		case j >= 0 && r.nodes[j].id == n.Name:
			// Another node's ID: IDs win.
		default:
			r.ref[n.Name] = refAmbiguous
		}
	}
}

func (r *round) initRunning(in []Proc) {
	r.running = in
	// Two passes: count each node's victims, then cut one slab into
	// per-node slices.
	where := make([]int32, len(in))
	total := 0
	for i := range in {
		p := &in[i]
		idx := r.lookup(p.Node)
		where[i] = idx
		if idx < 0 {
			continue // a node the table no longer lists holds nothing
		}
		n := &r.nodes[idx]
		mem := max(p.Memory, 0)
		n.cnt++
		n.mem += mem
		if p.Evicting {
			n.freeCnt++
			n.freeMem += mem
			continue
		}
		n.spareCnt++
		n.spareMem += mem
		total++
	}
	slab := make([]victim, total)
	for i := range r.nodes {
		n := &r.nodes[i]
		k := int(n.spareCnt)
		n.victims, slab = slab[:0:k], slab[k:]
	}
	for i := range in {
		p := &in[i]
		if where[i] < 0 || p.Evicting {
			continue
		}
		n := &r.nodes[where[i]]
		prio := normPriority(p.Priority)
		if len(n.victims) == 0 || prio < n.victimMin {
			n.victimMin = prio
		}
		n.victims = append(n.victims, victim{
			pid: p.PID, placedAt: p.PlacedAt, mem: max(p.Memory, 0), prio: int32(prio), ref: int32(i),
		})
	}
}

func (r *round) initPending(in []Proc) {
	r.pending = make([]pendingProc, len(in))
	for i := range in {
		r.pending[i] = pendingProc{p: &in[i], prio: normPriority(in[i].Priority)}
	}
	slices.SortFunc(r.pending, func(a, b pendingProc) int {
		return cmp.Or(
			cmp.Compare(b.prio, a.prio),
			cmp.Compare(a.p.Seq, b.p.Seq),
			cmp.Compare(a.p.PID, b.p.PID),
			cmp.Compare(b.p.Incarnation, a.p.Incarnation),
		)
	})
	// A PID listed twice (which a consistent view never does) is decided
	// once, at its first position in that order.
	seen := make(map[uint64]struct{}, len(r.pending))
	out := r.pending[:0]
	for _, pe := range r.pending {
		if _, dup := seen[pe.p.PID]; dup {
			continue
		}
		seen[pe.p.PID] = struct{}{}
		out = append(out, pe)
		if p := pe.p; p.Parent != 0 && p.ParentNode == "" {
			if r.parentOf == nil {
				r.parentOf = make(map[uint64]int32)
			}
			r.parentOf[p.Parent] = -1
		}
	}
	r.pending = out
}

// refAmbiguous marks a node name that two nodes share.
const refAmbiguous = -2

// lookup resolves a node reference, an ID or else a name, to an index: -1 if
// unknown, refAmbiguous if the name is shared.
func (r *round) lookup(ref string) int32 {
	if ref == "" {
		return -1
	}
	if i, ok := r.ref[ref]; ok {
		return i
	}
	return -1
}

// run decides every pending process in order.
func (r *round) run() {
	for i, pe := range r.pending {
		if limit := r.cfg.MaxPlacementsPerPlan; limit > 0 && r.placed >= limit {
			reason := fmt.Sprintf("plan limit of %d placements reached", limit)
			for _, rest := range r.pending[i:] {
				r.unplaced(rest.p, CauseDeferred, reason)
			}
			return
		}
		r.decide(pe)
	}
}

// decide places, preempts for, or leaves pending one process.
func (r *round) decide(pe pendingProc) {
	p := pe.p
	req, cause, reason := r.requirements(p)
	if cause != 0 {
		r.unplaced(p, cause, reason)
		return
	}
	demand := max(p.Memory, 0)
	r.preferences(p)
	best, sc := r.rank(req, demand)
	if best >= 0 {
		r.place(p, best, demand)
		return
	}
	if sc.able == 0 {
		r.unplaced(p, CauseInfeasible, sc.unableReason(r, req, demand))
		return
	}
	if !r.cfg.DisablePreemption && r.preempt(pe, req, demand) {
		return
	}
	r.unplaced(p, CauseFull, sc.fullReason(r))
}

// place records a placement and its effect on the node and on later
// processes of this plan.
func (r *round) place(p *Proc, idx int32, demand int64) {
	n := &r.nodes[idx]
	n.cnt++
	n.mem += demand
	n.version++
	r.placed++
	r.plan.Placements = append(r.plan.Placements, Placement{
		PID: p.PID, Incarnation: p.Incarnation, ExpectState: p.State, Node: n.id,
	})
	if r.parentOf != nil {
		if _, ok := r.parentOf[p.PID]; ok {
			r.parentOf[p.PID] = idx
		}
	}
	// Objects the registry does not know yet are created by their first
	// user; later users in this plan follow it there.
	for _, u := range p.Uses {
		if !r.object(u).known {
			r.objects[u] = objectLoc{known: true, idx: idx, node: n.id}
		}
	}
}

func (r *round) unplaced(p *Proc, c Cause, reason string) {
	r.plan.Unplaced = append(r.plan.Unplaced, Unplaced{
		PID: p.PID, Incarnation: p.Incarnation, Cause: c, Reason: reason,
	})
}
