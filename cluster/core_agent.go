package cluster

import (
	"context"
	"io"
	"time"

	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/cluster/leader"
	"github.com/vproc/vproc/cluster/membership"
	"github.com/vproc/vproc/cluster/replica"
	"github.com/vproc/vproc/fsm"
)

// The Agent implements core with its replica of the table (package
// replica) and gives the replica what it needs from the leader's side: the
// current term (leadership) and the placement of spawns (spawnPlacer).

// serversConfig returns the configuration of the servers' side of
// membership.
func (c *Config) serversConfig() membership.ServersConfig {
	return membership.ServersConfig{
		Name:              c.Name,
		BootstrapExpect:   c.BootstrapExpect,
		Join:              c.Join,
		MaxVoters:         c.MaxVoters,
		DeadServerTimeout: c.DeadServerTimeout,
		ReconcileInterval: c.ReconcileInterval,
		RejoinInterval:    c.RejoinInterval,
		ProbeInterval:     c.ProbeInterval,
		GossipInterval:    c.GossipInterval,
		LoadInterval:      c.LoadInterval,
	}
}

// leaderConfig returns the configuration of the leader's loops.
func (c *Config) leaderConfig() leader.Config {
	return leader.Config{
		FenceTimeout: c.FenceTimeout,
		LostTimeout:  c.LostTimeout,
		Retention:    c.Retention,
		Placement:    c.Scheduler,
		Self:         c.Name,
	}
}

func (a *Agent) renewLease(ctx context.Context, node string) (uint64, error) {
	return a.lead.RenewLease(ctx, node)
}

// replicaConfig returns the configuration of the node's replica, which
// advertises raftAddr.
func (c *Config) replicaConfig(raftAddr string) replica.Config {
	return replica.Config{
		Name:               c.Name,
		Addr:               raftAddr,
		DataDir:            c.DataDir,
		Dev:                c.Dev,
		FSM:                c.FSM,
		HeartbeatTimeout:   c.HeartbeatTimeout,
		ElectionTimeout:    c.ElectionTimeout,
		LeaderLeaseTimeout: c.LeaderLeaseTimeout,
		CommitTimeout:      c.CommitTimeout,
		SnapshotThreshold:  c.SnapshotThreshold,
		SnapshotInterval:   c.SnapshotInterval,
		TrailingLogs:       c.TrailingLogs,
	}
}

// leadership is replica.Leadership over the leader's terms. The replica is
// created before the leader, which needs it; a.lead is set before any
// goroutine starts.
type leadership struct{ a *Agent }

var _ replica.Leadership = leadership{}

func (l leadership) Term() (ready, done <-chan struct{}, ok bool) { return l.a.lead.Term() }

// spawnPlacer is replica.SpawnPlacer over the leader's placement.
type spawnPlacer struct{ a *Agent }

var _ replica.SpawnPlacer = spawnPlacer{}

func (p spawnPlacer) PlaceSpawn(sp *fsm.Spawn) (release func()) {
	if sp.Place != "" {
		return p.a.lead.PlaceSpawn(sp)
	}
	start := time.Now()
	release = p.a.lead.PlaceSpawn(sp)
	if sp.Place != "" {
		p.a.metrics.SpawnPick(time.Since(start))
	}
	return release
}

func (a *Agent) submit(ctx context.Context, sess *commit.SessionRef, cmd fsm.Command) (*fsm.Result, error) {
	start := time.Now()
	res, err := a.replica.Submit(ctx, sess, cmd)
	if err == nil {
		a.metrics.ObserveApply(time.Since(start))
	}
	return res, err
}

func (a *Agent) submitBatch(ctx context.Context, sess []*commit.SessionRef, cmds []fsm.Command) []commit.Outcome {
	start := time.Now()
	out := a.replica.SubmitBatch(ctx, sess, cmds)
	if len(out) > 0 && out[0].Err == nil {
		a.metrics.ObserveApply(time.Since(start))
	}
	return out
}

func (a *Agent) registerSession(ctx context.Context) (uint64, error) {
	return a.replica.RegisterSession(ctx)
}

func (a *Agent) consistentView(ctx context.Context) (*fsm.View, error) {
	return a.replica.ConsistentView(ctx)
}

func (a *Agent) localView() *fsm.View { return a.replica.LocalView() }

func (a *Agent) readIndex(ctx context.Context) (uint64, error) { return a.replica.ReadIndex(ctx) }

func (a *Agent) waitApplied(ctx context.Context, index uint64) error {
	return a.replica.WaitApplied(ctx, index)
}

func (a *Agent) await(pid uint64) (release func()) { return a.replica.Await(pid) }

func (a *Agent) snapshotSave(ctx context.Context, w io.Writer) error {
	return a.replica.SnapshotSave(ctx, w)
}

func (a *Agent) snapshotRestore(ctx context.Context, r io.Reader) error {
	return a.replica.SnapshotRestore(ctx, r)
}
