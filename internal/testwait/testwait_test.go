package testwait

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Poll returns true as soon as done holds, and false once the timeout has
// passed, after a last call.
func TestPoll(t *testing.T) {
	n := 0
	if !Poll(time.Minute, time.Millisecond, func() bool { n++; return n == 3 }) || n != 3 {
		t.Fatalf("Poll returned after %d calls, want true after 3", n)
	}
	n = 0
	start := time.Now()
	if Poll(20*time.Millisecond, time.Millisecond, func() bool { n++; return false }) {
		t.Fatal("Poll reported a condition that never held")
	}
	if time.Since(start) < 20*time.Millisecond || n < 2 {
		t.Fatalf("Poll gave up after %v and %d calls, want the whole timeout", time.Since(start), n)
	}
}
