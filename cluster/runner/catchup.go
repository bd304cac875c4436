package runner

import (
	"context"
	"time"

	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/ctxutil"
)

// Catching up at start. When the agent starts, its kernel runs nothing:
// every incarnation that ran here died with the agent's previous run. Its
// own replica of the table may be behind, though (after a whole-cluster
// crash, every replica is), and a record it still shows as placed may
// have started before the crash; starting it from that stale view would
// run it twice. So before it starts anything the runner reaches the
// leader's commit index C (a linearizable read, Syncer), and reports lost
// every incarnation that the table at C assigns to this node, placed,
// running or stopped, whose placement the agent's previous run could have
// applied: placed at or below the log's last index when the agent started
// (Config.GCAfter; raft applies only entries it has stored). The restart
// policy alone decides what runs again, as a new incarnation; placements
// after that index, such as those made while the agent waited for a
// leader, start normally.

// Syncer is the optional ability of a Sender to give a view of the table
// at least as recent as the leader's commit index when it is called
// (httpapi.Client.SyncedView). A runner whose Sender lacks it starts from
// its local view.
type Syncer interface {
	SyncedView(ctx context.Context) (*fsm.View, error)
}

// catchUpAttempt bounds one try to reach the leader's commit index, and
// catchUpRetry is the pause between tries while there is no leader.
const (
	catchUpAttempt = 5 * time.Second
	catchUpRetry   = 100 * time.Millisecond
)

// lostAtStartReason is the reason of the Lost reports of catchUp.
const lostAtStartReason = "its node restarted (the agent stopped with it)"

// catchUp runs once, in the loop goroutine, before the first pass. It
// returns false when the runner stops first.
func (r *Runner) catchUp() bool {
	s, ok := r.out.(Syncer)
	if !ok {
		return true
	}
	for {
		ctx, cancel := context.WithTimeout(r.ctx, catchUpAttempt)
		v, err := s.SyncedView(ctx)
		cancel()
		if err == nil {
			r.loseAssigned(v)
			return true
		}
		if r.ctx.Err() != nil {
			return false
		}
		r.log.Debug("reaching the leader's commit index before starting anything", "error", err)
		if !ctxutil.Sleep(r.ctx, catchUpRetry) {
			return false
		}
	}
}

// loseAssigned reports lost every incarnation v assigns to this node that
// the kernel does not run, and keeps a record of each so that no pass
// starts it.
func (r *Runner) loseAssigned(v *fsm.View) {
	var lost []*fsm.Lost
	r.mu.Lock()
	v.Walk(fsm.Filter{Node: r.name, OnNodeOnly: true}, func(p *fsm.Process) bool {
		if r.procs[p.PID] != nil || !p.State.OnNode() || p.PlaceIndex > r.gcAfter {
			return true
		}
		r.procs[p.PID] = &localProc{pid: p.PID, inc: p.Incarnation, child: p.Spec.InheritsPipesFrom != 0, failed: true, index: v.Index()}
		lost = append(lost, &fsm.Lost{PID: p.PID, Incarnation: p.Incarnation, Node: r.name, Reason: lostAtStartReason})
		return true
	})
	r.mu.Unlock()
	for _, c := range lost {
		r.rep.add(c)
	}
	if len(lost) > 0 {
		r.log.Info("reported lost the processes assigned here before the agent started", "count", len(lost), "index", v.Index())
	}
}
