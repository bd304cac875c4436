package cluster

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/fsm"
)

// Rolling upgrades: every agent reports in its gossip metadata the command
// types and body versions it can apply (Config.FSM.Reads, all this release
// knows unless limited), and the leader writes a type or version only once
// every voter reports it (replica.Env.Writable). A cluster mid-upgrade thus
// writes what its oldest voter reads; the checksummed envelope and spec
// records with stdin start once the last voter runs this release.

// writableTTL bounds how long a computed Writable is reused. The voters
// and their reports change rarely, and a voter joins only after gossip has
// carried its report.
const writableTTL = 200 * time.Millisecond

// claimedVersions returns what this agent can apply and reports.
func (c *Config) claimedVersions() fsm.Versions {
	if c.FSM.Reads.Commands != nil {
		return c.FSM.Reads.Clone()
	}
	return fsm.Known()
}

// versionGate computes replica.Env.Writable for an agent.
type versionGate struct {
	a    *Agent
	self fsm.Versions

	mu   sync.Mutex // guards w and at
	w    fsm.Versions
	at   time.Time
	have bool
}

// writable returns what every voter can apply, recomputed at most every
// writableTTL. Until raft and gossip run, it is what this agent knows.
func (g *versionGate) writable() fsm.Versions {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.have && time.Since(g.at) < writableTTL {
		return g.w
	}
	a := g.a
	if a.raft == nil || a.gossip == nil {
		return g.self
	}
	f := a.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		if g.have {
			return g.w
		}
		return g.self
	}
	var voters []string
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters = append(voters, string(s.ID))
		}
	}
	g.w, g.at, g.have = a.gossip.Writable(voters, g.self), time.Now(), true
	return g.w
}
