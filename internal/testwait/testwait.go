// Package testwait is the one polling helper of vproc's tests: wait for a
// condition with a deadline instead of sleeping and hoping.
package testwait

import (
	"testing"
	"time"
)

// For polls cond every millisecond until it holds, and fails t if timeout
// passes first, naming what it waited for.
func For(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}
