package client

import (
	"errors"
	"net/http"
	"strings"

	"github.com/vproc/vproc/cluster/api"
)

// Sentinels that errors of the Client match with errors.Is.
var (
	// ErrNotFound means that the process (or node, or name) is not in the
	// table: codes no_such_process, no_such_node and no_such_name.
	ErrNotFound = errors.New("not found")
	// ErrNoLeader means that the cluster had no leader for as long as the
	// retries lasted: codes no_leader and not_leader.
	ErrNoLeader = errors.New("no leader")
	// ErrUnknownOutcome means that a write may or may not have been applied:
	// it failed after it may have reached the leader, and every retry with
	// the same request id failed too.
	ErrUnknownOutcome = errors.New("outcome unknown")
	// ErrSessionExpired means that the write's session expired while its
	// outcome was unknown. It was not applied by the answering attempt; an
	// earlier attempt may have applied it. The next write registers a new
	// session.
	ErrSessionExpired = errors.New("session expired")
	// ErrUnknownProgram means that the command names no program the node
	// knows (the exit code 127 of run).
	ErrUnknownProgram = errors.New("unknown program")
)

// StatusError is an error answer of the API: a non-2xx status and its body.
// It unwraps to the body's *api.Error and matches the sentinel its code
// means.
type StatusError struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Err is the decoded body; its Code is always set.
	Err *api.Error
}

// Error returns the server's message, or the code when there is none.
func (e *StatusError) Error() string {
	if e.Err.Message != "" {
		return e.Err.Message
	}
	return strings.ReplaceAll(e.Err.Code, "_", " ")
}

// Unwrap returns the *api.Error of the body.
func (e *StatusError) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel that the error's code means.
func (e *StatusError) Is(target error) bool {
	switch e.Err.Code {
	case api.CodeNoSuchProcess, "no_such_node", "no_such_name":
		return target == ErrNotFound
	case api.CodeNoLeader, api.CodeNotLeader:
		return target == ErrNoLeader
	case api.CodeUnknownOutcome:
		return target == ErrUnknownOutcome
	case api.CodeSessionExpired:
		return target == ErrSessionExpired
	case api.CodeUnknownProgram:
		return target == ErrUnknownProgram
	}
	return false
}

// codeOf returns the code of an error answer, or "" for any other error.
func codeOf(err error) string {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Err.Code
	}
	return ""
}

// statusCode gives a code to an error answer whose body has none (a proxy's
// page, an empty body).
func statusCode(status int) string {
	switch {
	case status == http.StatusBadRequest:
		return api.CodeBadRequest
	case status == http.StatusNotFound:
		return api.CodeNotFound
	case status == http.StatusRequestEntityTooLarge:
		return api.CodeTooLarge
	case status == http.StatusBadGateway, status == http.StatusServiceUnavailable:
		return api.CodeUnavailable
	case status == http.StatusGatewayTimeout, status == http.StatusRequestTimeout:
		return api.CodeTimeout
	case status >= 500:
		return api.CodeInternal
	}
	return api.CodeBadRequest
}
