package cluster

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vproc/vproc/fsm"
)

// TestReloadRetention checks that a reload changes the retention the
// reaper uses, and that a bad configuration changes nothing.
func TestReloadRetention(t *testing.T) {
	c := MakeCluster(t, 1, func(i int, c *Config) { c.Retention = time.Hour })
	a := c.leader()

	bad := c.cfgs[0]
	bad.Retention = 0
	if err := a.Reload(bad); !errors.Is(err, ErrBadConfig) {
		t.Errorf("retention 0: got %v, want ErrBadConfig", err)
	}
	if got := a.lead.Retention(); got != time.Hour {
		t.Errorf("after a bad reload: got retention %v, want 1h", got)
	}

	pid := c.spawnSpec(fsm.Spec{Command: "true"})
	poll(t, 10*time.Second, func() error {
		if p, ok := a.localView().Get(pid); !ok || p.ExitedAt == 0 {
			return fmt.Errorf("pid %d not exited yet", pid)
		}
		return nil
	})
	good := c.cfgs[0]
	good.Retention = 100 * time.Millisecond
	if err := a.Reload(good); err != nil {
		t.Fatal(err)
	}
	// The reaper's period was fixed by the 1h retention (10s at most).
	poll(t, 30*time.Second, func() error {
		if p, ok := a.localView().Get(pid); ok {
			return fmt.Errorf("pid %d still %s", pid, p.State)
		}
		return nil
	})
}
