package spec

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// RestartPolicy says when an exited incarnation is replaced by a new one.
type RestartPolicy string

// The restart policies.
const (
	RestartNever     RestartPolicy = "never"
	RestartOnFailure RestartPolicy = "on-failure"
	RestartAlways    RestartPolicy = "always"
)

// Valid reports whether p is one of the three policies.
func (p RestartPolicy) Valid() bool {
	return p == RestartNever || p == RestartOnFailure || p == RestartAlways
}

// ParseRestartPolicy parses a policy name, in any case.
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	p := RestartPolicy(strings.ToLower(strings.TrimSpace(s)))
	if !p.Valid() {
		return "", syntaxError(ErrBadRestart, s, "want never, on-failure or always")
	}
	return p, nil
}

// Restart is a restart policy as `spawn --restart` writes it. The zero
// value says nothing, which the table takes as never.
type Restart struct {
	// Policy is never, on-failure or always; empty says nothing.
	Policy RestartPolicy
	// Max bounds the number of restarts; 0 means no bound.
	Max int
	// Backoff is the delay before the first restart, which doubles for
	// every later one; 0 leaves it to the table's default.
	Backoff time.Duration
}

// ParseRestart parses the restart grammar
//
//	never | on-failure[:max[:backoff]] | always[:max[:backoff]]
//
// where max is a count of restarts (0, or empty, for no bound) and backoff a
// positive duration. The policy's name is case-insensitive. An empty
// string is the zero Restart.
func ParseRestart(s string) (Restart, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return Restart{}, nil
	}
	parts := strings.Split(t, ":")
	if len(parts) > 3 {
		return Restart{}, syntaxError(ErrBadRestart, s, "want never, on-failure[:max[:backoff]] or always[:max[:backoff]]")
	}
	p, err := ParseRestartPolicy(parts[0])
	if err != nil {
		return Restart{}, syntaxError(ErrBadRestart, s, "want never, on-failure or always")
	}
	r := Restart{Policy: p}
	if len(parts) > 1 && p == RestartNever {
		return Restart{}, syntaxError(ErrBadRestart, s, "never takes no max or backoff")
	}
	if len(parts) > 1 && strings.TrimSpace(parts[1]) != "" {
		n, err := strconv.Atoi(strings.TrimSpace(parts[1]))
		if err != nil || n < 0 || n > math.MaxInt32 {
			return Restart{}, syntaxError(ErrBadRestart, s, "max must be a count from 0 to "+strconv.Itoa(math.MaxInt32))
		}
		r.Max = n
	}
	if len(parts) > 2 {
		d, err := time.ParseDuration(strings.TrimSpace(parts[2]))
		if err != nil || d <= 0 {
			return Restart{}, syntaxError(ErrBadRestart, s, "backoff must be a positive duration such as 1s")
		}
		r.Backoff = d
	}
	return r, nil
}

// String formats r in the restart grammar, in its canonical form: the
// policy in lower case, then max if it or the backoff is set, then the
// backoff if set ("always", "on-failure:3", "always:0:2s").
func (r Restart) String() string {
	s := string(r.Policy)
	if r.Max != 0 || r.Backoff != 0 {
		s += ":" + strconv.Itoa(r.Max)
	}
	if r.Backoff != 0 {
		s += ":" + FormatDuration(r.Backoff)
	}
	return s
}
