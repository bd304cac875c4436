package sched

import (
	"errors"
	"fmt"
	"strings"
)

// Priority bounds. A process's priority orders cluster placement and
// preemption; higher numbers are placed first.
const (
	// MinPriority is the lowest priority a process can have.
	MinPriority = 1
	// MaxPriority is the highest priority a process can have.
	MaxPriority = 100
	// DefaultPriority is the priority of a process that does not ask for one.
	// A Proc whose Priority is 0 is treated as having DefaultPriority.
	DefaultPriority = 50
)

// ErrInvalidConfig is wrapped by the errors Config.Validate returns.
var ErrInvalidConfig = errors.New("invalid scheduler config")

// ErrUnknownStrategy is returned for a strategy name other than "spread" or
// "binpack".
var ErrUnknownStrategy = errors.New("unknown placement strategy")

// Strategy is the cluster-wide placement strategy, a setting stored in the
// replicated table. It decides how feasible nodes are ranked.
type Strategy string

const (
	// StrategySpread is the default strategy. It puts each process on the
	// feasible node whose utilisation after the placement is the lowest, and
	// prefers nodes whose CPU slots the gossip reports as less busy.
	StrategySpread Strategy = "spread"
	// StrategyBinpack puts each process on the feasible node whose
	// utilisation after the placement is the highest, so that nodes fill up
	// one after another and whole nodes stay free.
	StrategyBinpack Strategy = "binpack"
)

// DefaultStrategy is the strategy of a cluster whose table holds none.
const DefaultStrategy = StrategySpread

// ParseStrategy parses a strategy name, ignoring case and surrounding space.
// The empty string means DefaultStrategy. Any other name fails with an error
// wrapping ErrUnknownStrategy.
func ParseStrategy(s string) (Strategy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return DefaultStrategy, nil
	case string(StrategySpread):
		return StrategySpread, nil
	case string(StrategyBinpack):
		return StrategyBinpack, nil
	}
	return "", fmt.Errorf("%w: %q (want %q or %q)", ErrUnknownStrategy, s, StrategySpread, StrategyBinpack)
}

// String returns the strategy's name.
func (s Strategy) String() string { return string(s) }

// Config tunes the planner. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	// ProcsPerSlot is how many processes one CPU slot of a node can hold.
	// Virtual processes are cooperative and mostly idle, so a node is
	// oversubscribed: its process capacity is Slots × ProcsPerSlot.
	// Default 64.
	ProcsPerSlot int

	// PreemptGap is how many priority points a pending process must be above
	// a running one to evict it: a process of priority p may evict only
	// processes of priority ≤ p − PreemptGap. Default 10.
	PreemptGap int

	// DisablePreemption turns preemption off: a process that finds no room
	// stays pending until capacity frees up on its own.
	DisablePreemption bool

	// MaxPlacementsPerPlan caps the placements of one plan, which bounds the
	// size of the Raft entry that commits it. Pending processes beyond the
	// cap are reported as Unplaced with CauseDeferred and are considered by
	// the next plan. 0 means no cap. Default 0.
	MaxPlacementsPerPlan int

	// GossipWeight is how strongly the spread strategy avoids nodes whose
	// CPU slots the gossip reports as busy, in percent of a whole node's
	// utilisation. A node whose busy slots plus run queue reach twice its
	// slot count is ranked as if it were GossipWeight percent fuller than the
	// table says. 0 makes the gossip a pure tie-breaker. Default 10.
	GossipWeight int
}

// DefaultConfig returns the default configuration.
func DefaultConfig() Config {
	return Config{
		ProcsPerSlot:         64,
		PreemptGap:           10,
		MaxPlacementsPerPlan: 0,
		GossipWeight:         10,
	}
}

// Validate reports whether the configuration is usable. The error wraps
// ErrInvalidConfig.
func (c Config) Validate() error {
	switch {
	case c.ProcsPerSlot < 1:
		return fmt.Errorf("%w: ProcsPerSlot is %d, must be at least 1", ErrInvalidConfig, c.ProcsPerSlot)
	case c.ProcsPerSlot > maxProcsPerSlot:
		return fmt.Errorf("%w: ProcsPerSlot is %d, must be at most %d", ErrInvalidConfig, c.ProcsPerSlot, maxProcsPerSlot)
	case c.PreemptGap < 1 || c.PreemptGap > MaxPriority-MinPriority:
		// A gap of 0 would let equal priorities evict each other back and
		// forth; a gap above the priority range could never be met.
		return fmt.Errorf("%w: PreemptGap is %d, must be between 1 and %d", ErrInvalidConfig, c.PreemptGap, MaxPriority-MinPriority)
	case c.MaxPlacementsPerPlan < 0:
		return fmt.Errorf("%w: MaxPlacementsPerPlan is %d, must be 0 (no cap) or more", ErrInvalidConfig, c.MaxPlacementsPerPlan)
	case c.GossipWeight < 0 || c.GossipWeight > 100:
		return fmt.Errorf("%w: GossipWeight is %d, must be between 0 and 100", ErrInvalidConfig, c.GossipWeight)
	}
	return nil
}

// maxProcsPerSlot keeps Slots × ProcsPerSlot far from overflowing.
const maxProcsPerSlot = 1 << 20

// normPriority maps a Proc's priority into [MinPriority, MaxPriority]; 0
// means DefaultPriority.
func normPriority(p int) int {
	switch {
	case p == 0:
		return DefaultPriority
	case p < MinPriority:
		return MinPriority
	case p > MaxPriority:
		return MaxPriority
	}
	return p
}
