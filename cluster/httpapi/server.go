package httpapi

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/cluster/events"
	"github.com/vproc/vproc/cluster/logstore"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/ipc"
	"github.com/vproc/vproc/node"
)

// Core is what the HTTP API needs from the replication half of the agent
// (raft, the table, group commit, gossip and membership).
type Core interface {
	// Name returns this node's name (its raft server ID).
	Name() string

	// Submit commits cmd through raft on the leader, group-committed with
	// other commands, and returns its result. sess, if not nil, wraps it in
	// the session envelope (Guarantee 9), which Submit stamps with the
	// leader's clock; the caller stamps cmd's own Now. On a follower it
	// returns commit.ErrNotLeader without dispatching. Any failure after
	// dispatch (a timeout, lost leadership) is commit.ErrUnknownOutcome: the
	// caller retries with the same session and request id.
	Submit(ctx context.Context, sess *commit.SessionRef, cmd fsm.Command) (*fsm.Result, error)
	// SubmitBatch commits many commands as Submit would, keeping their
	// order in the log, and returns each one's outcome. sess is nil (a
	// node's reports) or holds each command's session, nil for none.
	SubmitBatch(ctx context.Context, sess []*commit.SessionRef, cmds []fsm.Command) []commit.Outcome
	// RegisterSession commits a new client session on the leader.
	RegisterSession(ctx context.Context) (uint64, error)

	// ConsistentView returns a view of the table for a linearizable read,
	// following Guarantee 6's recipe. On a follower: commit.ErrNotLeader.
	ConsistentView(ctx context.Context) (*fsm.View, error)
	// LocalView returns this node's own view, possibly stale.
	LocalView() *fsm.View
	// ReadIndex returns, on the leader, an index such that a table that
	// has applied it may be read linearizably. On a follower:
	// commit.ErrNotLeader.
	ReadIndex(ctx context.Context) (uint64, error)
	// WaitApplied blocks until this node's table has applied an index
	// greater than index, or ctx ends.
	WaitApplied(ctx context.Context, index uint64) error
	// Await records, until release, that a client waits on this node, the
	// leader, for pid's exit: the report of that exit then commits as soon
	// as it comes instead of waiting to share an entry with others.
	Await(pid uint64) (release func())

	// Leader returns the leader's name and HTTP address, if one is known.
	Leader() (name, httpAddr string, ok bool)
	// IsLeader reports whether this node is the leader.
	IsLeader() bool
	// NodeHTTPAddr returns the HTTP address of the node with that name.
	NodeHTTPAddr(name string) (string, bool)
	// Nodes returns the members with their gossiped load and raft role.
	Nodes(view *fsm.View) []api.Node
	// Peers returns the raft configuration.
	Peers() ([]api.Peer, error)
	// SnapshotSave streams a snapshot of the table; SnapshotRestore
	// replaces the table with one (leader only).
	SnapshotSave(ctx context.Context, w io.Writer) error
	SnapshotRestore(ctx context.Context, r io.Reader) error
	// StateInfo returns this node's applied index and state hash.
	StateInfo() api.StateInfo
	// RenewLease answers a node's lease renewal on the leader with the
	// leader's last log index (Guarantee 3). On a follower:
	// commit.ErrNotLeader.
	RenewLease(ctx context.Context, node string) (uint64, error)
}

// Node is what the HTTP API needs from this node's serving half: its
// kernel's programs and IPC objects, and the runner's view of the
// processes it runs here.
type Node interface {
	// Programs returns the programs the kernel runs.
	Programs() node.Resolver
	// LocalInfos returns what the kernel knows of each incarnation.
	LocalInfos(refs []ProcRef) []ProcInfo
	// AttachStdin claims pid's standard input for a POST .../stdin
	// stream: ErrStdinAttached if one is attached already, ErrStopping
	// once the node stops.
	AttachStdin(pid uint64) (*io.PipeWriter, error)

	MqCreate(ctx context.Context, name string, mode uint32, owner string, attr *ipc.MQAttr) error
	Mkfifo(ctx context.Context, path string, perm fs.FileMode, owner string) error
	MqUnlink(ctx context.Context, name string) error
	ShmUnlink(ctx context.Context, name string) error
	RemoveFIFO(ctx context.Context, path string) error
	OpenQueue(name string, flags int, mode uint32, owner string, attr *ipc.MQAttr) (*node.Queue, error)
}

// Logs is what the HTTP API reads of the process output logs (package
// logstore).
type Logs interface {
	Has(pid uint64) bool
	Read(pid uint64, off int64, p []byte) (n int, at int64, err error)
	WaitChan(pid uint64, off int64) (wake <-chan struct{}, finished bool)
	// ReadChunks reads as Read does and splits what it read by stream
	// and time; next is where the following read starts.
	ReadChunks(pid uint64, off int64, p []byte) (chunks []logstore.Chunk, at, next int64, err error)
}

// ProcRef names an incarnation.
type ProcRef struct{ PID, Inc uint64 }

// ProcInfo is what the local kernel knows of an incarnation.
type ProcInfo struct {
	Micro string
	CPU   time.Duration
	OK    bool
	// Command and Args: the program running now (after an exec), or ""
	// when the kernel does not say.
	Command string
	Args    []string
}

// Errors a Node returns that the API answers with their own status.
var (
	// ErrStopping: the node is stopping (503).
	ErrStopping = errors.New("agent stopping")
	// ErrStdinAttached: a stdin stream is attached already (409).
	ErrStdinAttached = errors.New("standard input is already attached")
)

// Config configures a Server.
type Config struct {
	Core   Core
	Node   Node
	Logs   Logs
	Client *Client
	Logger *slog.Logger
	// IPCStream serves GET /v1/internal/ipc/stream, the node-to-node IPC
	// streams (it upgrades the connection).
	IPCStream http.HandlerFunc
	// EnableDebug serves /debug/pprof.
	EnableDebug bool
	// ACL is the access control (acl.go); the zero value is off.
	ACL ACL
	// Programs, if set, serves the program routes (api.ProgramsPath and
	// api.ProgramBlobsPath; package programs).
	Programs http.Handler
	// NodeAuth says that TLS is on: the node routes take a node's
	// certificate and know the node by it (identity.go).
	NodeAuth bool
	// Keyring, if set, serves /v1/operator/keyring (keyring_endpoint.go).
	Keyring Keyring
	// Metrics, if set, serves GET /v1/metrics and hears of every request
	// (metrics.go).
	Metrics Metrics
	// Events, if set, serves GET /v1/events from this node's recent
	// events (events_endpoint.go).
	Events *events.Buffer
}

// Server is the HTTP API of one node. Every node serves every route;
// writes and consistent reads are forwarded to the leader. Create it with
// New; Drain ends its long requests.
type Server struct {
	// Set by New and never changed.
	core      Core
	node      Node
	logs      Logs
	client    *Client
	name      string
	log       *slog.Logger
	ipcStream http.HandlerFunc
	debug     bool
	acl       ACL
	programs  http.Handler
	nodeAuth  bool
	keyring   Keyring
	metrics   Metrics
	events    *events.Buffer
	h         http.Handler

	// ctx ends when Drain is called: long polls and log streams end with
	// it.
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns the HTTP API over cfg's core, node and logs.
func New(cfg Config) (*Server, error) {
	if cfg.Core == nil || cfg.Node == nil || cfg.Logs == nil || cfg.Client == nil || cfg.IPCStream == nil {
		return nil, errors.New("http api: a core, node, logs, client and IPC stream handler are needed")
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		core:      cfg.Core,
		node:      cfg.Node,
		logs:      cfg.Logs,
		client:    cfg.Client,
		name:      cfg.Core.Name(),
		log:       logger,
		ipcStream: cfg.IPCStream,
		debug:     cfg.EnableDebug,
		acl:       cfg.ACL,
		programs:  cfg.Programs,
		nodeAuth:  cfg.NodeAuth,
		keyring:   cfg.Keyring,
		metrics:   cfg.Metrics,
		events:    cfg.Events,
		ctx:       ctx,
		cancel:    cancel,
	}
	s.h = s.routes()
	return s, nil
}

// Handler returns the HTTP API's handler.
func (s *Server) Handler() http.Handler { return s.h }

// Drain ends long polls, wait queries and log streams now, so that an
// http.Server's Shutdown does not wait for them. It is safe to call more
// than once.
func (s *Server) Drain() { s.cancel() }

// Fail writes the answer for err, with the status and code the API maps
// it to: how a raw handler served beside the API answers its errors.
func (s *Server) Fail(w http.ResponseWriter, r *http.Request, err error) { s.fail(w, r, err) }

// BadRequest returns an error that Fail answers with 400 and msg.
func BadRequest(format string, args ...any) error { return badRequest(format, args...) }
