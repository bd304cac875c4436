package node

import (
	"fmt"
	"time"

	"github.com/vproc/vproc/ipc"
)

// Children on other nodes.
//
// In a cluster a process may spawn a child that runs on another node
// (SpawnAttr.Node). The allocator answers Allocation.Elsewhere, and the
// kernel keeps a remote child record: a Process with the child's PID,
// group and session, linked under its parent like any child, with no
// program and no goroutine. The record counts against the parent's nproc
// limit but not against the node's processes (Count) and is not in Shutdown's
// reckoning. Whoever runs the child (the cluster's runner, following the
// replicated table) reports its stops, continues and exit with
// ReportRemote; from there Wait4 (a PID, any child, a group, WNOHANG,
// WUNTRACED, WCONTINUED, WNOWAIT), zombies, SIGCHLD (SA_NOCLDSTOP
// included) and reparenting to init work exactly as for a local child.
// A Wait4 that reaps a child, local or remote, is reported as EventReaped,
// so that the cluster can reap it in its table too.
//
// The kernel does not signal a remote child record: kill goes through
// Config.Signals to where the child runs.

// addRemoteChild links the record p of a child of parent that runs on
// another node under PID pid, allocated for it.
func (k *ProcessManager) addRemoteChild(parent, p *Process, a SpawnAttr, pid int) (*Process, error) {
	p.remote = true
	p.prog = nil
	p.StartedAt = time.Now()
	k.mu.Lock()
	var err error
	switch _, used := k.procs[pid]; {
	case k.closing:
		err = ErrShutdown
	case parent != k.init && uint64(parent.nchildren) >= parent.Limits.Get(RNProc).Soft:
		err = fmt.Errorf("%w: child process limit (nproc) reached", ipc.EAGAIN)
	case used:
		err = fmt.Errorf("%w: PID %d is in use", ipc.EEXIST, pid)
	}
	if err != nil {
		k.mu.Unlock()
		k.exports.dropPID(pid, true)
		k.releasePID(pid)
		return nil, err
	}
	if pid >= k.nextPID {
		k.nextPID = pid + 1
	}
	p.PID = pid
	p.Pgid, p.Sid = parent.Pgid, parent.Sid
	switch {
	case a.Setsid:
		p.Pgid, p.Sid = pid, pid
	case a.Pgid == -1:
		p.Pgid = pid
	case a.Pgid > 0:
		p.Pgid = a.Pgid // the allocator checked the group, cluster-wide
	}
	p.stateCode.Store(uint32(codeWaiting)) // its first state: it runs elsewhere
	p.parent = parent
	p.ParentPID = parent.PID
	parent.children.push(p)
	parent.nchildren++
	k.procs[pid] = p
	k.mu.Unlock()
	return p, nil
}

// ReportRemote tells the kernel what happened to the remote child record
// e.PID: EventStopped (Status: the stop report, as WUNTRACED returns it),
// EventContinued, or EventExited (Status and Reason: how it ended). The
// record's parent is told as for a local child: SIGCHLD, unless it asked
// for SA_NOCLDSTOP for a stop or continue, and a wake-up of Wait4. A
// report that changes nothing (a stop while stopped, anything after the
// exit) is ignored. ESRCH when e.PID is not a remote child record here
// (it was never one, or has been reaped); EINVAL for another kind.
func (k *ProcessManager) ReportRemote(e Event) error {
	k.mu.Lock()
	p, ok := k.procs[e.PID]
	if !ok || !p.remote {
		k.mu.Unlock()
		return fmt.Errorf("%w: %d is not a remote child here", ErrNoProcess, e.PID)
	}
	st := p.state()
	switch e.Kind {
	case EventStopped:
		if st != StateWaiting {
			k.mu.Unlock()
			return nil
		}
		p.setState(codeStopped)
		k.mu.Unlock()
		sig := ipc.SIGSTOP
		if e.Status.Stopped() {
			sig = e.Status.StopSignal()
		}
		k.childEvent(p, evStopped, sig)
	case EventContinued:
		if st != StateStopped {
			k.mu.Unlock()
			return nil
		}
		p.setState(codeWaiting)
		k.mu.Unlock()
		k.childEvent(p, evContinued, ipc.SIGCONT)
	case EventExited:
		if st == StateZombie {
			k.mu.Unlock()
			return nil
		}
		p.mu.Lock()
		p.Status, p.Reason = e.Status, e.Reason
		p.mu.Unlock()
		parent, autoReaped := k.zombieLocked(p)
		k.mu.Unlock()
		k.exports.dropPID(p.PID, false) // what its node never claimed
		if parent != k.init {
			k.notifyParent(parent, p)
		}
		if autoReaped {
			k.emit(Event{PID: p.PID, Kind: EventReaped})
		}
	default:
		k.mu.Unlock()
		return fmt.Errorf("%w: event %v for a remote child", ipc.EINVAL, e.Kind)
	}
	return nil
}

// Orphaned tells the kernel that the parent of pid, which runs on another
// node (Spec.ParentPID), has exited: from now on getppid reports init. ESRCH
// when pid is not here.
func (k *ProcessManager) Orphaned(pid int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	p, ok := k.procs[pid]
	if !ok || pid == InitPID {
		return fmt.Errorf("%w: %d", ErrNoProcess, pid)
	}
	if p.parent == k.init {
		p.ParentPID = InitPID
	}
	return nil
}

// routed says whether kill(pid) from sender goes through Config.Signals,
// and to which target: a group (pid 0 is the sender's) or a PID that is
// not a local process. kill(-1) stays local.
func (k *ProcessManager) routed(sender *Process, pid int) (target int, ok bool) {
	if k.cfg.Signals == nil || pid == -1 {
		return 0, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case pid == 0:
		return -sender.Pgid, true
	case pid < 0:
		return pid, true
	case pid == InitPID:
		return 0, false // init ignores every signal: ESRCH, as locally
	}
	q, here := k.procs[pid]
	return pid, !here || q.remote
}

// routeKill sends sig from sender to target through Config.Signals, with
// sender's slot given up while it waits. Signal 0 only checks.
func (k *ProcessManager) routeKill(sender *Process, target int, sig ipc.Signal) error {
	var err error
	if e := sender.blockingCall(func() { err = k.cfg.Signals.Signal(sender.PID, target, sig) }); e != nil {
		return e
	}
	return err
}
