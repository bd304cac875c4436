package cluster

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/membership"
)

// TestJoinRetriesWhileTheSeedIsDown: a node started before its --join
// target is up tries again within a second while it is alone, not only
// every RejoinInterval.
func TestJoinRetriesWhileTheSeedIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	seed := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	c := &testCluster{t: t}
	late := testConfig(t, "late")
	late.Join = []string{seed}
	late.RejoinInterval = 10 * time.Minute // only the alone path can join in time
	first := testConfig(t, "seed")
	first.GossipAddr = seed
	first.BootstrapExpect = 1
	c.cfgs = []Config{late, first}
	c.agents = []*Agent{nil, nil}
	// The late node's first join fails before start returns (New joins
	// its seeds before it answers); the seed comes up after.
	c.start(0)
	c.start(1)
	poll(t, 20*time.Second, func() error {
		m, ok := c.agents[1].gossip.Member("late")
		if !ok || m.State != membership.Alive {
			return fmt.Errorf("the seed does not see the late node alive yet (%+v)", m)
		}
		return nil
	})
}
