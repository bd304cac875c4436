package ipcnet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/vproc/vproc/cluster/httpapi"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// clusterNames is the local kernel's node.Names: it shares FIFO, queue and
// segment names through the replicated registry (fsm RegistryCreate and
// RegistryUnlink), and reaches the objects other nodes hold through IPC
// streams (ipcstream.go). Names are cleaned with ipc.CleanName before the
// registry or a stream sees them.
//
// Errors: EEXIST when any node holds the name; ENOENT when none does;
// ENOLINK when the node that holds it is lost, or its stream broke; EAGAIN
// when the registry could not be reached in time (the leader is away).
type clusterNames struct {
	s *Net // immutable
}

var _ node.Names = (*clusterNames)(nil)

// registryTimeout bounds one registry change.
const registryTimeout = 10 * time.Second

// Register commits a RegistryCreate naming this node, in the client request
// call carries or else in the node's session (a retry never applies
// twice), and waits until the local view shows it.
func (n *clusterNames) Register(call context.Context, kind node.NameKind, name string, info node.NameInfo) error {
	s := n.s
	name = ipc.CleanName(name)
	ctx, cancel := context.WithTimeout(s.ctx, registryTimeout)
	defer cancel()
	cmd := &fsm.RegistryCreate{
		Kind: fsm.Kind(kind), Name: name, Node: s.name, Owner: info.Owner, Mode: info.Mode,
		Attrs: fsm.Attrs{MaxMsg: info.MaxMsg, MsgSize: info.MsgSize},
	}
	res, err := s.submit(ctx, call, cmd)
	if err != nil {
		return fmt.Errorf("%w: registering %s %s: %v", ipc.EAGAIN, kind, name, err)
	}
	if res.Index > 0 {
		s.core.WaitApplied(ctx, res.Index-1)
	}
	if res.Err == nil && sessionOf(call) != nil {
		// A client request's answer may be an earlier attempt's, made
		// through another node: then the name is that node's.
		if v, err := n.view(); err == nil {
			if o, ok := v.Object(fsm.Kind(kind), name); ok && o.Node != s.name {
				return ErrNotOurs
			}
		}
	}
	return registryErrno(res.Err)
}

// view returns the registry as a linearizable read started now would see
// it (httpapi.Client.SyncedView), so that a name created or removed a moment ago through
// another node is seen here (Guarantee 7). Without a leader to give a read
// index it fails with EAGAIN.
func (n *clusterNames) view() (*fsm.View, error) {
	ctx, cancel := context.WithTimeout(n.s.ctx, registryTimeout)
	defer cancel()
	v, err := n.s.client.SyncedView(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: reading the registry: %v", ipc.EAGAIN, err)
	}
	return v, nil
}

// Unregister removes name from the registry: at once when this node held
// it (local) or its node is lost; otherwise it asks the node that holds it
// to unlink it, which then commits the RegistryUnlink itself.
func (n *clusterNames) Unregister(call context.Context, kind node.NameKind, name string, local bool) error {
	s := n.s
	name = ipc.CleanName(name)
	v, err := n.view()
	if err != nil {
		return err
	}
	o, ok := v.Object(fsm.Kind(kind), name)
	switch {
	case !ok:
		return ipc.ENOENT
	case local && o.Node != s.name:
		return nil // the registry names another node's object: not ours to remove
	case o.Node == s.name || o.Lost:
		return n.commitUnlink(call, kind, name)
	}
	ctx, cancel := context.WithTimeout(s.ctx, registryTimeout)
	defer cancel()
	addr, ok := s.core.NodeHTTPAddr(o.Node)
	if !ok {
		return fmt.Errorf("%w: node %s has no address", ipc.ENOLINK, o.Node)
	}
	base, err := httpapi.BaseURL(addr)
	if err != nil {
		return fmt.Errorf("%w: %v", ipc.ENOLINK, err)
	}
	u := base.String() + "/v1/internal/ipc/unlink?kind=" + url.QueryEscape(string(kind)) + "&name=" + url.QueryEscape(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ipc.EINVAL, err)
	}
	setSessionHeaders(req.Header, sessionOf(call))
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: asking node %s to unlink %s: %v", ipc.ENOLINK, o.Node, name, err)
	}
	defer resp.Body.Close()
	return httpapi.ErrnoFromResponse(resp)
}

func (n *clusterNames) commitUnlink(call context.Context, kind node.NameKind, name string) error {
	s := n.s
	ctx, cancel := context.WithTimeout(s.ctx, registryTimeout)
	defer cancel()
	res, err := s.submit(ctx, call, &fsm.RegistryUnlink{Kind: fsm.Kind(kind), Name: name})
	if err != nil {
		return fmt.Errorf("%w: unregistering %s %s: %v", ipc.EAGAIN, kind, name, err)
	}
	if res.Index > 0 {
		s.core.WaitApplied(ctx, res.Index-1)
	}
	return registryErrno(res.Err)
}

// Lookup reads the registry, linearizably (view).
func (n *clusterNames) Lookup(kind node.NameKind, name string) (string, error) {
	name = ipc.CleanName(name)
	v, err := n.view()
	if err != nil {
		return "", err
	}
	o, ok := v.Object(fsm.Kind(kind), name)
	switch {
	case !ok:
		return "", ipc.ENOENT
	case o.Lost:
		return "", fmt.Errorf("%w: %s %s: node %s is lost", ipc.ENOLINK, kind, name, o.Node)
	case o.Node == n.s.name:
		return "", nil
	}
	return o.Node, nil
}

// OpenQueue opens a stream to the queue's node.
func (n *clusterNames) OpenQueue(nodeName, name string, flags ipc.OpenFlag, owner string) (node.RemoteQueue, error) {
	c, rep, err := n.s.dialIPC(nil, nodeName, openRequest{Kind: node.NameMQ, Name: ipc.CleanName(name), Flags: flags, Owner: owner})
	if err != nil {
		return nil, err
	}
	return newRemoteQueue(c, rep, flags), nil
}

// OpenFIFO opens a stream to the FIFO's node; the open waits there for the
// other end, through w here.
func (n *clusterNames) OpenFIFO(w ipc.Waiter, nodeName, path string, write, nonblock bool, owner string) (node.RemotePipe, error) {
	flags := ipc.O_RDONLY
	if write {
		flags = ipc.O_WRONLY
	}
	if nonblock {
		flags |= ipc.O_NONBLOCK
	}
	c, _, err := n.s.dialIPC(w, nodeName, openRequest{Kind: node.NameFIFO, Name: ipc.CleanName(path), Flags: flags, Owner: owner})
	if err != nil {
		return nil, err
	}
	return &remotePipe{c: c}, nil
}

// registryErrno maps a registry result to an errno.
func registryErrno(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fsm.ErrNameExists):
		return fmt.Errorf("%w: %v", ipc.EEXIST, err)
	case errors.Is(err, fsm.ErrNoSuchName):
		return fmt.Errorf("%w: %v", ipc.ENOENT, err)
	case errors.Is(err, fsm.ErrInvalid):
		return fmt.Errorf("%w: %v", ipc.EINVAL, err)
	}
	return fmt.Errorf("%w: %v", ipc.EAGAIN, err)
}
