package leader

import (
	"errors"
	"fmt"
	"time"

	"github.com/vproc/vproc/sched"
)

// ErrBadConfig is returned by Config.Validate and New for a configuration
// that cannot work.
var ErrBadConfig = errors.New("bad leader configuration")

// Config configures the leader's loops.
type Config struct {
	// FenceTimeout is how long a node's lease lasts after the node sent
	// its last answered renewal; placement skips nodes whose lease this
	// leader has not renewed within it.
	FenceTimeout time.Duration
	// LostTimeout is how long after a node's last answered renewal (or the
	// term's start) the leader declares it lost (Guarantee 3).
	LostTimeout time.Duration
	// Retention is how long init's zombies stay before they are reaped.
	Retention time.Duration
	// Placement tunes the placement planner (package sched).
	Placement sched.Config
	// Self is this node's ID in the table. Among the nodes that tie for a
	// spawn, the spawn path prefers it: a process placed on the leader
	// starts as soon as its entry commits here, and its reports commit
	// without a request to the leader, where on a follower it waits for
	// the news of the commit (a Tick) and its reports take a request.
	Self string
}

// DefaultConfig returns the timing the agent uses by default
// (cluster.DefaultConfig explains it).
func DefaultConfig() Config {
	return Config{
		FenceTimeout: 2400 * time.Millisecond,
		LostTimeout:  3100 * time.Millisecond,
		Retention:    time.Hour,
		Placement:    defaultPlacement(),
	}
}

// Validate checks the configuration, fields and how they relate.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.FenceTimeout <= 0, c.LostTimeout <= 0, c.Retention <= 0:
		return bad("fence timeout, lost timeout and retention must be positive")
	case c.LostTimeout < c.FenceTimeout:
		return bad("lost timeout %v is below the fence timeout %v", c.LostTimeout, c.FenceTimeout)
	}
	if err := c.Placement.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	return nil
}

// defaultPlacement is sched's default with the agent's 1024 processes per
// slot: vproc's programs are cooperative and mostly asleep.
func defaultPlacement() sched.Config {
	c := sched.DefaultConfig()
	c.ProcsPerSlot = 1024
	return c
}
