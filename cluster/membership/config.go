package membership

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
)

// ErrBadConfig is returned by Config.Validate and Start for a configuration
// that cannot work.
var ErrBadConfig = errors.New("bad gossip configuration")

// Config configures a node's gossip: its name, where memberlist listens,
// and memberlist's timing.
type Config struct {
	// Name is the node's name, unique in the cluster.
	Name string
	// BindHost and BindPort are where memberlist listens; an empty host is
	// every interface.
	BindHost string
	BindPort int
	// AdvertiseHost, if set, is the IP address other members reach this
	// node at.
	AdvertiseHost string
	// memberlist's timing (memberlist.Config has the same fields).
	GossipInterval   time.Duration
	ProbeInterval    time.Duration
	ProbeTimeout     time.Duration
	SuspicionMult    int
	PushPullInterval time.Duration
	// Keys, if any, encrypt gossip (keyring.go): the first is the primary
	// key, each is 16, 24 or 32 bytes. KeyringPath, if set, is the file
	// every change of the keyring is saved to.
	Keys        [][]byte
	KeyringPath string
}

// DefaultConfig returns the timing for a LAN of 3–5 servers that the agent
// uses by default (cluster.DefaultConfig explains it), listening on every
// interface at port 7072.
func DefaultConfig() Config {
	return Config{
		BindPort:         7072,
		GossipInterval:   100 * time.Millisecond,
		ProbeInterval:    500 * time.Millisecond,
		ProbeTimeout:     250 * time.Millisecond,
		SuspicionMult:    4,
		PushPullInterval: 15 * time.Second,
	}
}

// Validate checks the configuration, fields and how they relate.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Name == "":
		return bad("no node name")
	case c.BindPort < 0 || c.BindPort > 65535:
		return bad("bad port %d", c.BindPort)
	case c.GossipInterval <= 0, c.ProbeInterval <= 0, c.ProbeTimeout <= 0, c.PushPullInterval <= 0:
		return bad("gossip intervals must be positive")
	case c.ProbeTimeout > c.ProbeInterval:
		return bad("probe timeout %v is above the probe interval %v", c.ProbeTimeout, c.ProbeInterval)
	case c.SuspicionMult < 1:
		return bad("suspicion multiplier %d must be at least 1", c.SuspicionMult)
	}
	for _, k := range c.Keys {
		if err := memberlist.ValidateKey(k); err != nil {
			return bad("gossip key of %d bytes: want 16, 24 or 32", len(k))
		}
	}
	return nil
}
