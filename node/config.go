package node

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node/security"
	"github.com/vproc/vproc/node/vfs"
)

// Config configures a ProcessManager. Start from DefaultConfig.
type Config struct {
	// Slots is K, the number of CPU slots: how many processes execute at
	// once. It defaults to GOMAXPROCS.
	Slots int
	// Slice is the time a process may keep its slot while others wait.
	Slice time.Duration
	// StuckSlices is N: a process that holds its slot for N slices without
	// making a system call is reported as hogging.
	StuckSlices int
	// Retention is how long init keeps the zombie of a process spawned
	// through the library (its parent is init) before reaping it unasked.
	// Orphans that init adopts are reaped at once.
	Retention time.Duration
	// PipeCapacity is the buffer size of a new pipe.
	PipeCapacity int
	// MaxProcesses caps the live processes of the node, like threads-max;
	// spawning past it is EAGAIN.
	MaxProcesses int
	// FS is the namespace that paths resolve in. Nil means a fresh
	// in-memory namespace.
	FS vfs.FS
	// Programs resolves the command of every spawn to the program it runs.
	// Nil means an empty ProgramTable: every spawn fails with
	// ErrUnknownProgram. Package node/builtins installs the shell and the
	// standard programs into a ProgramTable.
	Programs Resolver
	// Clock is the scheduler's time source. Nil means the monotonic clock.
	Clock Clock
	// Owner is the user of processes spawned without one.
	Owner string
	// Logger receives the kernel's diagnostics. Nil discards them.
	Logger *slog.Logger
	// PIDs allocates the PIDs of processes spawned without one. Nil means a
	// local counter. The cluster plugs in PIDs that are unique cluster-wide,
	// and runs a child elsewhere when its spawn names another node (see
	// Allocation.Elsewhere and README.md, "Children on other nodes").
	PIDs PIDAllocator
	// Signals, if set, carries the kill(2) calls of processes that this
	// kernel cannot settle alone: a process group (kill(-pgid), kill(0)),
	// and a PID that does not run here. Nil keeps every kill local. The
	// cluster records such a signal in its table, which makes it pending
	// in every member wherever it runs, this node's included.
	Signals SignalRouter
	// OnEvent, if set, is told when a process starts, stops, continues,
	// replaces its program (Exec), changes its group or session after its
	// spawn (setpgid, setsid) and exits, and when a parent reaps it. It is called from kernel goroutines with no lock held and must
	// not block. Each process's events are reported by its own goroutine,
	// in the order they happened.
	OnEvent func(Event)
	// Names, if set, shares FIFO, message-queue and shared-memory names
	// with other nodes and opens the objects they hold (names.go). Nil
	// keeps every name on this kernel.
	Names Names
}

// PIDAllocator hands out PIDs that are never reused. AllocPID may block; a
// process calling spawn gives up its CPU slot meanwhile. The cluster records
// the child in the replicated table as it allocates its PID.
type PIDAllocator interface {
	AllocPID(req PIDRequest) (Allocation, error)
}

// PIDReleaser is an optional ability of a PIDAllocator: the kernel calls
// ReleasePID when a spawn fails after its PID was allocated (the node's
// process limit, the parent's nproc limit, shutdown), so that the process
// recorded for it never runs.
type PIDReleaser interface {
	ReleasePID(pid int)
}

// PIDRequest describes the process a PID is allocated for.
type PIDRequest struct {
	Parent   int // 1 (init) for a spawn through the library
	Command  string
	Args     []string
	Priority int
	// Env and Cwd are the environment and working directory the child
	// starts with (inherited or given), for a child that runs elsewhere.
	Env []string
	Cwd string
	// Node is SpawnAttr.Node: the node the child must run on, "" for the
	// parent's.
	Node string
	// Pgid and Setsid are SpawnAttr's: the child's process group (0 the
	// parent's, -1 a new one, > 0 that one) and a new session.
	Pgid   int
	Setsid bool
	// Files are the descriptors of a child that may run on another node
	// (Node set), each exported by this kernel for the child to claim
	// there (ClaimExport).
	Files []ExportedFD
	// Promises and Unveil are what the child starts with (pledge.go):
	// the parent's execpromises narrowed by the spawn's, and the unveil
	// list, for the table's record of a child that runs elsewhere.
	Promises security.Promise
	Unveil   []security.UnveilPath
}

// Allocation is the answer of a PIDAllocator.
type Allocation struct {
	PID int
	// Elsewhere says that the child runs on another node: the kernel keeps
	// a remote child record for its parent (no program runs here) and
	// learns of its stops, continues and exit through ReportRemote.
	Elsewhere bool
}

// SignalRouter sends signals beyond the local kernel (Config.Signals).
type SignalRouter interface {
	// Signal sends sig from process sender to target: a PID (> 1) or a
	// process group (-pgid). It returns once the signal is recorded, with
	// ESRCH when no process matches, EPERM or EINVAL for what the
	// recorder refuses, and EAGAIN when it could not be recorded. It may
	// block; the caller gives up its CPU slot meanwhile.
	Signal(sender, target int, sig ipc.Signal) error
}

// EventKind says what happened to a process.
type EventKind uint8

// The events OnEvent receives.
const (
	EventStarted EventKind = iota + 1
	EventStopped
	EventContinued
	EventExited
	// EventReaped: a parent other than init reaped the process with Wait4
	// (a local child or a remote child record).
	EventReaped
	// EventExec: the process replaced its program with Sys.Exec; Command
	// and Args name the program it runs now. The PID, and the spec a
	// restart runs, stay the same.
	EventExec
	// EventSetGroup: the process changed its process group (setpgid) or
	// started a session (setsid) after its spawn; Pgid and Sid are the new
	// ones.
	EventSetGroup
)

// String returns the event's name, such as "started".
func (e EventKind) String() string {
	switch e {
	case EventStarted:
		return "started"
	case EventStopped:
		return "stopped"
	case EventContinued:
		return "continued"
	case EventExited:
		return "exited"
	case EventReaped:
		return "reaped"
	case EventExec:
		return "exec"
	case EventSetGroup:
		return "set-group"
	}
	return "event"
}

// Event is a lifecycle change of a process.
type Event struct {
	PID    int
	Kind   EventKind
	Status WaitStatus // for EventExited: the wait status; EventStopped: the stop report
	Reason string     // for EventExited: why it died, when not a plain exit
	CPU    time.Duration
	// Command and Args, for EventExec: the program the process runs now.
	Command string
	Args    []string
	// Pgid and Sid, for EventSetGroup: the process's group and session now.
	Pgid, Sid int
}

// DefaultConfig returns the defaults: GOMAXPROCS slots, 2 ms slices, hogging
// after 50 slices, one hour of retention and 64 KiB pipes.
func DefaultConfig() Config {
	return Config{
		Slots:        runtime.GOMAXPROCS(0),
		Slice:        2 * time.Millisecond,
		StuckSlices:  50,
		Retention:    time.Hour,
		PipeCapacity: ipc.DefaultPipeCapacity,
		MaxProcesses: 1 << 22,
		Owner:        "root",
	}
}

// ErrBadConfig is wrapped by every Validate error.
var ErrBadConfig = errors.New("bad node config")

// Validate checks each field and how fields relate.
func (c *Config) Validate() error {
	switch {
	case c.Slots < 1:
		return fmt.Errorf("%w: Slots must be at least 1, got %d", ErrBadConfig, c.Slots)
	case c.Slice <= 0:
		return fmt.Errorf("%w: Slice must be positive, got %v", ErrBadConfig, c.Slice)
	case c.StuckSlices < 2:
		return fmt.Errorf("%w: StuckSlices must be at least 2, got %d", ErrBadConfig, c.StuckSlices)
	case c.Retention < 0:
		return fmt.Errorf("%w: Retention must not be negative", ErrBadConfig)
	case c.PipeCapacity <= 0 || c.PipeCapacity > ipc.MaxPipeCapacity:
		return fmt.Errorf("%w: PipeCapacity must be in 1..%d, got %d", ErrBadConfig, ipc.MaxPipeCapacity, c.PipeCapacity)
	case c.MaxProcesses < 1:
		return fmt.Errorf("%w: MaxProcesses must be at least 1", ErrBadConfig)
	case c.Owner == "":
		return fmt.Errorf("%w: Owner must not be empty", ErrBadConfig)
	}
	return nil
}
