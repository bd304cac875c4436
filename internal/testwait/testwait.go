// Package testwait is the one polling helper of vproc's tests: wait for a
// condition with a deadline instead of sleeping and hoping.
package testwait

import (
	"errors"
	"testing"
	"time"
)

// For polls cond every millisecond until it holds, and fails t if timeout
// passes first, naming what it waited for.
func For(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	Until(t, what, timeout, time.Millisecond, func() error {
		if cond() {
			return nil
		}
		return errNotYet
	})
}

var errNotYet = errors.New("the condition does not hold")

// Until polls cond every interval until it returns nil, and fails t if
// timeout passes first, naming what it waited for and cond's last error.
// A cond that is costly to try (a container, a cluster) polls less often.
func Until(t testing.TB, what string, timeout, interval time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			if err == errNotYet {
				t.Fatalf("timed out after %v waiting for %s", timeout, what)
			}
			t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(interval)
	}
}
