package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/cluster/internal/logbridge"
	"github.com/vproc/vproc/fsm"
)

// ErrBadConfig is returned by Config.Validate and New for a configuration
// that cannot work.
var ErrBadConfig = errors.New("bad replica configuration")

// ErrShutdown is returned by waits cut short because the agent stops.
var ErrShutdown = errors.New("agent shutting down")

// ErrCorruptLog means that a committed log entry cannot be applied: its
// checksum does not match, it does not decode, or it needs a command
// version this release does not know. The replica applies nothing past it
// and the agent stops; the error names the file and the index.
var ErrCorruptLog = errors.New("corrupt raft log")

// appliedRecordInterval is how often the applied index is recorded outside
// the raft log (raftstore.AppliedFile), besides at Close.
const appliedRecordInterval = time.Second

// Config configures a node's replica of the table.
type Config struct {
	// Name is the node's raft server ID.
	Name string
	// Addr is the raft address this node advertises; a Dev node
	// bootstraps with it.
	Addr string
	// DataDir holds the raft log and snapshots (package raftstore).
	DataDir string
	// Dev keeps everything in memory and bootstraps a single-node cluster
	// at once.
	Dev bool
	// FSM configures the replicated table.
	FSM fsm.Config
	// Raft's timing and snapshots (raft.Config has the same fields).
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	SnapshotThreshold  uint64
	SnapshotInterval   time.Duration
	TrailingLogs       uint64
}

// DefaultConfig returns raft's timing that the agent uses by default
// (cluster.DefaultConfig explains it) over the default table.
func DefaultConfig() Config {
	return Config{
		FSM:                fsm.DefaultConfig(),
		HeartbeatTimeout:   400 * time.Millisecond,
		ElectionTimeout:    400 * time.Millisecond,
		LeaderLeaseTimeout: 400 * time.Millisecond,
		CommitTimeout:      5 * time.Millisecond,
		SnapshotThreshold:  8192,
		SnapshotInterval:   30 * time.Second,
		TrailingLogs:       10240,
	}
}

// Validate checks the configuration, fields and how they relate: raft
// requires LeaderLeaseTimeout ≤ HeartbeatTimeout ≤ ElectionTimeout.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Name == "":
		return bad("no node name")
	case !c.Dev && c.DataDir == "":
		return bad("no data directory")
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
	}
	if err := c.FSM.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	return nil
}

// Leadership is what the read path needs from the leader watch, which
// runs the terms of this node's leadership.
type Leadership interface {
	// Term returns the current term's ready channel, closed once the
	// term's first barrier has applied (Guarantee 6, step 1), and its done
	// channel, closed when the term ends; ok is false while no term runs.
	Term() (ready, done <-chan struct{}, ok bool)
}

// SpawnPlacer picks the node of a spawn the leader receives before it is
// proposed (fsm.Spawn.Place), so that one entry allocates the PID and
// places it. PlaceSpawn must not block; it returns the function to call
// once the spawn's entry has been answered.
type SpawnPlacer interface {
	PlaceSpawn(sp *fsm.Spawn) (release func())
}

// Env is what a replica needs from the agent that runs it.
type Env struct {
	Logger *slog.Logger
	// Stop is closed when the agent stops: every wait ends with it.
	Stop       <-chan struct{}
	Leadership Leadership
	// Placer, if set, places spawns as they are submitted.
	Placer SpawnPlacer
	// Fatal, if set, is called once, from raft's FSM goroutine, when a
	// committed entry cannot be applied (ErrCorruptLog). It must not
	// block; the agent stops.
	Fatal func(error)
	// Writable, if set, returns the command versions every voter knows
	// (fsm.Versions.Meet over their reports): Submit refuses a command
	// beyond them with fsm.ErrVersion, and entries are sealed in the
	// checksummed envelope only once every voter knows it. Unset means
	// fsm.Known(): a cluster of this release only. A changed answer
	// must be a new Versions value, not the old map changed in place:
	// the replica remembers what it concluded from each map.
	Writable func() fsm.Versions
	// Applied, if set, hears of each command entry the table applied: the
	// entry's size in bytes, its command as decoded (an *fsm.Batch for
	// group commit) and what the table returned (a *fsm.Result, or a
	// []*fsm.Result for a batch). It runs on raft's FSM goroutine and must
	// not block (the agent's metrics count the table's changes with it).
	Applied func(size int, cmd fsm.Command, result any)
	// Changes, if set, hears what each applied command entry changed
	// (fsm.FSM.ApplyEntryChanges), in log order, from raft's FSM
	// goroutine; Restored, the table's applied index after a snapshot
	// restore replaced it. Neither may block: they run on the apply path.
	// The changes slice is reused once Changes returns: keep the Change
	// values (their records are immutable), not the slice.
	Changes  func(index uint64, changes []fsm.Change)
	Restored func(index uint64)
}

// Replica is this node's copy of the process table: raft over the stores
// of Config, driving the fsm package's state machine, with group commit,
// client sessions and linearizable reads. Create it with New, start its
// goroutines with Start, and stop it with ShutdownRaft (once Env.Stop is
// closed) and then Close.
type Replica struct {
	// Set by New and never changed.
	cfg      Config
	logger   *slog.Logger
	fsm      *fsm.FSM
	adapter  *fsmAdapter
	stores   *raftStores
	raft     *raft.Raft
	app      *applier
	lead     Leadership
	placer   SpawnPlacer
	writable func() fsm.Versions
	known    fsm.Versions // fsm.Known()

	// coversMu guards coversKnown's answer (covers) for the versions it
	// was last asked about (covered).
	coversMu sync.Mutex
	covered  fsm.Versions
	covers   bool
	hasState bool

	// recorded is the applied index last written to raftstore.AppliedFile;
	// guarded by recordMu, which also orders the writes.
	recordMu sync.Mutex
	recorded uint64

	shutdownCh <-chan struct{} // Env.Stop
	// raftDown is closed once raft has shut down (ShutdownRaft).
	raftDown chan struct{}
	// verifyCh carries reads waiting for a VerifyLeader round.
	verifyCh chan chan error
	wg       sync.WaitGroup // the applier's and the verifier's goroutines
	downOnce sync.Once
}

// New validates cfg, creates the table, opens the raft stores and starts
// raft on trans. A Dev node without state bootstraps itself. On an error,
// what New opened is closed again.
func New(cfg Config, trans raft.Transport, env Env) (*Replica, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	logger := env.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f, err := fsm.New(cfg.FSM)
	if err != nil {
		return nil, err
	}
	r := &Replica{
		cfg:        cfg,
		logger:     logger,
		fsm:        f,
		adapter:    newFSMAdapter(f),
		lead:       env.Leadership,
		placer:     env.Placer,
		writable:   env.Writable,
		shutdownCh: env.Stop,
		raftDown:   make(chan struct{}),
		verifyCh:   make(chan chan error),
	}
	r.known = fsm.Known()
	if r.writable == nil {
		r.writable = func() fsm.Versions { return r.known }
	}
	hl := logbridge.HCLog(logger, "")
	if r.stores, err = openRaftStores(&cfg, hl); err != nil {
		return nil, err
	}
	r.adapter.onFatal = env.Fatal
	r.adapter.onApplied = env.Applied
	r.adapter.onChanges = env.Changes
	r.adapter.onRestored = env.Restored
	r.adapter.logFile = "the in-memory log"
	if d := r.stores.durable; d != nil {
		r.adapter.logFile = d.DBPath
		r.adapter.onRestoreErr = d.RestoreFailed
		r.recorded = d.Applied
		if err := verifyLog(d); err != nil {
			_ = r.stores.close()
			return nil, err
		}
	}
	r.watchDisk()
	hasState, err := raft.HasExistingState(r.stores.logs, r.stores.stable, r.stores.snaps)
	if err != nil {
		_ = r.stores.close()
		return nil, fmt.Errorf("raft state: %w", err)
	}
	r.hasState = hasState
	r.raft, err = raft.NewRaft(raftConfig(&cfg, hl), r.adapter, r.stores.logs, r.stores.stable, r.stores.snaps, trans)
	var snapErrs []error
	if d := r.stores.durable; d != nil {
		snapErrs = d.SnapshotFailures()
	}
	if err != nil {
		_ = r.stores.close()
		if len(snapErrs) > 0 {
			return nil, fmt.Errorf("raft: %w", errors.Join(snapErrs...))
		}
		return nil, fmt.Errorf("raft: %w", err)
	}
	if len(snapErrs) > 0 {
		// raft fell back to an older snapshot, or to none: refuse, as the
		// newer one held acknowledged writes.
		_ = r.ShutdownRaft()
		_ = r.stores.close()
		return nil, fmt.Errorf("raft: %w", errors.Join(snapErrs...))
	}
	if cfg.Dev && !hasState {
		err := r.raft.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter, ID: raft.ServerID(cfg.Name), Address: raft.ServerAddress(cfg.Addr),
		}}}).Error()
		if err != nil {
			_ = r.ShutdownRaft()
			_ = r.stores.close()
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
	}
	r.app = newApplier(r.raft, logger, r.shutdownCh, r.raftDown)
	r.app.seal = func() bool { return r.writable().Seals() }
	return r, nil
}

// Start starts the group commit's batcher and completer and the verifier
// of linearizable reads. They run until Env.Stop is closed.
func (r *Replica) Start() {
	fns := []func(){r.app.run, r.app.complete, r.verifier}
	if r.stores.durable != nil {
		fns = append(fns, r.recordApplied)
	}
	for _, fn := range fns {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			fn()
		}()
	}
}

// ShutdownRaft stops raft; from then on raft answers no future, and those
// still waiting fail (Unblock). Call it once Env.Stop is closed. It may be
// called more than once.
func (r *Replica) ShutdownRaft() error {
	var err error
	r.downOnce.Do(func() {
		err = r.raft.Shutdown().Error()
		close(r.raftDown)
	})
	return err
}

// Close waits for the replica's goroutines, which end with Env.Stop, and
// closes the raft stores. Call it after ShutdownRaft.
func (r *Replica) Close() error {
	r.wg.Wait()
	var errs []error
	if r.stores.durable != nil {
		if err := r.writeApplied(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(append(errs, r.stores.close())...)
}

// Raft returns the raft server, for membership changes and the leader
// watch.
func (r *Replica) Raft() *raft.Raft { return r.raft }

// FSM returns the replicated table.
func (r *Replica) FSM() *fsm.FSM { return r.fsm }

// HasState reports whether the node had raft state when New opened it: it
// belongs to a cluster already.
func (r *Replica) HasState() bool { return r.hasState }

// Barrier waits until every entry raft has before it is applied (the
// first barrier of a term makes reads on the new leader current).
func (r *Replica) Barrier() error {
	f := r.raft.Barrier(0)
	r.Unblock(f)
	return f.Error()
}

// LastIndex returns the index of raft's last log entry.
func (r *Replica) LastIndex() uint64 { return r.raft.LastIndex() }

// IsLeader reports whether this node is the raft leader.
func (r *Replica) IsLeader() bool { return r.raft.State() == raft.Leader }

// Unblock makes f answer raft.ErrRaftShutdown once raft has shut down,
// instead of blocking forever (see unblockOnShutdown). It reports whether
// it could.
func (r *Replica) Unblock(f raft.Future) bool { return unblockOnShutdown(f, r.raftDown) }

// Restores returns how many snapshots the table has restored: at start,
// installed from the leader, or by an operator.
func (r *Replica) Restores() uint64 { return r.adapter.restores.Load() }

// HoldApply runs hook before each batch of entries is applied, or no hook
// when nil. Tests use it to hold the state machine back behind raft's
// commit index.
func (r *Replica) HoldApply(hook func()) {
	if hook == nil {
		r.adapter.beforeApply.Store(nil)
		return
	}
	r.adapter.beforeApply.Store(&hook)
}
