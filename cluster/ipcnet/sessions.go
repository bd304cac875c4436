package ipcnet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// Client sessions for IPC names (Guarantee 9). A client that creates or
// unlinks a FIFO, queue or segment name sends its session and request id,
// as with a spawn. The node runs the kernel's call under that request
// (InSession): the registry change the call commits travels in the
// client's session rather than the node's own, so the table caches its
// answer under the client's request id. A retry after an unknown outcome
// then meets the first attempt's effect (the name exists, or is gone); the
// HTTP handler asks the table for the request's answer (Answer), which
// is the first attempt's, and returns that instead of EEXIST or ENOENT.

// SessionSender is the optional ability of a Client to commit a command in
// a client session through the leader (httpapi.Client.Send).
type SessionSender interface {
	Send(ctx context.Context, sess *commit.SessionRef, cmd fsm.Command) (*fsm.Result, error)
}

func cleanName(_ node.NameKind, name string) string { return ipc.CleanName(name) }

type nameKey struct {
	kind node.NameKind
	name string
}

// sessions holds the client request each name's registry change is made
// for, while the kernel's call runs (InSession).
type sessions struct {
	mu      sync.Mutex // guards pending
	pending map[nameKey]*commit.SessionRef
}

// InSession runs op, a kernel call that creates or unlinks name, so that
// the registry change it commits is request sess of the client's session.
// Without a session, or while another call on the same name runs in one,
// op runs as it would otherwise.
func (s *Net) InSession(kind node.NameKind, name string, sess *commit.SessionRef, op func() error) error {
	if sess == nil {
		return op()
	}
	if _, ok := s.client.(SessionSender); !ok {
		return op()
	}
	k := nameKey{kind, cleanName(kind, name)}
	s.sess.mu.Lock()
	if s.sess.pending == nil {
		s.sess.pending = make(map[nameKey]*commit.SessionRef)
	}
	if _, busy := s.sess.pending[k]; busy {
		s.sess.mu.Unlock()
		return op()
	}
	s.sess.pending[k] = sess
	s.sess.mu.Unlock()
	defer func() {
		s.sess.mu.Lock()
		delete(s.sess.pending, k)
		s.sess.mu.Unlock()
	}()
	return op()
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

// submit commits a registry change for name: in the client request
// InSession runs it for, or else in the node's own session.
func (s *Net) submit(ctx context.Context, kind node.NameKind, name string, cmd fsm.Command) (*fsm.Result, error) {
	sess := s.pendingSession(kind, name)
	if sess == nil {
		return s.commit.Submit(ctx, cmd)
	}
	return s.client.(SessionSender).Send(ctx, sess, cmd)
}

// pendingSession returns the client request a change of name runs for.
func (s *Net) pendingSession(kind node.NameKind, name string) *commit.SessionRef {
	s.sess.mu.Lock()
	defer s.sess.mu.Unlock()
	return s.sess.pending[nameKey{kind, cleanName(kind, name)}]
}

// setSessionHeaders passes the client request on to the node asked to
// unlink a name it holds.
func setSessionHeaders(h http.Header, sess *commit.SessionRef) {
	if sess == nil {
		return
	}
	h.Set(api.HeaderSession, strconv.FormatUint(sess.ID, 10))
	h.Set(api.HeaderRequest, strconv.FormatUint(sess.Request, 10))
	h.Set(api.HeaderAcked, strconv.FormatUint(sess.AckedBelow, 10))
}

// ErrNotOurs is wrapped by the EEXIST of a create whose client request an
// earlier attempt answered through another node: the name is that
// attempt's, and this node must not hold a second object.
var ErrNotOurs = fmt.Errorf("%w: registered by an earlier attempt of the same request", ipc.EEXIST)
