package leader

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/ctxutil"
)

// Leader loops. While this node leads, a Term runs its loops, each a
// goroutine tracked by the state's WaitGroup that exits when leadership is
// lost (ls.ctx is cancelled) or the agent stops:
//
//	establish ── Barrier (first of the term) ── Tick ── ready ──┬── placement
//	                                                            ├── reaper (init's retention)
//	                                                            ├── ticker (session expiry)
//	                                                            ├── the loops New is given (membership's reconcile)
//	                                                            └── lease checks (lease.go)

// Term lives for one term of leadership.
type Term struct {
	ctx    context.Context
	cancel context.CancelFunc
	// ready is closed once the term's first barrier and tick have applied:
	// from then on linearizable reads may run.
	ready chan struct{}
	wg    sync.WaitGroup

	// sched places processes: the placement loop's plans and the spawns
	// this leader receives. Set at creation.
	placer *placer
	// leases records the node leases this leader renewed (lease.go), and
	// fence is the fence timeout, after which a lease it did not renew may
	// have ended.
	leases *leaseTable
	fence  time.Duration
}

func (ls *Term) run(fn func(ls *Term)) {
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

// Replica is what the leader's loops need from the node's replica of the
// table (package replica implements it).
type Replica interface {
	// Submit commits cmd through group commit and returns its result.
	Submit(ctx context.Context, sess *commit.SessionRef, cmd fsm.Command) (*fsm.Result, error)
	// ApplyAsync commits cmd without waiting; done must not block.
	ApplyAsync(ctx context.Context, cmd fsm.Command, done func(*fsm.Result, error)) error
	// LocalView returns this node's view of the table.
	LocalView() *fsm.View
	// WaitApplied returns once the table has applied an index above index.
	WaitApplied(ctx context.Context, index uint64) error
	// VerifyLeader confirms leadership with a quorum.
	VerifyLeader(ctx context.Context) error
	// Barrier waits until every entry before it is applied.
	Barrier() error
	// ExitsReported returns how many exits of node's processes have been
	// reported and not yet committed.
	ExitsReported(node string) int
	// LastIndex returns the index of raft's last log entry.
	LastIndex() uint64
	// IsLeader reports whether raft calls this node the leader.
	IsLeader() bool
}

// Loads is what placement needs from gossip: the latest load known of a
// node (package membership implements it).
type Loads interface {
	Load(node string) (api.Load, bool)
}

// Leader runs the leader's loops for each term of this node's leadership.
// Create it with New and run Watch on a goroutine.
type Leader struct {
	// Set by New and never changed.
	cfg    Config
	r      Replica
	loads  Loads
	logger *slog.Logger
	ctx    context.Context // ends when the agent stops, and every term with it
	loops  []func(ctx context.Context)

	// leading is the current term while this node leads.
	leading atomic.Pointer[Term]
	// retention is the reaper's Retention in nanoseconds: cfg.Retention
	// until SetRetention changes it.
	retention atomic.Int64
	// obs hears of leadership and placement rounds (SetObserver).
	obs atomic.Pointer[Observer]
}

// Observer hears of the leader's work, for the agent's metrics. Its
// methods must not block.
type Observer interface {
	// Leadership: this node gained (true) or lost raft leadership.
	Leadership(leader bool)
	// PlacementRound: a round planned, took d and committed placed
	// placements and preempted preemptions, leaving pending processes by
	// cause (sched's causes, and "backoff").
	PlacementRound(d time.Duration, placed, preempted int, pending map[string]int)
	// SetPending: a round found nothing to plan; pending is by cause, as
	// above, and empty when nothing is pending.
	SetPending(pending map[string]int)
}

// SetObserver sets the observer of leadership and placement rounds.
func (l *Leader) SetObserver(o Observer) { l.obs.Store(&o) }

// observer returns the observer, or one that ignores everything.
func (l *Leader) observer() Observer {
	if o := l.obs.Load(); o != nil {
		return *o
	}
	return noObserver{}
}

type noObserver struct{}

func (noObserver) Leadership(bool)                                        {}
func (noObserver) PlacementRound(time.Duration, int, int, map[string]int) {}
func (noObserver) SetPending(map[string]int)                              {}

// New validates cfg and returns the leader's side of a node. Besides its
// own loops, each term runs every function of loops on a goroutine, with
// a context that ends with the term. ctx ends them all when the agent
// stops.
func New(ctx context.Context, cfg Config, r Replica, loads Loads, logger *slog.Logger, loops ...func(ctx context.Context)) (*Leader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &Leader{cfg: cfg, r: r, loads: loads, logger: logger, ctx: ctx, loops: loops}
	l.retention.Store(int64(cfg.Retention))
	return l, nil
}

// SetRetention changes how long init's zombies stay before the reaper
// reaps them, from its next round on. d must be positive.
func (l *Leader) SetRetention(d time.Duration) { l.retention.Store(int64(d)) }

// Retention is the retention in effect.
func (l *Leader) Retention() time.Duration { return time.Duration(l.retention.Load()) }

// Term returns the current term's ready channel (closed once its first
// barrier and tick have applied) and done channel (closed when it ends),
// ok false while this node runs no term. It implements replica.Leadership.
func (l *Leader) Term() (ready, done <-chan struct{}, ok bool) {
	ls := l.leading.Load()
	if ls == nil {
		return nil, nil, false
	}
	return ls.ready, ls.ctx.Done(), true
}

// Leading reports whether a term runs on this node.
func (l *Leader) Leading() bool { return l.leading.Load() != nil }

// Watch starts the leader loops when this node gains leadership and stops
// them when it loses it, following leaderCh (raft's LeaderCh). Raft's
// LeaderCh keeps only the latest transition, so a true after a true means
// leadership was lost and gained again: the loops restart for the new
// term. It returns once the agent stops (New's ctx) and the loops have
// ended.
func (l *Leader) Watch(leaderCh <-chan bool) {
	var ls *Term
	stop := func() {
		if ls == nil {
			return
		}
		l.leading.Store(nil)
		ls.cancel()
		ls.wg.Wait()
		ls = nil
		l.logger.Info("leadership lost")
		l.observer().Leadership(false)
	}
	for {
		select {
		case <-l.ctx.Done():
			stop()
			return
		case leader := <-leaderCh:
			stop()
			if leader {
				ls = l.lead()
			}
		}
	}
}

// lead starts a term of leadership.
func (l *Leader) lead() *Term {
	ctx, cancel := context.WithCancel(l.ctx) // the agent stopping ends the term too
	ls := &Term{ctx: ctx, cancel: cancel, ready: make(chan struct{}),
		leases: newLeaseTable(time.Now()), fence: l.cfg.FenceTimeout}
	ls.placer = newPlacer(l, ls)
	l.leading.Store(ls)
	l.logger.Info("leadership gained")
	l.observer().Leadership(true)
	ls.run(l.establish)
	return ls
}

// establish makes the new leader ready: the first barrier of its term, then
// a Tick, then the loops.
func (l *Leader) establish(ls *Term) {
	start := time.Now()
	for {
		err := l.r.Barrier()
		if err == nil {
			break
		}
		l.logger.Warn("leader barrier failed", "error", err)
		if !ctxutil.Sleep(ls.ctx, retryBackoff) {
			return
		}
	}
	for {
		_, err := l.r.Submit(ls.ctx, nil, &fsm.Tick{Now: time.Now().UnixNano()})
		if err == nil {
			break
		}
		if !ctxutil.Sleep(ls.ctx, retryBackoff) {
			return
		}
	}
	close(ls.ready)
	l.logger.Info("leader ready", "took", time.Since(start).Round(time.Millisecond))
	ls.run(l.placementLoop)
	ls.run(l.reapLoop)
	ls.run(l.tickLoop)
	for _, loop := range l.loops {
		ls.run(func(ls *Term) { loop(ls.ctx) })
	}
	ls.run(l.leaseLoop)
}

// tickLoop commits a Tick every second unless some other command already
// moved the table's clock within that second, so that sessions expire on
// time even when the cluster is idle.
func (l *Leader) tickLoop(ls *Term) {
	t := time.NewTicker(tickInterval)
	defer t.Stop()
	for {
		select {
		case <-ls.ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		if now-l.r.LocalView().Clock() < int64(tickInterval) {
			continue
		}
		if _, err := l.r.Submit(ls.ctx, nil, &fsm.Tick{Now: now}); err != nil && ls.ctx.Err() == nil {
			l.logger.Debug("tick failed", "error", err)
		}
	}
}

// reapLoop reaps init's zombies once they are older than Retention.
func (l *Leader) reapLoop(ls *Term) {
	every := min(max(l.Retention()/10, 100*time.Millisecond), 10*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ls.ctx.Done():
			return
		case <-t.C:
		}
		l.reapOnce(ls)
	}
}

func (l *Leader) reapOnce(ls *Term) {
	cutoff := time.Now().Add(-l.Retention()).UnixNano()
	var pids []uint64
	l.r.LocalView().Walk(fsm.Filter{Parent: fsm.InitPID}, func(p *fsm.Process) bool {
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
		err := l.r.ApplyAsync(ls.ctx, &fsm.Reap{PID: pid}, func(res *fsm.Result, err error) { wg.Done() })
		if err != nil {
			wg.Done()
			break
		}
	}
	wg.Wait()
	l.logger.Debug("reaped init's zombies", "count", len(pids))
}
