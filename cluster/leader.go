package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/ctxutil"
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
	// sched places processes: the placement loop's plans and the spawns
	// this leader receives. Set at creation.
	placer *placer
	// leases records the node leases this leader renewed (lease.go), and
	// fence is the fence timeout, after which a lease it did not renew may
	// have ended.
	leases *leaseTable
	fence  time.Duration
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
		leases: newLeaseTable(time.Now()), fence: a.cfg.FenceTimeout}
	ls.placer = newPlacer(a, ls)
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
		f := a.raft.Barrier(0)
		a.replica.Unblock(f)
		err := f.Error()
		if err == nil {
			break
		}
		a.logger.Warn("leader barrier failed", "error", err)
		if !ctxutil.Sleep(ls.ctx, retryBackoff) {
			return
		}
	}
	for {
		_, err := a.submit(ls.ctx, nil, &fsm.Tick{Now: time.Now().UnixNano()})
		if err == nil {
			break
		}
		if !ctxutil.Sleep(ls.ctx, retryBackoff) {
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
		err := a.replica.ApplyAsync(ls.ctx, &fsm.Reap{PID: pid}, func(res *fsm.Result, err error) { wg.Done() })
		if err != nil {
			wg.Done()
			break
		}
	}
	wg.Wait()
	a.logger.Debug("reaped init's zombies", "count", len(pids))
}
