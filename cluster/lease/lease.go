package lease

import (
	"context"
	"net/http"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/node"
)

// Node leases and fencing (docs/guarantees.md, Guarantee 3).
//
// Node side (Keeper.Run, on every node, the leader included): every
// RenewInterval the node asks the leader to renew its lease, noting when it
// sent the request on its monotonic clock. An answer extends the local
// kernel's lease to FenceTimeout after that moment. The kernel checks the
// lease at every system call: once it has ended, processes complete no
// system call until a renewal comes. A node's kernel starts frozen and is
// first thawed by its first renewal.
//
// A renewal that comes after the lease ended does not simply thaw the
// kernel: the answer carries the leader's last log index; the node waits
// until its own table has applied it, kills every local incarnation that
// table no longer assigns to it, and only then lets the others run again.
//
// Leader side (package leader: leaseTable, leaseLoop): the leader records when it answered
// each node. It declares a node lost (fsm.NodeLost: its processes go
// through their restart policies, its IPC objects are marked lost) once
// LostTimeout has passed since the later of that answer and the start of
// its own term, and only while the table still has something on the node.
// Placement skips nodes whose lease the leader has not renewed within
// FenceTimeout (leaseTable.fresh).
//
// Why this is safe: the node's lease ends FenceTimeout after it sent its
// last answered renewal, which is before the leader answered it; the
// leader waits LostTimeout ≥ FenceTimeout·(1+ρ) + ElectionTimeout from the
// answer, or from its term's start if a former leader answered. A former
// leader answers renewals only while raft still calls it leader, which
// ends LeaderLeaseTimeout after it lost its quorum, before a new term can
// start. So every process on a lost node is frozen before its PID is
// requeued, and a returning node kills it before it can run again.

// RenewInterval is how often a node renews its lease: an eighth of the
// fence timeout, so that several renewals can fail before it ends.
func RenewInterval(fence time.Duration) time.Duration { return fence / 8 }

// Run renews this node's lease until ctx (New's) ends.
func (s *Keeper) Run() {
	every := RenewInterval(s.fence)
	t := time.NewTimer(0)
	defer t.Stop()
	var lastSent time.Time // of the last renewal answered
	warned := false
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		sent := time.Now()
		ctx, cancel := context.WithTimeout(s.ctx, every)
		index, err := s.renewLease(ctx)
		cancel()
		if err != nil {
			s.failures.Add(1)
			if !warned && !lastSent.IsZero() && time.Since(lastSent) >= s.fence {
				warned = true
				s.freezes.Add(1)
				s.log.Warn("lease ended: local processes are frozen until the leader renews it", "error", err)
			}
			t.Reset(every / 4)
			continue
		}
		s.renewals.Add(1)
		if s.grantLease(sent, index) {
			lastSent = sent
			if warned {
				warned = false
				s.log.Info("lease renewed")
			}
		}
		t.Reset(max(every-time.Since(sent), 0))
	}
}

// renewLease asks the leader to renew this node's lease: directly on the
// leader, POST /v1/internal/lease from a follower.
func (s *Keeper) renewLease(ctx context.Context) (uint64, error) {
	if s.core.IsLeader() {
		return s.core.RenewLease(ctx, s.name)
	}
	h := http.Header{}
	h.Set(api.HeaderNode, s.name)
	var out api.LeaseGrant
	if err := s.client.CallLeader(ctx, "/v1/internal/lease", h, nil, &out); err != nil {
		return 0, err
	}
	return out.Index, nil
}

// grantLease applies a renewal sent at sent and answered with the leader's
// index. It reports whether the kernel holds the new lease.
func (s *Keeper) grantLease(sent time.Time, index uint64) bool {
	end := sent.Add(s.fence)
	if !Fencing || time.Until(end) <= 0 {
		return Fencing
	}
	if s.kernel.RenewLease(time.Until(end)) {
		return true
	}
	// The lease had ended and processes may be frozen. Before any of them
	// runs again, catch up with the leader's table and kill what it no
	// longer assigns here.
	ctx, cancel := context.WithDeadline(s.ctx, end)
	defer cancel()
	for v := s.core.LocalView(); v.Index() < index; v = s.core.LocalView() {
		if err := s.core.WaitApplied(ctx, v.Index()); err != nil {
			return false
		}
	}
	s.runner.KillUnassigned()
	s.settleNames(ctx, s.core.LocalView())
	if d := time.Until(end); d > 0 {
		s.kernel.ResumeLease(d)
		return true
	}
	return false
}

// settleNames brings this node's IPC objects in line with the registry
// when its lease is granted again, which includes the first grant after a
// start. An object the registry no longer gives this node (unlinked or
// declared lost while the node was cut off or paused) is dropped, as the
// processes the table moved away are killed. A name the registry gives
// this node whose object its kernel does not have died with the agent's
// previous process (a FIFO's readers, a queue's messages): it is reported
// lost, never silently recreated empty.
func (s *Keeper) settleNames(ctx context.Context, v *fsm.View) {
	for _, h := range s.kernel.HeldNames() {
		if o, ok := v.Object(fsm.Kind(h.Kind), h.Name); ok && o.Node == s.name && !o.Lost {
			continue
		}
		s.kernel.DropName(h.Kind, h.Name)
		s.log.Info("dropped an IPC object the registry no longer gives this node", "kind", h.Kind, "name", h.Name)
	}
	for _, kind := range []fsm.Kind{fsm.KindFIFO, fsm.KindMQ, fsm.KindSHM} {
		for _, o := range v.Objects(kind) {
			if o.Node != s.name || o.Lost || s.kernel.HoldsName(node.NameKind(kind), o.Name) {
				continue
			}
			res, err := s.runner.Submit(ctx, &fsm.RegistryLost{Kind: kind, Name: o.Name, Node: s.name})
			switch {
			case err != nil:
				s.log.Warn("reporting a lost name", "kind", kind, "name", o.Name, "error", err)
			case res.Err != nil:
				s.log.Debug("reporting a lost name refused", "kind", kind, "name", o.Name, "error", res.Err)
			default:
				s.log.Info("name lost with the previous agent", "kind", kind, "name", o.Name)
			}
		}
	}
}
