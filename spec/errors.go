package spec

import (
	"errors"
	"strconv"

	"github.com/vproc/vproc/ipc"
)

// The sentinels of the grammars. A *SyntaxError matches the one of the
// grammar it failed in.
var (
	ErrBadLimit      = errors.New("bad limit")
	ErrBadRestart    = errors.New("bad restart policy")
	ErrBadConstraint = errors.New("bad constraint")
	ErrBadUse        = errors.New("bad use")
	ErrBadSize       = errors.New("bad size")
	ErrBadDuration   = errors.New("bad duration")
	ErrBadSignal     = errors.New("bad signal")
)

// SyntaxError is a malformed item of one of the grammars. Its message is one
// line: the grammar, the item and the reason, as in
//
//	bad limit "cpu=fast": "fast" is not a duration such as 2s
type SyntaxError struct {
	// Err is the grammar's sentinel, such as ErrBadLimit.
	Err error
	// Input is the malformed item.
	Input string
	// Reason says what is wrong with it.
	Reason string
}

// Error returns the one-line message.
func (e *SyntaxError) Error() string {
	return e.Err.Error() + " " + strconv.Quote(e.Input) + ": " + e.Reason
}

// Is reports whether target is the grammar's sentinel or ipc.EINVAL.
func (e *SyntaxError) Is(target error) bool { return target == e.Err || target == ipc.EINVAL }

func syntaxError(sentinel error, input, reason string) *SyntaxError {
	return &SyntaxError{Err: sentinel, Input: input, Reason: reason}
}

// quote is strconv.Quote, short for the messages.
func quote(s string) string { return strconv.Quote(s) }
