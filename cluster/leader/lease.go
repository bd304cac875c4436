package leader

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
)

// The leader's side of node leases (Guarantee 3; package lease states the
// protocol and its safety argument): leaseTable records when this
// leader answered each node's renewal, placement skips nodes whose lease it
// has not renewed within FenceTimeout, and leaseLoop declares lost the nodes
// whose leases expired LostTimeout ago.

// leaseCheckInterval is how often the leader looks for expired leases.
func (c *Config) leaseCheckInterval() time.Duration {
	return min(100*time.Millisecond, c.LostTimeout/10)
}

// leaseTable is the leader's record of the leases it renewed in its term.
type leaseTable struct {
	start time.Time // immutable: when the term began

	mu      sync.Mutex
	renewed map[string]time.Time // guarded by mu: the last renewal answered, by node
}

func newLeaseTable(start time.Time) *leaseTable {
	return &leaseTable{start: start, renewed: make(map[string]time.Time)}
}

// renew records a renewal answered for node at now.
func (t *leaseTable) renew(node string, now time.Time) {
	t.mu.Lock()
	t.renewed[node] = now
	t.mu.Unlock()
}

// since returns the later of node's last answered renewal and the term's
// start: the moment its lease is counted from.
func (t *leaseTable) since(node string) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, ok := t.renewed[node]; ok && r.After(t.start) {
		return r
	}
	return t.start
}

// fresh reports whether node's lease may still hold at now as far as this
// leader knows: it renewed within fence, or the term is younger than fence.
func (t *leaseTable) fresh(node string, now time.Time, fence time.Duration) bool {
	return now.Sub(t.since(node)) < fence
}

// LeaseHeld reports, on the leader, whether node's lease holds at now as
// far as this term knows (it renewed within the fence timeout, or the term
// is younger than that); leading is false when no term runs here, and then
// held means nothing.
func (l *Leader) LeaseHeld(node string, now time.Time) (held, leading bool) {
	ls := l.leading.Load()
	if ls == nil {
		return false, false
	}
	return ls.leases.fresh(node, now, ls.fence), true
}

// RenewLease answers a node's lease renewal on the leader and returns its
// last log index (Guarantee 3). It answers only once a quorum
// has confirmed its leadership (VerifyLeader, batched with the reads'):
// raft's own state is not enough, since a leader that was paused, or cut
// off, still believes it leads until it hears otherwise, and renewing its
// own node's lease then would let processes run that a newer leader has
// already moved elsewhere.
func (l *Leader) RenewLease(ctx context.Context, node string) (uint64, error) {
	ls := l.leading.Load()
	if ls == nil || !l.r.IsLeader() {
		return 0, commit.ErrNotLeader
	}
	if err := l.r.VerifyLeader(ctx); err != nil {
		return 0, err
	}
	if l.leading.Load() != ls {
		return 0, commit.ErrNotLeader
	}
	ls.leases.renew(node, time.Now())
	return l.r.LastIndex(), nil
}

// leaseLoop declares lost the nodes whose leases expired.
func (l *Leader) leaseLoop(ls *Term) {
	t := time.NewTicker(l.cfg.leaseCheckInterval())
	defer t.Stop()
	for {
		select {
		case <-ls.ctx.Done():
			return
		case <-t.C:
		}
		l.declareLost(ls, time.Now())
	}
}

// declareLost commits NodeLost for each node whose lease expired LostTimeout
// ago and on which the table still has processes or IPC objects.
func (l *Leader) declareLost(ls *Term, now time.Time) {
	v := l.r.LocalView()
	for _, n := range v.Nodes() {
		since := ls.leases.since(n.ID)
		if now.Sub(since) < l.cfg.LostTimeout || !holdsAnything(v, n.ID) {
			continue
		}
		res, err := l.r.Submit(ls.ctx, nil, &fsm.NodeLost{
			Node:   n.ID,
			Reason: fmt.Sprintf("its lease expired (no renewal for %v)", now.Sub(since).Round(time.Millisecond)),
			Now:    now.UnixNano(),
		})
		switch {
		case err != nil:
			l.logger.Debug("declaring a node lost failed", "member", n.ID, "error", err)
		case res.Err != nil:
			l.logger.Warn("declaring a node lost refused", "member", n.ID, "error", res.Err)
		default:
			l.logger.Warn("node lost: lease expired", "member", n.ID, "processes", len(res.Targets), "index", res.Index,
				"last_renewal_ago", now.Sub(since).Round(time.Millisecond))
		}
	}
}

// holdsAnything reports whether the table has a process on node (placed,
// running or stopped) or an IPC object it owns that is not yet lost.
func holdsAnything(v *fsm.View, node string) bool {
	found := false
	v.Walk(fsm.Filter{Node: node, OnNodeOnly: true}, func(*fsm.Process) bool {
		found = true
		return false
	})
	if found {
		return true
	}
	for _, k := range []fsm.Kind{fsm.KindFIFO, fsm.KindMQ, fsm.KindSHM} {
		for _, o := range v.Objects(k) {
			if o.Node == node && !o.Lost {
				return true
			}
		}
	}
	return false
}
