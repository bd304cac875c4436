package runner

import (
	"errors"
	"fmt"
	"time"
)

// Config configures a Runner.
type Config struct {
	// Name is this node's name, as the table assigns processes to it.
	Name string
	// PreemptGrace is how long a preempted incarnation has between SIGTERM
	// and SIGKILL.
	PreemptGrace time.Duration
	// ChildGrace is how long a child record placed here may wait for the
	// local spawn that allocated its PID.
	ChildGrace time.Duration
	// GCEvery is how often the logs, stdin pipes and CPU records the
	// runner keeps are compared with the whole table; between times the
	// table's feed of reaps says what to drop.
	GCEvery time.Duration
	// GCAfter is the raft log's last index when the agent started: the
	// table of a restarted node is empty or old until it has applied that
	// far, and comparing logs with it before then would drop the logs of
	// processes it does not show yet.
	GCAfter uint64
}

// DefaultConfig returns the runner's defaults; the caller sets Name.
func DefaultConfig() Config {
	return Config{PreemptGrace: 5 * time.Second, ChildGrace: 10 * time.Second, GCEvery: time.Minute}
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	switch {
	case c.Name == "":
		return fmt.Errorf("%w: no node name", ErrBadConfig)
	case c.PreemptGrace < 0, c.ChildGrace <= 0, c.GCEvery <= 0:
		return fmt.Errorf("%w: negative preempt grace, or child grace or gc interval not positive", ErrBadConfig)
	}
	return nil
}

// ErrBadConfig is returned by Config.Validate and New for a configuration
// that cannot work.
var ErrBadConfig = errors.New("bad runner configuration")
