package cluster

import (
	"context"
	"io"
	"io/fs"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/cluster/httpapi"
	"github.com/vproc/vproc/cluster/runner"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// coreAPI is httpapi.Core over the core.
type coreAPI struct{ c core }

var _ httpapi.Core = coreAPI{}

func (a coreAPI) Name() string { return a.c.name() }
func (a coreAPI) Submit(ctx context.Context, sess *commit.SessionRef, cmd fsm.Command) (*fsm.Result, error) {
	return a.c.submit(ctx, sess, cmd)
}
func (a coreAPI) SubmitBatch(ctx context.Context, sess []*commit.SessionRef, cmds []fsm.Command) []commit.Outcome {
	return a.c.submitBatch(ctx, sess, cmds)
}
func (a coreAPI) RegisterSession(ctx context.Context) (uint64, error) {
	return a.c.registerSession(ctx)
}
func (a coreAPI) ConsistentView(ctx context.Context) (*fsm.View, error) {
	return a.c.consistentView(ctx)
}
func (a coreAPI) LocalView() *fsm.View                            { return a.c.localView() }
func (a coreAPI) ReadIndex(ctx context.Context) (uint64, error)   { return a.c.readIndex(ctx) }
func (a coreAPI) WaitApplied(ctx context.Context, i uint64) error { return a.c.waitApplied(ctx, i) }
func (a coreAPI) Await(pid uint64) (release func())               { return a.c.await(pid) }
func (a coreAPI) Leader() (name, httpAddr string, ok bool)        { return a.c.leader() }
func (a coreAPI) IsLeader() bool                                  { return a.c.isLeader() }
func (a coreAPI) NodeHTTPAddr(name string) (string, bool)         { return a.c.nodeHTTPAddr(name) }
func (a coreAPI) Nodes(view *fsm.View) []api.Node                 { return a.c.nodes(view) }
func (a coreAPI) Peers() ([]api.Peer, error)                      { return a.c.peers() }
func (a coreAPI) SnapshotSave(ctx context.Context, w io.Writer) error {
	return a.c.snapshotSave(ctx, w)
}
func (a coreAPI) SnapshotRestore(ctx context.Context, r io.Reader) error {
	return a.c.snapshotRestore(ctx, r)
}
func (a coreAPI) StateInfo() api.StateInfo { return a.c.stateInfo() }
func (a coreAPI) RenewLease(ctx context.Context, node string) (uint64, error) {
	return a.c.renewLease(ctx, node)
}

// nodeAPI is httpapi.Node over the serving half's kernel and runner.
type nodeAPI struct{ s *serving }

var _ httpapi.Node = nodeAPI{}

func (n nodeAPI) Programs() node.Resolver { return n.s.kernel.Programs() }

func (n nodeAPI) LocalInfos(refs []httpapi.ProcRef) []httpapi.ProcInfo {
	rr := make([]runner.ProcRef, len(refs))
	for i, r := range refs {
		rr[i] = runner.ProcRef{PID: r.PID, Inc: r.Inc}
	}
	infos := n.s.runner.LocalInfos(rr)
	out := make([]httpapi.ProcInfo, len(infos))
	for i, in := range infos {
		out[i] = httpapi.ProcInfo{Micro: in.Micro, CPU: in.CPU, OK: in.OK, Command: in.Command, Args: in.Args}
	}
	return out
}

func (n nodeAPI) AttachStdin(pid uint64) (*io.PipeWriter, error) { return n.s.runner.AttachStdin(pid) }

func (n nodeAPI) MqCreate(ctx context.Context, name string, mode uint32, owner string, attr *ipc.MQAttr) error {
	return n.s.kernel.MqCreate(ctx, name, mode, owner, attr)
}
func (n nodeAPI) Mkfifo(ctx context.Context, path string, perm fs.FileMode, owner string) error {
	return n.s.kernel.Mkfifo(ctx, path, perm, owner)
}
func (n nodeAPI) MqUnlink(ctx context.Context, name string) error {
	return n.s.kernel.MqUnlink(ctx, name)
}

// InSession and Answer give the HTTP API client sessions for IPC names
// (httpapi.SessionNames, ipcnet/sessions.go).
func (n nodeAPI) InSession(ctx context.Context, sess *commit.SessionRef) context.Context {
	return n.s.ipc.InSession(ctx, sess)
}

func (n nodeAPI) Answer(ctx context.Context, sess *commit.SessionRef, kind node.NameKind) (*fsm.Result, error) {
	return n.s.ipc.Answer(ctx, sess, kind)
}

var _ httpapi.SessionNames = nodeAPI{}

func (n nodeAPI) ShmUnlink(ctx context.Context, name string) error {
	return n.s.kernel.ShmUnlink(ctx, name)
}
func (n nodeAPI) RemoveFIFO(ctx context.Context, path string) error {
	return n.s.kernel.RemoveFIFO(ctx, path)
}
func (n nodeAPI) OpenQueue(name string, flags int, mode uint32, owner string, attr *ipc.MQAttr) (*node.Queue, error) {
	return n.s.kernel.OpenQueue(name, flags, mode, owner, attr)
}
