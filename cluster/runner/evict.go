package runner

import (
	"errors"
	"time"

	"github.com/vproc/vproc/ipc"
)

// Evictions on the node. The leader preempts a process by committing
// fsm.Preempt, which marks the incarnation Evicting and makes SIGTERM
// pending in it; the runner delivers that signal like any other. When the
// runner first sees the incarnation Evicting, it gives it grace
// (Config.PreemptGrace) and then, if the incarnation is still running
// here, SIGKILLs it itself: the table has no second command for it, so a
// leader change in between changes nothing. The death is reported as any
// exit is, and the table requeues the process (being preempted is not a
// kill). The timer lives on this node only: an agent restart loses it, and
// kills every process anyway.

// eviction is the grace period of one evicting incarnation.
type eviction struct {
	inc      uint64
	deadline time.Time
	killed   bool // the runner sent SIGKILL at the deadline
}

// noteEvictionLocked starts the grace period of pid's local incarnation lp
// when the table (p) marks it Evicting, and forgets evictions of ended or
// replaced incarnations. Callers hold r.mu.
func (r *Runner) noteEvictionLocked(pid uint64, lp *localProc, p localView, now time.Time) {
	ev, known := r.evicting[pid]
	if lp == nil || !p.assigned || p.inc != lp.inc || lp.exited || lp.failed {
		if known {
			delete(r.evicting, pid)
		}
		return
	}
	if !p.evicting || known && ev.inc == lp.inc {
		return
	}
	deadline := now.Add(r.grace)
	r.evicting[pid] = eviction{inc: lp.inc, deadline: deadline}
	r.log.Info("process preempted: SIGTERM, then SIGKILL after the grace period", "pid", pid, "incarnation", lp.inc, "grace", r.grace)
	r.armEvictTimerLocked(deadline, now)
}

// localView is what noteEvictionLocked needs of a table record.
type localView struct {
	assigned bool // the table assigns an incarnation of the PID here
	inc      uint64
	evicting bool
}

// armEvictTimerLocked makes the loop wake at deadline, unless it is armed
// to wake earlier. The timer belongs to the loop goroutine; callers hold
// r.mu too.
func (r *Runner) armEvictTimerLocked(deadline, now time.Time) {
	if !r.evictAt.IsZero() && !deadline.Before(r.evictAt) {
		return
	}
	d := max(deadline.Sub(now), 0)
	if r.evictTimer == nil {
		r.evictTimer = time.NewTimer(d)
	} else {
		r.evictTimer.Reset(d)
	}
	r.evictAt = deadline
}

// evictWake is the channel that fires at the next eviction deadline, nil
// when none is armed. Called by the loop goroutine.
func (r *Runner) evictWake() <-chan time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.evictTimer == nil || r.evictAt.IsZero() {
		return nil
	}
	return r.evictTimer.C
}

// escalateEvictions SIGKILLs the evicting incarnations whose grace has
// passed, and re-arms the timer for the next deadline. It runs on the
// loop goroutine.
func (r *Runner) escalateEvictions(now time.Time) {
	r.mu.Lock()
	var kill []ProcRef
	var next time.Time
	for pid, ev := range r.evicting {
		lp := r.procs[pid]
		if lp == nil || lp.inc != ev.inc || lp.exited || lp.failed {
			delete(r.evicting, pid)
			continue
		}
		if ev.killed {
			continue
		}
		if now.Before(ev.deadline) {
			if next.IsZero() || ev.deadline.Before(next) {
				next = ev.deadline
			}
			continue
		}
		if !lp.spawned {
			continue
		}
		ev.killed = true
		r.evicting[pid] = ev
		kill = append(kill, ProcRef{PID: pid, Inc: ev.inc})
	}
	r.evictAt = time.Time{}
	if !next.IsZero() {
		r.armEvictTimerLocked(next, now)
	}
	r.mu.Unlock()
	for _, k := range kill {
		r.log.Info("preempted process still running after the grace period: SIGKILL", "pid", k.PID)
		if err := r.kernel.Kill(int(k.PID), ipc.SIGKILL); err != nil && !errors.Is(err, ipc.ESRCH) {
			r.log.Warn("kill", "pid", k.PID, "err", err)
		}
		r.mu.Lock()
		r.closeStdinLocked(k.PID, k.Inc) // after the kill: see deliverSignals
		r.mu.Unlock()
	}
}

// stopEvictTimer releases the timer when the runner stops.
func (r *Runner) stopEvictTimer() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.evictTimer != nil {
		r.evictTimer.Stop()
	}
}
