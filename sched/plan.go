package sched

// Plan is the planner's output: what to place where, what to evict, and why
// the rest stays pending. The leader's plan applier commits it through Raft.
// Each entry carries the (PID, Incarnation, state) it was computed from; the
// FSM's Apply re-checks them and rejects an entry whose process has moved on,
// so a plan computed from a stale view is harmless.
//
// Entries appear in the order the planner decided them: by priority, highest
// first, then FIFO.
type Plan struct {
	// Strategy is the strategy the plan was ranked with.
	Strategy Strategy
	// Placements assign pending processes to nodes.
	Placements []Placement
	// Preemptions propose evictions. The FSM requeues each evicted process
	// as its restart policy says; the process it was evicted for is placed
	// by a later plan, once the capacity has been freed.
	Preemptions []Preemption
	// Unplaced lists every pending process that the plan does not place,
	// with the reason. Every pending process appears exactly once, in
	// Placements or in Unplaced.
	Unplaced []Unplaced
}

// Placement assigns one pending process to a node.
type Placement struct {
	PID         uint64
	Incarnation uint64
	// ExpectState is the state the process had in the planner's view; the
	// FSM applies the placement only if it still finds it.
	ExpectState string
	// Node is the chosen node's ID.
	Node string
}

// Preemption proposes evicting a running process to make room for a pending
// one of higher priority.
type Preemption struct {
	PID         uint64
	Incarnation uint64
	// ExpectState is the state the victim had in the planner's view.
	ExpectState string
	// Node is the ID of the node the victim runs on.
	Node string
	// For is the PID of the pending process the room is made for.
	For uint64
}

// Cause classifies why a pending process was not placed.
type Cause uint8

const (
	// CauseInfeasible means no alive node satisfies the process's hard
	// requirements: constraints, --node, segment or pipe locality, or a
	// memory demand larger than any such node.
	CauseInfeasible Cause = iota + 1
	// CauseFull means feasible nodes exist but none has room, and no
	// preemption can make some.
	CauseFull
	// CausePreempting means room is being made by evictions, proposed in
	// this plan or already in flight; a later plan places the process.
	CausePreempting
	// CauseDeferred means the plan reached Config.MaxPlacementsPerPlan
	// before considering the process.
	CauseDeferred
)

// String returns the cause's name.
func (c Cause) String() string {
	switch c {
	case CauseInfeasible:
		return "infeasible"
	case CauseFull:
		return "full"
	case CausePreempting:
		return "preempting"
	case CauseDeferred:
		return "deferred"
	}
	return "unknown"
}

// Unplaced is a pending process the plan leaves pending. It is considered
// again by every later plan, so it is placed as soon as capacity frees up.
type Unplaced struct {
	PID         uint64
	Incarnation uint64
	Cause       Cause
	// Reason explains the cause in one line, for `vproc ps` and logs, for
	// example "no alive node satisfies constraint zone=eu".
	Reason string
}

// Empty reports whether the plan changes nothing, so that the applier can
// skip committing it.
func (p *Plan) Empty() bool {
	return len(p.Placements) == 0 && len(p.Preemptions) == 0
}
