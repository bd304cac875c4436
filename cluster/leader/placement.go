package leader

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/ctxutil"
	"github.com/vproc/vproc/sched"
)

// Placement on the leader. Two paths place processes, both with the rules of
// package sched and the table's strategy (spread or binpack):
//
//   - The spawn path. A spawn the leader receives gets its node before it is
//     proposed (Spawn.Place), so that one entry allocates the PID and places
//     it. The choice is sched's Planner.Rank over the eligible nodes, with
//     what each holds from the table (View.NodeUsage, O(log n)) plus the
//     spawn-path picks still in flight. A spawn that needs more than that
//     (no node has room, a FIFO or queue to follow, pending processes of
//     its priority or higher waiting for room) commits pending instead.
//   - The placement loop. Whenever the table changes and pending processes
//     exist, it builds a sched.State from one view plus the gossiped load,
//     runs Planner.Plan, and commits the plan: one Place per placement and
//     one Preempt per eviction, through group commit, pipelined. It waits
//     for every entry of a plan before computing the next one from a view
//     that includes them, so that two plans never spend the same room. The
//     FSM re-checks each entry (pid, incarnation, state) as it applies it.
//
// Preemption. A Preempt marks the victim Evicting and makes SIGTERM pending
// in it; its node delivers it, waits Config.PreemptGrace and SIGKILLs the
// incarnation if it is still there (package runner). Its death requeues it as a
// new incarnation, not counted as a restart; a victim that exits by itself
// after the SIGTERM follows its restart policy. The process it was evicted
// for is placed by a later plan, once the room is free.
//
// The two paths may race: a spawn placed while a plan is being committed is
// not in that plan's view, so a node can briefly hold up to the number of
// concurrent spawns more than its capacity. Capacity is a placement target,
// not a limit the kernel enforces.

// Placement loop pacing.
const (
	// minPlanGap spaces plans that changed nothing, so that a table busy
	// with unrelated changes does not re-plan stuck processes on every
	// entry. Capacity that frees up is used at most this late.
	minPlanGap = 25 * time.Millisecond
	// pickExpiry bounds how long a spawn-path pick counts as in flight
	// when its outcome never comes back (a withdrawn proposal).
	pickExpiry = 10 * time.Second
	// nodesEvery is how stale the spawn path's list of eligible nodes and
	// their gossiped load may get.
	nodesEvery = 50 * time.Millisecond
)

// eligible reports whether node n may be given processes at time now: it
// is alive, and this leader renewed its lease within the fence timeout
// (lease.go). It is the one place where leader code decides that.
func (ls *Term) eligible(n *fsm.Node, now time.Time) bool {
	return n.Status == fsm.NodeAlive && ls.leases.fresh(n.ID, now, ls.fence)
}

// placer places processes for one term of leadership.
type placer struct {
	l       *Leader
	ls      *Term
	planner *sched.Planner

	mu sync.Mutex // guards the fields below: spawns, completions and the loop share them
	// nodes are the eligible nodes with their gossiped load, as of nodesAt.
	nodes   []sched.Node
	nodesAt time.Time
	// picks are the spawn-path placements whose entries have not been
	// answered yet, by pick id; held sums them per node.
	picks  map[uint64]spawnPickRec
	held   map[string]sched.Usage
	pickID uint64
	// waiting is the highest priority among the pending processes the last
	// plan left waiting for room (full, or preempting); 0 when none. A spawn
	// of that priority or lower queues behind them instead of taking the
	// spawn path.
	waiting int
}

type spawnPickRec struct {
	node string
	mem  int64
	at   time.Time
}

func newPlacer(l *Leader, ls *Term) *placer {
	pl, err := sched.New(l.cfg.Placement)
	if err != nil {
		// Config.Validate checked it before the agent started.
		panic(fmt.Sprintf("placement config: %v", err))
	}
	return &placer{l: l, ls: ls, planner: pl, picks: map[uint64]spawnPickRec{}, held: map[string]sched.Usage{}}
}

// strategyOf returns the table's strategy.
func strategyOf(v *fsm.View) sched.Strategy {
	s, err := sched.ParseStrategy(string(v.SchedulerConfig().Strategy))
	if err != nil {
		return sched.DefaultStrategy
	}
	return s
}

// schedNode converts a table node for the planner.
func (s *placer) schedNode(n *fsm.Node, now time.Time) sched.Node {
	sn := sched.Node{
		ID:     n.ID,
		Name:   n.Name,
		Slots:  int(min(n.Capacity.Slots, 1<<30)),
		Memory: n.Capacity.Memory,
		Alive:  s.ls.eligible(n, now),
	}
	if len(n.Labels) > 0 {
		sn.Labels = make(map[string]string, len(n.Labels))
		for _, l := range n.Labels {
			sn.Labels[l.Key] = l.Value
		}
	}
	if l, ok := s.l.loads.Load(n.ID); ok {
		sn.Load = sched.Load{BusySlots: l.BusySlots, RunQueue: l.RunQueue}
	}
	return sn
}

// spawnPick is the spawn path's choice for one spawn; release ends its
// count as in flight once the spawn's entry has been answered.
type spawnPick struct {
	s  *placer
	id uint64
}

func (p spawnPick) release() {
	if p.s == nil {
		return
	}
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	p.s.dropPickLocked(p.id)
}

func (s *placer) dropPickLocked(id uint64) {
	r, ok := s.picks[id]
	if !ok {
		return
	}
	delete(s.picks, id)
	u := s.held[r.node]
	u.Procs--
	u.Memory -= r.mem
	if u.Procs <= 0 {
		delete(s.held, r.node)
		return
	}
	s.held[r.node] = u
}

// pickForSpawn chooses the node of a spawn with spec, from view v, or ""
// to let it commit pending for the placement loop.
func (s *placer) pickForSpawn(v *fsm.View, spec *fsm.Spec) (string, spawnPick) {
	need, ok := spawnRequirement(v, spec)
	if !ok {
		return "", spawnPick{}
	}
	prio := spec.Priority
	if prio == 0 {
		prio = fsm.DefaultPriority
	}
	demand := spec.MemoryDemand()
	strategy := strategyOf(v)
	now := time.Now()

	s.mu.Lock()
	defer s.mu.Unlock()
	if prio <= s.waiting {
		return "", spawnPick{}
	}
	if s.nodes == nil || now.Sub(s.nodesAt) >= nodesEvery {
		s.refreshLocked(v, now)
	}
	best := -1
	var bestScore, bestPressure int64
	start := 0
	if strategy == sched.StrategySpread && len(s.nodes) > 0 {
		// Spread rotates among equals other than this node, so that
		// short-lived processes, gone before the next spawn, spread
		// too when the leader's node is taken or ranks lower.
		start = int(s.pickID % uint64(len(s.nodes)))
	}
	self := s.l.cfg.Self
	for j := range s.nodes {
		i := (start + j) % len(s.nodes)
		n := &s.nodes[i]
		if need != "" && n.ID != need {
			continue
		}
		if spec.Node != "" && spec.Node != n.ID && spec.Node != n.Name {
			continue
		}
		if !hasLabels(n.Labels, spec.Constraints) {
			continue
		}
		u := v.NodeUsage(n.ID)
		h := s.held[n.ID]
		// A process whose exit has been reported is gone, though its
		// report may still wait to share an entry.
		procs := max(u.Procs+h.Procs-s.l.r.ExitsReported(n.ID), 0)
		score, fits := s.planner.Rank(strategy, n, sched.Usage{Procs: procs, Memory: u.Memory + h.Memory}, demand)
		if !fits {
			continue
		}
		var pressure int64
		if strategy != sched.StrategyBinpack {
			pressure = sched.Pressure(n)
		}
		// On a tie this node wins (Config.Self); otherwise the first one
		// scanned stays.
		if best < 0 || score > bestScore || score == bestScore && (pressure < bestPressure || pressure == bestPressure && n.ID == self) {
			best, bestScore, bestPressure = i, score, pressure
		}
	}
	if best < 0 {
		return "", spawnPick{}
	}
	id := s.nodes[best].ID
	s.pickID++
	s.picks[s.pickID] = spawnPickRec{node: id, mem: demand, at: now}
	h := s.held[id]
	h.Procs++
	h.Memory += demand
	s.held[id] = h
	return id, spawnPick{s: s, id: s.pickID}
}

// refreshLocked rebuilds the list of eligible nodes and drops the picks
// whose answer never came. Callers hold s.mu.
func (s *placer) refreshLocked(v *fsm.View, now time.Time) {
	s.nodes = s.nodes[:0]
	for _, n := range v.Nodes() {
		if !s.ls.eligible(&n, now) {
			continue
		}
		s.nodes = append(s.nodes, s.schedNode(&n, now))
	}
	s.nodesAt = now
	for id, r := range s.picks {
		if now.Sub(r.at) > pickExpiry {
			s.dropPickLocked(id)
		}
	}
}

// spawnRequirement returns the node a spawn must go to because of its
// locality (the node of the process whose pipes it inherits, the node of a
// shared-memory segment it uses), "" for none. ok is false when the spawn
// path must leave the spawn to the placement loop: it follows a FIFO or a
// queue (a preference only a plan weighs), or its requirements conflict.
func spawnRequirement(v *fsm.View, spec *fsm.Spec) (need string, ok bool) {
	if spec.InheritsPipesFrom != 0 {
		if q, found := v.Get(spec.InheritsPipesFrom); found && q.Node != "" {
			need = q.Node
		}
	}
	for _, u := range spec.Uses {
		if u.Kind != fsm.KindSHM {
			return "", false
		}
		if o, found := v.Object(fsm.KindSHM, u.Name); found && !o.Lost {
			if need != "" && need != o.Node {
				return "", false
			}
			need = o.Node
		}
	}
	return need, true
}

func hasLabels(labels map[string]string, cons []fsm.Constraint) bool {
	for _, c := range cons {
		if v, ok := labels[c.Label]; !ok || v != c.Value {
			return false
		}
	}
	return true
}

// Eligible reports whether the current term may place processes on n at
// now (alive, with a lease this leader renewed within the fence timeout),
// and false while no term runs. Tests use it to wait for a settled
// cluster.
func (l *Leader) Eligible(n *fsm.Node, now time.Time) bool {
	ls := l.leading.Load()
	return ls != nil && ls.eligible(n, now)
}

// ForgetNodes makes the next spawn list the eligible nodes afresh instead
// of using the list it keeps for up to nodesEvery. Tests use it once every
// node is eligible.
func (l *Leader) ForgetNodes() {
	if ls := l.leading.Load(); ls != nil {
		ls.placer.mu.Lock()
		ls.placer.nodes = nil
		ls.placer.mu.Unlock()
	}
}

// PlaceSpawn implements replica.SpawnPlacer with placeSpawn.
func (l *Leader) PlaceSpawn(c *fsm.Spawn) (release func()) {
	return l.placeSpawn(c).release
}

// placeSpawn sets the node of a spawn that this node receives as the
// leader (Spawn.Place), so that its one entry allocates the PID and places
// it. A spawn that already names one is left alone. The choice needs no
// linearizable view: right after an election the local table may lag, and
// a choice it makes stale only costs a fallback, since the FSM re-checks
// it and leaves the process pending for the placement loop. The caller
// releases the pick once the spawn's entry has been answered.
func (l *Leader) placeSpawn(c *fsm.Spawn) spawnPick {
	ls := l.leading.Load()
	if ls == nil || c.Place != "" {
		return spawnPick{}
	}
	node, pick := ls.placer.pickForSpawn(l.r.LocalView(), &c.Spec)
	c.Place = node
	return pick
}

// placementLoop commits placement plans while this node leads. It plans
// when the table has changed and pending processes exist, at least every
// placementInterval, and when a restart backoff ends.
func (l *Leader) placementLoop(ls *Term) {
	s := ls.placer
	for {
		v := l.r.LocalView()
		wait, changed := s.round(v)
		if !changed && wait > 0 && !ctxutil.Sleep(ls.ctx, min(wait, minPlanGap)) {
			return
		}
		ctx, cancel := context.WithTimeout(ls.ctx, wait)
		if !changed {
			_ = l.r.WaitApplied(ctx, v.Index())
		}
		cancel()
		if ls.ctx.Err() != nil {
			return
		}
	}
}

// round plans from view v and commits the plan. It returns how long to wait
// at most before the next round, and whether the plan changed the table.
func (s *placer) round(v *fsm.View) (time.Duration, bool) {
	wait := placementInterval
	if v.PendingLen() == 0 {
		s.setWaiting(0)
		s.l.observer().SetPending(nil)
		return wait, false
	}
	now := time.Now()
	st, backoff := s.state(v, now)
	if backoff > 0 {
		wait = min(wait, backoff)
	}
	if len(st.pending) == 0 {
		s.setWaiting(0)
		s.l.observer().SetPending(pendingCauses(v, st, nil))
		return wait, false
	}
	plan, err := s.planner.Plan(strategyOf(v), st)
	if err != nil {
		s.l.logger.Error("placement plan", "error", err)
		return wait, false
	}
	s.setWaiting(st.waitingPriority(plan))
	if plan.Empty() {
		s.l.observer().PlacementRound(time.Since(now), 0, 0, pendingCauses(v, st, plan))
		return wait, false
	}
	placed, evicted, ok := s.commit(plan, now)
	s.l.observer().PlacementRound(time.Since(now), placed, evicted, pendingCauses(v, st, plan))
	if !ok {
		return retryBackoff, false
	}
	return wait, true
}

// pendingCauses counts the pending processes of view v that a round left
// pending, by cause: sched's (plan may be nil) and "backoff" for those
// waiting out a restart backoff, which st left out of the plan.
func pendingCauses(v *fsm.View, st *planState, plan *sched.Plan) map[string]int {
	out := make(map[string]int)
	if n := v.PendingLen() - len(st.pending); n > 0 {
		out["backoff"] = n
	}
	if plan != nil {
		for _, u := range plan.Unplaced {
			out[u.Cause.String()]++
		}
	}
	return out
}

func (s *placer) setWaiting(prio int) {
	s.mu.Lock()
	s.waiting = prio
	s.mu.Unlock()
}

// commit proposes every entry of plan and waits for their outcomes. It
// returns how many placements and preemptions were committed, and false
// when the entries could not be proposed (leadership lost).
func (s *placer) commit(plan *sched.Plan, now time.Time) (placed, evicted int, ok bool) {
	n := len(plan.Placements) + len(plan.Preemptions)
	type outcome struct {
		what string
		pid  uint64
		res  *fsm.Result
		err  error
	}
	done := make(chan outcome, n)
	sent := 0
	propose := func(what string, pid uint64, cmd fsm.Command) bool {
		err := s.l.r.ApplyAsync(s.ls.ctx, cmd, func(res *fsm.Result, err error) { done <- outcome{what, pid, res, err} })
		if err != nil {
			return false
		}
		sent++
		return true
	}
	ok = true
	for _, p := range plan.Placements {
		if ok = propose("place", p.PID, &fsm.Place{PID: p.PID, Incarnation: p.Incarnation,
			ExpectState: fsm.State(p.ExpectState), Node: p.Node, Now: now.UnixNano()}); !ok {
			break
		}
	}
	for _, p := range plan.Preemptions {
		if !ok {
			break
		}
		ok = propose("preempt", p.PID, &fsm.Preempt{PID: p.PID, Incarnation: p.Incarnation,
			Reason: fmt.Sprintf("preempted for pid %d", p.For), Signal: sigTERM, Now: now.UnixNano()})
	}
	for range sent {
		var o outcome
		select {
		case o = <-done:
		case <-s.ls.ctx.Done():
			return placed, evicted, false
		}
		switch {
		case o.err != nil:
			s.l.logger.Debug("placement entry not committed", "op", o.what, "pid", o.pid, "error", o.err)
		case o.res.Err != nil && !errors.Is(o.res.Err, fsm.ErrStale):
			s.l.logger.Warn("placement entry refused", "op", o.what, "pid", o.pid, "index", o.res.Index, "error", o.res.Err)
		case o.res.Err != nil:
		case o.what == "place":
			placed++
		default:
			evicted++
		}
	}
	if evicted > 0 {
		s.l.logger.Info("preempting lower-priority processes", "victims", evicted)
	}
	s.l.logger.Debug("placement plan committed", "placed", placed, "preempted", evicted, "unplaced", len(plan.Unplaced))
	return placed, evicted, ok
}

// sigTERM is the signal a preemption sends first.
const sigTERM = 15

// planState is a sched.State built from one view and the gossiped load.
type planState struct {
	v       *fsm.View
	nodes   []sched.Node
	pending []sched.Proc
	running []sched.Proc
	prio    map[uint64]int // pending PID → priority
}

var _ sched.State = (*planState)(nil)

func (p *planState) Nodes() []sched.Node   { return p.nodes }
func (p *planState) Pending() []sched.Proc { return p.pending }
func (p *planState) Running() []sched.Proc { return p.running }

func (p *planState) ObjectNode(kind sched.UseKind, name string) (string, bool) {
	o, ok := p.v.Object(fsm.Kind(kind), name)
	if !ok || o.Lost {
		return "", false
	}
	return o.Node, true
}

// waitingPriority returns the highest priority among the processes plan
// leaves waiting for room.
func (p *planState) waitingPriority(plan *sched.Plan) int {
	w := 0
	for _, u := range plan.Unplaced {
		if u.Cause == sched.CauseFull || u.Cause == sched.CausePreempting {
			w = max(w, p.prio[u.PID])
		}
	}
	return w
}

// state builds the planner's view of v: the pending processes whose
// backoff has passed (backoff is how long until the next one's ends, 0 if
// none waits), every process that holds capacity on a node of the table,
// and the nodes, eligible or not.
func (s *placer) state(v *fsm.View, now time.Time) (*planState, time.Duration) {
	st := &planState{v: v, prio: map[uint64]int{}}
	var backoff time.Duration
	for _, p := range v.Pending() {
		if p.NotBefore > now.UnixNano() {
			d := time.Duration(p.NotBefore - now.UnixNano())
			if backoff == 0 || d < backoff {
				backoff = d
			}
			continue
		}
		sp := schedProc(v, &p)
		st.pending = append(st.pending, sp)
		st.prio[p.PID] = sp.Priority
	}
	if len(st.pending) == 0 {
		return st, backoff
	}
	for _, n := range v.Nodes() {
		st.nodes = append(st.nodes, s.schedNode(&n, now))
		v.Walk(fsm.Filter{Node: n.ID, OnNodeOnly: true}, func(p *fsm.Process) bool {
			st.running = append(st.running, schedProc(v, p))
			return true
		})
	}
	return st, backoff
}

// schedProc converts a process record for the planner.
func schedProc(v *fsm.View, p *fsm.Process) sched.Proc {
	sp := sched.Proc{
		PID:          p.PID,
		Incarnation:  p.Incarnation,
		State:        string(p.State),
		Priority:     p.Spec.Priority,
		Seq:          p.QueueIndex,
		PlacedAt:     p.PlaceIndex,
		Node:         p.Node,
		Memory:       p.Spec.MemoryDemand(),
		RequiredNode: p.Spec.Node,
		Parent:       p.Parent,
		Evicting:     p.Evicting,
	}
	if p.State != fsm.StatePending {
		return sp
	}
	sp.Constraints = append(sp.Constraints, p.Spec.Constraints...)
	for _, u := range p.Spec.Uses {
		sp.Uses = append(sp.Uses, sched.Use{Kind: sched.UseKind(u.Kind), Name: u.Name})
	}
	if p.Spec.InheritsPipesFrom != 0 {
		sp.InheritsPipes = true
		sp.Parent = p.Spec.InheritsPipesFrom
	}
	if sp.Parent != 0 && sp.Parent != fsm.InitPID {
		if q, ok := v.Get(sp.Parent); ok && q.State.OnNode() {
			sp.ParentNode = q.Node
		}
	} else {
		sp.Parent = 0
	}
	return sp
}
