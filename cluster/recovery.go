package cluster

import (
	"github.com/vproc/vproc/cluster/httpapi"
	"github.com/vproc/vproc/cluster/runner"
)

// The runner reaches the leader's commit index through the node's client
// of the leader before it starts anything (runner/catchup.go), so that a
// restarted agent, whose replica may be behind, runs nothing twice.
var _ runner.Syncer = (*httpapi.Client)(nil)
