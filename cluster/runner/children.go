package runner

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/ctxutil"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// Unix semantics across nodes: the children and the signals of the
// processes a node runs. The runner is the kernel's node.PIDAllocator,
// node.PIDReleaser and node.SignalRouter.
//
// A child on its parent's node. AllocPID commits
//
//	Spawn{Parent, group flags, Spec{Node: this node, InheritsPipesFrom: Parent}}
//
// (see runner.go) and the kernel runs the child here. The group flags
// (NewSession, NewGroup, JoinGroup) are the spawn's, so that the table's
// process groups are the kernel's.
//
// A child on another node (node.SpawnAttr.Node names it). AllocPID commits
//
//	Spawn{Parent, group flags, Spec{Node: that node, Env, Cwd}}
//
// which the leader places there; that node's runner starts it like any
// process, with the descriptors it inherits (Spec.Files, inherit.go).
// AllocPID answers Elsewhere, and
// the kernel here keeps a remote child record under the parent. Each pass
// of the runner compares the records it tracks (r.remote) with the table
// and tells the kernel (ProcessManager.ReportRemote) when the child
// stopped, continued or ended, so that wait4 in all its forms, zombies and
// SIGCHLD work as for a local child. The table's own SIGCHLD request for a
// child's exit (fsm.SignalRequest.FromChild) is therefore acknowledged
// without a second delivery: the kernel sends SIGCHLD from its view of
// its children, local or remote.
//
// Reaping. When a parent's wait4 reaps a child (the kernel's EventReaped),
// the runner commits Reap{PID}, after the child's Exited report when the
// child ran here. A parent that exits leaves its children to init in the
// table (fsm reparents them) and in the kernel; init reaps them after the
// retention.
//
// Signals. kill(-pgid), kill(0) and kill of a PID that does not run here
// become Signal{ID, Target, Signal, Sender} in the table: it makes the
// signal pending in each live member, wherever it runs, and each member's
// node delivers it once (deliverSignals). The ID is chosen at random and
// kept across retries, so that a retry after an unknown outcome returns
// the first answer and never signals twice (Guarantee 5).

// remoteChild is what the kernel was last told of a child that runs on
// another node.
type remoteChild struct {
	stopped bool      // the kernel was told it stopped, and not since that it continued
	since   time.Time // when AllocPID recorded it
	index   uint64    // the log index of its spawn
}

// AllocPID allocates the PID of a child that a local process spawns, on
// this node or the one req.Node names: it records the child in the table
// (see above). It blocks until the child is in the table, or fails with
// EAGAIN after allocTimeout or at shutdown, EINVAL for a node the table
// does not know.
func (r *Runner) AllocPID(req node.PIDRequest) (node.Allocation, error) {
	if req.Parent <= node.InitPID {
		return node.Allocation{}, fmt.Errorf("%w: the cluster allocates PIDs only for children of its processes", ipc.EINVAL)
	}
	ctx, cancel := context.WithTimeout(r.ctx, allocTimeout)
	defer cancel()
	parent := uint64(req.Parent)
	owner := "root"
	target := r.name
	v := r.table.LocalView()
	if v != nil {
		if p, ok := v.Get(parent); ok {
			owner = p.Owner
		}
	}
	if req.Node != "" {
		n, ok := nodeNamed(v, req.Node)
		if !ok {
			return node.Allocation{}, fmt.Errorf("%w: no node %q in the cluster", ipc.EINVAL, req.Node)
		}
		target = n.ID
	}
	spawn := &fsm.Spawn{
		Parent:     parent,
		Owner:      owner,
		NewSession: req.Setsid,
		NewGroup:   !req.Setsid && req.Pgid == -1,
		Spec: fsm.Spec{
			Command:  req.Command,
			Args:     req.Args,
			Priority: req.Priority,
			Node:     target,
			Promises: req.Promises.String(),
		},
	}
	for _, u := range req.Unveil {
		spawn.Spec.Unveil = append(spawn.Spec.Unveil, fsm.Unveil{Path: u.Path, Perms: u.Perms})
	}
	if !req.Setsid && req.Pgid > 0 {
		spawn.JoinGroup = uint64(req.Pgid)
	}
	elsewhere := target != r.name
	if elsewhere {
		spawn.Spec.Env = childEnv(req.Env)
		spawn.Spec.Cwd = req.Cwd
		spawn.Spec.Files = r.fileRefs(req.Files)
	} else {
		spawn.Spec.InheritsPipesFrom = parent
	}
	res, err := r.sess.submit(ctx, r.out, spawn)
	if err != nil {
		return node.Allocation{}, fmt.Errorf("%w: recording the child in the table: %v", ipc.EAGAIN, err)
	}
	if res.Err != nil {
		return node.Allocation{}, errnoOf(res.Err)
	}
	pid := res.PID
	if elsewhere {
		// The leader places it on its node, now or when it can.
		r.mu.Lock()
		r.remote[pid] = &remoteChild{since: time.Now(), index: res.Index}
		r.mu.Unlock()
		return node.Allocation{PID: int(pid), Elsewhere: true}, nil
	}
	lp := &localProc{pid: pid, inc: res.Incarnation, child: true, index: res.Index}
	r.mu.Lock()
	r.procs[pid] = lp
	r.mu.Unlock()
	if res.State == fsm.StatePlaced {
		// The leader placed it in the spawn entry itself: its spec binds
		// it to this node, so here.
		return node.Allocation{PID: int(pid)}, nil
	}
	placed, err := r.placeChild(ctx, pid, res.Incarnation)
	if err == nil {
		// A view that has not applied the Place still shows the child
		// pending: it cannot judge the child, which the kernel is about
		// to run here (settleLocked).
		r.mu.Lock()
		lp.index = max(lp.index, placed)
		r.mu.Unlock()
	}
	if err != nil {
		r.mu.Lock()
		lp.failed = true
		r.mu.Unlock()
		// The record must not start anywhere else: kill it in the table
		// (a pending or placed process exits at once).
		r.rep.add(&fsm.Signal{Target: int64(pid), Signal: fsm.SIGKILL})
		return node.Allocation{}, err
	}
	return node.Allocation{PID: int(pid)}, nil
}

// ReleasePID implements node.PIDReleaser: the kernel could not use pid, a
// child AllocPID recorded. The child is killed in the table, so that it
// never runs (or stops running, on another node).
func (r *Runner) ReleasePID(pid int) {
	p := uint64(pid)
	r.mu.Lock()
	delete(r.remote, p)
	if lp := r.procs[p]; lp != nil && lp.child && !lp.spawned {
		lp.failed = true
	}
	r.mu.Unlock()
	r.rep.add(&fsm.Signal{Target: int64(pid), Signal: fsm.SIGKILL})
}

// nodeNamed finds the node whose ID or name is name.
func nodeNamed(v *fsm.View, name string) (fsm.Node, bool) {
	if v == nil {
		return fsm.Node{}, false
	}
	for _, n := range v.Nodes() {
		if n.ID == name || n.Name == name {
			return n, true
		}
	}
	return fsm.Node{}, false
}

// childEnv is the environment a child on another node starts with: its
// parent's, without what the runner sets for each node.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, e := range env {
		if strings.HasPrefix(e, "VPROC_NODE=") || strings.HasPrefix(e, "VPROC_INCARNATION=") {
			continue
		}
		out = append(out, e)
	}
	return out
}

// placeChild commits the child's placement on this node and returns an index
// at which the table shows it placed.
func (r *Runner) placeChild(ctx context.Context, pid, inc uint64) (index uint64, err error) {
	place := &fsm.Place{PID: pid, Incarnation: inc, ExpectState: fsm.StatePending, Node: r.name}
	for {
		res, err := r.out.Send(ctx, nil, place)
		if err == nil {
			if res.Err == nil {
				return res.Index, nil
			}
			// The leader's placement loop may have placed it first.
			if err := r.table.WaitApplied(ctx, res.Index-1); err == nil {
				if v := r.table.LocalView(); v != nil {
					if p, ok := v.Get(pid); ok && p.Incarnation == inc && p.Node == r.name && p.State.OnNode() {
						return v.Index(), nil
					}
				}
			}
			return 0, fmt.Errorf("%w: placing the child: %v", ipc.EAGAIN, res.Err)
		}
		if !ctxutil.Sleep(ctx, 50*time.Millisecond) {
			return 0, fmt.Errorf("%w: placing the child: %v", ipc.EAGAIN, err)
		}
	}
}

// errnoOf maps a domain error of a child's spawn, or of a process's
// signal, to the errno of the call.
func errnoOf(err error) error {
	switch {
	case errors.Is(err, fsm.ErrNoSuchProcess):
		return fmt.Errorf("%w: %v", ipc.ESRCH, err)
	case errors.Is(err, fsm.ErrPermission):
		return fmt.Errorf("%w: %v", ipc.EPERM, err)
	case errors.Is(err, fsm.ErrInvalid):
		return fmt.Errorf("%w: %v", ipc.EINVAL, err)
	}
	return fmt.Errorf("%w: %v", ipc.EAGAIN, err)
}

// Signal implements node.SignalRouter: it commits the signal of a local
// process to target (a PID or -pgid) in the table, under one request id
// however often it must be sent, and returns once it is committed.
func (r *Runner) Signal(sender, target int, sig ipc.Signal) error {
	id := rand.Uint64() >> 1 // the high bit is the state machine's
	if id == 0 {
		id = 1
	}
	cmd := &fsm.Signal{ID: id, Target: int64(target), Signal: int(sig), Sender: uint64(sender), Unstarted: true}
	ctx, cancel := context.WithTimeout(r.ctx, allocTimeout)
	defer cancel()
	for {
		res, err := r.out.Send(ctx, nil, cmd)
		if err == nil {
			if res.Err != nil {
				return errnoOf(res.Err)
			}
			return nil
		}
		if !ctxutil.Sleep(ctx, 50*time.Millisecond) {
			return fmt.Errorf("%w: recording the signal: %v", ipc.EAGAIN, err)
		}
	}
}

// reaped handles the kernel's EventReaped: a local parent reaped pid. The
// table reaps it too, after the child's exit report when the child ran
// here and its exit is not reported yet.
func (r *Runner) reaped(pid uint64) {
	r.mu.Lock()
	if lp := r.procs[pid]; lp != nil && !lp.exited && !lp.failed {
		lp.reapOnExit = true
		r.mu.Unlock()
		return
	}
	delete(r.remote, pid)
	r.mu.Unlock()
	r.rep.add(&fsm.Reap{PID: pid})
}

// syncRemote tells the kernel what the table shows of the children that
// local processes run on other nodes.
func (r *Runner) syncRemote(v *fsm.View, now time.Time) {
	type todo struct {
		pid uint64
		e   node.Event
	}
	var work []todo
	r.mu.Lock()
	for pid, rc := range r.remote {
		p, ok := v.Get(pid)
		e := node.Event{PID: int(pid)}
		switch {
		case !ok && v.Index() < rc.index:
			continue // this replica has yet to apply its spawn
		case !ok:
			e.Kind, e.Status, e.Reason = node.EventExited, node.SignaledStatus(ipc.SIGKILL, false), "reaped"
		case !p.State.Live():
			e.Kind, e.Status, e.Reason = node.EventExited, kernelStatus(p.Status), p.Status.Reason
			if p.State == fsm.StateLost {
				// Its node is gone: end the streams of what it inherited.
				r.kernel.RevokeExports(int(pid))
			}
		case p.State == fsm.StateStopped && !rc.stopped:
			e.Kind = node.EventStopped
		case p.State == fsm.StateRunning && rc.stopped:
			e.Kind = node.EventContinued
		default:
			continue
		}
		work = append(work, todo{pid, e})
	}
	r.mu.Unlock()
	for _, w := range work {
		err := r.kernel.ReportRemote(w.e)
		r.mu.Lock()
		rc := r.remote[w.pid]
		switch {
		case rc == nil:
		case err == nil && w.e.Kind == node.EventExited:
			delete(r.remote, w.pid)
		case err == nil:
			rc.stopped = w.e.Kind == node.EventStopped
		case errors.Is(err, ipc.ESRCH) && now.Sub(rc.since) >= r.childGrace:
			// The kernel never linked the record (its spawn failed and
			// released the PID), or reaped it already.
			delete(r.remote, w.pid)
		} // otherwise not linked yet: the next pass tries again
		r.mu.Unlock()
	}
}

// kernelStatus is the wait status of a table status; a lost process died
// of SIGKILL.
func kernelStatus(st fsm.Status) node.WaitStatus {
	switch {
	case st.Exited:
		return node.ExitedStatus(st.Code)
	case st.Signal != 0:
		return node.SignaledStatus(ipc.Signal(st.Signal), st.Core)
	}
	return node.SignaledStatus(ipc.SIGKILL, false)
}
