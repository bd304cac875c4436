package fsm

import "errors"

// The domain errors that Apply returns inside a Result. They are results, not
// failures of the state machine: every replica returns the same error for the
// same entry. Match them with errors.Is; a Result may wrap one in an *Error
// that adds a detail.
var (
	// ErrNoSuchProcess means that the PID (or no member of the process group)
	// is in the table, or that a spawn's parent has already exited (ESRCH).
	ErrNoSuchProcess = errors.New("no such process")
	// ErrNotExited means that a reap named a process that is not a zombie.
	ErrNotExited = errors.New("process has not exited")
	// ErrStale means that a command's expectation (pid, incarnation, state or
	// node) no longer matches the table. Nothing was changed.
	ErrStale = errors.New("stale command")
	// ErrKilled means that the process was killed: no incarnation of it may
	// start or be placed again.
	ErrKilled = errors.New("process was killed")
	// ErrPermission means that the operation is not allowed, such as
	// signalling or reaping init, raising a limit past the parent's hard limit
	// or widening the parent's promises (EPERM).
	ErrPermission = errors.New("operation not permitted")
	// ErrInvalid means that a field of the command is out of range or
	// malformed (EINVAL).
	ErrInvalid = errors.New("invalid argument")
	// ErrNoSuchNode means that the node is not in the table.
	ErrNoSuchNode = errors.New("no such node")
	// ErrNameExists means that a FIFO, queue or segment already has that name
	// (EEXIST, Guarantee 7).
	ErrNameExists = errors.New("name exists")
	// ErrNoSuchName means that no FIFO, queue or segment has that name (ENOENT).
	ErrNoSuchName = errors.New("no such name")
	// ErrSessionExpired means that the client session is unknown or has
	// expired. The wrapped command was not applied (Guarantee 9).
	ErrSessionExpired = errors.New("session expired")
	// ErrRequestTooOld means that the request id is below the session's
	// floor: its response was acknowledged or evicted from the cache, so the
	// FSM can no longer tell the first answer. The command was not applied.
	ErrRequestTooOld = errors.New("request too old")
	// ErrQuotaExceeded means that a spawn or an IPC create would take its
	// owner past the quota of the owner's ACL tokens (EAGAIN).
	ErrQuotaExceeded = errors.New("quota exceeded")
)

// codes maps each sentinel to its stable code, and back, for the HTTP layer
// and for the encoding of cached results. Codes only grow.
var codes = []struct {
	code string
	err  error
}{
	{"no_such_process", ErrNoSuchProcess},
	{"not_exited", ErrNotExited},
	{"stale", ErrStale},
	{"killed", ErrKilled},
	{"permission", ErrPermission},
	{"invalid", ErrInvalid},
	{"no_such_node", ErrNoSuchNode},
	{"name_exists", ErrNameExists},
	{"no_such_name", ErrNoSuchName},
	{"session_expired", ErrSessionExpired},
	{"request_too_old", ErrRequestTooOld},
	{"quota_exceeded", ErrQuotaExceeded},
}

// CodeUnknown is the code of an error that is not one of the package's
// sentinels.
const CodeUnknown = "unknown"

// Error is a domain error with a detail. It unwraps to one of the sentinels,
// so errors.Is works on it.
type Error struct {
	// Err is the sentinel.
	Err error
	// Detail says what was wrong, such as "priority 0 out of range 1..100".
	Detail string
}

// Error returns the sentinel's message followed by the detail.
func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + ": " + e.Detail
}

// Unwrap returns the sentinel.
func (e *Error) Unwrap() error { return e.Err }

func errorf(sentinel error, detail string) error {
	return &Error{Err: sentinel, Detail: detail}
}

// Code returns the stable string code of err: "" for nil, the code of the
// sentinel it wraps, or CodeUnknown.
func Code(err error) string {
	if err == nil {
		return ""
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return CodeUnknown
}

// ErrorForCode returns the sentinel for code, wrapped in an *Error when
// detail is not empty: the inverse of Code, for a client that receives a code
// and a message. An unknown code gives an *Error around a new error with
// that code as its message.
func ErrorForCode(code, detail string) error {
	if code == "" {
		return nil
	}
	var sentinel error
	for _, c := range codes {
		if c.code == code {
			sentinel = c.err
			break
		}
	}
	if sentinel == nil {
		sentinel = errors.New(code)
	}
	if detail == "" {
		return sentinel
	}
	return &Error{Err: sentinel, Detail: detail}
}

// errorDetail splits err into its code and detail, for encoding.
func errorDetail(err error) (code, detail string) {
	code = Code(err)
	var e *Error
	if errors.As(err, &e) {
		detail = e.Detail
	} else if code == CodeUnknown {
		detail = err.Error()
	}
	return code, detail
}
