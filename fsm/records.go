package fsm

import (
	"math"
	"time"

	"github.com/vproc/vproc/spec"
)

// State is the replicated state of a process (docs/design.md, "Words").
type State string

// The process states. They are the exact strings that the API and `ps` show.
const (
	StatePending State = "pending" // waiting for placement
	StatePlaced  State = "placed"  // assigned to a node, not yet reported started
	StateRunning State = "running" // started by its node
	StateStopped State = "stopped" // stopped by a signal (SIGSTOP, SIGTSTP, ...)
	StateExited  State = "exited"  // a zombie: status recorded, not yet reaped
	StateLost    State = "lost"    // its node was lost and its restart policy gave up
)

// Live reports whether a process in state s can still run: it is neither a
// zombie nor lost.
func (s State) Live() bool {
	return s != StateExited && s != StateLost
}

// OnNode reports whether a process in state s is assigned to a node that may
// be running it: placed, running or stopped.
func (s State) OnNode() bool {
	return s == StatePlaced || s == StateRunning || s == StateStopped
}

var stateCodes = []State{"", StatePending, StatePlaced, StateRunning, StateStopped, StateExited, StateLost}

// InitPID is the PID of init, which lives in the table and never runs.
const InitPID uint64 = 1

// Priority bounds (docs/design.md, "Words").
const (
	MinPriority     = 1
	MaxPriority     = 100
	DefaultPriority = 50
)

// Signal numbers that the state machine itself interprets (Linux x86-64).
const (
	SIGKILL = 9
	SIGCHLD = 17
	// NSIG is one more than the highest signal number a Signal may carry.
	NSIG = 32
)

// RestartPolicy says when an exited incarnation is replaced by a new one.
type RestartPolicy = spec.RestartPolicy

// The restart policies.
const (
	RestartNever     = spec.RestartNever
	RestartOnFailure = spec.RestartOnFailure
	RestartAlways    = spec.RestartAlways
)

var policyCodes = []RestartPolicy{"", RestartNever, RestartOnFailure, RestartAlways}

// Default backoff of a restarting process, used when its spec leaves the
// fields at zero.
const (
	DefaultBackoffBase = time.Second
	DefaultBackoffMax  = time.Minute
)

// Restart is a process's restart policy. A restart keeps the PID, increments
// the incarnation and waits an exponential backoff: BackoffBase doubled for
// every earlier restart, capped at BackoffMax.
type Restart struct {
	// Policy is never, on-failure or always. Empty means never.
	Policy RestartPolicy
	// MaxRestarts bounds the restarts; 0 means no bound.
	MaxRestarts int
	// BackoffBase is the delay before the first restart.
	BackoffBase time.Duration
	// BackoffMax caps the delay.
	BackoffMax time.Duration
}

// Limit is a soft/hard pair, as in getrlimit(2). 0 means unlimited.
type Limit = spec.Limit

// Limits are a process's resource limits (docs/design.md, "Unix semantics,
// limits and capabilities"), in the
// grammar's own type.
type Limits = spec.Limits

// limitPairs returns pointers to the six limits of l, in resource order.
func limitPairs(l *Limits) [spec.NumResources]*Limit {
	var out [spec.NumResources]*Limit
	for r := range spec.Resource(spec.NumResources) {
		out[r] = l.Ref(r)
	}
	return out
}

// Unveil is one unveil(2) entry: a path in the node's namespace and the
// permissions ("r", "w", "x", "c", in any combination).
type Unveil struct {
	Path  string
	Perms string
}

// Constraint requires the node to carry a label with this value.
type Constraint = spec.Constraint

// Kind is the kind of a named IPC object.
type Kind = spec.Kind

// The named IPC object kinds.
const (
	KindFIFO = spec.KindFIFO
	KindMQ   = spec.KindMQ
	KindSHM  = spec.KindSHM
)

var kindCodes = []Kind{"", KindFIFO, KindMQ, KindSHM}

// Use declares a named IPC object that a process uses, so that placement can
// follow it.
type Use = spec.Use

// Spec is what a process runs and how. It is immutable once spawned.
type Spec struct {
	// Command is the program; it must not be empty.
	Command string
	// Args are the arguments after the command.
	Args []string
	// Env holds "KEY=VALUE" entries.
	Env []string
	// Cwd is the working directory in the node's namespace.
	Cwd string
	// Priority is 1..100; 0 at spawn means DefaultPriority.
	Priority int
	// Limits are the resource limits. A pair left at zero is inherited
	// from the parent; none may exceed the parent's hard limit.
	Limits Limits
	// Promises are the pledge(2) promises, space separated. Empty inherits
	// the parent's; otherwise they must be a subset of the parent's.
	Promises string
	// Unveil is the unveil(2) list. Empty inherits the parent's.
	Unveil []Unveil
	// Restart is the restart policy.
	Restart Restart
	// Constraints are labels the node must carry.
	Constraints []Constraint
	// Node, if set, is the ID or name of the only node the process may run on.
	Node string
	// Uses lists the named IPC objects the process uses.
	Uses []Use
	// InheritsPipesFrom is the PID whose anonymous pipes the process
	// inherits (it must then run on that PID's node); 0 for none.
	InheritsPipesFrom uint64
	// Stdin says that the spawn asked for standard input: the node that
	// runs the first incarnation attaches the stream the client sends.
	// Without it the process reads EOF. Encoded from spec version 2 on.
	Stdin bool
	// Files are the descriptors the process inherits from a parent on
	// another node: each is an open file that node exported. Encoded from
	// spec version 3 on.
	Files []FileRef
}

// FileRef is one inherited descriptor of a spawn: the child's descriptor
// Fd is the open file that node Node exported under Export, opened with
// Flags (access mode and status flags).
type FileRef struct {
	Fd     int
	Node   string
	Export uint64
	Flags  int
}

// MemoryDemand is the memory the process may use, in bytes, as placement
// counts it: the hard memory limit, or the soft one when only that is set.
// 0 means no limit, which placement counts as nothing.
func (s *Spec) MemoryDemand() int64 {
	d := s.Limits.Mem.Hard
	if d == 0 {
		d = s.Limits.Mem.Soft
	}
	return int64(min(d, math.MaxInt64))
}

// Usage is what the processes assigned to a node (placed, running or
// stopped there) hold, as the table counts it.
type Usage struct {
	// Procs is the number of processes.
	Procs int
	// Memory is the sum of their MemoryDemand, in bytes.
	Memory int64
}

// Status is a wait(2)-style status.
type Status struct {
	// Exited is true for a normal exit (WIFEXITED), with Code.
	Exited bool
	// Code is the exit code, 0..255.
	Code int
	// Signal is the signal that ended the process (WTERMSIG), or 0.
	Signal int
	// Core is true when the signal dumped core.
	Core bool
	// Reason says why, when the state machine or the node knows more, such
	// as "killed", "node lost" or a broken promise.
	Reason string
}

// Failed reports whether the status is a failure for the on-failure policy:
// a non-zero code or a death by signal.
func (s Status) Failed() bool { return !s.Exited || s.Code != 0 || s.Signal != 0 }

// Process is the replicated record of a virtual process. Values returned by
// the read API are copies; their Spec is shared and must not be modified.
type Process struct {
	PID         uint64
	Incarnation uint64 // 1 for the first; a restart increments it
	Parent      uint64 // 0 only for init
	Pgid        uint64
	Sid         uint64
	Owner       string
	// Spec is what the process runs. It is never nil, and it is shared by
	// every copy of the record (the incarnations and states of one
	// spawn): it must not be modified. Once the process has exited or is
	// lost it is compacted: the command line cut to ExitedCmdline bytes,
	// no environment and none of what only placement or a start needs
	// (compact.go).
	Spec  *Spec
	Node  string // assigned node ID; empty while pending
	State State
	// Status is the final wait status once exited or lost; while a
	// restarted process is pending or running again it holds the status of
	// the previous incarnation.
	Status   Status
	Restarts int // restarts so far, not counting requeues after eviction
	// NotBefore is the leader time (unix ns) before which a pending process
	// must not be placed (restart backoff).
	NotBefore int64
	// Killed is set by a committed SIGKILL: no incarnation starts after it.
	Killed bool
	// Evicting is set by Preempt: the node stops the incarnation and its
	// exit requeues the process instead of counting as a failure.
	Evicting    bool
	EvictReason string
	CreatedAt   int64 // leader time, unix ns
	StartedAt   int64 // of the current incarnation
	ExitedAt    int64
	CreateIndex uint64 // log index of the spawn
	ModifyIndex uint64 // log index of the last change
	// QueueIndex is the log index at which the process last became
	// pending: the FIFO order among equal priorities.
	QueueIndex uint64
	// PlaceIndex is the log index of the place command of the current
	// incarnation; 0 while pending.
	PlaceIndex uint64
}

// Capacity is what a node offers.
type Capacity struct {
	Slots  int64 // CPU slots
	Memory int64 // bytes
}

// Label is a node label.
type Label struct {
	Key   string
	Value string
}

// NodeStatus is a node's membership status.
type NodeStatus string

// The node statuses.
const (
	NodeAlive   NodeStatus = "alive"
	NodeSuspect NodeStatus = "suspect"
	NodeDown    NodeStatus = "down"
	NodeLeft    NodeStatus = "left"
)

var nodeStatusCodes = []NodeStatus{"", NodeAlive, NodeSuspect, NodeDown, NodeLeft}

// Node is the replicated record of a cluster member.
type Node struct {
	ID          string
	Name        string
	RaftAddr    string
	HTTPAddr    string
	Capacity    Capacity
	Labels      []Label // sorted by Key, keys unique
	Status      NodeStatus
	CreatedAt   int64
	UpdatedAt   int64
	CreateIndex uint64
	ModifyIndex uint64
}

// Label returns the value of the node's label key.
func (n *Node) Label(key string) (string, bool) {
	for _, l := range n.Labels {
		if l.Key == key {
			return l.Value, true
		}
	}
	return "", false
}

// Attrs are the attributes of a named IPC object: MaxMsg and MsgSize for a
// message queue (mq_overview(7)), Size for a shared-memory segment.
type Attrs struct {
	MaxMsg  int64
	MsgSize int64
	Size    int64
}

// Object is a registry entry: a FIFO, message-queue or shared-memory name
// and the node that holds the object (Guarantee 7: one object per name).
type Object struct {
	Kind  Kind
	Name  string
	Node  string // the node that holds the object
	Owner string
	Mode  uint32
	Attrs Attrs
	// Lost is set when the holding node is lost. The name stays taken until
	// it is unlinked.
	Lost        bool
	CreatedAt   int64
	CreateIndex uint64
	ModifyIndex uint64
}

// SignalRequest is a signal made pending in one (pid, incarnation). Its node
// delivers it and acknowledges with SignalDelivered, which removes it.
type SignalRequest struct {
	ID          uint64
	PID         uint64
	Incarnation uint64
	Signal      int
	Sender      uint64 // PID of the sender; 0 for a client outside the table
	CreatedAt   int64
	Index       uint64 // log index at which it was made pending
}

// Strategy is the cluster-wide placement strategy.
type Strategy string

// The placement strategies.
const (
	StrategySpread  Strategy = "spread"
	StrategyBinpack Strategy = "binpack"
)

var strategyCodes = []Strategy{"", StrategySpread, StrategyBinpack}

// SchedulerConfig is the cluster-wide scheduler configuration stored in the
// table.
type SchedulerConfig struct {
	Strategy    Strategy
	ModifyIndex uint64
}

// Session is a client session (Guarantee 9).
type Session struct {
	ID         uint64
	CreatedAt  int64
	LastActive int64
	// Floor is the lowest request id the session can still answer: below it
	// a request whose response is not cached gets ErrRequestTooOld.
	Floor uint64
	// Cached is the number of cached responses.
	Cached int
}

// Target is one (pid, incarnation) that a command reached.
type Target struct {
	PID         uint64
	Incarnation uint64
}

// Result is what Apply returns for one command. Apply of a Batch returns a
// []*Result with one entry per inner command, in order. A Result may be
// shared (a retry returns the cached one) and must not be modified.
type Result struct {
	// Index is the log index at which the command was applied. A cached
	// answer keeps the index of the first apply.
	Index uint64
	// Err is nil or a domain error (see Code).
	Err error
	// PID and Incarnation name the process a command created or changed.
	PID         uint64
	Incarnation uint64
	// State is the process's state after the command.
	State State
	// Status is the wait status, for Exited, Reap and a final kill.
	Status Status
	// Targets are the processes that a Signal reached, or that NodeLost
	// moved, in PID order.
	Targets []Target
	// SessionID is the id a RegisterSession created.
	SessionID uint64
	// Ignored is set for an entry of an unknown type with the
	// ignore-if-unknown bit: nothing was applied.
	Ignored bool
}
