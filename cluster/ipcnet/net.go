package ipcnet

import (
	"context"
	"errors"
	"net/http"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/mtls"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/node"
)

// Core is what the IPC streams and names need from the replication half.
type Core interface {
	// NodeHTTPAddr returns the HTTP address of the node with that name.
	NodeHTTPAddr(name string) (string, bool)
	// WaitApplied returns once the local table has applied an index above
	// index, or ctx ends.
	WaitApplied(ctx context.Context, index uint64) error
}

// Committer commits registry changes in the node's own client session, so
// that a retry never applies twice (the runner's Submit).
type Committer interface {
	Submit(ctx context.Context, cmd fsm.Command) (*fsm.Result, error)
}

// Client is what the names need of the node's HTTP client (httpapi.Client).
type Client interface {
	// SyncedView returns a view of the local table at least as recent as
	// a linearizable read started now.
	SyncedView(ctx context.Context) (*fsm.View, error)
	// Do sends req to another node.
	Do(req *http.Request) (*http.Response, error)
}

// Config configures a Net.
type Config struct {
	// Name is this node's name.
	Name   string
	Core   Core
	Commit Committer
	Client Client
	// Fail answers a stream request's error as the HTTP API does.
	Fail func(w http.ResponseWriter, r *http.Request, err error)
	// TLS, when set, secures the streams this node opens to others: the
	// peer's certificate must name the node that holds the object.
	TLS *mtls.TLS
}

// Net is a node's side of IPC between nodes: the node.Names the kernel
// resolves FIFO, queue and segment names with (Names), the streams it
// opens to the objects other nodes hold, and the streams it serves for the
// objects it holds (ServeStream). Create it with New and give it the
// kernel with SetKernel before serving; Close ends the streams it serves.
type Net struct {
	// Set by New (kernel by SetKernel, before serving) and never changed.
	name   string
	core   Core
	commit Committer
	client Client
	fail   func(w http.ResponseWriter, r *http.Request, err error)
	tls    *mtls.TLS
	kernel *node.ProcessManager

	// ctx ends when Close begins: registry waits end with it.
	ctx    context.Context
	cancel context.CancelFunc

	srv ipcServer // the IPC streams this node serves
}

// New returns the IPC side of the node cfg names.
func New(cfg Config) (*Net, error) {
	if cfg.Name == "" || cfg.Core == nil || cfg.Commit == nil || cfg.Client == nil || cfg.Fail == nil {
		return nil, errors.New("ipcnet: a name, core, committer, client and fail are needed")
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Net{name: cfg.Name, core: cfg.Core, commit: cfg.Commit, client: cfg.Client, fail: cfg.Fail, tls: cfg.TLS, ctx: ctx, cancel: cancel}, nil
}

// SetKernel gives the Net the local kernel, which is created with Names.
// Call it once, before serving.
func (s *Net) SetKernel(k *node.ProcessManager) { s.kernel = k }

// Names returns the node.Names of the local kernel.
func (s *Net) Names() node.Names { return &clusterNames{s: s} }

// Close ends registry waits and every stream this node serves, and waits
// for them.
func (s *Net) Close() {
	s.cancel()
	s.srv.close()
}

// agentTokener is the optional ability of a Client to name the agent token
// that node traffic presents when ACLs are on.
type agentTokener interface{ AgentToken() string }

// authLines returns the header lines that make a raw request to another
// node node traffic: the agent token, if the client has one.
func (s *Net) authLines() string {
	if t, ok := s.client.(agentTokener); ok && t.AgentToken() != "" {
		return api.HeaderToken + ": " + t.AgentToken() + "\r\n"
	}
	return ""
}
