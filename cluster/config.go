package cluster

import (
	"log/slog"
	"time"
)

// Config configures an Agent: one node of a vproc cluster. Start from
// DefaultConfig (or DevConfig) and set what the command line gives.
type Config struct {
	// Name is the node's name, unique in the cluster. It is also its raft
	// server ID and its memberlist name.
	Name string
	// DataDir holds the raft log (raft-boltdb), snapshots and process logs.
	// Ignored with Dev.
	DataDir string
	// Dev runs a single node with everything in memory, bootstrapped at once.
	Dev bool

	// HTTPAddr, RaftAddr and GossipAddr are the host:port each listener
	// binds. Port 0 picks a free port (tests); the address actually bound is
	// what is advertised.
	HTTPAddr   string
	RaftAddr   string
	GossipAddr string
	// AdvertiseHost, if set, replaces the host part advertised to peers.
	AdvertiseHost string

	// Join lists gossip addresses of nodes to join at start and to rejoin
	// periodically (memberlist does not heal a partition by itself).
	Join []string
	// BootstrapExpect is the number of servers that bootstrap the cluster
	// together once they see each other over gossip. 0 means join an
	// existing cluster (or, with Dev, bootstrap alone).
	BootstrapExpect int

	// CPUs is the number of CPU slots of the local kernel (0: GOMAXPROCS).
	CPUs int
	// Memory is the memory capacity offered to placement, in bytes (0:
	// unlimited).
	Memory int64
	// Labels are matched by spawn --constraint label=value.
	Labels map[string]string
	// Retention is how long init keeps an exited process spawned from the
	// CLI before reaping it.
	Retention time.Duration

	// MaxVoters is the number of raft voters; later servers join as
	// non-voters.
	MaxVoters int
	// DeadServerTimeout is how long a server may stay failed in gossip
	// before the leader removes it from raft (never below quorum).
	DeadServerTimeout time.Duration
	// RejoinInterval is how often the seed list in Join is rejoined.
	RejoinInterval time.Duration

	// Raft timing. See DefaultConfig for the chosen values and why.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration

	// LogMaxBytes bounds each process's stored output; older output is
	// dropped first.
	LogMaxBytes int64

	// Logger receives the agent's log. Nil discards it.
	Logger *slog.Logger
}
