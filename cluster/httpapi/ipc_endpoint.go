package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"io/fs"
	"net/http"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// The HTTP routes of named IPC objects (api/ipc.go lists them). Every name
// and FIFO path is cleaned with ipc.CleanName before the kernel, the
// registry or a forward sees it: "/x/../c" and "/c" are one name.

// maxIPCWait bounds a blocking send or receive through the API.
const maxIPCWait = 5 * time.Minute

func (s *Server) ipcRoutes(mux *http.ServeMux) {
	mux.Handle("/v1/internal/ipc/stream", methods{http.MethodGet: s.ipcStream})
	mux.Handle("/v1/internal/ipc/unlink", methods{http.MethodPost: s.wrap(s.handleIPCUnlink)})
	mux.Handle("/v1/ipc/{kind}", methods{http.MethodGet: s.wrap(s.handleIPCList)})
	mux.Handle("/v1/mq", methods{http.MethodPost: s.wrap(s.handleMQCreate), http.MethodDelete: s.wrap(s.handleIPCRemove)})
	mux.Handle("/v1/mq/send", methods{http.MethodPost: s.wrap(s.handleMQSend)})
	mux.Handle("/v1/mq/recv", methods{http.MethodPost: s.wrap(s.handleMQRecv)})
	mux.Handle("/v1/fifo", methods{http.MethodPost: s.wrap(s.handleFIFOCreate), http.MethodDelete: s.wrap(s.handleIPCRemove)})
	mux.Handle("/v1/shm", methods{http.MethodDelete: s.wrap(s.handleIPCRemove)})
}

func (s *Server) handleIPCList(w http.ResponseWriter, r *http.Request) (any, error) {
	kind := fsm.Kind(r.PathValue("kind"))
	switch kind {
	case fsm.KindMQ, fsm.KindFIFO, fsm.KindSHM:
	default:
		return nil, badRequest("kind %q: want mq, fifo or shm", kind)
	}
	stale := boolParam(r.URL.Query(), "stale")
	if !stale && !s.core.IsLeader() {
		s.forwardToLeader(w, r, false)
		return nil, nil
	}
	ctx, cancel := s.reqCtx(r)
	defer cancel()
	v, err := s.view(ctx, stale)
	if err != nil {
		return nil, err
	}
	out := api.IPCList{Index: v.Index(), Objects: []api.IPCObject{}}
	for _, o := range v.Objects(kind) {
		out.Objects = append(out.Objects, api.IPCObject{
			Kind: string(o.Kind), Name: o.Name, Node: o.Node, Owner: o.Owner, Mode: o.Mode,
			MaxMsg: o.Attrs.MaxMsg, MsgSize: o.Attrs.MsgSize, Size: o.Attrs.Size, Lost: o.Lost,
		})
	}
	s.readHeaders(w, out.Index, stale)
	return out, nil
}

// decodeForward decodes r's JSON body into v and keeps the body, so that
// elsewhere can forward r.
func decodeForward(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, api.MaxBodyBytes))
	if err != nil {
		return badRequest("reading the body: %v", err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err := decodeBody(w, r, v, false); err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return nil
}

// elsewhere forwards r to nodeName when it names another node.
func (s *Server) elsewhere(w http.ResponseWriter, r *http.Request, nodeName string) bool {
	if nodeName == "" || nodeName == s.name {
		return false
	}
	s.forwardToNode(w, r, nodeName, 0)
	return true
}

func (s *Server) handleMQCreate(w http.ResponseWriter, r *http.Request) (any, error) {
	var req api.MQCreateRequest
	if err := decodeForward(w, r, &req); err != nil {
		return nil, err
	}
	if s.elsewhere(w, r, req.Node) {
		return nil, nil
	}
	var attr *ipc.MQAttr
	if req.MaxMsg != 0 || req.MsgSize != 0 {
		attr = &ipc.MQAttr{MaxMsg: req.MaxMsg, MsgSize: req.MsgSize}
		if attr.MaxMsg == 0 {
			attr.MaxMsg = ipc.DefaultMaxMsg
		}
		if attr.MsgSize == 0 {
			attr.MsgSize = ipc.DefaultMsgSize
		}
	}
	req.Name = ipc.CleanName(req.Name)
	owner, err := s.ownerFor(r, req.Owner)
	if err != nil {
		return nil, err
	}
	err = s.inSession(r, node.NameMQ, ipc.EEXIST, func(ctx context.Context) error {
		return s.node.MqCreate(ctx, req.Name, modeOr(req.Mode, 0o600), owner, attr)
	})
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (s *Server) handleFIFOCreate(w http.ResponseWriter, r *http.Request) (any, error) {
	var req api.FIFOCreateRequest
	if err := decodeForward(w, r, &req); err != nil {
		return nil, err
	}
	if s.elsewhere(w, r, req.Node) {
		return nil, nil
	}
	req.Path = ipc.CleanName(req.Path)
	owner, err := s.ownerFor(r, req.Owner)
	if err != nil {
		return nil, err
	}
	err = s.inSession(r, node.NameFIFO, ipc.EEXIST, func(ctx context.Context) error {
		return s.node.Mkfifo(ctx, req.Path, fs.FileMode(modeOr(req.Mode, 0o644)), owner)
	})
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// handleIPCRemove unlinks a queue or a segment (?name) or removes a FIFO
// (?path), wherever it lives.
func (s *Server) handleIPCRemove(w http.ResponseWriter, r *http.Request) (any, error) {
	q := r.URL.Query()
	kind, name := fsm.KindFIFO, q.Get("path")
	switch r.URL.Path {
	case "/v1/mq":
		kind, name = fsm.KindMQ, q.Get("name")
	case "/v1/shm":
		kind, name = fsm.KindSHM, q.Get("name")
	}
	if err := s.mayRemove(r, kind, name); err != nil {
		return nil, err
	}
	var err error
	switch r.URL.Path {
	case "/v1/mq":
		err = s.inSession(r, node.NameMQ, ipc.ENOENT, func(ctx context.Context) error { return s.node.MqUnlink(ctx, ipc.CleanName(q.Get("name"))) })
	case "/v1/shm":
		err = s.inSession(r, node.NameSHM, ipc.ENOENT, func(ctx context.Context) error { return s.node.ShmUnlink(ctx, ipc.CleanName(q.Get("name"))) })
	default:
		err = s.inSession(r, node.NameFIFO, ipc.ENOENT, func(ctx context.Context) error { return s.node.RemoveFIFO(ctx, ipc.CleanName(q.Get("path"))) })
	}
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// ipcDeadline returns the context and deadline of a blocking send or
// receive.
func (s *Server) ipcDeadline(r *http.Request, timeout string) (context.Context, context.CancelFunc, time.Time, error) {
	var deadline time.Time
	if timeout != "" {
		d, err := time.ParseDuration(timeout)
		if err != nil || d < 0 {
			return nil, nil, deadline, badRequest("timeout %q: want a duration such as 2s", timeout)
		}
		deadline = time.Now().Add(d)
	}
	ctx, cancel := context.WithTimeout(r.Context(), maxIPCWait)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }, deadline, nil
}

func (s *Server) handleMQSend(w http.ResponseWriter, r *http.Request) (any, error) {
	var req api.MQSendRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return nil, err
	}
	ctx, cancel, deadline, err := s.ipcDeadline(r, req.Timeout)
	if err != nil {
		return nil, err
	}
	defer cancel()
	q, err := s.node.OpenQueue(ipc.CleanName(req.Name), node.O_WRONLY, 0, s.opener(r), nil)
	if err != nil {
		return nil, errnoError(err)
	}
	defer q.Close()
	if err := q.Send(ctx, req.Message, req.Priority, req.NonBlock, deadline); err != nil {
		return nil, errnoError(err)
	}
	return struct{}{}, nil
}

func (s *Server) handleMQRecv(w http.ResponseWriter, r *http.Request) (any, error) {
	var req api.MQRecvRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return nil, err
	}
	ctx, cancel, deadline, err := s.ipcDeadline(r, req.Timeout)
	if err != nil {
		return nil, err
	}
	defer cancel()
	q, err := s.node.OpenQueue(ipc.CleanName(req.Name), node.O_RDONLY, 0, s.opener(r), nil)
	if err != nil {
		return nil, errnoError(err)
	}
	defer q.Close()
	a, err := q.Attr()
	if err != nil {
		return nil, errnoError(err)
	}
	buf := make([]byte, a.MsgSize)
	n, prio, err := q.Receive(ctx, buf, req.NonBlock, deadline)
	if err != nil {
		return nil, errnoError(err)
	}
	return api.MQMessage{Message: buf[:n], Priority: prio}, nil
}

func modeOr(m, def uint32) uint32 {
	if m == 0 {
		return def
	}
	return m
}

func ownerOr(o string) string {
	if o == "" {
		return "root"
	}
	return o
}

// handleIPCUnlink unlinks a FIFO, queue or segment this node holds, for the
// node that was asked to (clusterNames.Unregister).
func (s *Server) handleIPCUnlink(w http.ResponseWriter, r *http.Request) (any, error) {
	q := r.URL.Query()
	name := ipc.CleanName(q.Get("name"))
	kind := node.NameKind(q.Get("kind"))
	var op func(context.Context) error
	switch kind {
	case node.NameMQ:
		op = func(ctx context.Context) error { return s.node.MqUnlink(ctx, name) }
	case node.NameSHM:
		op = func(ctx context.Context) error { return s.node.ShmUnlink(ctx, name) }
	case node.NameFIFO:
		op = func(ctx context.Context) error { return s.node.RemoveFIFO(ctx, name) }
	default:
		return nil, errnoError(ipc.EINVAL)
	}
	if err := s.inSession(r, kind, ipc.ENOENT, op); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// errnoErr marks an error of the local kernel's IPC calls: when it
// carries an errno, it is answered with the errno's name as its code.
type errnoErr struct{ err error }

func (e *errnoErr) Error() string { return e.err.Error() }

func (e *errnoErr) Unwrap() error { return e.err }

// errnoError marks err as an IPC call's error for fail.
func errnoError(err error) error { return &errnoErr{err} }

// errnoStatus returns the status and code that answer err, when it carries
// an errno.
func errnoStatus(err error) (status int, code string, ok bool) {
	var e ipc.Errno
	if !errors.As(err, &e) {
		return 0, "", false
	}
	status = http.StatusConflict
	switch e {
	case ipc.ENOENT:
		status = http.StatusNotFound
	case ipc.EINVAL, ipc.ENAMETOOLONG, ipc.EMSGSIZE:
		status = http.StatusBadRequest
	case ipc.EACCES, ipc.EPERM:
		status = http.StatusForbidden
	case ipc.ENOLINK, ipc.EAGAIN:
		status = http.StatusServiceUnavailable
	case ipc.ETIMEDOUT:
		status = http.StatusGatewayTimeout
	}
	return status, e.Name(), true
}

// ErrnoFromResponse turns an errno answer (errnoStatus) back into its errno.
func ErrnoFromResponse(resp *http.Response) error {
	if resp.StatusCode/100 == 2 {
		return nil
	}
	var e api.Error
	json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&e)
	if n, ok := ipc.ErrnoByName(e.Code); ok {
		return fmt.Errorf("%w: %s", n, e.Message)
	}
	return fmt.Errorf("%w: %s %s", ipc.EAGAIN, resp.Status, e.Message)
}
