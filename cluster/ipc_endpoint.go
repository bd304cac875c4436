package cluster

import (
	"bytes"
	"context"
	"io"

	"io/fs"
	"net/http"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// The HTTP routes of named IPC objects (api/ipc.go lists them).

// maxIPCWait bounds a blocking send or receive through the API.
const maxIPCWait = 5 * time.Minute

func (s *serving) ipcRoutes(mux *http.ServeMux) {
	mux.Handle("/v1/internal/ipc/stream", methods{http.MethodGet: s.handleIPCStream})
	mux.Handle("/v1/internal/ipc/unlink", methods{http.MethodPost: s.wrap(s.handleIPCUnlink)})
	mux.Handle("/v1/ipc/{kind}", methods{http.MethodGet: s.wrap(s.handleIPCList)})
	mux.Handle("/v1/mq", methods{http.MethodPost: s.wrap(s.handleMQCreate), http.MethodDelete: s.wrap(s.handleIPCRemove)})
	mux.Handle("/v1/mq/send", methods{http.MethodPost: s.wrap(s.handleMQSend)})
	mux.Handle("/v1/mq/recv", methods{http.MethodPost: s.wrap(s.handleMQRecv)})
	mux.Handle("/v1/fifo", methods{http.MethodPost: s.wrap(s.handleFIFOCreate), http.MethodDelete: s.wrap(s.handleIPCRemove)})
	mux.Handle("/v1/shm", methods{http.MethodDelete: s.wrap(s.handleIPCRemove)})
}

func (s *serving) handleIPCList(w http.ResponseWriter, r *http.Request) (any, error) {
	kind := fsm.Kind(r.PathValue("kind"))
	switch kind {
	case fsm.KindMQ, fsm.KindFIFO, fsm.KindSHM:
	default:
		return nil, badRequest("kind %q: want mq, fifo or shm", kind)
	}
	stale := boolParam(r.URL.Query(), "stale")
	if !stale && !s.c.isLeader() {
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
func (s *serving) elsewhere(w http.ResponseWriter, r *http.Request, nodeName string) bool {
	if nodeName == "" || nodeName == s.name {
		return false
	}
	s.forwardToNode(w, r, nodeName, 0)
	return true
}

func (s *serving) handleMQCreate(w http.ResponseWriter, r *http.Request) (any, error) {
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
	if err := s.kernel.MqCreate(req.Name, modeOr(req.Mode, 0o600), ownerOr(req.Owner), attr); err != nil {
		return nil, errnoError(err)
	}
	return struct{}{}, nil
}

func (s *serving) handleFIFOCreate(w http.ResponseWriter, r *http.Request) (any, error) {
	var req api.FIFOCreateRequest
	if err := decodeForward(w, r, &req); err != nil {
		return nil, err
	}
	if s.elsewhere(w, r, req.Node) {
		return nil, nil
	}
	if err := s.kernel.Mkfifo(req.Path, fs.FileMode(modeOr(req.Mode, 0o644)), ownerOr(req.Owner)); err != nil {
		return nil, errnoError(err)
	}
	return struct{}{}, nil
}

// handleIPCRemove unlinks a queue or a segment (?name) or removes a FIFO
// (?path), wherever it lives.
func (s *serving) handleIPCRemove(w http.ResponseWriter, r *http.Request) (any, error) {
	q := r.URL.Query()
	var err error
	switch r.URL.Path {
	case "/v1/mq":
		err = s.kernel.MqUnlink(q.Get("name"))
	case "/v1/shm":
		err = s.kernel.ShmUnlink(q.Get("name"))
	default:
		err = s.kernel.RemoveFIFO(q.Get("path"))
	}
	if err != nil {
		return nil, errnoError(err)
	}
	return struct{}{}, nil
}

// ipcDeadline returns the context and deadline of a blocking send or
// receive.
func (s *serving) ipcDeadline(r *http.Request, timeout string) (context.Context, context.CancelFunc, time.Time, error) {
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

func (s *serving) handleMQSend(w http.ResponseWriter, r *http.Request) (any, error) {
	var req api.MQSendRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return nil, err
	}
	ctx, cancel, deadline, err := s.ipcDeadline(r, req.Timeout)
	if err != nil {
		return nil, err
	}
	defer cancel()
	q, err := s.kernel.OpenQueue(req.Name, node.O_WRONLY, 0, "root", nil)
	if err != nil {
		return nil, errnoError(err)
	}
	defer q.Close()
	if err := q.Send(ctx, req.Message, req.Priority, req.NonBlock, deadline); err != nil {
		return nil, errnoError(err)
	}
	return struct{}{}, nil
}

func (s *serving) handleMQRecv(w http.ResponseWriter, r *http.Request) (any, error) {
	var req api.MQRecvRequest
	if err := decodeBody(w, r, &req, false); err != nil {
		return nil, err
	}
	ctx, cancel, deadline, err := s.ipcDeadline(r, req.Timeout)
	if err != nil {
		return nil, err
	}
	defer cancel()
	q, err := s.kernel.OpenQueue(req.Name, node.O_RDONLY, 0, "root", nil)
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
