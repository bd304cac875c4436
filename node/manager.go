package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node/security"
	"github.com/vproc/vproc/node/vfs"
)

// InitPID is the PID of init, the virtual process that adopts orphans and is
// the parent of every process spawned through the library. It never runs.
const InitPID = 1

// Sentinel errors of the library API. Each unwraps to an ipc.Errno, so that
// errors.Is(err, ipc.ESRCH) holds too.
var (
	// ErrNoProcess: no process has that PID (or it has been reaped): ESRCH.
	ErrNoProcess error = &kernelError{"no such process", ipc.ESRCH}
	// ErrUnknownProgram: the command names no registered program: ENOENT.
	ErrUnknownProgram error = &kernelError{"unknown program", ipc.ENOENT}
	// ErrShutdown: the kernel is shutting down: ECANCELED.
	ErrShutdown error = &kernelError{"kernel is shut down", ipc.ECANCELED}
	// ErrPermission: the sender may not signal the target (kill(2)): EPERM.
	ErrPermission error = &kernelError{"operation not permitted", ipc.EPERM}
)

// kernelError is a sentinel with its own message and an errno beneath it.
type kernelError struct {
	msg   string
	errno ipc.Errno
}

func (e *kernelError) Error() string { return e.msg }
func (e *kernelError) Unwrap() error { return e.errno }

// Spec describes a process to spawn through the library.
type Spec struct {
	Command  string
	Args     []string // arguments after the command
	Env      []string // KEY=VALUE
	Cwd      string   // default "/"
	Priority int      // 1..100; 0 means 50
	Limits   *ResourceLimits
	Owner    string // default Config.Owner

	Capabilities security.Promise
	UnveilPaths  []security.UnveilPath

	// Stdin, Stdout and Stderr wire descriptors 0, 1 and 2 to the host. Nil
	// reads EOF or discards. A host reader is read with the slot given up,
	// and a signal is acted on once its Read returns. A writer is called
	// while the process holds its slot, so it should not block for long.
	Stdin          io.Reader
	Stdout, Stderr io.Writer

	// PID, if not zero, is the PID to give the process (one the cluster
	// allocated). It must not be in use: EEXIST otherwise.
	PID int
	// Pgid and Sid, if Sid is not zero, are the process group and session
	// the process joins (the cluster's, for a child whose parent runs on
	// another node). Zero makes it lead a new session and group.
	Pgid, Sid int
	// ParentPID, if not zero, is the PID getppid reports: a parent that
	// runs on another node (see Orphaned). The kernel's parent is init.
	ParentPID int
	// Inherited are descriptors the process inherits from a parent on
	// another node, each a stream to the node that holds the open file;
	// they replace Stdin, Stdout and Stderr at their descriptors. The
	// process takes over every File in it, also when Spawn fails.
	Inherited []InheritedFD
}

// ProcessManager is the local kernel of one machine. It runs virtual
// processes cooperatively on K CPU slots.
type ProcessManager struct {
	cfg      Config         // immutable
	clock    Clock          // immutable
	slice    int64          // immutable: cfg.Slice in nanoseconds
	sched    *FairScheduler // immutable pointer; safe for concurrent use
	fs       vfs.FS         // immutable; safe for concurrent use
	programs Resolver       // immutable; safe for concurrent use
	log      *slog.Logger   // immutable

	// leaseEnd is the kernel clock reading at which the node's lease ends
	// (math.MaxInt64: no lease, the default). From then on processes
	// complete no system call until the lease is renewed (Guarantee 3).
	leaseEnd atomic.Int64
	frozenMu sync.Mutex
	// frozenSet holds the processes parked because the lease ended; a
	// renewal wakes them. Guarded by frozenMu.
	frozenSet map[*Process]struct{}
	fifos     fifoTable         // has its own lock
	nameLocks nameLocks         // serializes creates and unlinks of each shared name
	mqs       *ipc.MQNamespace  // immutable pointer: POSIX message queue names
	shms      *ipc.ShmNamespace // immutable pointer: shared-memory segment names
	exports   exportTable       // has its own lock: open files exported to children on other nodes
	ipcStats  ipcCounters       // atomic: what IPC has carried (Stats)
	timers    timerHeap         // has its own lock: the deadlines of blocked processes

	mu      sync.Mutex       // the tree lock: the process table, the links between processes, zombies, counters
	procs   map[int]*Process // guarded by mu: every process not yet reaped, init included
	nextPID int              // guarded by mu: the local counter's next PID
	init    *Process         // immutable pointer; its tree fields are guarded by mu
	nlive   int              // guarded by mu: processes that are not zombies, init excluded
	closing bool             // guarded by mu: Shutdown has begun
	allDone chan struct{}    // guarded by mu: closed, and set to nil, when nlive drops to 0 while closing

	wg   sync.WaitGroup // every goroutine the kernel starts
	quit chan struct{}  // closed by Shutdown: the watchdog's signal to end
}

// New returns a running kernel. It validates cfg first.
func New(cfg Config) (*ProcessManager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	k := &ProcessManager{
		cfg:      cfg,
		clock:    cfg.Clock,
		slice:    int64(cfg.Slice),
		fs:       cfg.FS,
		programs: cfg.Programs,
		log:      cfg.Logger,
		procs:    make(map[int]*Process),
		nextPID:  InitPID + 1,
		quit:     make(chan struct{}),
		mqs:      ipc.NewMQNamespace(),
		shms:     ipc.NewShmNamespace(),
	}
	k.leaseEnd.Store(math.MaxInt64)
	if k.clock == nil {
		k.clock = monoClock{}
	}
	if k.fs == nil {
		k.fs = vfs.NewMem()
	}
	if k.programs == nil {
		k.programs = NewProgramTable()
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	k.sched = newFairScheduler(cfg.Slots, cfg.Slice, k.clock)
	k.init = &Process{
		PID: InitPID, Pgid: InitPID, Sid: InitPID, Command: "init", Priority: 50,
		Owner: cfg.Owner, CreatedAt: time.Now(), Cwd: "/", k: k,
	}
	k.init.initPark()
	k.init.stateCode.Store(uint32(codeWaiting))
	k.procs[InitPID] = k.init
	k.wg.Add(1)
	go k.watchdog()
	return k, nil
}

// Scheduler returns the kernel's CPU scheduler.
func (k *ProcessManager) Scheduler() *FairScheduler { return k.sched }

// FS returns the namespace paths resolve in.
func (k *ProcessManager) FS() vfs.FS { return k.fs }

// Programs returns the resolver that the kernel looks up the command of
// every spawn in (Config.Programs).
func (k *ProcessManager) Programs() Resolver { return k.programs }

// run is the goroutine of process p.
func (k *ProcessManager) run(p *Process) {
	defer k.wg.Done()
	defer k.exit(p)
	if err := p.acquire(); err != nil {
		p.die() // killed before it first ran
	}
	p.mu.Lock()
	p.StartedAt = time.Now()
	p.mu.Unlock()
	if k.cfg.OnEvent != nil {
		k.emitStarted(p)
	}
	p.armLimits()
	code := p.prog(&p.sys)
	p.mu.Lock()
	p.Status = ExitedStatus(code)
	p.mu.Unlock()
}

// exit runs when p's goroutine ends, whether the program returned, called
// Exit, was killed at a system call, or panicked.
func (k *ProcessManager) exit(p *Process) {
	if r := recover(); r != nil {
		p.setDeath(ipc.SIGABRT, fmt.Sprintf("program panicked: %v", r))
	}
	if r := p.rare.Load(); r != nil && r.wallTimer != nil {
		r.wallTimer.Stop()
	}
	p.endDoom()
	p.closeAllFiles()
	p.detachAll()
	k.sched.release(p)
	p.hog(false)

	p.mu.Lock()
	status, reason := p.Status, p.Reason
	p.mu.Unlock()

	var orphans, adopted []*Process
	k.mu.Lock()
	parent, autoReaped := k.zombieLocked(p)
	k.nlive--
	// Reparent the children to init. Zombie children are reaped by init.
	for c := p.children.head; c != nil; {
		next := c.sibNext
		adopted = append(adopted, c)
		p.children.remove(c)
		c.parent, c.ParentPID, c.adopted = k.init, InitPID, true
		k.init.children.push(c)
		k.init.nchildren++
		c = next
	}
	for c := p.zombies.head; c != nil; {
		next := c.sibNext
		p.zombies.remove(c)
		c.inZombies = false
		orphans = append(orphans, c)
		c = next
	}
	for _, c := range orphans {
		k.unlinkLocked(c)
	}
	hangUp := k.newlyOrphanedLocked(p, parent, adopted)
	if k.closing && k.nlive == 0 && k.allDone != nil {
		close(k.allDone)
		k.allDone = nil
	}
	k.mu.Unlock()
	k.hangUpOrphans(hangUp)
	if parent != k.init {
		k.notifyParent(parent, p)
	}
	k.emit(Event{PID: p.PID, Kind: EventExited, Status: status, Reason: reason, CPU: time.Duration(p.cpuNs.Load())})
	if autoReaped {
		k.emit(Event{PID: p.PID, Kind: EventReaped})
	}
}

// zombieLocked makes p, which has ended, a zombie in its parent's list,
// or reaps it at once when init adopted it or when its parent ignores
// SIGCHLD or set SA_NOCLDWAIT (autoReaped), and wakes Wait. It returns the
// parent. Callers hold k.mu.
func (k *ProcessManager) zombieLocked(p *Process) (parent *Process, autoReaped bool) {
	p.exitedAt = runtimeNano()
	p.setState(codeZombie)
	parent = p.parent
	parent.children.remove(p)
	parent.nchildren--
	switch {
	case parent == k.init && (p.adopted || k.closing):
		k.unlinkLocked(p)
	case parent != k.init && parent.noChildWait():
		k.unlinkLocked(p)
		autoReaped = true
	default:
		parent.zombies.push(p) // init's zombies wait here for retention, oldest first
		p.inZombies = true
	}
	if p.done != nil {
		close(p.done)
	}
	return parent, autoReaped
}

// noChildWait reports whether p's children are reaped as they end, as
// wait(2) says of a SIGCHLD set to SIG_IGN or with SA_NOCLDWAIT.
func (p *Process) noChildWait() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	act := p.actionLocked(ipc.SIGCHLD)
	return act.Handler == nil && act.Ignore || act.Flags&SA_NOCLDWAIT != 0
}

// emitStarted is kept out of run's frame, so that the goroutine of a
// process starts, and stays while it sleeps, within its minimum stack.
//
//go:noinline
func (k *ProcessManager) emitStarted(p *Process) {
	k.emit(Event{PID: p.PID, Kind: EventStarted})
}

func (k *ProcessManager) emit(e Event) {
	if k.cfg.OnEvent != nil {
		k.cfg.OnEvent(e)
	}
}

// notifyParent sends SIGCHLD for child and wakes a parent blocked in wait.
func (k *ProcessManager) notifyParent(parent, child *Process) {
	k.sendSignal(parent, ipc.SIGCHLD)
	parent.wake()
}

// unlinkLocked removes a zombie from the table for good (it is reaped).
func (k *ProcessManager) unlinkLocked(p *Process) {
	if p.inZombies {
		p.parent.zombies.remove(p)
		p.inZombies = false
	}
	delete(k.procs, p.PID)
}

// reapLocked reaps zombie p on behalf of its parent.
func (k *ProcessManager) reapLocked(p *Process) { k.unlinkLocked(p) }

// Kill sends sig to pid, or to every member of process group -pid when pid is
// negative, or to every process but init when pid is -1. Signal 0 only checks
// that the target exists. A bad signal is EINVAL and a missing target ESRCH.
func (k *ProcessManager) Kill(pid int, sig ipc.Signal) error {
	if sig != 0 && !sig.Valid() {
		return fmt.Errorf("%w: signal %d", ipc.EINVAL, sig)
	}
	if pid == 0 {
		return fmt.Errorf("%w: pid 0 names the caller's group, and the library has none", ipc.EINVAL)
	}
	return k.kill(nil, pid, sig)
}

// kill delivers sig to the targets pid names, from sender (nil: the
// kernel), as kill(2): it succeeds if it may signal at least one target;
// otherwise it fails with EPERM if there were targets it may not signal
// (except for pid -1, which then succeeds, as on Linux), and with ESRCH
// (ErrNoProcess) if there were none. Signal 0 sends nothing.
func (k *ProcessManager) kill(sender *Process, pid int, sig ipc.Signal) error {
	targets, denied := k.targets(sender, pid, sig)
	switch {
	case len(targets) > 0:
	case denied && pid == -1:
		return nil // as Linux's kill(-1): success once there was someone to ask
	case denied:
		return fmt.Errorf("%w: %d", ErrPermission, pid)
	default:
		return fmt.Errorf("%w: %d", ErrNoProcess, pid)
	}
	if sig != 0 {
		for _, t := range targets {
			k.sendSignal(t, sig)
		}
	}
	return nil
}

// Privileged reports whether a process of owner may signal processes of
// any owner: "root", and the empty owner of the system itself.
func Privileged(owner string) bool { return owner == "" || owner == "root" }

// mayKill applies kill(2)'s permission rule (credentials(7)): the kernel
// and privileged senders may signal anyone, others only processes of their
// own owner. As on Linux, SIGCONT may also go to any process of the
// sender's session. Callers hold the tree lock.
func mayKillLocked(sender, target *Process, sig ipc.Signal) bool {
	switch {
	case sender == nil || Privileged(sender.Owner):
		return true
	case sender.Owner == target.Owner:
		return true
	}
	return sig == ipc.SIGCONT && sender.Sid == target.Sid
}

// targets returns the processes pid names that sender may send sig to, and
// whether pid named others that it may not signal.
func (k *ProcessManager) targets(sender *Process, pid int, sig ipc.Signal) (out []*Process, denied bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	add := func(p *Process) {
		if mayKillLocked(sender, p, sig) {
			out = append(out, p)
		} else {
			denied = true
		}
	}
	switch {
	case pid > 0:
		if pid == InitPID {
			return nil, false // init ignores every signal and can't be killed
		}
		p, ok := k.procs[pid]
		if !ok || p.remote {
			return nil, false // a remote child record is signalled where it runs
		}
		add(p)
	case pid == -1:
		for _, p := range k.procs {
			if p != k.init && p != sender && p.state() != StateZombie && !p.remote {
				add(p)
			}
		}
	default:
		pgid := -pid
		if pid == 0 && sender != nil {
			pgid = sender.Pgid
		}
		for _, p := range k.procs {
			if p.Pgid == pgid && p != k.init && p.state() != StateZombie && !p.remote {
				add(p)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	}
	return out, denied
}

// Wait blocks until pid has exited (or ctx ends) and returns a copy of it
// with its status. A process whose parent is init is reaped by Wait: the
// caller acts for init. A process with another parent stays a zombie until
// that parent waits for it.
func (k *ProcessManager) Wait(ctx context.Context, pid int) (*Process, error) {
	k.mu.Lock()
	p, ok := k.procs[pid]
	if !ok || pid == InitPID {
		k.mu.Unlock()
		return nil, fmt.Errorf("%w: %d", ErrNoProcess, pid)
	}
	if p.state() != StateZombie {
		if p.done == nil {
			p.done = make(chan struct{})
		}
		done := p.done
		k.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		k.mu.Lock()
	}
	snap := p.snapshot()
	if p.parent == k.init {
		if _, still := k.procs[pid]; !still {
			k.mu.Unlock()
			return nil, fmt.Errorf("%w: %d was reaped by another waiter", ErrNoProcess, pid)
		}
		k.reapLocked(p)
	}
	k.mu.Unlock()
	return snap, nil
}

// ReapZombie reaps pid if it is a zombie whose parent is init, as Wait
// would, without blocking or copying it, and reports whether it did. A
// process still running, a child of another process and an unknown PID are
// left alone.
func (k *ProcessManager) ReapZombie(pid int) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	p, ok := k.procs[pid]
	if !ok || pid == InitPID || p.parent != k.init || p.state() != StateZombie {
		return false
	}
	k.reapLocked(p)
	return true
}

// Get returns a copy of process pid.
func (k *ProcessManager) Get(pid int) (*Process, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	p, ok := k.procs[pid]
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrNoProcess, pid)
	}
	return p.snapshot(), nil
}

// List returns copies of every process in the table, init included, ordered
// by PID.
func (k *ProcessManager) List() []*Process {
	k.mu.Lock()
	out := make([]*Process, 0, len(k.procs))
	for _, p := range k.procs {
		out = append(out, p.snapshot())
	}
	k.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

// Count returns the number of live (not zombie) processes.
func (k *ProcessManager) Count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.nlive
}

// snapshot copies the exported view of p. Callers hold k.mu.
func (p *Process) snapshot() *Process {
	c := &Process{
		PID: p.PID, ParentPID: p.ParentPID, State: p.state(), CreatedAt: p.CreatedAt,
		Command: p.Command, Args: p.Args, Env: p.Env, Spawned: p.Spawned,
		Pgid: p.Pgid, Sid: p.Sid,
		Priority: p.Priority, Owner: p.Owner, CPUTime: time.Duration(p.cpuNs.Load()),
		Hogging: p.attention.Load()&attnHog != 0, Remote: p.remote,
	}
	p.mu.Lock()
	c.Capabilities, c.UnveilPaths = p.Capabilities, p.UnveilPaths
	c.StartedAt = p.StartedAt
	c.Limits = p.Limits
	c.Cwd = p.Cwd
	c.SignalMask = p.mask
	c.Status = p.Status
	c.Reason = p.Reason
	c.Files = append([]*File(nil), p.Files...)
	p.mu.Unlock()
	if c.State == StateZombie {
		c.ExitCode = c.Status.Code()
	}
	if c.Spawned == nil {
		c.Spawned = &Argv{Command: p.Command, Args: p.Args}
	}
	return c
}

// ShutdownError lists the processes Shutdown could not stop: they hold a CPU
// slot and never call into the system.
type ShutdownError struct {
	PIDs []int
}

// Error names the processes that kept Shutdown from completing.
func (e *ShutdownError) Error() string {
	return fmt.Sprintf("shutdown: %d process(es) never reached a system call: %v", len(e.PIDs), e.PIDs)
}

// Shutdown kills every process with SIGKILL and waits for them to end, until
// ctx is done. Processes that hold a slot and never call into the system
// can't be stopped in a cooperative kernel; Shutdown returns a *ShutdownError
// naming them instead of hanging. Every goroutine the kernel owns has ended
// when Shutdown returns nil. Calling Shutdown again, while the first call
// waits or after it gave up, waits in the same way.
func (k *ProcessManager) Shutdown(ctx context.Context) error {
	k.mu.Lock()
	first := !k.closing
	k.closing = true
	var live []*Process
	if first {
		for _, p := range k.procs {
			if p != k.init && p.state() != StateZombie && !p.remote {
				live = append(live, p)
			}
		}
		if k.nlive > 0 {
			k.allDone = make(chan struct{})
		}
	}
	allDone := k.allDone // nil once every process has ended
	k.mu.Unlock()
	if first {
		k.setLease(math.MaxInt64)
		for _, p := range live {
			k.sendSignal(p, ipc.SIGKILL)
		}
		close(k.quit)
	}
	if allDone != nil {
		select {
		case <-allDone:
		case <-ctx.Done():
			k.mu.Lock()
			var stuck []int
			for _, p := range k.procs {
				if p != k.init && p.state() != StateZombie && !p.remote {
					stuck = append(stuck, p.PID)
				}
			}
			k.mu.Unlock()
			sort.Ints(stuck)
			return &ShutdownError{PIDs: stuck}
		}
	}
	k.wg.Wait()
	return nil
}

// watchdog flags processes that hold a slot too long without a system call,
// and reaps init's zombies whose retention has passed.
func (k *ProcessManager) watchdog() {
	defer k.wg.Done()
	period := time.Duration(k.slice) * time.Duration(k.cfg.StuckSlices) / 2
	period = max(period, 10*time.Millisecond)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-k.quit:
			return
		case <-t.C:
			k.sched.flagHogs(k.clock.Now(), k.slice*int64(k.cfg.StuckSlices))
			k.limitSpinners(k.clock.Now())
			k.reapExpired(runtimeNano())
		}
	}
}

func (k *ProcessManager) reapExpired(now int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for z := k.init.zombies.head; z != nil && time.Duration(now-z.exitedAt) >= k.cfg.Retention; z = k.init.zombies.head {
		k.unlinkLocked(z)
	}
}

// Leases (Guarantee 3). The cluster holds a lease for the node and passes
// its end to the kernel. Every system call compares the kernel clock with
// it: once the lease has ended, a process completes no system call, running
// or blocked, until the lease is renewed; it parks holding no slot, and only
// a fatal signal ends it. A kernel without a lease (the default, as in the
// library) never freezes.

// RenewLease moves the end of the lease to d from now, if the lease has not
// ended yet (a kernel without a lease has not). It reports false, changing
// nothing, if it had ended: processes may be frozen, and the caller must
// first settle what the node may no longer run, then call ResumeLease.
func (k *ProcessManager) RenewLease(d time.Duration) bool {
	for {
		cur := k.leaseEnd.Load()
		now := k.clock.Now()
		if now >= cur {
			return false
		}
		if k.leaseEnd.CompareAndSwap(cur, now+int64(d)) {
			k.wakeFrozen()
			return true
		}
	}
}

// ResumeLease gives the kernel a new lease ending d from now after the old
// one ended, and lets frozen processes go on.
func (k *ProcessManager) ResumeLease(d time.Duration) { k.setLease(k.clock.Now() + int64(d)) }

// Freeze ends the lease now: every process stops at its next system call,
// and blocked ones cannot complete theirs, until ResumeLease or Thaw.
func (k *ProcessManager) Freeze() { k.setLease(math.MinInt64) }

// Thaw drops the lease altogether: processes run unfenced, as in a kernel
// that never had one.
func (k *ProcessManager) Thaw() { k.setLease(math.MaxInt64) }

// Frozen reports whether the lease has ended. Without a lease it reads no
// clock: the check is on every switch.
func (k *ProcessManager) Frozen() bool {
	end := k.leaseEnd.Load()
	return end != math.MaxInt64 && k.clock.Now() >= end
}

func (k *ProcessManager) frozenAt(now int64) bool { return now >= k.leaseEnd.Load() }

func (k *ProcessManager) setLease(end int64) {
	k.leaseEnd.Store(end)
	k.wakeFrozen()
}

// wakeFrozen wakes the processes parked by an ended lease, so that they
// look at it again. A process registers before it looks, so a renewal that
// comes in between either finds it registered or is seen by its look.
func (k *ProcessManager) wakeFrozen() {
	k.frozenMu.Lock()
	for p := range k.frozenSet {
		p.wake()
	}
	k.frozenMu.Unlock()
}

// parkFrozen parks p, which holds no slot, while the lease has ended. It
// returns once the lease is renewed or a fatal signal is pending.
func (k *ProcessManager) parkFrozen(p *Process) {
	k.frozenMu.Lock()
	if k.frozenSet == nil {
		k.frozenSet = make(map[*Process]struct{})
	}
	k.frozenSet[p] = struct{}{}
	k.frozenMu.Unlock()
	for k.Frozen() && !p.fatalPending() {
		p.park()
	}
	k.frozenMu.Lock()
	delete(k.frozenSet, p)
	k.frozenMu.Unlock()
}

var errKilled = errors.New("process killed")
