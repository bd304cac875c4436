package httpapi

import (
	"context"
	"net/http"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

// Linearizable reads of a follower's own table, as etcd's ReadIndex: the
// follower asks the leader for a read index (POST /v1/internal/readindex,
// which runs steps 1–3 of the read recipe in reads.go), waits until its own
// table has applied it and reads it. The node-local paths that decide from
// the table, such as an IPC name's lookup and unlink, use it so that a name
// created or removed through another node a moment ago is seen.

// SyncedView returns a view of this node's table that is at least as
// recent as a linearizable read started now: the consistent view on the
// leader, the local one once it has caught up with the leader's read index
// on a follower.
func (c *Client) SyncedView(ctx context.Context) (*fsm.View, error) {
	if c.core.IsLeader() {
		return c.core.ConsistentView(ctx)
	}
	var out api.ReadIndex
	h := http.Header{}
	h.Set(api.HeaderNode, c.name)
	if err := c.CallLeader(ctx, "/v1/internal/readindex", h, nil, &out); err != nil {
		return nil, err
	}
	for v := c.core.LocalView(); ; v = c.core.LocalView() {
		if v.Index() >= out.Index {
			return v, nil
		}
		if err := c.core.WaitApplied(ctx, v.Index()); err != nil {
			return nil, err
		}
	}
}
