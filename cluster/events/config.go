package events

import (
	"errors"
	"fmt"
)

// ErrBadConfig is returned by Config.Validate and New.
var ErrBadConfig = errors.New("bad event buffer configuration")

// MaxSize bounds Config.Size: an event takes a few hundred bytes.
const MaxSize = 1 << 22

// Config configures a Buffer.
type Config struct {
	// Size is how many recent events the agent keeps for readers that
	// resume or fall behind.
	Size int
}

// DefaultConfig keeps 4096 events, a few minutes of a busy cluster.
func DefaultConfig() Config { return Config{Size: 4096} }

// Validate checks that Size is in 1..MaxSize.
func (c *Config) Validate() error {
	if c.Size < 1 || c.Size > MaxSize {
		return fmt.Errorf("%w: event buffer size %d is not in 1..%d", ErrBadConfig, c.Size, MaxSize)
	}
	return nil
}
