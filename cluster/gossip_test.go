package cluster

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

func TestMetaSizeLimit(t *testing.T) {
	cfg := testConfig(t, "x")
	cfg.Labels = map[string]string{}
	for i := 0; len(cfg.Labels)*40 < memberlist.MetaMaxSize; i++ {
		cfg.Labels[fmt.Sprintf("label-%02d", i)] = strings.Repeat("v", 30)
	}
	err := cfg.Validate()
	if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), "metadata") {
		t.Errorf("Validate with %d long labels = %v, want a metadata size error", len(cfg.Labels), err)
	}
	cfg.Labels = map[string]string{"zone": "a", "disk": "ssd"}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate with two labels: %v", err)
	}
}

func TestLoadGossiped(t *testing.T) {
	c := MakeCluster(t, 3, func(i int, c *Config) { c.LoadInterval = time.Hour })
	src := c.agents[0]
	want := api.Load{BusySlots: 3, RunQueue: 7, Procs: 42}
	poll(t, 10*time.Second, func() error {
		src.gossip.PublishLoad(want) // the newest publication wins
		for _, a := range c.up() {
			if got, ok := a.gossip.Load(src.Name()); !ok || got != want {
				return fmt.Errorf("%s knows load %+v of %s, want %+v", a.Name(), got, src.Name(), want)
			}
		}
		return nil
	})
	for _, n := range c.agents[2].nodes(nil) {
		if n.ID == src.Name() && n.Load != want {
			t.Errorf("nodes() shows load %+v for %s, want %+v", n.Load, n.ID, want)
		}
	}
}

func TestTableFollowsGossip(t *testing.T) {
	c := MakeCluster(t, 3)
	f := c.index(c.followers()[0])
	name := c.cfgs[f].Name
	c.crash(f)
	status := func(want fsm.NodeStatus) {
		t.Helper()
		poll(t, 10*time.Second, func() error {
			n, ok := c.leader().localView().Node(name)
			if !ok || n.Status != want {
				return fmt.Errorf("table node %s is %q, want %q", name, n.Status, want)
			}
			return nil
		})
	}
	status(fsm.NodeDown)
	c.start(f)
	status(fsm.NodeAlive)
	c.waitConverged()
}
