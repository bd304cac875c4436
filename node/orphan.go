package node

import "github.com/vproc/vproc/ipc"

// Orphaned process groups (POSIX, and Linux's kernel/exit.c and signal.c).
//
// A process group is orphaned when no member has a parent in another group
// of the same session: nobody outside the group but inside the session is
// left to continue it. Two rules follow:
//
//   - SIGTSTP, SIGTTIN and SIGTTOU are discarded, when their default action
//     (stop) would apply, by a process of an orphaned group; SIGSTOP still
//     stops it. As on Linux, this is decided when the signal is delivered.
//   - When a process exits and so orphans a group that has stopped members
//     (its own group, or the group of one of its children), every member
//     of that group gets SIGHUP and then SIGCONT.
//
// Init is in a session of its own, so a process whose parent is init keeps
// no group attached. Processes spawned through the library (and so from the
// command line) lead their own session and group with init as their parent:
// their groups are orphaned from the start, and a SIGTSTP sent to such a
// process is discarded unless it catches it, as it would be for a daemon on
// Linux. A process whose parent runs on another node (Spec.ParentPID) has
// init as its kernel parent, but its real parent is taken to be in its
// session and in another group, so that it keeps its group attached until
// Orphaned reports that parent gone.

// keepsGroupLocked reports whether q has a parent in another group of its
// own session. Callers hold the tree lock.
func (k *ProcessManager) keepsGroupLocked(q *Process) bool {
	par := q.parent
	if par == nil {
		return false
	}
	if par == k.init {
		return q.ParentPID != InitPID // a live parent on another node
	}
	return par.Pgid != q.Pgid && par.Sid == q.Sid
}

// orphanedLocked reports whether process group pgid is orphaned, and
// whether it has a stopped member. Zombies are no members. Callers hold the
// tree lock.
func (k *ProcessManager) orphanedLocked(pgid int) (orphaned, stopped bool) {
	orphaned = true
	for _, q := range k.procs {
		if q.Pgid != pgid || q == k.init || q.state() == StateZombie {
			continue
		}
		if k.keepsGroupLocked(q) {
			return false, false
		}
		if q.state() == StateStopped {
			stopped = true
		}
	}
	return orphaned, stopped
}

// inOrphanedGroup reports whether p's process group is orphaned: the test
// before a stop signal other than SIGSTOP acts by default.
func (k *ProcessManager) inOrphanedGroup(p *Process) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	orphaned, _ := k.orphanedLocked(p.Pgid)
	return orphaned
}

// discardStop reports whether the default action of stop signal sig must
// be skipped for p: sig is not SIGSTOP and p's group is orphaned.
func (p *Process) discardStop(sig ipc.Signal) bool {
	return sig != ipc.SIGSTOP && p.k.inOrphanedGroup(p)
}

// newlyOrphanedLocked returns the groups that the exit of p orphans and
// that have stopped members: p's own group, if p kept it attached, and the
// groups its children kept attached through it. It runs once p is a zombie
// and its children have been given to init. Callers hold the tree lock.
func (k *ProcessManager) newlyOrphanedLocked(p *Process, parent *Process, children []*Process) []int {
	var out []int
	check := func(pgid int) {
		for _, g := range out {
			if g == pgid {
				return
			}
		}
		if orphaned, stopped := k.orphanedLocked(pgid); orphaned && stopped {
			out = append(out, pgid)
		}
	}
	if parent != k.init && parent.Pgid != p.Pgid && parent.Sid == p.Sid {
		check(p.Pgid)
	}
	for _, c := range children {
		if c.Pgid != p.Pgid && c.Sid == p.Sid {
			check(c.Pgid)
		}
	}
	return out
}

// hangUpOrphans sends SIGHUP and then SIGCONT to every member of each group.
func (k *ProcessManager) hangUpOrphans(groups []int) {
	for _, g := range groups {
		k.kill(nil, -g, ipc.SIGHUP)
		k.kill(nil, -g, ipc.SIGCONT)
	}
}
