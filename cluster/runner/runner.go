package runner

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vproc/vproc/cluster/httpapi"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/ctxutil"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// The runner makes the local kernel follow the replicated table for the
// processes assigned to this node (fsm.Process.Node == this node's name).
//
// One loop goroutine owns the decisions. It wakes when the table changes
// (a watcher goroutine blocks in core.waitApplied), when the kernel reports
// an event, and on a ticker for retries, and then reconciles:
//
//  1. Kill. A local incarnation that the table no longer assigns here, that
//     it assigns with another incarnation, or that it marks exited or lost,
//     gets SIGKILL. Nothing new starts for that PID until the kernel reports
//     the old one's exit (Guarantee 3: one runner per PID).
//  2. Start. A process placed here whose incarnation has not started locally
//     is spawned in the kernel with the table's PID, spec and a log writer.
//     A command the kernel does not know exits at once with code 127, any
//     other failure to start with code 126, both with a reason.
//     A process the table says is running or stopped here but that this
//     node does not have (the agent restarted) is reported Lost.
//  3. Signals. Each pending signal request of this node
//     (View.PendingSignals) is delivered once, with Kill, to the incarnation
//     it names, then acknowledged with SignalDelivered. Request ids delivered
//     are remembered until the table drops them, so a re-read of the table
//     before the acknowledgement commits does not deliver twice.
//  4. Garbage. Every few seconds, the logs and stdin pipes of PIDs that the
//     table has reaped are deleted.
//
// An incarnation the runner spawns is reported Started as soon as the
// kernel has it. Kernel events (OnEvent) are only queued by the callback,
// which never blocks; the loop turns them into Stopped, Continued and
// Exited reports, and Started for children. The exit of an incarnation the
// runner killed because the table moved on is not reported: the table has
// its answer. Reports go through a reporter goroutine (reporter.go), in
// batches: directly to core.submitBatch on the leader, otherwise to the
// leader's POST /v1/internal/command, many commands per request. They are
// idempotent (the table ignores a stale or duplicate incarnation), so each
// is retried with bounded backoff until the leader answers, and given up
// only at shutdown. Reports about one PID keep their order.
//
// Children. A process that spawns a child asks the runner for a PID
// (node.PIDAllocator): the child must be in the table, so that PIDs stay
// unique cluster-wide and ps shows it. children.go has the whole story,
// children on other nodes and kills of groups included; for a child on
// its parent's node, AllocPID commits
//
//	Spawn{Parent, Spec{Node: this node, InheritsPipesFrom: Parent}}  (in a node session: a retry never spawns twice)
//
// which the leader places on this node in the same entry (Spawn.Place), and
// returns the PID; the kernel then starts the child, and its started event
// is reported like any other. Should the spawn commit pending (the leader
// could not place it at once), AllocPID commits
//
//	Place{PID, incarnation 1, pending → this node}
//
// too. The leader's placement loop may place the child first (its Spec.Node
// names this node, so it picks the same node): then the Place is stale, and
// the runner accepts it once the table shows the child placed here.
// Spec.InheritsPipesFrom marks a child: the
// runner never starts such a record itself. One that no local AllocPID
// claims within childGrace (its parent's spawn failed after the PID was
// allocated, or the table requeued the child after an eviction: a child
// cannot follow its descriptors elsewhere) is reported exited with code 126. A child spawn thus costs one
// commit (two when it commits pending) while the parent waits without its
// CPU slot, plus the asynchronous started and exited reports.

const (
	// runnerTick is how often the loop wakes to retry without a table
	// change.
	runnerTick = time.Second
	// allocTimeout bounds one AllocPID.
	allocTimeout = 30 * time.Second
	// Exit codes of incarnations that could not start.
	codeUnknownProgram = 127
	codeCannotStart    = 126
)

// Runner is the node agent loop that runs this node's share of the
// table. Create it with New, give it the kernel with SetKernel, then Start
// it; Stop stops it.
type Runner struct {
	table  Table
	name   string
	kernel *node.ProcessManager // set once by SetKernel, before Start
	files  Inheritor            // set once by SetInheritor, before Start; nil: no inherited descriptors
	logs   Logs
	out    Sender
	log    *slog.Logger
	// childGrace: Config.ChildGrace.
	childGrace time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	evMu sync.Mutex   // guards evq
	evq  []node.Event // kernel events not yet handled
	// evKick and tableKick (capacity 1) wake the loop.
	evKick    chan struct{}
	tableKick chan struct{}

	mu     sync.Mutex // guards procs, stdins, final, firstSeen and remote
	procs  map[uint64]*localProc
	stdins map[uint64]*stdinPipe
	final  map[uint64]finalCPU // CPU time of ended incarnations, until reaped
	// firstSeen records when the loop first saw a child record placed here
	// without a local claim.
	firstSeen map[uint64]time.Time
	// remote tracks the children that local processes run on other
	// nodes, while the kernel keeps a record of them (children.go).
	remote map[uint64]*remoteChild

	// dirty holds the PIDs whose local state changed (kernel events,
	// starts that must be retried) since the loop's last pass. Guarded by
	// mu.
	dirty map[uint64]struct{}

	// Owned by the loop goroutine.
	delivered  map[sigKey]uint64 // signal requests delivered: → incarnation
	lastGC     time.Time
	gcEvery    time.Duration // Config.GCEvery
	reconciled uint64        // the index of the view of the last pass
	lastFull   time.Time     // when the last full pass ran
	// passPIDs is the map of the PIDs an incremental pass looks at,
	// emptied and kept from pass to pass while it stays small.
	passPIDs map[uint64]*fsm.Process

	gcAfter uint64 // Config.GCAfter

	passes atomic.Uint64 // reconcile passes done

	rep  reporter
	sess nodeSession

	// Evictions (evict.go), guarded by mu: the grace period of each
	// evicting incarnation, and the loop's timer for the next deadline
	// (evictAt; zero when not armed). grace is Config.PreemptGrace.
	evicting   map[uint64]eviction
	evictTimer *time.Timer
	evictAt    time.Time
	grace      time.Duration
}

// localProc is one incarnation this node has started, or is about to.
type localProc struct {
	pid, inc uint64
	child    bool // started by the kernel for a local parent (AllocPID)
	spawned  bool // the kernel has it
	exited   bool // the kernel reported its exit
	failed   bool // it could not start, or was lost; an exit was reported
	killed   bool // the runner sent SIGKILL because the table moved on
	// reapOnExit: its parent reaped it before its exit was reported; the
	// table's Reap follows the Exited report.
	reapOnExit bool
	// remoteParent: its parent runs on another node, and the kernel has
	// not been told that it exited.
	remoteParent bool
	// index is the log index of a child's spawn, or of the record a
	// process was started from: a view older than that says nothing
	// about it.
	index uint64
}

type finalCPU struct {
	inc uint64
	cpu time.Duration
}

type sigKey struct{ id, pid uint64 }

// New validates cfg and returns the runner of the node cfg names, which
// follows table, writes its processes' output to logs and reports
// through out.
func New(cfg Config, table Table, logs Logs, out Sender, logger *slog.Logger) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{
		table:      table,
		name:       cfg.Name,
		childGrace: cfg.ChildGrace,
		grace:      cfg.PreemptGrace,
		logs:       logs,
		out:        out,
		log:        logger,
		ctx:        ctx,
		cancel:     cancel,
		evKick:     make(chan struct{}, 1),
		tableKick:  make(chan struct{}, 1),
		procs:      make(map[uint64]*localProc),
		stdins:     make(map[uint64]*stdinPipe),
		final:      make(map[uint64]finalCPU),
		firstSeen:  make(map[uint64]time.Time),
		remote:     make(map[uint64]*remoteChild),
		delivered:  make(map[sigKey]uint64),
		gcEvery:    cfg.GCEvery,
		gcAfter:    cfg.GCAfter,
		evicting:   make(map[uint64]eviction),
	}
	r.rep.init(r)
	return r, nil
}

// SetKernel gives the runner the local kernel, which is created with the
// runner as its PID allocator, signal sender and event sink. Call it once,
// before Start.
func (r *Runner) SetKernel(k *node.ProcessManager) { r.kernel = k }

// Kick makes the loop look at the table now.
func (r *Runner) Kick() { ctxutil.Kick(r.tableKick) }

// Passes returns how many reconcile passes the loop has made.
func (r *Runner) Passes() uint64 { return r.passes.Load() }

// Submit commits cmd through the leader in the node's own client session,
// retrying until it commits or ctx ends, so that a retry never applies it
// twice (Guarantee 9).
func (r *Runner) Submit(ctx context.Context, cmd fsm.Command) (*fsm.Result, error) {
	return r.sess.submit(ctx, r.out, cmd)
}

// OnEvent is the kernel's OnEvent callback: it queues and never blocks.
func (r *Runner) OnEvent(e node.Event) {
	r.evMu.Lock()
	r.evq = append(r.evq, e)
	r.evMu.Unlock()
	ctxutil.Kick(r.evKick)
}

// Start starts the loop, the table watcher and the reporter.
func (r *Runner) Start() {
	r.wg.Add(3)
	go r.loop()
	go r.watch()
	go r.rep.run()
}

// Stop stops the goroutines and unblocks every process reading stdin. It
// does not kill the processes: the kernel's Shutdown does.
func (r *Runner) Stop() {
	r.cancel()
	r.mu.Lock()
	for _, sp := range r.stdins {
		sp.r.CloseWithError(io.EOF)
		sp.w.CloseWithError(httpapi.ErrStopping)
	}
	r.mu.Unlock()
	r.wg.Wait()
	r.stopEvictTimer()
}

// watch wakes the loop whenever the applied index moves.
func (r *Runner) watch() {
	defer r.wg.Done()
	var idx uint64
	for {
		if err := r.table.WaitApplied(r.ctx, idx); err != nil {
			if r.ctx.Err() != nil {
				return
			}
			if !ctxutil.Sleep(r.ctx, 100*time.Millisecond) {
				return
			}
			continue
		}
		if v := r.table.LocalView(); v != nil {
			idx = v.Index()
		}
		ctxutil.Kick(r.tableKick)
	}
}

func (r *Runner) loop() {
	defer r.wg.Done()
	if !r.catchUp() { // catchup.go: before anything starts
		return
	}
	t := time.NewTicker(runnerTick)
	defer t.Stop()
	for {
		r.handleEvents()
		if v := r.table.LocalView(); v != nil {
			r.reconcile(v)
		}
		r.escalateEvictions(time.Now())
		select {
		case <-r.ctx.Done():
			return
		case <-r.tableKick:
		case <-r.evKick:
		case <-t.C:
		case <-r.evictWake():
		}
	}
}

// handleEvents turns queued kernel events into reports.
func (r *Runner) handleEvents() {
	r.evMu.Lock()
	evs := r.evq
	r.evq = nil
	r.evMu.Unlock()
	for _, e := range evs {
		pid := uint64(e.PID)
		if e.Kind == node.EventReaped {
			r.reaped(pid)
			continue
		}
		r.mu.Lock()
		lp := r.procs[pid]
		if lp == nil {
			r.mu.Unlock()
			r.log.Debug("kernel event for a process the runner does not know", "pid", pid, "event", e.Kind)
			continue
		}
		inc := lp.inc
		report, reap := true, false
		r.markDirtyLocked(pid)
		switch e.Kind {
		case node.EventStarted:
			// The runner reported the start of what it spawned itself;
			// a child's start is reported now.
			report = lp.child && !lp.spawned
			lp.spawned = true
		case node.EventExited:
			// An incarnation the runner killed because the table moved
			// on needs no report: the table has its answer.
			report = !lp.killed
			reap = lp.reapOnExit
			lp.exited = true
			r.final[pid] = finalCPU{inc: inc, cpu: e.CPU}
			if sp := r.stdins[pid]; sp != nil && sp.inc == inc {
				sp.r.CloseWithError(io.EOF)
			}
		}
		r.mu.Unlock()
		if e.Kind == node.EventExited {
			r.logs.Finish(pid)
			r.reapKernel(pid)
		}
		if !report {
			continue
		}
		switch e.Kind {
		case node.EventStarted:
			r.rep.add(&fsm.Started{PID: pid, Incarnation: inc, Node: r.name})
		case node.EventStopped:
			r.rep.add(&fsm.Stopped{PID: pid, Incarnation: inc, Node: r.name, Signal: int(e.Status.StopSignal())})
		case node.EventContinued:
			r.rep.add(&fsm.Continued{PID: pid, Incarnation: inc, Node: r.name})
		case node.EventExited:
			r.rep.add(&fsm.Exited{PID: pid, Incarnation: inc, Node: r.name, Status: httpapi.FSMStatus(e.Status, e.Reason)})
		case node.EventSetGroup:
			// So that a kill of the group from any node reaches it.
			r.rep.add(&fsm.SetGroup{PID: pid, Incarnation: inc, Node: r.name, Pgid: uint64(e.Pgid), Sid: uint64(e.Sid)})
		}
		if reap {
			r.rep.add(&fsm.Reap{PID: pid})
		}
	}
}

// reapKernel removes the kernel's zombie of pid when init is its parent, so
// that a later incarnation can reuse the PID. A child's zombie stays for its
// parent's wait.
func (r *Runner) reapKernel(pid uint64) {
	r.kernel.ReapZombie(int(pid)) // gone already or still running: never wait for it here
}

// fullReconcileEvery is how often the loop reconciles every process of
// this node, not only those that changed. Between full passes a pass looks
// at what the table changed since the last one (View.WalkModified,
// View.WalkReaped and View.WalkSignalsSince) and at the PIDs local events
// touched, so that its cost follows the changes, not what the node runs.
// The periodic full pass is a safety net; a pass is also full whenever the
// feeds cannot tell everything (the first pass, a snapshot restore).
const fullReconcileEvery = runnerTick

// reconcile makes the kernel follow view v.
func (r *Runner) reconcile(v *fsm.View) {
	now := time.Now()
	// The change feeds tell what changed since the last pass, unless
	// there was none, the table went back (an operator's restore), or it
	// no longer knows every reap or change since (it was restored from a
	// snapshot, or many passed): then the pass compares everything.
	feedOK := r.reconciled != 0 && v.Index() >= r.reconciled &&
		v.WalkReaped(r.reconciled, func(uint64) bool { return false }) &&
		v.WalkModified(r.reconciled, func(*fsm.Process) bool { return false })
	if !feedOK {
		r.lastGC = time.Time{} // compare logs and the rest with the whole table too
	}
	full := !feedOK || now.Sub(r.lastFull) >= fullReconcileEvery
	var toStart []*fsm.Process
	var sigPIDs, reaped []uint64
	if feedOK {
		// A reaped process has no record: the feed of reaps says which.
		// Its local incarnation, if any, is settled like any other, and
		// what the runner kept for it goes.
		v.WalkReaped(r.reconciled, func(pid uint64) bool {
			reaped = append(reaped, pid)
			return true
		})
	}
	r.mu.Lock()
	dirty := r.dirty
	r.dirty = nil
	if full {
		r.lastFull = now
		visited := make(map[uint64]struct{}, len(r.procs))
		visit := func(pid uint64, p *fsm.Process) {
			if _, ok := visited[pid]; ok {
				return
			}
			visited[pid] = struct{}{}
			if start := r.reconcilePIDLocked(v, pid, p, now); start != nil {
				toStart = append(toStart, start)
			}
		}
		v.Walk(fsm.Filter{Node: r.name, OnNodeOnly: true}, func(p *fsm.Process) bool {
			visit(p.PID, p)
			return true
		})
		for pid := range r.procs {
			visit(pid, nil)
		}
		for pid := range r.firstSeen {
			if _, ok := visited[pid]; !ok {
				delete(r.firstSeen, pid) // neither here nor local any more
			}
		}
	} else {
		// What changed in the table since the last pass, what local events
		// touched, and the children waiting for their claim.
		pids := r.passPIDs
		if pids == nil {
			pids = make(map[uint64]*fsm.Process, len(dirty))
		}
		defer r.keepPassPIDs(pids)
		v.WalkModified(r.reconciled, func(p *fsm.Process) bool {
			if p.Node == r.name || r.procs[p.PID] != nil {
				pids[p.PID] = p // records never change once in the table
			}
			return true
		})
		for _, pid := range reaped {
			if _, ok := pids[pid]; !ok {
				pids[pid] = nil
			}
		}
		for pid := range dirty {
			if _, ok := pids[pid]; !ok {
				pids[pid] = nil
			}
		}
		for pid := range r.firstSeen {
			if _, ok := pids[pid]; !ok {
				pids[pid] = nil
			}
		}
		for pid, p := range pids {
			if start := r.reconcilePIDLocked(v, pid, p, now); start != nil {
				toStart = append(toStart, start)
			}
			sigPIDs = append(sigPIDs, pid)
		}
		// The signal requests made pending since, in processes that did
		// not change otherwise.
		v.WalkSignalsSince(r.reconciled, func(req *fsm.SignalRequest) bool {
			if _, ok := pids[req.PID]; !ok {
				pids[req.PID] = nil
				sigPIDs = append(sigPIDs, req.PID)
			}
			return true
		})
	}
	r.mu.Unlock()

	for _, p := range toStart {
		r.startProcess(p)
	}
	if full {
		r.deliverSignals(v.PendingSignals(r.name), true)
	} else {
		var reqs []fsm.SignalRequest
		for _, pid := range sigPIDs {
			if p, ok := v.Get(pid); ok && p.Node == r.name && p.State.OnNode() {
				reqs = append(reqs, v.SignalsFor(pid)...)
			}
		}
		r.deliverSignals(reqs, false)
	}
	r.syncRemote(v, now)
	r.reconciled = v.Index()
	if len(reaped) > 0 {
		r.forgetReaped(reaped)
	}
	if now.Sub(r.lastGC) >= r.gcEvery && v.Index() >= r.gcAfter {
		r.lastGC = now
		r.collect(v)
	}
	r.passes.Add(1)
}

// keepPassPIDs empties pids for the next incremental pass, or drops it if
// a burst made it large: emptying a map costs its size, not its length.
func (r *Runner) keepPassPIDs(pids map[uint64]*fsm.Process) {
	if len(pids) > maxPassPIDs {
		r.passPIDs = nil
		return
	}
	clear(pids)
	r.passPIDs = pids
}

// maxPassPIDs is the largest pass whose map the next pass reuses.
const maxPassPIDs = 4096

// markDirtyLocked makes the next pass look at pid, whose local state changed.
// Callers hold r.mu.
func (r *Runner) markDirtyLocked(pid uint64) {
	if r.dirty == nil {
		r.dirty = make(map[uint64]struct{})
	}
	r.dirty[pid] = struct{}{}
}

// reconcilePIDLocked makes the kernel follow view v for one PID, whose
// record p may be given (nil: look it up). In order:
//
//  1. Kill or forget the local incarnation the table no longer assigns
//     here (settleLocked).
//  2. When the table assigns an incarnation here that this node does not
//     have: report it lost if the table says it runs (it died with an
//     earlier run of the agent); give a child record its grace, then
//     report it exited; or, for a placed process, return its record: the
//     caller starts it.
//
// Callers hold r.mu.
func (r *Runner) reconcilePIDLocked(v *fsm.View, pid uint64, p *fsm.Process, now time.Time) (start *fsm.Process) {
	if p == nil {
		if q, ok := v.Get(pid); ok {
			p = &q
		}
	}
	assigned := p != nil && p.Node == r.name && p.State.OnNode()
	if lp := r.procs[pid]; lp != nil {
		r.settleLocked(v, pid, lp, p, assigned)
		if assigned {
			r.noteEvictionLocked(pid, lp, localView{assigned: true, inc: p.Incarnation, evicting: p.Evicting}, now)
		} else {
			r.noteEvictionLocked(pid, lp, localView{}, now)
		}
	}
	if lp := r.procs[pid]; lp != nil && lp.remoteParent && assigned && p.Incarnation == lp.inc && p.Parent == fsm.InitPID && lp.spawned {
		// Its parent, on another node, exited: the table gave it to init.
		if err := r.kernel.Orphaned(int(pid)); err == nil || errors.Is(err, ipc.ESRCH) {
			lp.remoteParent = false
		}
	}
	if r.procs[pid] != nil || !assigned {
		// This incarnation is known, or an older one is ending; or
		// nothing is assigned here.
		delete(r.firstSeen, pid)
		return nil
	}
	child := p.Spec.InheritsPipesFrom != 0
	switch {
	case p.State == fsm.StateRunning || p.State == fsm.StateStopped:
		r.procs[pid] = &localProc{pid: pid, inc: p.Incarnation, child: child, failed: true}
		r.rep.add(&fsm.Lost{PID: pid, Incarnation: p.Incarnation, Node: r.name, Reason: "its node does not run it (the agent restarted)"})
	case child:
		first, seen := r.firstSeen[pid]
		if !seen {
			r.firstSeen[pid] = now
			return nil
		}
		if now.Sub(first) < r.childGrace {
			return nil
		}
		delete(r.firstSeen, pid)
		r.procs[pid] = &localProc{pid: pid, inc: p.Incarnation, child: true, failed: true}
		r.rep.add(&fsm.Exited{PID: pid, Incarnation: p.Incarnation, Node: r.name,
			Status: fsm.Status{Exited: true, Code: codeCannotStart, Reason: "the parent's spawn did not complete on this node"}})
	case p.State == fsm.StatePlaced:
		return p
	}
	return nil
}

// settleLocked kills the local incarnation lp of pid when the table (p,
// nil when it has no record; assigned when it assigns an incarnation here)
// no longer assigns it here, and forgets it once it has ended. Callers
// hold r.mu.
func (r *Runner) settleLocked(v *fsm.View, pid uint64, lp *localProc, p *fsm.Process, assigned bool) {
	if assigned && p.Incarnation == lp.inc {
		return
	}
	if v.Index() < lp.index {
		// A view older than what the runner knew of this incarnation when
		// it took it up (a child whose spawn this replica has yet to
		// apply, or a process started from a newer view): it cannot
		// judge it.
		return
	}
	if lp.child && !lp.spawned && !lp.exited && !lp.failed && p != nil && p.Incarnation == lp.inc && p.State.Live() {
		// A child whose PID is being allocated: the table shows it
		// pending until its Place commits.
		return
	}
	if lp.spawned && !lp.exited {
		if !lp.killed {
			lp.killed = true
			r.log.Info("killing an incarnation the table no longer assigns here", "pid", pid, "incarnation", lp.inc)
			if err := r.kernel.Kill(int(pid), ipc.SIGKILL); err != nil && !errors.Is(err, ipc.ESRCH) {
				r.log.Warn("kill", "pid", pid, "err", err)
			}
			r.closeStdinLocked(pid, lp.inc) // after the kill: see deliverSignals
		}
		return
	}
	delete(r.procs, pid)
}

// KillUnassigned kills every local incarnation that the table no longer
// assigns here. It reads the table under the runner's lock, so that the
// view is at least as new as any the runner took a process up from.
func (r *Runner) KillUnassigned() {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.table.LocalView()
	for pid, lp := range r.procs {
		var p *fsm.Process
		if q, ok := v.Get(pid); ok {
			p = &q
		}
		r.settleLocked(v, pid, lp, p, p != nil && p.Node == r.name && p.State.OnNode())
	}
}

// startProcess spawns an incarnation in the kernel.
func (r *Runner) startProcess(p *fsm.Process) {
	pid, inc := p.PID, p.Incarnation
	spec, err := httpapi.KernelSpec(p)
	stdin := p.Spec.Stdin
	lp := &localProc{pid: pid, inc: inc, remoteParent: p.Parent > fsm.InitPID, index: p.ModifyIndex}
	r.mu.Lock()
	r.procs[pid] = lp
	if err == nil && stdin {
		sp := r.stdinLocked(pid)
		if sp.inc == 0 {
			sp.inc = inc
			spec.Stdin = sp.r
		}
	}
	r.mu.Unlock()
	if err == nil {
		spec.Inherited, err = r.openInherited(p.Spec.Files)
	}
	if err == nil {
		spec.Stdout, spec.Stderr = r.logs.Writers(pid)
		_, err = r.kernel.Spawn(spec)
	}
	var st fsm.Status
	switch {
	case err == nil:
		r.mu.Lock()
		lp.spawned = true
		r.mu.Unlock()
		// Reported now rather than at the kernel's started event, which
		// waits for a free CPU slot.
		r.rep.add(&fsm.Started{PID: pid, Incarnation: inc, Node: r.name})
		return
	case errors.Is(err, node.ErrShutdown):
		r.forget(lp)
		return
	case errors.Is(err, ipc.EEXIST):
		// The kernel still has an older incarnation's zombie: reap it and
		// try again on the next pass.
		r.reapKernel(pid)
		r.forget(lp)
		return
	case errors.Is(err, node.ErrUnknownProgram):
		st = fsm.Status{Exited: true, Code: codeUnknownProgram, Reason: "unknown program " + p.Spec.Command}
	default:
		st = fsm.Status{Exited: true, Code: codeCannotStart, Reason: "cannot start: " + err.Error()}
	}
	r.mu.Lock()
	lp.failed = true
	r.final[pid] = finalCPU{inc: inc}
	r.closeStdinLocked(pid, inc)
	r.mu.Unlock()
	r.logs.Finish(pid)
	r.rep.add(&fsm.Exited{PID: pid, Incarnation: inc, Node: r.name, Status: st})
}

// forget drops lp, which did not start, so that a later pass tries again.
func (r *Runner) forget(lp *localProc) {
	r.mu.Lock()
	if r.procs[lp.pid] == lp {
		delete(r.procs, lp.pid)
		r.markDirtyLocked(lp.pid)
	}
	r.mu.Unlock()
}

// deliverSignals delivers signal requests of this node's processes. With
// all, reqs are all of them (View.PendingSignals), and the requests
// remembered as delivered that the table no longer holds are forgotten.
func (r *Runner) deliverSignals(reqs []fsm.SignalRequest, all bool) {
	var seen map[sigKey]struct{}
	if all {
		seen = make(map[sigKey]struct{}, len(reqs))
	}
	for _, req := range reqs {
		k := sigKey{req.ID, req.PID}
		if all {
			seen[k] = struct{}{}
		}
		if inc, ok := r.delivered[k]; ok && inc == req.Incarnation {
			continue
		}
		r.mu.Lock()
		lp := r.procs[req.PID]
		if lp == nil || lp.inc != req.Incarnation || (!lp.spawned && !lp.exited && !lp.failed) {
			// Not started here yet: the request waits in the table.
			r.mu.Unlock()
			continue
		}
		// The kernel sends SIGCHLD for its processes' children itself.
		deliver := lp.spawned && !lp.exited && !lp.failed && !req.FromChild()
		r.mu.Unlock()
		if deliver {
			if err := r.kernel.Kill(int(req.PID), ipc.Signal(req.Signal)); err != nil && !errors.Is(err, ipc.ESRCH) {
				r.log.Warn("delivering a signal", "pid", req.PID, "signal", req.Signal, "err", err)
			}
			if req.Signal == fsm.SIGKILL {
				// After the kill, never before: a read that ends because
				// its stdin closed must find the SIGKILL pending, or the
				// process would go on and exit on its own.
				r.mu.Lock()
				r.closeStdinLocked(req.PID, req.Incarnation)
				r.mu.Unlock()
			}
		}
		r.delivered[k] = req.Incarnation
		r.rep.add(&fsm.SignalDelivered{ID: req.ID, PID: req.PID, Incarnation: req.Incarnation})
	}
	if !all {
		return
	}
	for k := range r.delivered {
		if _, ok := seen[k]; !ok {
			delete(r.delivered, k)
		}
	}
}

// forgetReaped drops the logs, stdin pipes and CPU records of processes
// the table has reaped.
func (r *Runner) forgetReaped(pids []uint64) {
	for _, pid := range pids {
		r.logs.Remove(pid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, pid := range pids {
		if sp := r.stdins[pid]; sp != nil {
			sp.r.CloseWithError(io.EOF)
			delete(r.stdins, pid)
		}
		delete(r.final, pid)
	}
}

// collect drops the logs, stdin pipes and CPU records of reaped processes,
// comparing them with the whole table. Passes learn of reaps from the
// table's feed (forgetReaped); this catches what the feed cannot show, such
// as the reaps before a snapshot restore.
func (r *Runner) collect(v *fsm.View) {
	for _, pid := range r.logs.PIDs() {
		if _, ok := v.Get(pid); !ok {
			r.logs.Remove(pid)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid, sp := range r.stdins {
		if _, ok := v.Get(pid); !ok {
			sp.r.CloseWithError(io.EOF)
			delete(r.stdins, pid)
		}
	}
	for pid := range r.final {
		if _, ok := v.Get(pid); !ok {
			delete(r.final, pid)
		}
	}
}
