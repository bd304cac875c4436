package node

import (
	"runtime"
	"time"

	"github.com/vproc/vproc/ipc"
)

// SigFlags are sigaction(2) flags.
type SigFlags uint32

// The supported flags, with Linux's values.
const (
	SA_NOCLDSTOP SigFlags = 0x1        // no SIGCHLD when a child stops or continues
	SA_NOCLDWAIT SigFlags = 0x2        // children are not turned into zombies: they are reaped as they end
	SA_NODEFER   SigFlags = 0x40000000 // don't block the signal while its handler runs
	SA_RESETHAND SigFlags = 0x80000000 // restore the default action once the handler is entered
)

// SigAction is a signal's disposition, as sigaction(2) sets it. The zero
// value is the default action. A handler runs in the process's own goroutine
// at its next yield point, with Mask and (unless SA_NODEFER) the signal
// itself blocked; it may make system calls.
type SigAction struct {
	Handler func(s *Sys, sig ipc.Signal)
	Ignore  bool
	Mask    ipc.SignalSet
	Flags   SigFlags
}

// How values for Sigprocmask.
const (
	SIG_BLOCK   = 0
	SIG_UNBLOCK = 1
	SIG_SETMASK = 2
)

var stopSignals = ipc.SetOf(ipc.SIGSTOP, ipc.SIGTSTP, ipc.SIGTTIN, ipc.SIGTTOU)

// actionLocked returns the disposition of sig. Callers hold p.mu.
func (p *Process) actionLocked(sig ipc.Signal) SigAction {
	if p.actions == nil || !sig.Catchable() {
		return SigAction{}
	}
	return p.actions[sig]
}

// ignoredLocked reports whether sig would be discarded on delivery.
func (p *Process) ignoredLocked(sig ipc.Signal) bool {
	act := p.actionLocked(sig)
	if act.Handler != nil {
		return false
	}
	return act.Ignore || sig.DefaultAction() == ipc.ActIgn
}

func (p *Process) sigMask() ipc.SignalSet {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mask
}

// sendSignal generates sig for p (signal(7)): it becomes pending unless it is
// ignored and unblocked; SIGCONT continues a stopped process at once and
// discards pending stop signals; a stop signal discards a pending SIGCONT;
// SIGKILL can't be blocked, ignored or caught.
func (k *ProcessManager) sendSignal(p *Process, sig ipc.Signal) {
	if p == k.init || p == nil {
		return
	}
	continued := false
	p.mu.Lock()
	if p.state() == StateZombie {
		p.mu.Unlock()
		return
	}
	switch {
	case sig == ipc.SIGKILL:
		if p.killSig == 0 {
			p.killSig = uint8(ipc.SIGKILL)
		}
		p.stopped = false
	case sig == ipc.SIGCONT:
		p.pending = p.pending.Minus(stopSignals)
		p.contSeq++
		if p.stopped {
			p.stopped = false
			p.continued = true
			continued = true
		}
	case stopSignals.Has(sig):
		p.pending = p.pending.Del(ipc.SIGCONT)
	}
	if sig != ipc.SIGKILL && !(p.ignoredLocked(sig) && !p.mask.Has(sig)) {
		p.pending = p.pending.Add(sig)
	}
	deliverable := p.killSig != 0 || p.pending&^p.mask != 0
	if deliverable {
		p.attention.Or(attnSignal)
		p.doomIfFatalLocked()
	}
	p.mu.Unlock()
	if deliverable || continued {
		p.wake() // a continued process reports it itself: see parkWhileStopped
	}
}

// killFor makes p die of sig with a recorded reason (a limit, a broken
// promise), even if sig is caught or blocked.
func (k *ProcessManager) killFor(p *Process, sig ipc.Signal, why string) {
	p.mu.Lock()
	if p.state() == StateZombie {
		p.mu.Unlock()
		return
	}
	if p.killSig == 0 {
		p.killSig = uint8(sig)
		p.more().killWhy = &why
	}
	p.stopped = false
	p.attention.Or(attnSignal)
	p.doomIfFatalLocked()
	p.mu.Unlock()
	p.wake()
}

// Wait events a parent collects with WUNTRACED and WCONTINUED.
const (
	evStopped uint8 = 1 << iota
	evContinued
)

// childEvent records that child stopped or continued and tells its parent,
// with SIGCHLD unless the parent asked for SA_NOCLDSTOP.
func (k *ProcessManager) childEvent(child *Process, ev uint8, sig ipc.Signal) {
	k.mu.Lock()
	parent := child.parent
	if ev == evStopped {
		child.waitEvents = (child.waitEvents &^ evContinued) | evStopped
		child.stopSig = uint8(sig)
	} else {
		child.waitEvents = (child.waitEvents &^ evStopped) | evContinued
	}
	k.mu.Unlock()
	switch {
	case child.remote: // its own node reports it
	case ev == evStopped:
		k.emit(Event{PID: child.PID, Kind: EventStopped, Status: stoppedStatus(sig)})
	default:
		k.emit(Event{PID: child.PID, Kind: EventContinued, Status: continuedStatus})
	}
	if parent == nil || parent == k.init {
		return
	}
	parent.mu.Lock()
	nocld := parent.actionLocked(ipc.SIGCHLD).Flags&SA_NOCLDSTOP != 0
	parent.mu.Unlock()
	if !nocld {
		k.sendSignal(parent, ipc.SIGCHLD)
	}
	parent.wake()
}

// die ends the process because of p.killSig. It does not return.
func (p *Process) die() {
	p.mu.Lock()
	sig := ipc.Signal(p.killSig)
	p.Status = SignaledStatus(sig, sig.DefaultAction() == ipc.ActCore)
	p.Reason = ""
	if r := p.rare.Load(); r != nil && r.killWhy != nil {
		p.Reason = *r.killWhy
	}
	p.mu.Unlock()
	runtime.Goexit()
}

// setDeath records a death by sig that did not go through the signal path
// (a panic in the program).
func (p *Process) setDeath(sig ipc.Signal, why string) {
	p.mu.Lock()
	p.killSig = uint8(sig)
	p.more().killWhy = &why
	p.Status = SignaledStatus(sig, sig.DefaultAction() == ipc.ActCore)
	p.Reason = why
	p.mu.Unlock()
}

// deliverSignals acts on every deliverable signal. The caller holds a slot;
// handlers run here, in the process's goroutine.
func (p *Process) deliverSignals() {
	for {
		p.mu.Lock()
		if p.killSig != 0 {
			p.mu.Unlock()
			p.die()
		}
		deliverable := p.pending &^ p.mask
		if deliverable == 0 {
			p.attention.And(^attnSignal)
			p.mu.Unlock()
			return
		}
		sig := deliverable.Lowest()
		p.pending = p.pending.Del(sig)
		act := p.actionLocked(sig)
		switch {
		case act.Handler != nil:
			saved := p.mask
			m := p.mask.Union(act.Mask)
			if act.Flags&SA_NODEFER == 0 {
				m = m.Add(sig)
			}
			p.mask = m.Blockable()
			if act.Flags&SA_RESETHAND != 0 {
				p.actions[sig] = SigAction{}
			}
			p.mu.Unlock()
			act.Handler(&p.sys, sig)
			p.mu.Lock()
			p.mask = saved
			if p.pending&^p.mask != 0 {
				p.attention.Or(attnSignal)
			}
			p.mu.Unlock()
		case act.Ignore:
			p.mu.Unlock()
		default:
			switch sig.DefaultAction() {
			case ipc.ActTerm, ipc.ActCore:
				p.killSig = uint8(sig)
				p.mu.Unlock()
				p.die()
			case ipc.ActStop:
				seq := p.contSeq
				p.mu.Unlock()
				if !p.discardStop(sig) {
					p.stopRunning(sig, seq)
				}
			default:
				p.mu.Unlock()
			}
		}
	}
}

// stopRunning stops a process that holds a slot, until SIGCONT or SIGKILL.
func (p *Process) stopRunning(sig ipc.Signal, seq uint32) {
	p.mu.Lock()
	if p.contSeq != seq || p.killSig != 0 {
		p.mu.Unlock()
		return // a SIGCONT (or a kill) came first
	}
	p.stopped = true
	p.mu.Unlock()
	p.k.sched.release(p)
	p.setState(codeStopped)
	p.k.childEvent(p, evStopped, sig)
	p.parkWhileStopped()
	p.setState(codeReady)
	p.k.sched.schedule(p)
	if p.acquire() != nil {
		p.die()
	}
}

// parkWhileStopped parks a process that has reported its stop until SIGCONT
// or a kill ends the stop, and then reports the continue, if there was one.
// The report comes from the process's own goroutine, like the stop's, so
// that the two reach the parent and OnEvent in the order they happened even
// when the SIGCONT comes before the stop is reported.
func (p *Process) parkWhileStopped() {
	for {
		p.mu.Lock()
		done := !p.stopped || p.killSig != 0
		continued := done && p.continued
		if continued {
			p.continued = false
		}
		p.mu.Unlock()
		if done {
			if continued {
				p.k.childEvent(p, evContinued, ipc.SIGCONT)
			}
			return
		}
		p.park()
	}
}

// checkBlockedStop acts on signals for a process blocked without a slot. It
// returns errKilled for a fatal signal, EINTR for a handled one (which stays
// pending, to run when the call returns), and nil otherwise. A stop signal
// stops the process right here, until it is continued; with stopReturns it
// is left pending and ends the wait with ErrStopping instead (remotewait.go).
func (p *Process) checkBlockedStop(stopReturns bool) error {
	p.mu.Lock()
	for {
		if p.killSig != 0 {
			p.mu.Unlock()
			return errKilled
		}
		deliverable := p.pending &^ p.mask
		if deliverable == 0 {
			p.mu.Unlock()
			return nil
		}
		sig := deliverable.Lowest()
		act := p.actionLocked(sig)
		if act.Handler != nil {
			p.mu.Unlock()
			return ipc.EINTR
		}
		if stopReturns && !act.Ignore && sig.DefaultAction() == ipc.ActStop {
			p.mu.Unlock()
			return ErrStopping
		}
		p.pending = p.pending.Del(sig)
		if act.Ignore {
			continue
		}
		switch sig.DefaultAction() {
		case ipc.ActTerm, ipc.ActCore:
			p.killSig = uint8(sig)
			p.mu.Unlock()
			return errKilled
		case ipc.ActStop:
			seq := p.contSeq
			p.mu.Unlock()
			discard := p.discardStop(sig)
			p.mu.Lock()
			if discard || p.contSeq != seq {
				continue // orphaned, or a SIGCONT came meanwhile
			}
			p.stopped = true
			p.mu.Unlock()
			p.setState(codeStopped)
			p.k.childEvent(p, evStopped, sig)
			p.parkWhileStopped()
			p.setState(codeWaiting)
			// The stop may have swallowed the wake-up of the call p is
			// blocked in; leave one, so that the call rechecks.
			p.wake()
			p.mu.Lock()
		}
	}
}

// acquire waits until the scheduler hands p a slot (p must have been
// scheduled). It returns errKilled, holding no slot, if a fatal signal comes
// first. While the lease has ended it gives up any slot and waits.
func (p *Process) acquire() error {
	k := p.k
	for {
		if p.fatalPending() {
			k.sched.release(p)
			return errKilled
		}
		if k.Frozen() {
			k.sched.release(p)
			k.parkFrozen(p)
			k.sched.schedule(p)
			continue
		}
		if p.onSlot.Load() {
			p.setState(codeRunning)
			return nil
		}
		p.park()
	}
}

// fatalPending reports whether a signal that will kill p is deliverable.
func (p *Process) fatalPending() bool {
	if p.attention.Load()&attnSignal == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killSig != 0 {
		return true
	}
	for d := p.pending &^ p.mask; d != 0; {
		sig := d.Lowest()
		d = d.Del(sig)
		act := p.actionLocked(sig)
		if act.Handler == nil && !act.Ignore {
			if a := sig.DefaultAction(); a == ipc.ActTerm || a == ipc.ActCore {
				p.killSig = uint8(sig)
				return true
			}
		}
	}
	return false
}

// procWaiter is the ipc.Waiter of a process: while it waits the process holds
// no slot, a handled signal interrupts it with EINTR, a fatal one ends the
// wait with errKilled, and a stop signal stops it in place.
type procWaiter Process

// waiter returns p as its ipc.Waiter.
func (p *Process) waiter() *procWaiter { return (*procWaiter)(p) }

// Wake implements ipc.Waiter.
func (w *procWaiter) Wake() { (*Process)(w).wake() }

// Wait implements ipc.Waiter.
func (w *procWaiter) Wait(deadline time.Time) error {
	p := (*Process)(w)
	p.k.sched.release(p)
	p.setState(codeWaiting)
	err := p.blockedWaitFor(deadline, false)
	if err == errKilled {
		return err
	}
	p.setState(codeReady)
	p.k.sched.schedule(p)
	if e := p.acquire(); e != nil {
		return e
	}
	return err
}

// blockedWaitFor parks a process that gave up its slot until it is woken,
// the deadline passes, or a signal needs it; with stopReturns a stop signal
// ends the wait (checkBlockedStop). The deadline is served by the kernel's
// timer heap. It keeps its frame small, so that a sleeping process's
// goroutine stack stays small.
func (p *Process) blockedWaitFor(deadline time.Time, stopReturns bool) error {
	timed := !deadline.IsZero()
	if timed {
		d := time.Until(deadline)
		if d <= 0 {
			return ipc.ETIMEDOUT
		}
		p.k.timers.add(p, runtimeNano()+int64(d))
	}
	err := p.checkBlockedStop(stopReturns)
	if err == nil {
		p.park()
		err = p.checkBlockedStop(stopReturns)
		if err == nil && timed && !time.Now().Before(deadline) {
			err = ipc.ETIMEDOUT
		}
	}
	if timed {
		p.k.timers.del(p)
	}
	return err
}

// blockingCall runs fn, which may block in the host (a read from a host
// reader), with the slot given up. Signals are acted on once fn returns.
func (p *Process) blockingCall(fn func()) error {
	p.k.sched.release(p)
	p.setState(codeWaiting)
	fn()
	p.setState(codeReady)
	p.k.sched.schedule(p)
	return p.acquire()
}
