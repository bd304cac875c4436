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
	var err error
	if Poll(timeout, interval, func() bool { err = cond(); return err == nil }) {
		return
	}
	if err == errNotYet {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
	t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
}

// Poll calls done every interval until it returns true, or until timeout
// has passed after a last call, and reports whether it did. It is for
// callers that keep the last answer and judge it themselves, such as a
// request retried while the cluster has no leader.
func Poll(timeout, interval time.Duration, done func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if done() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}
