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
// exported fields are the seed's; a Process handed out by Get or List is a
// copy, safe to read while the real one runs on.
type Process struct {
	PID          int
	ParentPID    int
	State        ProcessState
	ExitCode     int // wait(2)-style: see Status for the full status
	CreatedAt    time.Time
	StartedAt    time.Time
	Command      string
	Args         []string
	Env          []string
	Cwd          string
	Capabilities security.Promise
	UnveilPaths  []security.UnveilPath
	Limits       *ResourceLimits
	Files        []*File // the fd table; index is the descriptor
	SignalMask   ipc.SignalSet

	Pgid     int
	Sid      int
	Priority int    // 1..100, default 50
	Owner    string // the user the process runs as
	CPUTime  time.Duration
	Status   WaitStatus // valid once State is StateZombie
	Reason   string     // why the process died, when it was not a plain exit
	Hogging  bool       // holds its CPU slot past the stuck threshold without calling in

	k      *ProcessManager
	prog   Program
	sys    Sys        // the system-call surface handed to prog
	waiter procWaiter // the ipc.Waiter of the process's blocking calls

	// park is the process's single wake-up channel (capacity 1). Anything
	// that may let the process proceed sends to it without blocking; the
	// process rechecks its condition after every wake-up.
	park chan struct{}

	// Fields guarded by ProcessManager.mu (the process tree).
	parent            *Process
	children, zombies childList // live (and stopped) children; children that are zombies
	sibPrev, sibNext  *Process  // links in the parent's children or zombies list
	inZombies         bool
	adopted           bool          // reparented to init: init reaps it at once
	done              chan struct{} // closed at exit; made on demand by Wait
	waitEvents        uint8         // stop/continue events not yet reported to wait
	nchildren         int           // live children, for RLIMIT_NPROC
	exitedAt          time.Time
	stateCode         atomic.Uint32 // stateCode; written under the tree lock or by the owner
	attention         atomic.Uint32 // nonzero: a syscall must take the slow path

	// Fields guarded by mu (signal state).
	mu       sync.Mutex
	pending  ipc.SignalSet
	mask     ipc.SignalSet
	actions  *[ipc.NSIG]SigAction // nil: every signal has its default action
	stopped  bool                 // a stop signal has been acted on; cleared by SIGCONT
	killSig  ipc.Signal           // a fatal signal that must end the process
	killWhy  string
	contSeq  uint64     // counts SIGCONTs, so that a stop that races one is dropped
	stopSig  ipc.Signal // the signal of the last stop, for WUNTRACED
	xcpuNext uint64     // CPU ns at which the next SIGXCPU is due

	// Fields owned by the scheduler (guarded by cfs.mu).
	vruntime   uint64
	weight     uint32
	heapIdx    int32
	slotIdx    int32
	onSlot     atomic.Bool // written under cfs.mu; read without it by the owner
	queued     bool
	sliceStart int64 // clock reading when the slot was handed over
	cpuNs      atomic.Int64

	// Fields owned by the process's own goroutine.
	fsizeUsed  uint64
	mem        *memAccount
	ipcs       *procIPC // mappings and mq_notify registrations
	cwd        string   // guarded by mu for writes; the owner reads it freely
	cpuLimitAt int64    // CPU ns at which the limits must be checked again
	env        []string // copy-on-write: shares Env until Setenv
	envOwned   bool
	startMono  int64
	wallTimer  *time.Timer
}

// attention bits.
const (
	attnSignal uint32 = 1 << iota // a deliverable signal, or a kill, is pending
	attnHog                       // flagged as hogging its slot; cleared when it calls in
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
	select {
	case p.park <- struct{}{}:
	default:
	}
}

// childList is an intrusive doubly linked list of processes, oldest first.
type childList struct {
	head, tail *Process
	n          int
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
	l.n++
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
	l.n--
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
