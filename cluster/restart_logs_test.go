package cluster

import (
	"fmt"
	"testing"
	"time"

	"github.com/vproc/vproc/fsm"
)

// TestRestartKeepsProcessLogs checks that a node restarted on its data
// directory still holds the logs of the processes it ran, although its
// table is empty until it catches up.
func TestRestartKeepsProcessLogs(t *testing.T) {
	c := MakeCluster(t, 3)
	const i = 1
	name := c.cfgs[i].Name
	pid := c.spawnSpec(fsm.Spec{Command: "echo", Args: []string{"kept"}, Node: name})
	poll(t, 10*time.Second, func() error {
		if p, ok := c.leader().localView().Get(pid); !ok || p.State != fsm.StateExited {
			return fmt.Errorf("pid %d not exited yet", pid)
		}
		return nil
	})
	if !c.agents[i].serving.logs.Has(pid) {
		t.Fatalf("%s holds no log of pid %d", name, pid)
	}
	c.crash(i)
	a := c.start(i)
	leader := c.leader()
	poll(t, 20*time.Second, func() error {
		want := leader.localView().Index()
		if got := a.localView().Index(); got < want {
			return fmt.Errorf("%s applied %d of %d", name, got, want)
		}
		return nil
	})
	// Passes after the catch-up compare the logs with the whole table.
	passes := a.serving.runner.Passes()
	poll(t, 20*time.Second, func() error {
		if n := a.serving.runner.Passes(); n < passes+2 {
			return fmt.Errorf("%d runner passes since the catch-up", n-passes)
		}
		return nil
	})
	if !a.serving.logs.Has(pid) {
		t.Errorf("%s dropped the log of pid %d after its restart", name, pid)
	}
}
