package membership

import (
	"errors"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Name = "n1"
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(default with a name) = %v, want nil", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"no name", func(c *Config) { c.Name = "" }},
		{"bad port", func(c *Config) { c.BindPort = 70000 }},
		{"zero gossip interval", func(c *Config) { c.GossipInterval = 0 }},
		{"probe timeout above interval", func(c *Config) { c.ProbeTimeout = c.ProbeInterval + time.Millisecond }},
		{"zero suspicion", func(c *Config) { c.SuspicionMult = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
				t.Errorf("Validate(%s) = %v, want ErrBadConfig", tc.name, err)
			}
			if _, err := Start(c, Meta{}, nil); !errors.Is(err, ErrBadConfig) {
				t.Errorf("Start(%s) = %v, want ErrBadConfig", tc.name, err)
			}
		})
	}
}

func TestServersConfigValidate(t *testing.T) {
	ok := DefaultServersConfig()
	ok.Name = "n1"
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(default with a name) = %v, want nil", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*ServersConfig)
	}{
		{"no name", func(c *ServersConfig) { c.Name = "" }},
		{"no voters", func(c *ServersConfig) { c.MaxVoters = 0 }},
		{"expect above voters", func(c *ServersConfig) { c.BootstrapExpect = c.MaxVoters + 1 }},
		{"zero reconcile", func(c *ServersConfig) { c.ReconcileInterval = 0 }},
		{"zero load interval", func(c *ServersConfig) { c.LoadInterval = 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
				t.Errorf("Validate(%s) = %v, want ErrBadConfig", tc.name, err)
			}
		})
	}
}
