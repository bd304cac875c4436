package runner

import (
	"context"
	"io"

	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
)

// Sender submits commands to the leader: the replica itself on the
// leader, the internal route from a follower (httpapi.Client).
type Sender interface {
	// Send commits cmd, in the session sess if not nil.
	Send(ctx context.Context, sess *commit.SessionRef, cmd fsm.Command) (*fsm.Result, error)
	// SendBatch sends many commands, without sessions, in one request (or
	// a few, when they are many), and returns each one's outcome, or an
	// error when no answer came for any of them.
	SendBatch(ctx context.Context, cmds []fsm.Command) ([]commit.Outcome, error)
	// RegisterSession registers a client session.
	RegisterSession(ctx context.Context) (uint64, error)
}

// Table is what the runner needs from the node's replica of the table.
type Table interface {
	// LocalView returns this node's view of the table.
	LocalView() *fsm.View
	// WaitApplied returns once the table has applied an index above index,
	// or ctx ends.
	WaitApplied(ctx context.Context, index uint64) error
}

// Logs is what the runner writes of its processes' output logs (package
// logstore).
type Logs interface {
	Writer(pid uint64) io.Writer
	// Writers returns the writers of pid's standard output and error.
	Writers(pid uint64) (stdout, stderr io.Writer)
	Finish(pid uint64)
	Remove(pid uint64)
	PIDs() []uint64
}
