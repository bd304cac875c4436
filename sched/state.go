package sched

import "github.com/vproc/vproc/spec"

// State is the read-only view of the cluster that a plan is computed from:
// the process table's nodes, processes and IPC registries, plus the load each
// node gossips. The leader builds it from one FSM snapshot, so that all of
// its answers describe the same moment.
//
// The planner calls each list method once per plan and never modifies what
// they return. Slices may be in any order: the plan does not depend on it.
type State interface {
	// Nodes returns every node the table knows, alive or not.
	Nodes() []Node

	// Pending returns the processes waiting to be placed (state "pending").
	Pending() []Proc

	// Running returns the processes that hold capacity on a node: those in
	// state placed, running or stopped, with Node set. Processes that are
	// being evicted are included, with Evicting set.
	Running() []Proc

	// ObjectNode returns the node that hosts the named FIFO, message queue or
	// shared-memory segment, as the table's registries record it. ok is false
	// when the name is not registered.
	ObjectNode(kind UseKind, name string) (node string, ok bool)
}

// Node is one machine as the planner sees it.
//
// Nodes are identified by ID. Wherever a Proc or the registry names a node
// (Proc.Node, Proc.ParentNode, ObjectNode's answer, Proc.RequiredNode), the
// name is looked up as an ID first and as a Name second.
type Node struct {
	// ID identifies the node. IDs are unique; a node whose ID repeats an
	// earlier one is ignored.
	ID string
	// Name is the node's human name, the one `vproc spawn --node` takes.
	Name string
	// Labels are the node's labels, matched by label constraints.
	Labels map[string]string
	// Slots is the number of CPU slots the node offers (`agent --cpus`).
	// A node with no slots has no room for any process.
	Slots int
	// Memory is the memory, in bytes, the node offers to processes
	// (`agent --memory`). 0 means the node does not limit memory.
	Memory int64
	// Alive is true when the node's status is alive. Only alive nodes are
	// feasible; suspect, down and departed nodes never get placements.
	Alive bool
	// Load is the node's last gossiped load. It ranks nodes; it never makes
	// a node infeasible.
	Load Load
}

// Load is the load a node reports over gossip. Gossip is stale by up to a
// gossip interval and is not part of the replicated table, so the planner
// uses it to rank nodes, never to decide whether a process fits.
type Load struct {
	// BusySlots is the number of CPU slots running a process.
	BusySlots int
	// RunQueue is the number of ready processes waiting for a slot.
	RunQueue int
}

// Proc is one process as the planner sees it: a pending process to place, or
// a running one that holds capacity and may be preempted.
type Proc struct {
	// PID and Incarnation identify the process's current life. A plan
	// carries both, so that the FSM rejects a stale decision.
	PID         uint64
	Incarnation uint64
	// State is the process's state in the table ("pending", "placed",
	// "running", "stopped"). The plan copies it into each placement and
	// preemption as the state the FSM must still find.
	State string
	// Priority is the process's priority, MinPriority to MaxPriority.
	// 0 means DefaultPriority; values out of range are clamped.
	Priority int
	// Seq orders processes of equal priority: lower Seq is placed first
	// (FIFO). The table's creation index of the process fits.
	Seq uint64
	// PlacedAt orders running processes by when their current incarnation
	// was placed (for example the table index of the place command); among
	// equal priorities the most recently placed is preempted first.
	PlacedAt uint64
	// Node is the node a running process is assigned to.
	Node string
	// Memory is the memory the process may use, in bytes, taken from its
	// memory limit. 0 means unknown and counts as nothing.
	Memory int64
	// Constraints are label constraints (`spawn --constraint label=value`);
	// all of them must hold on the chosen node.
	Constraints []Constraint
	// RequiredNode, when set, is the only node the process may run on
	// (`spawn --node NAME`).
	RequiredNode string
	// Parent is the parent's PID, 0 if none.
	Parent uint64
	// ParentNode is the node the parent is assigned to, "" if the parent
	// runs nowhere (init, or a parent that is itself pending).
	ParentNode string
	// InheritsPipes is true when the process inherits anonymous pipe fds
	// from its parent. Pipes are node-local, so such a process must run on
	// its parent's node.
	InheritsPipes bool
	// Uses are the IPC objects the process declared (`spawn --uses`).
	// A segment's node is required; a FIFO's or queue's node is preferred.
	Uses []Use
	// Evicting is true for a running process that an earlier plan chose to
	// preempt and that has not left its node yet. It is never chosen again,
	// and the capacity it holds counts as capacity about to be freed.
	Evicting bool
}

// Constraint is a label constraint: the node's label Label must equal Value.
// It is the spawn grammar's type (spec.ParseConstraint parses one).
type Constraint = spec.Constraint

// UseKind is the kind of an IPC object a process declares it uses.
type UseKind = spec.Kind

const (
	// UseFIFO is a named pipe. FIFOs work from any node; running next to the
	// FIFO's node is preferred.
	UseFIFO = spec.KindFIFO
	// UseMQ is a message queue. Queues work from any node; running next to
	// the queue's node is preferred.
	UseMQ = spec.KindMQ
	// UseSHM is a shared-memory segment. Segments are node-local, so a
	// process that uses one must run on the segment's node.
	UseSHM = spec.KindSHM
)

// Use is an IPC object a process declares it uses: `spawn --uses mq:/q`.
// It is the spawn grammar's type (spec.ParseUses parses a list).
type Use = spec.Use
