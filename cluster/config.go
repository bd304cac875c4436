package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/events"
	"github.com/vproc/vproc/cluster/lease"
	"github.com/vproc/vproc/cluster/membership"
	"github.com/vproc/vproc/cluster/mtls"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/node"
	"github.com/vproc/vproc/sched"
)

// Config configures an Agent: one node of a vproc cluster. Start from
// DefaultConfig (or DevConfig) and set what the command line gives.
type Config struct {
	// Name is the node's name, unique in the cluster. It is also its raft
	// server ID, its memberlist name and its ID in the table.
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
	// Without it a listener bound to a specific host advertises that host,
	// and one bound to all interfaces advertises the first private IPv4
	// address of the machine.
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
	// EventBuffer is how many recent events of GET /v1/events the agent
	// keeps for streams that resume or fall behind (package
	// cluster/events).
	EventBuffer int
	// Programs are the programs the local kernel runs. Nil means
	// builtins.Programs() (package node/builtins). An application that
	// embeds the agent installs the builtins and its own programs here;
	// every node of a cluster should know the same ones.
	Programs node.Resolver
	// MaxProgramBytes caps an uploaded program (WebAssembly module):
	// api.DefaultMaxProgramBytes (64 MiB) by default, and when 0.
	MaxProgramBytes int64
	// WasmCacheDir is the on-disk cache of compiled programs; empty means
	// DataDir/wasm-cache (in memory in Dev mode or without a data
	// directory). Nodes on one machine may share it.
	WasmCacheDir string

	// MaxVoters is the number of raft voters; later servers join as
	// non-voters.
	MaxVoters int
	// DeadServerTimeout is how long a server may stay failed in gossip
	// before the leader removes it from raft (never below quorum).
	DeadServerTimeout time.Duration
	// RejoinInterval is how often the seed list in Join is rejoined.
	RejoinInterval time.Duration
	// ReconcileInterval is how often the leader reconciles gossip
	// membership with raft and the table even without a gossip event. It
	// is also the granularity of DeadServerTimeout.
	ReconcileInterval time.Duration

	// Raft timing. See DefaultConfig for the chosen values and why.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration

	// Raft snapshots: a snapshot is taken every SnapshotInterval when at
	// least SnapshotThreshold entries were committed since the last one,
	// and TrailingLogs entries are kept behind it so that a slightly
	// lagging follower catches up from the log instead of a snapshot.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64

	// Gossip timing (memberlist). See DefaultConfig.
	GossipInterval   time.Duration
	ProbeInterval    time.Duration
	ProbeTimeout     time.Duration
	SuspicionMult    int
	PushPullInterval time.Duration
	// LoadInterval is how often the node gossips its load.
	LoadInterval time.Duration

	// FenceTimeout and LostTimeout are the node lease timers of
	// Guarantee 3. A node's processes freeze FenceTimeout after it sent the
	// last lease renewal the leader answered; the leader declares a node
	// lost LostTimeout after the later of its last answered renewal and the
	// start of its term. Validate enforces FenceTimeout > the worst
	// ordinary election and LostTimeout ≥ FenceTimeout·(1+ρ) + margin.
	FenceTimeout time.Duration
	LostTimeout  time.Duration

	// LogMaxBytes bounds each process's stored output; older output is
	// dropped first.
	LogMaxBytes int64

	// FSM configures the replicated table. Every server of a cluster must
	// use the same values.
	FSM fsm.Config

	// Scheduler tunes the leader's placement planner (package sched): how
	// many processes one CPU slot holds, the priority gap preemption
	// needs, and how much gossiped load weighs. The leader's values apply;
	// give every server the same ones. The strategy is not here: it is a
	// cluster-wide setting in the table (vproc operator scheduler
	// set-config).
	Scheduler sched.Config
	// PreemptGrace is how long a process being preempted has between the
	// SIGTERM its node delivers and the SIGKILL that follows if it is
	// still running. Its node's value applies.
	PreemptGrace time.Duration

	// HTTP server limits (httpserver.go): the read-header, read, write and
	// idle timeouts of client connections, and the most connections one
	// client address may hold at once (0: no cap). Cluster members are
	// not capped; long requests lift the timeouts that concern them.
	HTTPReadHeaderTimeout time.Duration
	HTTPReadTimeout       time.Duration
	HTTPWriteTimeout      time.Duration
	HTTPIdleTimeout       time.Duration
	HTTPMaxConnsPerClient int

	// EnableDebug serves Go's profiles (net/http/pprof) under
	// /debug/pprof/ on the HTTP API, as Consul's and Nomad's enable_debug
	// do. Off by default: profiles reveal memory contents and cost CPU.
	EnableDebug bool

	// ACLEnabled turns access control on (package api's acl.go): every
	// request but the health check carries a token, and a process belongs
	// to the user of the token that spawned it. Off by default.
	ACLEnabled bool
	// AgentToken is the secret the agents of the cluster present to each
	// other on node-to-node routes, as Consul's agent token. With ACLs on
	// it is needed unless TLS identifies nodes by their certificates.
	AgentToken string

	// Logger receives the agent's log. Nil discards it. Raft's and
	// memberlist's own output goes to it at debug level.
	Logger *slog.Logger

	// TLS, when its files are set, secures every connection of the agent
	// with mutual TLS: the HTTP API, raft, IPC streams between nodes and
	// node reports (security.go). The certificate must be a server
	// certificate naming Name (vproc tls cert create --server --node).
	TLS mtls.Config
	// EncryptKey, if set, is the base64 gossip key (vproc keygen) that
	// encrypts gossip. A keyring file in DataDir, once written, takes
	// precedence: it holds the keys installed since.
	EncryptKey string
}

// Default ports (docs/design.md, "Command line").
const (
	DefaultHTTPPort   = 7070
	DefaultRaftPort   = 7071
	DefaultGossipPort = 7072
)

// DefaultProcsPerSlot is the default Scheduler.ProcsPerSlot of an agent.
// sched's own default (64) suits long-running, busy programs; vproc's are
// cooperative and mostly asleep, about 4 KiB each, so a node counts as
// full only with many more. What crowds a node's CPU shows in its
// gossiped run queue, which spread avoids.
const DefaultProcsPerSlot = 1024

func defaultScheduler() sched.Config {
	c := sched.DefaultConfig()
	c.ProcsPerSlot = DefaultProcsPerSlot
	return c
}

// DefaultPreemptGrace is the default Config.PreemptGrace: as long as
// systemd's and Kubernetes' stop timeouts are short, enough for a program
// that catches SIGTERM to finish its current work.
const DefaultPreemptGrace = 5 * time.Second

// Clock drift bound ρ and the margin that Validate uses for the relation
// between LostTimeout and FenceTimeout: LostTimeout ≥ FenceTimeout·(1+ρ) +
// ElectionTimeout.
const clockDrift = 0.1

// ErrBadConfig is wrapped by every error of Config.Validate.
var ErrBadConfig = errors.New("bad cluster config")

// DefaultConfig returns the configuration of a production node on a LAN.
// The caller sets Name (the hostname by default), DataDir and either
// BootstrapExpect or Join.
//
// Raft timing. Losing the leader must cost at most 1.5 s before the next
// write commits, and an idle cluster on a machine whose cores are all busy
// must keep its leader: with H = E = 250 ms and a 125 ms leader lease, an
// idle 3-node cluster beside one busy loop per core changed leader twice in
// 10 minutes (README, "Stable on a busy machine"), each time because a
// starved leader missed its lease. A follower notices a silent leader once HeartbeatTimeout
// has passed since the last contact; its timer is randomised in [H, 2H] and
// checks the last contact, so detection takes between H and about 3H in the
// worst case, 1.5H on average. The election itself is a pre-vote and a vote
// round trip (sub-millisecond on a LAN); a split or refused vote retries
// after a random ElectionTimeout in [E, 2E]. The new leader then commits its
// no-op and the read barrier. With H = E = 400 ms the typical failover is
// 0.6–1.0 s and the worst case about 1.3 s.
// raft requires LeaderLeaseTimeout ≤ HeartbeatTimeout ≤ ElectionTimeout: a
// leader that has not heard from a quorum for LeaderLeaseTimeout (400 ms,
// as long as raft allows, so that a leader starved of CPU for a few
// hundred milliseconds keeps its place) steps down, so a partitioned
// leader stops acting no later than the others can elect a new one. The
// leader sends heartbeats every H/10 (40 ms).
// CommitTimeout (5 ms) is how long the leader waits without new entries
// before telling followers the commit index, so followers apply promptly.
//
// Gossip timing, for a LAN of 3–5 servers. memberlist probes one member
// every ProbeInterval (500 ms) and waits ProbeTimeout (250 ms) for the ack
// before asking others to probe indirectly. A member that fails a probe is
// suspected for SuspicionMult·max(1, log10 n)·ProbeInterval (4 × 1 ×
// 500 ms = 2 s with n ≤ 10) and then declared dead, so a crashed server is
// seen dead about 2.5–3 s after it stopped, half memberlist's LAN default.
// Gossip goes out every GossipInterval (100 ms) and a full state exchange
// every PushPullInterval (15 s). Load is gossiped every second.
//
// Membership: up to MaxVoters (5) servers vote; later ones are non-voters.
// A server dead for DeadServerTimeout (1 min, long enough to ride out a
// restart) is removed from raft, never below quorum. Seeds are rejoined
// every RejoinInterval (10 s) and the leader reconciles every
// ReconcileInterval (5 s) besides reacting to each gossip event.
//
// Leases (Guarantee 3, package lease). A node renews its lease every
// FenceTimeout/8 (300 ms). FenceTimeout (2.4 s) must exceed the worst
// ordinary failover plus one renewal interval (3H + 2E = 2 s, + 0.3 s), so
// that an election freezes no healthy node. LostTimeout (3.1 s) must be at
// least FenceTimeout·(1+ρ) + ElectionTimeout = 3.04 s with ρ = 0.1, so that
// a node's processes are frozen before the leader requeues them. Together
// they bound rescheduling after a crash: a crashed follower's processes are
// requeued about LostTimeout after its last renewal (≈3.1 s); a crashed
// leader's, LostTimeout after the new term starts (≈4 s). Longer
// timeouts ride out longer pauses and partitions without moving anything,
// at the price of a slower recovery.
func DefaultConfig() Config {
	name, err := os.Hostname()
	if err != nil || name == "" {
		name = "vproc"
	}
	return Config{
		Name:       name,
		HTTPAddr:   net.JoinHostPort("0.0.0.0", strconv.Itoa(DefaultHTTPPort)),
		RaftAddr:   net.JoinHostPort("0.0.0.0", strconv.Itoa(DefaultRaftPort)),
		GossipAddr: net.JoinHostPort("0.0.0.0", strconv.Itoa(DefaultGossipPort)),
		Retention:  time.Hour,

		EventBuffer: events.DefaultConfig().Size,

		MaxProgramBytes: api.DefaultMaxProgramBytes,

		MaxVoters:         5,
		DeadServerTimeout: time.Minute,
		RejoinInterval:    10 * time.Second,
		ReconcileInterval: 5 * time.Second,

		HeartbeatTimeout:   400 * time.Millisecond,
		ElectionTimeout:    400 * time.Millisecond,
		LeaderLeaseTimeout: 400 * time.Millisecond,
		CommitTimeout:      5 * time.Millisecond,

		SnapshotThreshold: 8192,
		SnapshotInterval:  30 * time.Second,
		TrailingLogs:      10240,

		GossipInterval:   100 * time.Millisecond,
		ProbeInterval:    500 * time.Millisecond,
		ProbeTimeout:     250 * time.Millisecond,
		SuspicionMult:    4,
		PushPullInterval: 15 * time.Second,
		LoadInterval:     time.Second,

		FenceTimeout: 2400 * time.Millisecond,
		LostTimeout:  3100 * time.Millisecond,

		LogMaxBytes:  1 << 20,
		FSM:          fsm.DefaultConfig(),
		Scheduler:    defaultScheduler(),
		PreemptGrace: DefaultPreemptGrace,

		HTTPReadHeaderTimeout: DefaultHTTPReadHeaderTimeout,
		HTTPReadTimeout:       DefaultHTTPReadTimeout,
		HTTPWriteTimeout:      DefaultHTTPWriteTimeout,
		HTTPIdleTimeout:       DefaultHTTPIdleTimeout,
		HTTPMaxConnsPerClient: DefaultHTTPMaxConnsPerClient,
	}
}

// DevConfig returns DefaultConfig for `vproc agent --dev`: a single node
// named "dev", everything in memory, listening on the loopback interface at
// the default ports and bootstrapped at once.
func DevConfig() Config {
	c := DefaultConfig()
	c.Name = "dev"
	c.Dev = true
	c.HTTPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(DefaultHTTPPort))
	c.RaftAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(DefaultRaftPort))
	c.GossipAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(DefaultGossipPort))
	return c
}

// Validate checks each field and how the fields relate, as raft's
// ValidateConfig does. Every error wraps ErrBadConfig.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadConfig}, args...)...)
	}
	switch {
	case c.Name == "":
		return bad("a node name is required")
	case len(c.Name) > 128:
		return bad("node name %q is longer than 128 bytes", c.Name)
	case !c.Dev && c.DataDir == "":
		return bad("a data directory is required (or run with --dev)")
	case c.BootstrapExpect < 0:
		return bad("bootstrap-expect %d is negative", c.BootstrapExpect)
	case c.Dev && c.BootstrapExpect > 1:
		return bad("--dev is a single node: bootstrap-expect %d", c.BootstrapExpect)
	case c.CPUs < 0:
		return bad("cpus %d is negative", c.CPUs)
	case c.HTTPReadHeaderTimeout <= 0, c.HTTPReadTimeout <= 0, c.HTTPWriteTimeout <= 0, c.HTTPIdleTimeout <= 0:
		return bad("HTTP timeouts must be positive: read-header %v, read %v, write %v, idle %v",
			c.HTTPReadHeaderTimeout, c.HTTPReadTimeout, c.HTTPWriteTimeout, c.HTTPIdleTimeout)
	case c.HTTPReadHeaderTimeout > c.HTTPReadTimeout:
		return bad("HTTP read-header timeout %v is above the read timeout %v", c.HTTPReadHeaderTimeout, c.HTTPReadTimeout)
	case c.HTTPMaxConnsPerClient < 0:
		return bad("http-max-conns-per-client %d is negative", c.HTTPMaxConnsPerClient)
	case c.Memory < 0:
		return bad("memory %d is negative", c.Memory)
	case c.ACLEnabled && c.AgentToken == "" && !c.TLS.Enabled():
		return bad("ACLs on need an agent token (--agent-token) or TLS client certificates")
	case !validAgentToken(c.AgentToken):
		return bad("the agent token must be 16 to 256 printable characters without spaces")
	case c.Retention <= 0:
		return bad("retention %v must be positive", c.Retention)
	case c.MaxVoters < 1:
		return bad("max voters %d must be at least 1", c.MaxVoters)
	case c.BootstrapExpect > c.MaxVoters:
		return bad("bootstrap-expect %d is above max voters %d", c.BootstrapExpect, c.MaxVoters)
	case c.DeadServerTimeout <= 0, c.RejoinInterval <= 0, c.ReconcileInterval <= 0:
		return bad("dead-server timeout, rejoin and reconcile intervals must be positive")
	case c.HeartbeatTimeout < 5*time.Millisecond, c.ElectionTimeout < 5*time.Millisecond,
		c.LeaderLeaseTimeout < 5*time.Millisecond:
		return bad("raft timeouts must be at least 5ms")
	case c.CommitTimeout < time.Millisecond:
		return bad("commit timeout %v is below 1ms", c.CommitTimeout)
	case c.LeaderLeaseTimeout > c.HeartbeatTimeout:
		return bad("leader lease timeout %v is above the heartbeat timeout %v", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	case c.HeartbeatTimeout > c.ElectionTimeout:
		return bad("heartbeat timeout %v is above the election timeout %v", c.HeartbeatTimeout, c.ElectionTimeout)
	case c.SnapshotThreshold < 1, c.SnapshotInterval < 5*time.Millisecond:
		return bad("snapshot threshold must be at least 1 and the interval at least 5ms")
	case c.GossipInterval <= 0, c.ProbeInterval <= 0, c.ProbeTimeout <= 0, c.PushPullInterval <= 0, c.LoadInterval <= 0:
		return bad("gossip intervals and timeouts must be positive")
	case c.ProbeTimeout > c.ProbeInterval:
		return bad("probe timeout %v is above the probe interval %v", c.ProbeTimeout, c.ProbeInterval)
	case c.SuspicionMult < 1:
		return bad("suspicion multiplier %d must be at least 1", c.SuspicionMult)
	case c.FenceTimeout <= c.worstElection()+lease.RenewInterval(c.FenceTimeout):
		return bad("fence timeout %v must exceed the worst election %v (3×heartbeat + 2×election timeout) plus a renewal interval (fence timeout / 8)",
			c.FenceTimeout, c.worstElection())
	case c.LostTimeout < c.minLostTimeout():
		return bad("lost timeout %v is below fence timeout × %.1f + election timeout = %v",
			c.LostTimeout, 1+clockDrift, c.minLostTimeout())
	case c.LogMaxBytes < 0:
		return bad("log max bytes %d is negative", c.LogMaxBytes)
	case c.PreemptGrace < 0:
		return bad("preempt grace %v is negative", c.PreemptGrace)
	}
	for _, a := range []struct{ what, addr string }{
		{"http", c.HTTPAddr}, {"raft", c.RaftAddr}, {"gossip", c.GossipAddr},
	} {
		if _, _, err := splitListenAddr(a.addr); err != nil {
			return bad("%s address %q: %v", a.what, a.addr, err)
		}
	}
	if err := c.validateSecurity(); err != nil {
		return bad("%v", err)
	}
	if c.AdvertiseHost != "" && net.ParseIP(c.AdvertiseHost) == nil {
		return bad("advertise host %q is not an IP address", c.AdvertiseHost)
	}
	for k := range c.Labels {
		if k == "" {
			return bad("empty label key")
		}
	}
	if err := c.FSM.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	if ec := (events.Config{Size: c.EventBuffer}); ec.Validate() != nil {
		return bad("event buffer %d must be in 1..%d", c.EventBuffer, events.MaxSize)
	}
	if err := c.Scheduler.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	if _, err := membership.EncodeMeta(c.meta("", "")); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	return nil
}

// worstElection bounds an ordinary failover: detection takes up to three
// heartbeat timeouts, and one refused or split vote adds up to two
// election timeouts.
func (c *Config) worstElection() time.Duration {
	return 3*c.HeartbeatTimeout + 2*c.ElectionTimeout
}

func (c *Config) minLostTimeout() time.Duration {
	return c.FenceTimeout + time.Duration(float64(c.FenceTimeout)*clockDrift) + c.ElectionTimeout
}

// splitListenAddr splits a listen address and checks its port.
func splitListenAddr(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}

// meta returns the metadata the configuration gives, with the advertised
// addresses.
func (c *Config) meta(raftAddr, httpAddr string) membership.Meta {
	m := membership.Meta{
		RaftAddr: raftAddr,
		HTTPAddr: httpAddr,
		Slots:    int64(c.CPUs),
		Memory:   c.Memory,
		Expect:   c.BootstrapExpect,
		Labels:   sortedLabels(c.Labels),
	}
	if m.Slots == 0 {
		m.Slots = int64(runtime.GOMAXPROCS(0))
	}
	return m
}

func sortedLabels(labels map[string]string) []fsm.Label {
	if len(labels) == 0 {
		return nil
	}
	out := make([]fsm.Label, 0, len(labels))
	for k, v := range labels {
		out = append(out, fsm.Label{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// gossipConfig returns the configuration of the node's gossip.
func (c *Config) gossipConfig() (membership.Config, error) {
	host, port, err := splitListenAddr(c.GossipAddr)
	if err != nil {
		return membership.Config{}, err
	}
	return membership.Config{
		Name:             c.Name,
		BindHost:         host,
		BindPort:         port,
		AdvertiseHost:    c.AdvertiseHost,
		GossipInterval:   c.GossipInterval,
		ProbeInterval:    c.ProbeInterval,
		ProbeTimeout:     c.ProbeTimeout,
		SuspicionMult:    c.SuspicionMult,
		PushPullInterval: c.PushPullInterval,
	}, nil
}

// validAgentToken reports whether t can be an agent token: empty, or 16 to
// 256 printable ASCII characters without spaces (it travels in a header).
func validAgentToken(t string) bool {
	if t == "" {
		return true
	}
	if len(t) < 16 || len(t) > 256 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' {
			return false
		}
	}
	return true
}
