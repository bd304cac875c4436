package fsm

import (
	"math"

	"github.com/vproc/vproc/ipc"
)

// sigIDReserved marks the signal request ids that the state machine picks
// itself (SIGCHLD, preemption, a Signal without an ID). Client ids must not
// have it.
const sigIDReserved uint64 = 1 << 63

func (a *applier) nextSigID() uint64 {
	id := sigIDReserved | a.s.nextSigID
	a.s.nextSigID++
	return id
}

func (a *applier) addSignal(r *SignalRequest) {
	r.CreatedAt = a.s.clock
	r.Index = a.index
	a.s.putSignal(r)
}

// dropSignals removes every request pending in pid: its incarnation ended.
func (a *applier) dropSignals(pid uint64) {
	var rs []*SignalRequest
	a.s.eachSignal(pid, func(r *SignalRequest) bool {
		rs = append(rs, r)
		return true
	})
	for _, r := range rs {
		a.s.deleteSignal(r)
	}
}

// sigchld makes SIGCHLD pending in a live parent other than init. Standard
// signals merge while pending (signal(7)), so one pending SIGCHLD per
// parent incarnation is enough.
func (a *applier) sigchld(parent, child uint64) {
	if parent == 0 || parent == InitPID {
		return
	}
	pp := a.s.proc(parent)
	if pp == nil || !pp.State.Live() {
		return
	}
	merged := false
	a.s.eachSignal(parent, func(r *SignalRequest) bool {
		merged = r.Signal == SIGCHLD && r.Incarnation == pp.Incarnation
		return !merged
	})
	if merged {
		return
	}
	a.addSignal(&SignalRequest{ID: a.nextSigID(), PID: parent, Incarnation: pp.Incarnation, Signal: SIGCHLD, Sender: child})
}

// FromChild reports whether the state machine made r itself to tell a
// parent that a child of its ended (the SIGCHLD of an exit). A node whose
// kernel keeps the parent's view of its children (local ones, and records
// of those on other nodes) generates that SIGCHLD itself.
func (r *SignalRequest) FromChild() bool {
	return r.ID&sigIDReserved != 0 && r.Signal == SIGCHLD && r.Sender != 0
}

func (a *applier) signal(c *Signal) *Result {
	a.advance(c.Now)
	a.sweepOutcomes()
	if c.ID != 0 {
		if c.ID&sigIDReserved != 0 {
			return failf(ErrInvalid, "signal request id %d is reserved", c.ID)
		}
		if it, ok := a.s.outcomes.Get(outcomeItem{id: c.ID}); ok {
			return it.r
		}
	}
	r := a.send(c)
	if c.ID != 0 {
		a.s.outcomes.ReplaceOrInsert(outcomeItem{id: c.ID, at: a.s.clock, r: r})
		a.s.outcomeTimes.ReplaceOrInsert(timeKey{at: a.s.clock, id: c.ID})
	}
	return r
}

// send resolves the target at apply time and makes the signal pending in
// each live member. Zombies and lost processes accept it without effect, as
// Linux lets kill(2) succeed on a zombie. SIGKILL marks the process killed;
// one not yet running exits at once with status SIGKILL.
func (a *applier) send(c *Signal) *Result {
	s := a.s
	if c.Signal < 0 || c.Signal >= NSIG {
		return failf(ErrInvalid, "signal %d", c.Signal)
	}
	var members []uint64
	switch {
	case c.Target == int64(InitPID):
		return failf(ErrPermission, "init ignores signals")
	case c.Target > 0:
		pid := uint64(c.Target)
		if s.proc(pid) == nil {
			return failf(ErrNoSuchProcess, "pid %d", pid)
		}
		members = []uint64{pid}
	case c.Target < -1 && c.Target != math.MinInt64:
		pgid := uint64(-c.Target)
		eachPair(s.groups, pgid, func(pid uint64) bool {
			if pid != InitPID {
				members = append(members, pid)
			}
			return true
		})
		if len(members) == 0 {
			return failf(ErrNoSuchProcess, "process group %d", pgid)
		}
	default:
		return failf(ErrInvalid, "signal target %d", c.Target)
	}
	if members = a.mayKill(c.Sender, members); len(members) == 0 {
		return failf(ErrPermission, "pid %d may not signal %d", c.Sender, c.Target)
	}
	id := c.ID
	r := &Result{}
	for _, pid := range members {
		// Fetch each member now: killing an earlier one may have changed
		// this one's record (reparenting).
		p := s.proc(pid)
		if !p.State.Live() {
			continue
		}
		r.Targets = append(r.Targets, Target{PID: pid, Incarnation: p.Incarnation})
		if c.Signal == 0 {
			continue
		}
		if id == 0 {
			id = a.nextSigID()
		}
		a.note(Change{Kind: ChangeSignal, Signal: &SignalSent{PID: pid, Incarnation: p.Incarnation, Node: p.Node, Signal: c.Signal, Sender: c.Sender}})
		if c.Signal == SIGKILL {
			np := *p
			np.Killed = true
			np.ModifyIndex = a.index
			if p.State == StatePending || p.State == StatePlaced {
				a.terminate(&np, StateExited, Status{Signal: SIGKILL, Reason: "killed"}, false)
				continue
			}
			a.put(&np)
		}
		if c.Unstarted && (p.State == StatePending || p.State == StatePlaced) && a.unstarted(p, c.Signal) {
			continue
		}
		a.addSignal(&SignalRequest{ID: id, PID: pid, Incarnation: p.Incarnation, Signal: c.Signal, Sender: c.Sender})
	}
	return r
}

func (a *applier) signalDelivered(c *SignalDelivered) *Result {
	k := sigItem{pid: c.PID, id: c.ID}
	if it, ok := a.s.signals.Get(k); ok && it.r.Incarnation == c.Incarnation {
		a.s.deleteSignal(it.r)
	}
	return &Result{PID: c.PID, Incarnation: c.Incarnation}
}

// sweepOutcomes forgets the signal ids older than the session TTL.
func (a *applier) sweepOutcomes() {
	cutoff := a.s.clock - int64(a.cfg.SessionTTL)
	var old []timeKey
	a.s.outcomeTimes.Ascend(func(k timeKey) bool {
		if k.at >= cutoff {
			return false
		}
		old = append(old, k)
		return true
	})
	for _, k := range old {
		a.s.outcomeTimes.Delete(k)
		a.s.outcomes.Delete(outcomeItem{id: k.id})
	}
}

// heldUntil is the NotBefore of a pending process held by a stop signal:
// no leader time reaches it, so placement skips the process until SIGCONT.
const heldUntil = math.MaxInt64

// Held reports whether a stop signal holds p, pending, from placement
// until SIGCONT.
func (p *Process) Held() bool { return p.State == StatePending && p.NotBefore == heldUntil }

// unstarted applies sig's default action to p, which has not run yet
// (pending or placed), and reports whether that consumed the signal. A
// fatal signal ends p, exited by that signal and never run, and no
// incarnation of it starts again (as after SIGKILL). A stop signal holds a
// pending p from placement; SIGCONT releases it. A signal ignored by
// default is dropped. A stop or continue signal to a placed p is left to
// its node, which starts the incarnation and delivers it.
func (a *applier) unstarted(p *Process, sig int) bool {
	switch ipc.Signal(sig).DefaultAction() {
	case ipc.ActTerm, ipc.ActCore:
		np := *p
		np.Killed = true
		np.ModifyIndex = a.index
		a.terminate(&np, StateExited, Status{Signal: sig, Reason: "signalled before it ran"}, false)
		return true
	case ipc.ActIgn:
		return true
	case ipc.ActStop:
		if p.State != StatePending {
			return false
		}
		if p.NotBefore != heldUntil {
			np := *p
			np.NotBefore = heldUntil
			np.ModifyIndex = a.index
			a.put(&np)
		}
		return true
	case ipc.ActCont:
		if p.State != StatePending {
			return false
		}
		if p.NotBefore == heldUntil {
			np := *p
			np.NotBefore = a.s.clock
			np.ModifyIndex = a.index
			a.put(&np)
		}
		return true
	}
	return false
}
