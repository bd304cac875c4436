package fsm

import "fmt"

// What an entry changed. ApplyEntryChanges returns, besides the results,
// one Change per record an entry created, replaced or removed (processes,
// nodes, registry entries) and per signal a command sent, in the order the
// entry made them. The state machine only describes; deriving events,
// buffering and fan-out belong to the agent. Records are immutable once in
// the table, so a Change may keep pointers to them.

// ChangeKind says what a Change is about.
type ChangeKind uint8

// The kinds of change.
const (
	// ChangeProcess: a process record was created (Old nil), replaced, or
	// reaped (New nil).
	ChangeProcess ChangeKind = iota + 1
	// ChangeNode: a node record was created (OldNode nil) or replaced.
	ChangeNode
	// ChangeNodeLost: the leader declared a node lost; NewNode is its
	// record after the declaration, Reason says why.
	ChangeNodeLost
	// ChangeObject: a registry entry was created (OldObject nil), replaced
	// (marked lost) or unlinked (NewObject nil).
	ChangeObject
	// ChangeSignal: a signal was sent to a live incarnation (Signal), by
	// a client or a process, or by a preemption (Reason "preempted").
	ChangeSignal
)

// String returns the kind's name.
func (k ChangeKind) String() string {
	switch k {
	case ChangeProcess:
		return "process"
	case ChangeNode:
		return "node"
	case ChangeNodeLost:
		return "node-lost"
	case ChangeObject:
		return "object"
	case ChangeSignal:
		return "signal"
	}
	return fmt.Sprintf("change(%d)", uint8(k))
}

// Change is one change an entry made to the table. Only the fields of its
// Kind are set.
type Change struct {
	Kind ChangeKind
	// Time is the table's clock (leader time, unix ns) when the change was
	// made: the same on every replica.
	Time int64

	OldProc, NewProc     *Process
	OldNode, NewNode     *Node
	OldObject, NewObject *Object
	Signal               *SignalSent
	// Reason says why, for a lost node or a preemption's signal.
	Reason string
}

// SignalSent is a signal a command sent to one incarnation.
type SignalSent struct {
	PID         uint64
	Incarnation uint64
	Node        string // the incarnation's node, "" while pending
	Signal      int
	Sender      uint64 // the sending PID, 0 for a client outside the table
}

// ApplyEntryChanges is ApplyEntry that also returns what the entry
// changed, in order. A failed command changes nothing and adds nothing.
// Recording costs an append per change; ApplyEntry records nothing.
func (f *FSM) ApplyEntryChanges(index uint64, data []byte) (any, []Change, error) {
	var changes []Change
	_, out, err := f.ApplyDecoded(index, data, &changes)
	if err != nil {
		return nil, nil, err
	}
	return out, changes, nil
}

// note records a change when the entry's changes are recorded.
func (a *applier) note(c Change) {
	if a.changes == nil {
		return
	}
	c.Time = a.s.clock
	*a.changes = append(*a.changes, c)
}
