package fsm

import (
	"fmt"
	"time"
)

// Config holds the parameters of the state machine. They take part in Apply,
// so every server of a cluster must run with the same Config, as with raft's
// own settings.
type Config struct {
	// SessionTTL is how long a client session lives without activity, in
	// leader time. Expired sessions are dropped and a retry on one gets
	// ErrSessionExpired. Signal request ids are remembered as long.
	SessionTTL time.Duration
	// MaxSessions bounds the number of live sessions. Registering one more
	// drops the least recently active session.
	MaxSessions int
	// MaxCachedResponses bounds the responses kept per session. When a
	// session holds more, the oldest (lowest request id) is dropped and the
	// session's floor rises past it.
	MaxCachedResponses int
	// Reads limits the command types and body versions this replica
	// applies; an entry beyond it stops the replica as a corrupt one
	// would. Unlike the fields above it is local to a server: it stands in
	// for an older release in upgrade tests. The zero value means Known().
	Reads Versions
}

// Defaults of Config.
const (
	DefaultSessionTTL         = 10 * time.Minute
	DefaultMaxSessions        = 65536
	DefaultMaxCachedResponses = 1024
)

// DefaultConfig returns the configuration that a cluster uses unless told
// otherwise.
func DefaultConfig() Config {
	return Config{
		SessionTTL:         DefaultSessionTTL,
		MaxSessions:        DefaultMaxSessions,
		MaxCachedResponses: DefaultMaxCachedResponses,
	}
}

// Validate reports whether the configuration can be used.
func (c Config) Validate() error {
	switch {
	case c.SessionTTL < time.Second:
		return fmt.Errorf("fsm: session TTL %v is below 1s", c.SessionTTL)
	case c.MaxSessions < 1:
		return fmt.Errorf("fsm: max sessions %d must be at least 1", c.MaxSessions)
	case c.MaxCachedResponses < 1:
		return fmt.Errorf("fsm: max cached responses %d must be at least 1", c.MaxCachedResponses)
	case c.MaxCachedResponses > 1<<20:
		return fmt.Errorf("fsm: max cached responses %d is above %d", c.MaxCachedResponses, 1<<20)
	}
	return nil
}
