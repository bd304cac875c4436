package cluster

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/vproc/vproc/fsm"
)

// Leader loops. While this node leads, a leaderState runs its loops, each a
// goroutine tracked by the state's WaitGroup that exits when leadership is
// lost (ls.ctx is cancelled) or the agent stops:
//
//	establish ── Barrier (first of the term) ── Tick ── ready ──┬── placement
//	                                                            ├── reaper (init's retention)
//	                                                            ├── ticker (session expiry)
//	                                                            └── reconcile (membership.go)

// leaderState lives for one term of leadership.
type leaderState struct {
	ctx    context.Context
	cancel context.CancelFunc
	// ready is closed once the term's first barrier and tick have applied:
	// from then on linearizable reads may run.
	ready chan struct{}
	wg    sync.WaitGroup

	// missingSince records when reconcile first found a raft server that
	// gossip does not know. Owned by the reconcile loop.
	missingSince map[string]time.Time
	// placer chooses nodes, for the placement loop and for the spawns
	// this leader receives. Set at creation.
	placer *placer
	// leases records the node leases this leader renewed (lease.go).
	leases *leaseTable
}

func (ls *leaderState) run(fn func(ls *leaderState)) {
	ls.wg.Add(1)
	go func() {
		defer ls.wg.Done()
		fn(ls)
	}()
}

// Leader loop timing.
const (
	tickInterval      = time.Second
	placementInterval = time.Second
	maxPlacePerRound  = 4096
	maxReapPerRound   = 4096
	retryBackoff      = 50 * time.Millisecond
)

// watchLeadership starts the leader loops when this node gains leadership
// and stops them when it loses it. Raft's LeaderCh keeps only the latest
// transition, so a true after a true means leadership was lost and gained
// again: the loops restart for the new term.
func (a *Agent) watchLeadership() {
	var ls *leaderState
	stop := func() {
		if ls == nil {
			return
		}
		a.leading.Store(nil)
		ls.cancel()
		ls.wg.Wait()
		ls = nil
		a.logger.Info("leadership lost")
	}
	for {
		select {
		case <-a.shutdownCh:
			stop()
			return
		case leader := <-a.raft.LeaderCh():
			stop()
			if leader {
				ls = a.lead()
			}
		}
	}
}

// lead starts a term of leadership.
func (a *Agent) lead() *leaderState {
	ctx, cancel := context.WithCancel(a.ctx) // the agent stopping ends the term too
	ls := &leaderState{ctx: ctx, cancel: cancel, ready: make(chan struct{}), missingSince: map[string]time.Time{},
		leases: newLeaseTable(time.Now())}
	ls.placer = newPlacer(a, ls.leases)
	a.leading.Store(ls)
	a.logger.Info("leadership gained")
	ls.run(a.establish)
	return ls
}

// establish makes the new leader ready: the first barrier of its term, then
// a Tick, then the loops.
func (a *Agent) establish(ls *leaderState) {
	start := time.Now()
	for {
		err := a.raft.Barrier(0).Error()
		if err == nil {
			break
		}
		a.logger.Warn("leader barrier failed", "error", err)
		if !sleepOrDone(ls.ctx, retryBackoff) {
			return
		}
	}
	for {
		_, err := a.submit(ls.ctx, nil, &fsm.Tick{Now: time.Now().UnixNano()})
		if err == nil {
			break
		}
		if !sleepOrDone(ls.ctx, retryBackoff) {
			return
		}
	}
	close(ls.ready)
	a.logger.Info("leader ready", "took", time.Since(start).Round(time.Millisecond))
	ls.run(a.placementLoop)
	ls.run(a.reapLoop)
	ls.run(a.tickLoop)
	ls.run(a.reconcileLoop)
	ls.run(a.leaseLoop)
}

// sleepOrDone waits d; it reports false if ctx ended first.
func sleepOrDone(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// tickLoop commits a Tick every second unless some other command already
// moved the table's clock within that second, so that sessions expire on
// time even when the cluster is idle.
func (a *Agent) tickLoop(ls *leaderState) {
	t := time.NewTicker(tickInterval)
	defer t.Stop()
	for {
		select {
		case <-ls.ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		if now-a.fsm.View().Clock() < int64(tickInterval) {
			continue
		}
		if _, err := a.submit(ls.ctx, nil, &fsm.Tick{Now: now}); err != nil && ls.ctx.Err() == nil {
			a.logger.Debug("tick failed", "error", err)
		}
	}
}

// reapLoop reaps init's zombies once they are older than Retention.
func (a *Agent) reapLoop(ls *leaderState) {
	every := min(max(a.cfg.Retention/10, 100*time.Millisecond), 10*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ls.ctx.Done():
			return
		case <-t.C:
		}
		a.reapOnce(ls)
	}
}

func (a *Agent) reapOnce(ls *leaderState) {
	cutoff := time.Now().Add(-a.cfg.Retention).UnixNano()
	var pids []uint64
	a.fsm.View().Walk(fsm.Filter{Parent: fsm.InitPID}, func(p *fsm.Process) bool {
		if !p.State.Live() && p.ExitedAt != 0 && p.ExitedAt <= cutoff {
			pids = append(pids, p.PID)
		}
		return len(pids) < maxReapPerRound
	})
	if len(pids) == 0 {
		return
	}
	var wg sync.WaitGroup
	for _, pid := range pids {
		wg.Add(1)
		err := a.applyAsync(ls.ctx, &fsm.Reap{PID: pid}, func(res *fsm.Result, err error) { wg.Done() })
		if err != nil {
			wg.Done()
			break
		}
	}
	wg.Wait()
	a.logger.Debug("reaped init's zombies", "count", len(pids))
}

// placer chooses nodes for this term: for the pending processes, in the
// placement loop, and for each spawn the leader receives, so that the
// spawn's one entry both allocates the PID and places it (Spawn.Place).
// Both use the same rules (pickNode) and share the same counts, so that
// spawns placed at once and those placed by the loop spread alike. The
// choice is the leader's; the FSM's Apply re-checks it.
type placer struct {
	a      *Agent
	leases *leaseTable

	mu sync.Mutex // guards the fields below: the loop, spawns and completions share them
	// busy holds the placements in flight and those that failed, until
	// retryAt, by PID.
	busy map[uint64]placeMark
	// cursor rotates the order in which equally loaded nodes are
	// considered, so that short-lived processes spread too.
	cursor int
	// nodes are the alive nodes with their gossiped load as of nodesAt,
	// each with its count: counts (the processes on it, placed, running or
	// stopped, as of countedAt) plus since (the placements made after
	// that). Counting walks what every node runs, so it is redone at most
	// every countEvery; the node list at most every nodesEvery.
	nodes     []placeNode
	nodesAt   time.Time
	counts    map[string]int
	since     map[string]int
	countedAt time.Time
}

// How stale the placer's node list and per-node counts get. A node that
// went down meanwhile costs nothing but a fallback: Apply re-checks every
// placement, and a spawn whose node can no longer take it stays pending
// for the placement loop.
const (
	countEvery = 250 * time.Millisecond
	nodesEvery = 50 * time.Millisecond
)

type placeMark struct {
	inc     uint64    // the incarnation placed
	retryAt time.Time // zero while in flight
}

func newPlacer(a *Agent, leases *leaseTable) *placer {
	return &placer{a: a, leases: leases, busy: make(map[uint64]placeMark)}
}

// refreshLocked brings the node list and the counts up to date with view
// v when they are older than allowed. Callers hold pl.mu.
func (pl *placer) refreshLocked(v *fsm.View, now time.Time) {
	recount := pl.counts == nil || now.Sub(pl.countedAt) >= countEvery
	if !recount && pl.nodes != nil && now.Sub(pl.nodesAt) < nodesEvery {
		return
	}
	pl.nodes, pl.nodesAt = pl.candidates(v, now), now
	if recount {
		pl.counts, pl.since, pl.countedAt = make(map[string]int, len(pl.nodes)), make(map[string]int), now
		for _, n := range pl.nodes {
			cnt := 0
			v.Walk(fsm.Filter{Node: n.ID, OnNodeOnly: true}, func(*fsm.Process) bool {
				cnt++
				return true
			})
			pl.counts[n.ID] = cnt
		}
	}
	for i := range pl.nodes {
		pl.nodes[i].count = pl.counts[pl.nodes[i].ID] + pl.since[pl.nodes[i].ID]
	}
}

// pickLocked chooses the node for p, or returns "" when no alive node
// fits, and counts the placement. Callers hold pl.mu.
func (pl *placer) pickLocked(v *fsm.View, p *fsm.Process) string {
	if len(pl.nodes) == 0 {
		return ""
	}
	n := pickNode(v, p, pl.nodes, pl.cursor)
	if n == nil {
		return ""
	}
	pl.cursor++
	n.count++
	pl.since[n.ID]++
	return n.ID
}

// pickForSpawn chooses the node for a spawn the leader received, with
// view v. It returns "" when no alive node fits: the spawn then commits
// pending and waits for the placement loop.
func (pl *placer) pickForSpawn(v *fsm.View, spec *fsm.Spec) string {
	p := fsm.Process{Spec: *spec}
	pl.mu.Lock()
	defer pl.mu.Unlock()
	pl.refreshLocked(v, time.Now())
	return pl.pickLocked(v, &p)
}

// placeSpawn sets the node of a spawn that this node receives as the
// leader (Spawn.Place), so that its one entry allocates the PID and places
// it. A spawn that already names one is left alone. The choice needs no
// linearizable view: right after an election the local table may lag, and
// a choice it makes stale only costs a fallback, since the FSM re-checks
// it and leaves the process pending for the placement loop.
func (a *Agent) placeSpawn(c *fsm.Spawn) {
	ls := a.leading.Load()
	if ls == nil || c.Place != "" {
		return
	}
	c.Place = ls.placer.pickForSpawn(a.fsm.View(), &c.Spec)
}

// placementLoop places pending processes: each one whose backoff has
// passed goes to the least-loaded alive node that may run it. It wakes when
// the table changes and at least every placementInterval, and keeps its
// placements in flight (pipelined through group commit) without placing a
// process twice.
func (a *Agent) placementLoop(ls *leaderState) {
	pl := ls.placer
	for {
		v := a.fsm.View()
		wait := pl.round(ls, v)
		ctx, cancel := context.WithTimeout(ls.ctx, wait)
		_ = a.waitApplied(ctx, v.Index())
		cancel()
		if ls.ctx.Err() != nil {
			return
		}
	}
}

// round places what it can from view v and returns how long to wait at
// most before the next round.
func (pl *placer) round(ls *leaderState, v *fsm.View) time.Duration {
	wait := placementInterval
	if v.PendingLen() == 0 {
		return wait
	}
	now := time.Now()
	pl.mu.Lock()
	for pid, m := range pl.busy {
		if !m.retryAt.IsZero() && now.After(m.retryAt) {
			delete(pl.busy, pid)
		}
	}
	pl.refreshLocked(v, now)
	alive := len(pl.nodes)
	pl.mu.Unlock()
	if alive == 0 {
		return wait
	}
	placed := 0
	for _, p := range v.Pending() {
		if placed >= maxPlacePerRound {
			return 0
		}
		if p.NotBefore > now.UnixNano() {
			wait = min(wait, time.Duration(p.NotBefore-now.UnixNano()))
			continue
		}
		pl.mu.Lock()
		if m, busy := pl.busy[p.PID]; busy && m.inc == p.Incarnation {
			pl.mu.Unlock()
			continue
		}
		node := pl.pickLocked(v, &p)
		if node == "" {
			pl.mu.Unlock()
			continue
		}
		pid, inc := p.PID, p.Incarnation
		pl.busy[pid] = placeMark{inc: inc}
		pl.mu.Unlock()
		placed++
		err := pl.a.applyAsync(ls.ctx, &fsm.Place{
			PID: pid, Incarnation: inc, ExpectState: fsm.StatePending, Node: node, Now: now.UnixNano(),
		}, func(res *fsm.Result, err error) { pl.done(pid, inc, res, err) })
		if err != nil {
			pl.mu.Lock()
			delete(pl.busy, pid)
			pl.mu.Unlock()
			return retryBackoff
		}
	}
	return wait
}

// done records a placement's outcome. A placement the table refused stays
// out of the next rounds for a while, so that a process no node can take
// does not spin the loop.
func (pl *placer) done(pid, inc uint64, res *fsm.Result, err error) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	if m, ok := pl.busy[pid]; !ok || m.inc != inc {
		return
	}
	if err == nil && res.Err == nil {
		delete(pl.busy, pid)
		return
	}
	retry := placementInterval
	if err == nil && errors.Is(res.Err, fsm.ErrStale) {
		retry = retryBackoff
	}
	pl.busy[pid] = placeMark{inc: inc, retryAt: time.Now().Add(retry)}
}

// placeNode is a node placement may choose.
type placeNode struct {
	ID     string
	Name   string
	Labels []fsm.Label
	count  int // processes on it: placed, running or stopped, and in flight
	load   int // gossiped busy slots plus run queue
}

// candidates returns the alive nodes of the table whose lease this leader
// holds fresh, with their gossiped load.
func (pl *placer) candidates(v *fsm.View, now time.Time) []placeNode {
	var out []placeNode
	for _, n := range v.Nodes() {
		if n.Status != fsm.NodeAlive || !pl.leases.fresh(n.ID, now, pl.a.cfg.FenceTimeout) {
			continue
		}
		pn := placeNode{ID: n.ID, Name: n.Name, Labels: n.Labels}
		if l, ok := pl.a.gossip.load(n.ID); ok {
			pn.load = l.BusySlots + l.RunQueue
		}
		out = append(out, pn)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// pickNode returns the least-loaded node that may run p: the fewest
// processes in the table, then the least gossiped load; among equals, the
// first from position start on, round the list. It honours the spec's
// required node, label constraints, the node of the process whose pipes p
// inherits and the node of every shared-memory segment p uses. It returns
// nil when no alive node fits.
func pickNode(v *fsm.View, p *fsm.Process, nodes []placeNode, start int) *placeNode {
	need := ""
	if p.Spec.InheritsPipesFrom != 0 {
		if q, ok := v.Get(p.Spec.InheritsPipesFrom); ok && q.Node != "" {
			need = q.Node
		}
	}
	for _, u := range p.Spec.Uses {
		if u.Kind != fsm.KindSHM {
			continue
		}
		if o, ok := v.Object(fsm.KindSHM, u.Name); ok && !o.Lost {
			if need != "" && need != o.Node {
				return nil
			}
			need = o.Node
		}
	}
	var best *placeNode
	for j := range nodes {
		n := &nodes[(start+j)%len(nodes)]
		if need != "" && n.ID != need {
			continue
		}
		if p.Spec.Node != "" && p.Spec.Node != n.ID && p.Spec.Node != n.Name {
			continue
		}
		if !satisfies(n.Labels, p.Spec.Constraints) {
			continue
		}
		if best == nil || n.count < best.count || n.count == best.count && n.load < best.load {
			best = n
		}
	}
	return best
}

func satisfies(labels []fsm.Label, cons []fsm.Constraint) bool {
	for _, c := range cons {
		ok := false
		for _, l := range labels {
			if l.Key == c.Label && l.Value == c.Value {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
