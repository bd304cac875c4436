package ipcnet

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// Client sessions for IPC names (Guarantee 9). A client that creates or
// unlinks a FIFO, queue or segment name sends its session and request id,
// as with a spawn. The HTTP handler gives the kernel's call a context
// carrying that request (InSession), which the kernel passes on to the
// registry change it makes (node.Names.Register and Unregister): the
// change travels in the client's session rather than the node's own, so
// the table caches its answer under the client's request id. A retry after
// an unknown outcome then meets the first attempt's effect (the name
// exists, or is gone); the HTTP handler asks the table for the request's
// answer (Answer), which is the first attempt's, and returns that instead
// of EEXIST or ENOENT. The request goes with that one call's change and no
// other: a concurrent call on the same name, a process's own call, or the
// undo of a failed create commits in the node's session.

// SessionSender is the optional ability of a Client to commit a command in
// a client session through the leader (httpapi.Client.Send).
type SessionSender interface {
	Send(ctx context.Context, sess *commit.SessionRef, cmd fsm.Command) (*fsm.Result, error)
}

type sessionKey struct{}

// InSession returns ctx carrying the client request sess, for a kernel
// call that creates or unlinks a name to commit its registry change in.
// Without a session, or a client that can send in one, it returns ctx.
func (s *Net) InSession(ctx context.Context, sess *commit.SessionRef) context.Context {
	if sess == nil {
		return ctx
	}
	if _, ok := s.client.(SessionSender); !ok {
		return ctx
	}
	return context.WithValue(ctx, sessionKey{}, sess)
}

// sessionOf returns the client request a kernel call's context carries,
// or nil.
func sessionOf(ctx context.Context) *commit.SessionRef {
	sess, _ := ctx.Value(sessionKey{}).(*commit.SessionRef)
	return sess
}

// Answer returns the first answer of request sess when an earlier attempt
// of it changed the registry, and otherwise an answer with an error. It
// commits, in that request, a registry change that can have no effect (an
// unlink of the empty name, which the table refuses): the table answers it
// from its cache when the request was applied before. It tells a retry's
// EEXIST or ENOENT caused by its own first attempt from a real one.
func (s *Net) Answer(ctx context.Context, sess *commit.SessionRef, kind node.NameKind) (*fsm.Result, error) {
	ss, ok := s.client.(SessionSender)
	if !ok {
		return nil, errors.New("ipcnet: no session sender")
	}
	return ss.Send(ctx, sess, &fsm.RegistryUnlink{Kind: fsm.Kind(kind), Name: ""})
}

// submit commits a registry change: in the client request the kernel
// call's context call carries, or else in the node's own session.
func (s *Net) submit(ctx, call context.Context, cmd fsm.Command) (*fsm.Result, error) {
	sess := sessionOf(call)
	if sess == nil {
		return s.commit.Submit(ctx, cmd)
	}
	return s.client.(SessionSender).Send(ctx, sess, cmd)
}

// setSessionHeaders passes the client request on to the node asked to
// unlink a name it holds.
func setSessionHeaders(h http.Header, sess *commit.SessionRef) {
	if sess == nil {
		return
	}
	api.SetSession(h, sess.ID, sess.Request, sess.AckedBelow)
}

// ErrNotOurs is wrapped by the EEXIST of a create whose client request an
// earlier attempt answered through another node: the name is that
// attempt's, and this node must not hold a second object.
var ErrNotOurs = fmt.Errorf("%w: registered by an earlier attempt of the same request", ipc.EEXIST)
