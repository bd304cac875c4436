package cluster

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/leader"
	"github.com/vproc/vproc/cluster/membership"
	"github.com/vproc/vproc/cluster/replica"
)

func TestDefaultAndDevConfigsAreValid(t *testing.T) {
	d := DefaultConfig()
	d.DataDir = t.TempDir()
	if err := d.Validate(); err != nil {
		t.Errorf("DefaultConfig with a data dir: %v", err)
	}
	dev := DevConfig()
	if err := dev.Validate(); err != nil {
		t.Errorf("DevConfig: %v", err)
	}
	if !dev.Dev || dev.HTTPAddr != "127.0.0.1:7070" || dev.RaftAddr != "127.0.0.1:7071" || dev.GossipAddr != "127.0.0.1:7072" {
		t.Errorf("DevConfig = %+v, want dev on 127.0.0.1:7070-7072", dev)
	}
	// Guarantee 3's timer relations hold for the defaults.
	if d.LeaderLeaseTimeout > d.HeartbeatTimeout || d.FenceTimeout <= d.worstElection() ||
		d.LostTimeout < d.minLostTimeout() {
		t.Errorf("default timers break their relations: %+v", d)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *Config)
	}{
		{"no name", func(c *Config) { c.Name = "" }},
		{"no data dir", func(c *Config) { c.DataDir = "" }},
		{"negative expect", func(c *Config) { c.BootstrapExpect = -1 }},
		{"expect above max voters", func(c *Config) { c.BootstrapExpect = 6 }},
		{"dev with expect 3", func(c *Config) { c.Dev = true; c.BootstrapExpect = 3 }},
		{"negative cpus", func(c *Config) { c.CPUs = -1 }},
		{"zero retention", func(c *Config) { c.Retention = 0 }},
		{"zero max voters", func(c *Config) { c.MaxVoters = 0 }},
		{"lease above heartbeat", func(c *Config) { c.LeaderLeaseTimeout = c.HeartbeatTimeout + time.Millisecond }},
		{"heartbeat above election", func(c *Config) { c.HeartbeatTimeout = c.ElectionTimeout + time.Millisecond }},
		{"tiny heartbeat", func(c *Config) { c.HeartbeatTimeout = time.Millisecond }},
		{"tiny commit timeout", func(c *Config) { c.CommitTimeout = time.Microsecond }},
		{"probe timeout above interval", func(c *Config) { c.ProbeTimeout = 2 * c.ProbeInterval }},
		{"fence below the worst election", func(c *Config) { c.FenceTimeout = c.ElectionTimeout }},
		{"lost below fence", func(c *Config) { c.LostTimeout = c.FenceTimeout }},
		{"bad http address", func(c *Config) { c.HTTPAddr = "7070" }},
		{"bad raft port", func(c *Config) { c.RaftAddr = "127.0.0.1:99999" }},
		{"advertise host not an IP", func(c *Config) { c.AdvertiseHost = "example.com" }},
		{"empty label key", func(c *Config) { c.Labels = map[string]string{"": "x"} }},
		{"bad fsm config", func(c *Config) { c.FSM.SessionTTL = 0 }},
		{"ACLs without an agent token", func(c *Config) { c.ACLEnabled = true }},
		{"short agent token", func(c *Config) { c.ACLEnabled, c.AgentToken = true, "short" }},
		{"agent token with a line break", func(c *Config) { c.AgentToken = "0123456789abcdef\r\nX-Evil: 1" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.DataDir = "/nonexistent"
			tc.edit(&c)
			if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
				t.Errorf("Validate() = %v, want ErrBadConfig", err)
			}
		})
	}
}

// TestGossipConfigMatchesDefaults checks that the agent's default gossip
// timing and membership's defaults are the same.
func TestGossipConfigMatchesDefaults(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Name = "n1"
	got, err := cfg.gossipConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := membership.DefaultConfig()
	want.Name, want.BindHost, want.BindPort, want.AdvertiseHost = got.Name, got.BindHost, got.BindPort, got.AdvertiseHost
	if !reflect.DeepEqual(got, want) {
		t.Errorf("gossipConfig() = %+v, want membership's defaults %+v", got, want)
	}
}

// TestSubconfigsMatchDefaults checks that the agent's defaults give the
// replica and the leader's loops their own packages' defaults.
func TestSubconfigsMatchDefaults(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Name = "n1"
	rc, rwant := cfg.replicaConfig("127.0.0.1:7071"), replica.DefaultConfig()
	rwant.Name, rwant.Addr, rwant.DataDir, rwant.Dev = rc.Name, rc.Addr, rc.DataDir, rc.Dev
	if !reflect.DeepEqual(rc, rwant) {
		t.Errorf("replicaConfig() = %+v, want replica's defaults %+v", rc, rwant)
	}
	lc, lwant := cfg.leaderConfig(), leader.DefaultConfig()
	if lc.Self != cfg.Name {
		t.Errorf("leaderConfig().Self = %q, want the node's name %q", lc.Self, cfg.Name)
	}
	lwant.Self = lc.Self
	if !reflect.DeepEqual(lc, lwant) {
		t.Errorf("leaderConfig() = %+v, want leader's defaults %+v", lc, lwant)
	}
}

// TestServersConfigMatchesDefaults checks that the agent's defaults give
// membership's servers' side its own defaults.
func TestServersConfigMatchesDefaults(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Name = "n1"
	got, want := cfg.serversConfig(), membership.DefaultServersConfig()
	want.Name, want.BootstrapExpect, want.Join = got.Name, got.BootstrapExpect, got.Join
	if !reflect.DeepEqual(got, want) {
		t.Errorf("serversConfig() = %+v, want membership's defaults %+v", got, want)
	}
}
