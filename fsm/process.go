package fsm

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/vproc/vproc/spec"
)

// Process lifecycle: spawn, place, started/stopped/continued, exited, lost,
// preempt and reap. Every handler validates first and changes the table
// only once it knows it will succeed, so that a failed command leaves no
// trace.

func (a *applier) put(p *Process) {
	old, _ := a.s.procs.ReplaceOrInsert(pidItem{pid: p.PID, p: p})
	a.s.indexOnNode(old.p, p)
	a.s.indexModified(old.p, p)
	a.s.indexOwner(old.p, p)
	a.note(Change{Kind: ChangeProcess, OldProc: old.p, NewProc: p})
}

func queueKeyOf(p *Process) queueKey {
	return queueKey{rank: uint8(MaxPriority - p.Spec.Priority), seq: p.QueueIndex, pid: p.PID}
}

func (a *applier) spawn(c *Spawn) *Result {
	a.advance(c.Now)
	s := a.s
	ppid := c.Parent
	if ppid == 0 {
		ppid = InitPID
	}
	parent := s.proc(ppid)
	if parent == nil || !parent.State.Live() {
		return failf(ErrNoSuchProcess, "parent %d", ppid)
	}
	if s.nextPID == math.MaxUint64 {
		return failf(ErrInvalid, "no PIDs left")
	}
	// The command was decoded from its entry for this apply alone: the
	// record takes its spec instead of a copy (a spec is about a kilobyte,
	// and every replica applies every spawn).
	spec := &c.Spec
	if err := normalizeSpec(spec, parent.Spec); err != nil {
		return fail(err)
	}
	if spec.InheritsPipesFrom != 0 {
		if src := s.proc(spec.InheritsPipesFrom); src == nil || !src.State.Live() {
			return failf(ErrInvalid, "inherits pipes from %d, which is not live", spec.InheritsPipesFrom)
		}
	}
	for _, f := range spec.Files {
		if f.Fd < 0 || f.Fd >= 1<<16 || f.Node == "" || f.Export == 0 {
			return failf(ErrInvalid, "inherited descriptor %d of node %q, export %d", f.Fd, f.Node, f.Export)
		}
	}
	if err := s.checkProcQuota(c.Owner); err != nil {
		return fail(err)
	}
	pid := s.nextPID
	pgid, sid := parent.Pgid, parent.Sid
	switch {
	case c.JoinGroup != 0 && (c.NewSession || c.NewGroup):
		return failf(ErrInvalid, "join group together with a new session or group")
	case ppid == InitPID || c.NewSession:
		if c.JoinGroup != 0 {
			return failf(ErrPermission, "a child of init leads its own session")
		}
		pgid, sid = pid, pid
	case c.NewGroup:
		pgid = pid
	case c.JoinGroup != 0:
		if !a.groupInSession(c.JoinGroup, parent.Sid) {
			return failf(ErrPermission, "no live group %d in session %d", c.JoinGroup, parent.Sid)
		}
		pgid = c.JoinGroup
	}
	p := &Process{
		PID:         pid,
		Incarnation: 1,
		Parent:      ppid,
		Pgid:        pgid,
		Sid:         sid,
		Owner:       c.Owner,
		Spec:        spec,
		State:       StatePending,
		CreatedAt:   s.clock,
		CreateIndex: a.index,
		ModifyIndex: a.index,
		QueueIndex:  a.index,
	}
	// The leader's choice of node travels in the spawn: placed at once if
	// the node can still take it, otherwise pending like any other spawn.
	// Either way the spawn succeeds.
	var n *Node
	if c.Place != "" {
		n, _ = a.placeable(p, c.Place)
	}
	s.nextPID++
	if n != nil {
		p.State = StatePlaced
		p.Node = n.ID
		p.PlaceIndex = a.index
	} else {
		s.queue.ReplaceOrInsert(queueKeyOf(p))
	}
	a.put(p)
	s.children.ReplaceOrInsert(pairKey{ppid, pid})
	s.groups.ReplaceOrInsert(pairKey{pgid, pid})
	return &Result{PID: pid, Incarnation: 1, State: p.State}
}

// groupInSession reports whether group pgid has a live member in session sid.
func (a *applier) groupInSession(pgid, sid uint64) bool {
	found := false
	eachPair(a.s.groups, pgid, func(pid uint64) bool {
		if p := a.s.proc(pid); p != nil && p.Sid == sid && p.State.Live() {
			found = true
		}
		return !found
	})
	return found
}

// normalizeSpec checks a spawn's spec, fills in defaults and applies what
// the child inherits from its parent.
func normalizeSpec(s *Spec, parent *Spec) error {
	if s.Command == "" {
		return errorf(ErrInvalid, "empty command")
	}
	if s.Priority == 0 {
		s.Priority = DefaultPriority
	}
	if s.Priority < MinPriority || s.Priority > MaxPriority {
		return errorf(ErrInvalid, fmt.Sprintf("priority %d out of range %d..%d", s.Priority, MinPriority, MaxPriority))
	}
	r := &s.Restart
	switch r.Policy {
	case "":
		r.Policy = RestartNever
	case RestartNever, RestartOnFailure, RestartAlways:
	default:
		return errorf(ErrInvalid, fmt.Sprintf("restart policy %q", r.Policy))
	}
	if r.MaxRestarts < 0 || r.BackoffBase < 0 || r.BackoffMax < 0 {
		return errorf(ErrInvalid, "negative restart field")
	}
	if r.BackoffBase == 0 {
		r.BackoffBase = DefaultBackoffBase
	}
	if r.BackoffMax == 0 {
		r.BackoffMax = max(DefaultBackoffMax, r.BackoffBase)
	}
	if r.BackoffMax < r.BackoffBase {
		return errorf(ErrInvalid, fmt.Sprintf("backoff max %v below base %v", r.BackoffMax, r.BackoffBase))
	}
	mine, theirs := limitPairs(&s.Limits), limitPairs(&parent.Limits)
	for i, l := range mine {
		pl := theirs[i]
		switch {
		case l.Soft == 0 && l.Hard == 0:
			*l = *pl
			continue
		case l.Hard == 0:
			l.Hard = pl.Hard
		case l.Soft == 0:
			l.Soft = l.Hard
		}
		if l.Hard != 0 && l.Soft > l.Hard {
			return errorf(ErrInvalid, fmt.Sprintf("%s soft limit %d above hard limit %d", spec.Resource(i), l.Soft, l.Hard))
		}
		if pl.Hard != 0 && (l.Hard == 0 || l.Hard > pl.Hard) {
			return errorf(ErrPermission, fmt.Sprintf("%s hard limit above the parent's %d", spec.Resource(i), pl.Hard))
		}
	}
	if s.Promises == "" {
		s.Promises = parent.Promises
	} else if parent.Promises != "" && !promiseSubset(s.Promises, parent.Promises) {
		return errorf(ErrPermission, "promises wider than the parent's")
	}
	if len(s.Unveil) == 0 {
		s.Unveil = parent.Unveil
	}
	for _, u := range s.Unveil {
		if u.Path == "" || strings.Trim(u.Perms, "rwxc") != "" {
			return errorf(ErrInvalid, fmt.Sprintf("unveil %q %q", u.Path, u.Perms))
		}
	}
	for _, c := range s.Constraints {
		if c.Label == "" {
			return errorf(ErrInvalid, "constraint without a label")
		}
	}
	for _, u := range s.Uses {
		if err := validName(u.Kind, u.Name); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) place(c *Place) *Result {
	a.advance(c.Now)
	s := a.s
	if c.ExpectState != StatePending {
		return failf(ErrInvalid, "place expects state %q; only pending can be placed", c.ExpectState)
	}
	p := s.proc(c.PID)
	if p == nil {
		return failf(ErrNoSuchProcess, "pid %d", c.PID)
	}
	if p.Incarnation != c.Incarnation || p.State != c.ExpectState {
		return failf(ErrStale, "pid %d is incarnation %d %s, expected %d %s",
			p.PID, p.Incarnation, p.State, c.Incarnation, c.ExpectState)
	}
	if p.Killed {
		return fail(ErrKilled)
	}
	n, r := a.placeable(p, c.Node)
	if r != nil {
		return r
	}
	np := *p
	s.queue.Delete(queueKeyOf(p))
	np.State = StatePlaced
	np.Node = n.ID
	np.PlaceIndex = a.index
	np.ModifyIndex = a.index
	a.put(&np)
	return &Result{PID: np.PID, Incarnation: np.Incarnation, State: np.State}
}

// placeable re-checks that the pending process p may go to node now: the
// node is in the table and alive, p's backoff has passed, the node is the
// one p's spec requires and has the labels it asks for, and locality holds.
// It returns the node, or the result that refuses the placement: ErrStale
// for what may change, ErrInvalid for what p's spec rules out. Place and
// Spawn (with Place set) both use it.
func (a *applier) placeable(p *Process, node string) (*Node, *Result) {
	s := a.s
	n := s.node(node)
	if n == nil {
		return nil, failf(ErrStale, "node %q is not in the table", node)
	}
	if n.Status != NodeAlive {
		return nil, failf(ErrStale, "node %q is %s", n.ID, n.Status)
	}
	if s.clock < p.NotBefore {
		return nil, failf(ErrStale, "pid %d backs off until %d", p.PID, p.NotBefore)
	}
	if p.Spec.Node != "" && p.Spec.Node != n.ID && p.Spec.Node != n.Name {
		return nil, failf(ErrInvalid, "pid %d must run on node %q", p.PID, p.Spec.Node)
	}
	for _, con := range p.Spec.Constraints {
		if v, ok := n.Label(con.Label); !ok || v != con.Value {
			return nil, failf(ErrInvalid, "node %q does not have %s=%s", n.ID, con.Label, con.Value)
		}
	}
	if r := a.checkLocality(p, n.ID); r != nil {
		return nil, r
	}
	return n, nil
}

// checkLocality re-checks what ties a process to a node (docs/design.md,
// "Unix semantics, limits and capabilities", Locality): the node of the PID whose pipes it inherits, and the node of
// every shared-memory segment it uses. A mismatch means the plan is stale.
func (a *applier) checkLocality(p *Process, node string) *Result {
	if src := a.s.proc(p.Spec.InheritsPipesFrom); src != nil && src.State.OnNode() && src.Node != node {
		return failf(ErrStale, "pid %d inherits pipes from %d on node %q", p.PID, src.PID, src.Node)
	}
	for _, u := range p.Spec.Uses {
		if u.Kind != KindSHM {
			continue
		}
		if o := a.s.object(KindSHM, u.Name); o != nil && !o.Lost && o.Node != node {
			return failf(ErrStale, "pid %d uses segment %s on node %q", p.PID, u.Name, o.Node)
		}
	}
	return nil
}

// event finds the process an event from a node is about, or the result that
// rejects the event.
func (a *applier) event(pid, inc uint64, node string) (*Process, *Result) {
	p := a.s.proc(pid)
	if p == nil {
		return nil, failf(ErrNoSuchProcess, "pid %d", pid)
	}
	if p.Incarnation != inc || p.Node != node || node == "" {
		if p.Killed && !p.State.Live() {
			return nil, fail(ErrKilled)
		}
		return nil, failf(ErrStale, "pid %d is incarnation %d on %q, not %d on %q", pid, p.Incarnation, p.Node, inc, node)
	}
	return p, nil
}

func current(p *Process) *Result {
	return &Result{PID: p.PID, Incarnation: p.Incarnation, State: p.State, Status: p.Status}
}

// transition handles started, stopped and continued: from is the set of
// states the event moves to to; a process already in to is left alone.
func (a *applier) transition(pid, inc uint64, node string, now int64, to State, from ...State) *Result {
	a.advance(now)
	p, r := a.event(pid, inc, node)
	if r != nil {
		return r
	}
	if p.State == to {
		return current(p)
	}
	ok := false
	for _, s := range from {
		ok = ok || p.State == s
	}
	if !ok {
		if p.Killed {
			return fail(ErrKilled)
		}
		return failf(ErrStale, "pid %d is %s", pid, p.State)
	}
	np := *p
	if np.State == StatePlaced {
		np.StartedAt = a.s.clock
	}
	np.State = to
	np.ModifyIndex = a.index
	a.put(&np)
	return current(&np)
}

func (a *applier) started(c *Started) *Result {
	return a.transition(c.PID, c.Incarnation, c.Node, c.Now, StateRunning, StatePlaced)
}

func (a *applier) stopped(c *Stopped) *Result {
	return a.transition(c.PID, c.Incarnation, c.Node, c.Now, StateStopped, StatePlaced, StateRunning)
}

func (a *applier) continued(c *Continued) *Result {
	return a.transition(c.PID, c.Incarnation, c.Node, c.Now, StateRunning, StatePlaced, StateStopped)
}

func validStatus(st *Status) error {
	if st.Code < 0 || st.Code > 255 || st.Signal < 0 || st.Signal >= NSIG {
		return errorf(ErrInvalid, fmt.Sprintf("status code %d signal %d", st.Code, st.Signal))
	}
	if st.Exited == (st.Signal != 0) {
		return errorf(ErrInvalid, "a status is either an exit or a death by signal")
	}
	return nil
}

func (a *applier) exited(c *Exited) *Result {
	a.advance(c.Now)
	p, r := a.event(c.PID, c.Incarnation, c.Node)
	if r != nil {
		return r
	}
	if !p.State.Live() {
		// A duplicate: the first status stands.
		return current(p)
	}
	if err := validStatus(&c.Status); err != nil {
		return fail(err)
	}
	return current(a.finish(p, c.Status, false, "", c.Started))
}

func (a *applier) lost(c *Lost) *Result {
	a.advance(c.Now)
	p, r := a.event(c.PID, c.Incarnation, c.Node)
	if r != nil {
		return r
	}
	if !p.State.Live() {
		return current(p)
	}
	return current(a.finish(p, Status{}, true, c.Reason, false))
}

// finish ends the current incarnation of p, which is placed, running or
// stopped. lost says that its node lost it rather than reporting a status;
// started, that the node's exit report also reports the start (Exited's
// Started), which a process still placed then records.
// The outcome, in order:
//   - killed: exited, for good, with the reported status (SIGKILL if lost);
//   - evicting and ended by a signal or lost: requeued, not counted;
//   - the restart policy allows a restart: requeued, counted, after a
//     backoff (none when lost: the failure was the node's);
//   - otherwise exited with the status, or lost.
func (a *applier) finish(p *Process, st Status, lost bool, reason string, started bool) *Process {
	startNow := started && !lost && p.State == StatePlaced
	switch {
	case p.Killed:
		if lost {
			st = Status{Signal: SIGKILL, Reason: "killed"}
		}
		return a.terminate(p, StateExited, st, startNow)
	case p.Evicting && (lost || st.Signal != 0):
		if lost {
			st = Status{Signal: SIGKILL, Reason: "preempted"}
		}
		return a.requeue(p, st, false, false)
	}
	if lost {
		if reason == "" {
			reason = "node lost"
		}
		st = Status{Reason: reason}
	}
	if shouldRestart(p, lost || st.Failed()) {
		return a.requeue(p, st, true, !lost)
	}
	if lost {
		return a.terminate(p, StateLost, st, false)
	}
	return a.terminate(p, StateExited, st, startNow)
}

func shouldRestart(p *Process, failed bool) bool {
	r := &p.Spec.Restart
	under := r.MaxRestarts == 0 || p.Restarts < r.MaxRestarts
	switch r.Policy {
	case RestartAlways:
		return under
	case RestartOnFailure:
		return failed && under
	}
	return false
}

// backoff returns the delay before restart n (1 for the first): base
// doubled n-1 times, capped at max.
func backoff(r *Restart, n int) time.Duration {
	d := r.BackoffBase
	if d <= 0 {
		return 0
	}
	for i := 1; i < n && d < r.BackoffMax; i++ {
		if d > math.MaxInt64/2 {
			return r.BackoffMax
		}
		d *= 2
	}
	return min(d, r.BackoffMax)
}

// requeue makes p pending again as a new incarnation. A counted requeue is a
// restart; with delay it waits the backoff.
func (a *applier) requeue(p *Process, st Status, counted, delay bool) *Process {
	s := a.s
	np := *p
	a.dropSignals(p.PID)
	np.Incarnation++
	np.State = StatePending
	np.Status = st
	np.Node = ""
	np.PlaceIndex = 0
	np.StartedAt = 0
	np.Evicting = false
	np.EvictReason = ""
	np.NotBefore = s.clock
	if counted {
		np.Restarts++
		if delay {
			np.NotBefore = addSat(s.clock, int64(backoff(&np.Spec.Restart, np.Restarts)))
		}
	}
	np.QueueIndex = a.index
	np.ModifyIndex = a.index
	a.put(&np)
	s.queue.ReplaceOrInsert(queueKeyOf(&np))
	return &np
}

// terminate makes p a zombie (exited) or lost, for good: its children go to
// init, its parent gets SIGCHLD and its spec is compacted (compact.go). startNow records the incarnation's
// start at this command's time too.
func (a *applier) terminate(p *Process, to State, st Status, startNow bool) *Process {
	s := a.s
	np := *p
	if p.State == StatePending {
		s.queue.Delete(queueKeyOf(p))
	}
	a.dropSignals(p.PID)
	np.State = to
	np.Status = st
	np.Spec = compactSpec(p.Spec)
	np.ExitedAt = s.clock
	if startNow {
		np.StartedAt = s.clock
	}
	np.Evicting = false
	np.EvictReason = ""
	np.ModifyIndex = a.index
	a.put(&np)
	a.reparent(p.PID)
	a.sigchld(np.Parent, p.PID)
	return &np
}

// reparent gives the children of pid to init.
func (a *applier) reparent(pid uint64) {
	s := a.s
	var kids []uint64
	eachPair(s.children, pid, func(k uint64) bool {
		kids = append(kids, k)
		return true
	})
	for _, k := range kids {
		s.children.Delete(pairKey{pid, k})
		s.children.ReplaceOrInsert(pairKey{InitPID, k})
		np := *s.proc(k)
		np.Parent = InitPID
		np.ModifyIndex = a.index
		a.put(&np)
	}
}

func (a *applier) reap(c *Reap) *Result {
	s := a.s
	if c.PID == InitPID {
		return failf(ErrPermission, "init cannot be reaped")
	}
	p := s.proc(c.PID)
	if p == nil {
		return failf(ErrNoSuchProcess, "pid %d", c.PID)
	}
	if p.State.Live() {
		return failf(ErrNotExited, "pid %d is %s", p.PID, p.State)
	}
	s.procs.Delete(pidItem{pid: p.PID})
	s.indexOnNode(p, nil)
	s.indexModified(p, nil)
	s.indexOwner(p, nil)
	s.noteReap(a.index, p.PID)
	s.children.Delete(pairKey{p.Parent, p.PID})
	s.groups.Delete(pairKey{p.Pgid, p.PID})
	a.dropSignals(p.PID)
	a.note(Change{Kind: ChangeProcess, OldProc: p})
	return current(p)
}

func (a *applier) nodeLost(c *NodeLost) *Result {
	a.advance(c.Now)
	s := a.s
	n := s.node(c.Node)
	if n == nil {
		return failf(ErrNoSuchNode, "%q", c.Node)
	}
	var victims []uint64
	s.eachLiveOnNode(n.ID, func(pid uint64) bool {
		victims = append(victims, pid)
		return true
	})
	r := &Result{}
	for _, pid := range victims {
		// Fetch again: finishing an earlier victim may have reparented
		// this one.
		np := a.finish(s.proc(pid), Status{}, true, c.Reason, false)
		r.Targets = append(r.Targets, Target{PID: np.PID, Incarnation: np.Incarnation})
	}
	if n.Status == NodeAlive || n.Status == NodeSuspect {
		nn := *n
		nn.Status = NodeDown
		nn.UpdatedAt = s.clock
		nn.ModifyIndex = a.index
		s.nodes.ReplaceOrInsert(nodeItem{id: nn.ID, n: &nn})
		n = &nn
	}
	reason := c.Reason
	if reason == "" {
		reason = "node lost"
	}
	a.note(Change{Kind: ChangeNodeLost, NewNode: n, Reason: reason})
	a.markObjectsLost(n.ID)
	return r
}

func (a *applier) preempt(c *Preempt) *Result {
	a.advance(c.Now)
	s := a.s
	if c.PID == InitPID {
		return failf(ErrPermission, "init cannot be preempted")
	}
	p := s.proc(c.PID)
	if p == nil {
		return failf(ErrNoSuchProcess, "pid %d", c.PID)
	}
	if p.Incarnation != c.Incarnation || !p.State.OnNode() {
		return failf(ErrStale, "pid %d is incarnation %d %s", p.PID, p.Incarnation, p.State)
	}
	if p.Killed {
		return fail(ErrKilled)
	}
	if p.Evicting {
		return current(p)
	}
	if p.State == StatePlaced {
		return current(a.requeue(p, p.Status, false, false))
	}
	np := *p
	np.Evicting = true
	np.EvictReason = c.Reason
	np.ModifyIndex = a.index
	a.put(&np)
	sig := c.Signal
	if sig == 0 {
		sig = SIGKILL
	}
	a.addSignal(&SignalRequest{ID: a.nextSigID(), PID: np.PID, Incarnation: np.Incarnation, Signal: sig})
	a.note(Change{Kind: ChangeSignal, Signal: &SignalSent{PID: np.PID, Incarnation: np.Incarnation, Node: np.Node, Signal: sig}, Reason: "preempted"})
	return current(&np)
}
