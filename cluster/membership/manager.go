package membership

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
)

// ServersConfig configures how servers form a cluster and follow gossip
// (servers.go).
type ServersConfig struct {
	// Name is this server's name: its raft server ID and gossip name.
	Name string
	// BootstrapExpect is the number of servers that bootstrap a new
	// cluster together; 0 joins an existing one.
	BootstrapExpect int
	// Join lists the gossip addresses of seeds, rejoined every
	// RejoinInterval.
	Join []string
	// MaxVoters bounds the voters; later servers are non-voters.
	MaxVoters int
	// DeadServerTimeout is how long a failed server stays in raft.
	DeadServerTimeout time.Duration
	// ReconcileInterval is how often the leader reconciles gossip with raft
	// and the table besides reacting to each gossip event.
	ReconcileInterval time.Duration
	// RejoinInterval is how often the seeds are rejoined.
	RejoinInterval time.Duration
	// ProbeInterval and GossipInterval are memberlist's (Config);
	// LoadInterval is how often the node gossips its load.
	ProbeInterval  time.Duration
	GossipInterval time.Duration
	LoadInterval   time.Duration
	// Prove, if set, asks a member to prove its identity at its raft
	// address before the leader adds it to raft or the table, or a
	// bootstrapping server counts it (proof.go). Nil trusts gossip.
	Prove func(ctx context.Context, name, raftAddr string) error
}

// DefaultServersConfig returns the agent's defaults (cluster.DefaultConfig
// explains them).
func DefaultServersConfig() ServersConfig {
	return ServersConfig{
		MaxVoters:         5,
		DeadServerTimeout: time.Minute,
		ReconcileInterval: 5 * time.Second,
		RejoinInterval:    10 * time.Second,
		ProbeInterval:     500 * time.Millisecond,
		GossipInterval:    100 * time.Millisecond,
		LoadInterval:      time.Second,
	}
}

// Validate checks the configuration, fields and how they relate.
func (c *ServersConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Name == "":
		return bad("no node name")
	case c.MaxVoters < 1:
		return bad("max voters %d must be at least 1", c.MaxVoters)
	case c.BootstrapExpect < 0 || c.BootstrapExpect > c.MaxVoters:
		return bad("bootstrap-expect %d is not within 0..max voters %d", c.BootstrapExpect, c.MaxVoters)
	case c.DeadServerTimeout <= 0, c.RejoinInterval <= 0, c.ReconcileInterval <= 0:
		return bad("dead-server timeout, rejoin and reconcile intervals must be positive")
	case c.ProbeInterval <= 0, c.GossipInterval <= 0, c.LoadInterval <= 0:
		return bad("gossip intervals must be positive")
	}
	return nil
}

// Table is what the servers' side needs from the node's replica of the
// table (package replica implements it).
type Table interface {
	// Submit commits cmd through the leader's group commit.
	Submit(ctx context.Context, sess *commit.SessionRef, cmd fsm.Command) (*fsm.Result, error)
	// LocalView returns this node's view of the table.
	LocalView() *fsm.View
	// Unblock makes a raft future fail instead of blocking once raft has
	// shut down.
	Unblock(f raft.Future) bool
}

// Manager keeps this server's place in the cluster: bootstrap-expect,
// rejoining the seeds, gossiping its metadata and load, the leader's
// reconcile of gossip with raft and with the table's node records, and
// graceful leave (servers.go). Create it with NewManager; run its loops
// (RunBootstrap, RunRejoin, RunGossip) on goroutines the agent tracks, and
// Reconcile while this node leads.
type Manager struct {
	// Set by NewManager and never changed.
	cfg    ServersConfig
	logger *slog.Logger
	gossip *Gossip
	raft   *raft.Raft
	table  Table
	load   func() api.Load // the local load to gossip
	stop   <-chan struct{} // closed when the agent stops

	proofs proofs // the members that proved themselves

	metaMu sync.Mutex // guards meta and its gossiping
	// meta is this node's gossip metadata.
	meta Meta
	// leaving is set once Leave starts leaving gossip: no more joins or
	// metadata updates.
	leaving atomic.Bool
}

// NewManager validates cfg and returns the manager of a server whose
// gossip g started with metadata meta. load returns the local load to
// gossip; stop is closed when the agent stops.
func NewManager(cfg ServersConfig, g *Gossip, meta Meta, r *raft.Raft, table Table, load func() api.Load, stop <-chan struct{}, logger *slog.Logger) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if g == nil || r == nil || table == nil || load == nil {
		return nil, errors.New("membership: gossip, raft, table and load are needed")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg.Join = append([]string(nil), cfg.Join...)
	return &Manager{cfg: cfg, logger: logger, gossip: g, raft: r, table: table, load: load, stop: stop, meta: meta}, nil
}

// RunBootstrap bootstraps raft with the first BootstrapExpect servers; it
// returns once this server belongs to a cluster or the agent stops.
func (mg *Manager) RunBootstrap() { mg.bootstrapLoop() }

// RunRejoin rejoins the seeds every RejoinInterval until the agent stops
// or the server leaves.
func (mg *Manager) RunRejoin() { mg.rejoinLoop() }

// RunGossip refreshes suspicion, gossips the load and announces once this
// server belongs to a cluster, until the agent stops.
func (mg *Manager) RunGossip() { mg.gossipLoop() }

// Reconcile keeps raft and the table in line with gossip until ctx ends:
// the leader runs it for each term.
func (mg *Manager) Reconcile(ctx context.Context) { mg.reconcileLoop(ctx) }

// Leave removes this server from the cluster gracefully: leadership
// transfer, gossip leave, removal from raft; ctx bounds the wait.
func (mg *Manager) Leave(ctx context.Context) { mg.leave(ctx) }

func (mg *Manager) isLeader() bool { return mg.raft.State() == raft.Leader }

func (mg *Manager) leaderName() string {
	_, id := mg.raft.LeaderWithID()
	return string(id)
}
