package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/node"
)

// SessionNames is the optional ability of a Node to create and unlink IPC
// names in a client's session (Guarantee 9), so that a retry after an
// unknown outcome gets the first attempt's answer rather than EEXIST or
// ENOENT for that attempt's own effect (ipcnet.Net's InSession and
// Answer).
type SessionNames interface {
	// InSession returns ctx carrying request sess: a create or unlink
	// by the local kernel given it commits its registry change as that
	// request (node.Names.Register).
	InSession(ctx context.Context, sess *commit.SessionRef) context.Context
	// Answer returns the first answer of request sess if an earlier
	// attempt of it changed the registry, else an answer with an error.
	Answer(ctx context.Context, sess *commit.SessionRef, kind node.NameKind) (*fsm.Result, error)
}

// inSession runs op, a create or unlink by the local kernel, in the client
// session of r, when r has one and the node can: the context op is given
// carries the session to the registry change the kernel's call makes, and
// to that call's alone. When op fails with
// retryErr (EEXIST for a create, ENOENT for an unlink) and an earlier
// attempt of the same request changed the registry, the request succeeded
// then: that first answer is returned. Errors come back marked for fail.
func (s *Server) inSession(r *http.Request, kind node.NameKind, retryErr error, op func(context.Context) error) error {
	sess, err := sessionFrom(r)
	if err != nil {
		return err
	}
	sn, ok := s.node.(SessionNames)
	if sess == nil || !ok {
		if err := op(r.Context()); err != nil {
			return errnoError(err)
		}
		return nil
	}
	err = op(sn.InSession(r.Context(), sess))
	if err == nil {
		return nil
	}
	if !errors.Is(err, retryErr) {
		return errnoError(err)
	}
	res, aerr := sn.Answer(r.Context(), sess, kind)
	switch {
	case aerr != nil:
		// Whether an earlier attempt made the name so is not known: the
		// errno may be that attempt's own effect. The client retries
		// with the same request id, as after any unknown outcome.
		return &httpError{http.StatusServiceUnavailable, api.CodeUnknownOutcome,
			fmt.Sprintf("%v; whether an earlier attempt of this request caused it is unknown (%v): retry with the same request id", err, aerr)}
	case res.Err == nil:
		return nil // the first attempt's answer
	case errors.Is(res.Err, fsm.ErrSessionExpired), errors.Is(res.Err, fsm.ErrRequestTooOld):
		// The session no longer tells: answered as a spawn in it is.
		return res.Err
	}
	return errnoError(err)
}
