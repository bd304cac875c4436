package node

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node/security"
)

// Process is a virtual process: a program run by the local kernel. The
// exported fields describe it (PID, parent, state, exit code, command,
// limits, fd table, ...); a Process handed out by Get or List is a copy,
// safe to read while the real one runs on.
//
// In the kernel's own Process, each field's comment names what guards it:
// the tree lock (ProcessManager.mu), the signal lock (mu), the scheduler's
// lock (FairScheduler.mu), or the process's own goroutine (the owner).
// Immutable fields are set before the process's goroutine starts. Fields
// marked "in copies" are filled in only in the copies Get, List and Wait
// return.
type Process struct {
	PID       int          // immutable
	ParentPID int          // tree lock: init's PID once reparented
	State     ProcessState // in copies
	ExitCode  int          // in copies: wait(2)-style, see Status for the full status
	CreatedAt time.Time    // immutable
	StartedAt time.Time    // mu
	Command   string       // tree lock for writes, by the owner (Exec): the program running now
	Args      []string     // tree lock for writes, by the owner (Exec)
	Env       []string     // tree lock for writes, by the owner (Exec): the environment of the last spawn or exec
	// Spawned is the command the process was spawned with, which a restart
	// runs. In copies it is always set; in the kernel's own Process it is
	// set by the first Exec (tree lock), and nil while the process runs
	// what it was spawned with.
	Spawned      *Argv
	Cwd          string                // mu for writes, by the owner (Chdir)
	Capabilities security.Promise      // mu for writes, by the owner (Pledge); pledge.go
	UnveilPaths  []security.UnveilPath // mu for writes, by the owner (Unveil); never changed in place
	Limits       *ResourceLimits       // mu for writes, by the owner; the value is never changed in place
	Files        []*File               // mu for writes, by the owner: the fd table, indexed by descriptor
	SignalMask   ipc.SignalSet         // in copies

	Pgid     int           // tree lock
	Sid      int           // tree lock
	Priority int           // immutable: 1..100, default 50
	Owner    string        // immutable: the user the process runs as
	CPUTime  time.Duration // in copies
	Status   WaitStatus    // mu: valid once State is StateZombie
	Reason   string        // mu: why the process died, when it was not a plain exit
	Hogging  bool          // in copies: holds its CPU slot past the stuck threshold without calling in
	Remote   bool          // in copies: a remote child record; the process runs on another node

	// The kernel's own fields follow, ordered so that the struct has no
	// padding (a sleeping process costs little more than its goroutine).
	// Fields narrower than a word come first, each naming what guards it.
	// Process is 568 bytes: with the 8-byte header the runtime puts before
	// objects of more than 512 bytes it fills the 576-byte size class, and
	// one more word would move it to the 640-byte one (TestProcessSize).
	// What few processes need lives in procRare.

	remote          bool        // immutable: a remote child record (Allocation.Elsewhere); no program runs here
	inheritedUnveil bool        // immutable: the unveil list came from the parent
	inZombies       bool        // tree lock: in the parent's zombies list
	adopted         bool        // tree lock: reparented to init: init reaps it at once
	waitEvents      uint8       // tree lock: stop/continue events not yet reported to wait
	stopSig         uint8       // tree lock: the signal of the last stop, for WUNTRACED
	stopped         bool        // mu: a stop signal has been acted on; cleared by SIGCONT
	continued       bool        // mu: a SIGCONT ended a stop the process has yet to report
	killSig         uint8       // mu: a fatal signal (an ipc.Signal) that must end the process
	unveilLock      bool        // mu for writes, by the owner: unveil(NULL, NULL) was called
	queued          bool        // scheduler's lock: in the run queue
	onSlot          atomic.Bool // written under the scheduler's lock; read without it by the owner
	nchildren       int32       // tree lock: live children, for RLIMIT_NPROC
	contSeq         uint32      // mu: counts SIGCONTs, so that a stop that races one is dropped
	woken           atomic.Bool // a wake-up is pending: see park

	// Atomic fields.
	stateCode atomic.Uint32 // a stateCode; written by the owner (under the tree lock at exit)
	attention atomic.Uint32 // attn bits: set by signal senders and the watchdog, cleared by the owner

	k    *ProcessManager // immutable
	prog Program         // the owner: replaced by Exec
	sys  Sys             // immutable: the system-call surface handed to prog

	// parkMu is the process's single wake-up, a binary semaphore that
	// costs no allocation: it is locked while no wake-up is pending (woken
	// false). Anything that may let the process proceed calls wake, which
	// never blocks: the first wake-up unlocks it, later ones until the
	// process parks again are merged. The process parks by locking it, and
	// rechecks its condition after every wake-up.
	parkMu sync.Mutex

	// Fields guarded by the tree lock, ProcessManager.mu.
	parent            *Process
	children, zombies childList     // live (and stopped) children; children that are zombies
	sibPrev, sibNext  *Process      // links in the parent's children or zombies list
	done              chan struct{} // closed at exit; made on demand by Wait
	exitedAt          int64         // runtime nanoseconds at exit, for Retention

	// Fields guarded by mu, the signal lock.
	mu      sync.Mutex
	pending ipc.SignalSet
	mask    ipc.SignalSet
	actions *[ipc.NSIG]SigAction // nil: every signal has its default action

	// Fields guarded by the scheduler's lock, FairScheduler.mu. The owner
	// also reads sliceStart without it while it holds its slot: it is
	// written then only by the owner's own calls into the scheduler.
	vruntime   uint64
	weight     uint32 // immutable: the CPU weight of Priority
	heapIdx    int32  // index in the run queue, or -1
	slotIdx    int32  // index in the slot holders, or -1
	timerIdx   int32  // the timer heap's lock: index in the timer heap plus one; 0 when not in it
	sliceStart int64  // clock reading when the slot was handed over or last charged
	cpuNs      atomic.Int64
	timerWhen  int64 // the timer heap's lock (ProcessManager.timers): runtime nanoseconds at which a timed wait ends

	// Fields owned by the process's own goroutine. The owner reads Cwd
	// without the lock: it is the only writer.
	fsizeUsed  uint64 // bytes written against RLIMIT_FSIZE
	cpuLimitAt int64  // CPU ns at which the limits must be checked again

	// rare holds what few processes need, made on first use (more).
	rare atomic.Pointer[procRare]
}

// procRare is the part of a Process that most processes never need: a
// sleeping process without descriptor flags, limits, IPC mappings, a
// changed environment or a kernel-decided kill keeps Process within its
// allocation size class (TestProcessSize). Each field keeps the guard it
// would have in Process; the pointer itself is set once, atomically.
type procRare struct {
	// Owned by the process's own goroutine.
	cloexec   *[]bool     // FD_CLOEXEC of each descriptor, indexed like Files; nil while none has it
	xcpuNext  uint64      // CPU ns at which the next SIGXCPU is due
	mem       *memAccount // IPC memory charged against RLIMIT_MEM
	ipcs      *procIPC    // mappings and mq_notify registrations
	envSet    *[]string   // the environment once Setenv or Unsetenv changed it; nil while it is Env
	wallTimer *time.Timer // RLIMIT_WALL's timer; its callback only signals

	execPromises security.Promise // mu for writes, by the owner: what the programs it runs start with (0: its promises)
	doom         *doom            // mu: the context Sys.Context hands out; nil until asked for
	killWhy      *string          // mu: why, for a kill the kernel decided (a limit, a panic); nil for a plain signal
}

// more returns p's procRare, making it on first use. Any goroutine may
// call it; the fields it then touches keep their own guards.
func (p *Process) more() *procRare {
	if r := p.rare.Load(); r != nil {
		return r
	}
	r := new(procRare)
	if p.rare.CompareAndSwap(nil, r) {
		return r
	}
	return p.rare.Load()
}

// execPromises returns what the programs p runs start with (0: its
// promises). Callers hold p.mu, or are p's goroutine.
func (p *Process) execPromises() security.Promise {
	if r := p.rare.Load(); r != nil {
		return r.execPromises
	}
	return 0
}

// Argv is a command and its arguments.
type Argv struct {
	Command string
	Args    []string // arguments after the command
}

// attention bits.
const (
	attnSignal uint32 = 1 << iota // a deliverable signal, or a kill, is pending
	attnHog                       // flagged as hogging its slot; cleared when it calls in
	attnGone                      // the program an Exec started has ended: no call completes
)

func (p *Process) state() ProcessState { return stateCode(p.stateCode.Load()).state() }

// setState moves p to a new state. It panics on a move the transition table
// forbids: inside the kernel that is a broken invariant, not an input error.
func (p *Process) setState(to stateCode) {
	from := stateCode(p.stateCode.Load())
	if from == to {
		return
	}
	if !legal[from][to] {
		panic(CheckTransition(from.state(), to.state()))
	}
	p.stateCode.Store(uint32(to))
}

// wake makes the process recheck whatever it waits for. It never blocks.
func (p *Process) wake() {
	if p.woken.CompareAndSwap(false, true) {
		p.parkMu.Unlock() // a sync.Mutex may be unlocked by another goroutine
	}
}

// park blocks until a wake-up is pending and takes it. A wake that comes
// between the two steps finds one still pending and is merged into it: the
// caller rechecks its condition after park returns.
func (p *Process) park() {
	p.parkMu.Lock()
	p.woken.Store(false)
}

// initPark sets up the wake-up of a new process: none pending.
func (p *Process) initPark() { p.parkMu.Lock() }

// childList is an intrusive doubly linked list of processes, oldest first.
// It is guarded by the tree lock, ProcessManager.mu.
type childList struct {
	head, tail *Process
}

func (l *childList) push(c *Process) {
	c.sibNext = nil
	c.sibPrev = l.tail
	if l.tail != nil {
		l.tail.sibNext = c
	} else {
		l.head = c
	}
	l.tail = c
}

func (l *childList) remove(c *Process) {
	if c.sibPrev != nil {
		c.sibPrev.sibNext = c.sibNext
	} else {
		l.head = c.sibNext
	}
	if c.sibNext != nil {
		c.sibNext.sibPrev = c.sibPrev
	} else {
		l.tail = c.sibPrev
	}
	c.sibPrev, c.sibNext = nil, nil
}

// WaitStatus is a wait(2) status, encoded as Linux encodes it.
type WaitStatus uint32

// ExitedStatus returns the status of a process that exited with code.
func ExitedStatus(code int) WaitStatus { return WaitStatus((code & 0xff) << 8) }

// SignaledStatus returns the status of a process killed by sig.
func SignaledStatus(sig ipc.Signal, core bool) WaitStatus {
	s := WaitStatus(sig & 0x7f)
	if core {
		s |= 0x80
	}
	return s
}

func stoppedStatus(sig ipc.Signal) WaitStatus { return WaitStatus(sig)<<8 | 0x7f }

const continuedStatus WaitStatus = 0xffff

// Exited reports whether the process ended by exiting.
func (w WaitStatus) Exited() bool { return w&0x7f == 0 }

// ExitStatus returns the exit code when Exited.
func (w WaitStatus) ExitStatus() int {
	if !w.Exited() {
		return -1
	}
	return int(w>>8) & 0xff
}

// Signaled reports whether the process was killed by a signal.
func (w WaitStatus) Signaled() bool { return w&0x7f != 0x7f && w&0x7f != 0 && w != continuedStatus }

// Signal returns the killing signal when Signaled.
func (w WaitStatus) Signal() ipc.Signal {
	if !w.Signaled() {
		return 0
	}
	return ipc.Signal(w & 0x7f)
}

// CoreDump reports whether a killing signal's default action was Core.
func (w WaitStatus) CoreDump() bool { return w.Signaled() && w&0x80 != 0 }

// Stopped reports whether this is a stop report (WUNTRACED).
func (w WaitStatus) Stopped() bool { return w&0xff == 0x7f }

// StopSignal returns the stopping signal when Stopped.
func (w WaitStatus) StopSignal() ipc.Signal {
	if !w.Stopped() {
		return 0
	}
	return ipc.Signal(w>>8) & 0xff
}

// Continued reports whether this is a continue report (WCONTINUED).
func (w WaitStatus) Continued() bool { return w == continuedStatus }

// Code is the number a shell shows as $?: the exit code, or 128+N for a
// death by signal N.
func (w WaitStatus) Code() int {
	switch {
	case w.Exited():
		return w.ExitStatus()
	case w.Signaled():
		return 128 + int(w.Signal())
	case w.Stopped():
		return 128 + int(w.StopSignal())
	}
	return 0
}

// String describes the status as a shell would.
func (w WaitStatus) String() string {
	switch {
	case w.Exited():
		return "exit status " + strconv.Itoa(w.ExitStatus())
	case w.Signaled():
		s := "killed by " + w.Signal().String()
		if w.CoreDump() {
			s += " (core dumped)"
		}
		return s
	case w.Stopped():
		return "stopped by " + w.StopSignal().String()
	case w.Continued():
		return "continued"
	}
	return "status " + strconv.Itoa(int(w))
}
