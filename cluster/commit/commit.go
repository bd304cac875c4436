package commit

import (
	"errors"

	"github.com/vproc/vproc/fsm"
)

// SessionRef names a request within a client session.
type SessionRef struct {
	ID         uint64
	Request    uint64
	AckedBelow uint64
}

// Replication errors, kept apart from the table's own results (fsm's
// errors, in Result.Err).
var (
	// ErrNotLeader: this node is not the leader, and the command was not
	// dispatched. A plain retry, on the leader, is safe.
	ErrNotLeader = errors.New("not the leader")
	// ErrNoLeader: no leader is known, and the command was not
	// dispatched. A plain retry, later, is safe.
	ErrNoLeader = errors.New("no leader")
	// ErrUnknownOutcome: the command may have committed (a timeout, lost
	// leadership or a reset after dispatch). Retry it with the same session
	// and request id (Guarantee 9).
	ErrUnknownOutcome = errors.New("outcome unknown: retry with the same request id")
)

// Outcome is one command's outcome in a batch: its result, or a
// replication error (ErrNotLeader or ErrNoLeader when it was not
// dispatched, ErrUnknownOutcome when it may have committed).
type Outcome struct {
	Res *fsm.Result
	Err error
}
