package cluster

import (
	"context"
	"io"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/cluster/events"
	"github.com/vproc/vproc/fsm"
)

// core is what the serving half of the agent (the HTTP API, forwarding, the
// node runner and its process logs) needs from the replication half (raft,
// the FSM, group commit, gossip and membership). *Agent implements it; the
// serving half's tests use a fake.
type core interface {
	// name returns this node's name (its raft server ID).
	name() string
	// eventBuffer returns the recent events derived from the entries this
	// node applied, or nil when it keeps none.
	eventBuffer() *events.Buffer

	// submit commits cmd through raft on the leader, group-committed with
	// other commands, and returns its result. sess, if not nil, wraps it in
	// the session envelope (Guarantee 9), which submit stamps with the
	// leader's clock; the caller stamps cmd's own Now. On a follower it returns
	// commit.ErrNotLeader without dispatching. Any failure after dispatch (a
	// timeout, lost leadership) is commit.ErrUnknownOutcome: the caller retries
	// with the same session and request id.
	submit(ctx context.Context, sess *commit.SessionRef, cmd fsm.Command) (*fsm.Result, error)
	// submitBatch commits many commands as submit would, keeping their
	// order in the log, and returns each one's outcome: its result, or
	// submit's errors (commit.ErrNotLeader when it was not dispatched,
	// commit.ErrUnknownOutcome when it may have committed). sess is nil (a
	// node's reports: no sessions, and the commands may wait a little to
	// share an entry) or holds each command's session, nil for none (a
	// client's merged spawns). It is one call, and no goroutine, per
	// batch.
	submitBatch(ctx context.Context, sess []*commit.SessionRef, cmds []fsm.Command) []commit.Outcome
	// registerSession commits a new client session on the leader.
	registerSession(ctx context.Context) (uint64, error)

	// consistentView returns a view of the table for a linearizable read,
	// following Guarantee 6's recipe. On a follower: commit.ErrNotLeader.
	consistentView(ctx context.Context) (*fsm.View, error)
	// localView returns this node's own view, possibly stale.
	localView() *fsm.View
	// readIndex returns, on the leader, an index such that a table that
	// has applied it may be read linearizably (Guarantee 6's recipe
	// without the read): how a follower reads its own table linearizably.
	// On a follower: commit.ErrNotLeader.
	readIndex(ctx context.Context) (uint64, error)
	// waitApplied blocks until this node's FSM has applied an index greater
	// than index, or ctx ends. It is how blocking queries and the runner
	// wait for the table to change.
	waitApplied(ctx context.Context, index uint64) error
	// await records, until release, that a client waits on this node, the
	// leader, for pid's exit, so that the report of it commits at once
	// instead of waiting to share an entry.
	await(pid uint64) (release func())

	// leader returns the leader's name and HTTP address, if one is known.
	leader() (name, httpAddr string, ok bool)
	// isLeader reports whether this node is the leader.
	isLeader() bool
	// nodeHTTPAddr returns the HTTP address of the node with that name
	// (table first, then gossip).
	nodeHTTPAddr(name string) (string, bool)
	// nodes returns the members with their gossiped load and raft role.
	nodes(view *fsm.View) []api.Node
	// peers returns the raft configuration.
	peers() ([]api.Peer, error)
	// snapshotSave streams a snapshot of the table; snapshotRestore replaces
	// the table with one (leader only).
	snapshotSave(ctx context.Context, w io.Writer) error
	snapshotRestore(ctx context.Context, r io.Reader) error
	// stateInfo returns this node's applied index and state hash.
	stateInfo() api.StateInfo
	// renewLease answers a node's lease renewal on the leader, once a
	// quorum has confirmed its leadership, with the leader's last log index
	// (Guarantee 3). On a follower: commit.ErrNotLeader.
	renewLease(ctx context.Context, node string) (uint64, error)
}
