package ipc

import (
	"errors"
	"github.com/vproc/vproc/internal/testwait"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, what, 5*time.Second, cond)
}

// testWaiter is a Waiter the test controls: Wait returns nil on Wake, or the
// error sent on intr.
type testWaiter struct {
	wake chan struct{}
	intr chan error
}

func newTestWaiter() *testWaiter {
	return &testWaiter{wake: make(chan struct{}, 1), intr: make(chan error, 1)}
}

func (w *testWaiter) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *testWaiter) Wait(time.Time) error {
	select {
	case <-w.wake:
		return nil
	case err := <-w.intr:
		return err
	}
}

// gateWaiter ignores Wake: Wait returns only when the test opens the gate,
// which lets a test change an object's state between a caller's
// registration and its wake-up.
type gateWaiter struct {
	gate chan error
}

func newGateWaiter() *gateWaiter { return &gateWaiter{gate: make(chan error, 1)} }

func (w *gateWaiter) Wake()                {}
func (w *gateWaiter) Wait(time.Time) error { return <-w.gate }

// release makes the pending or next Wait return err.
func (w *gateWaiter) release(err error) { w.gate <- err }

// spuriousWaiter returns nil from its first n Waits without being woken, then
// err: callers must recheck their condition after every Wait.
type spuriousWaiter struct {
	n     int
	err   error
	waits int
}

func (w *spuriousWaiter) Wake() {}
func (w *spuriousWaiter) Wait(time.Time) error {
	w.waits++
	if w.waits <= w.n {
		return nil
	}
	return w.err
}

// errKilled stands for a kernel's "killed" error, which must come back
// unchanged.
var errKilled = errors.New("killed")

// result is the outcome of an operation run in a goroutine.
type result struct {
	n   int
	err error
}

// async runs f in a goroutine and returns a channel with its result.
func async(f func() (int, error)) <-chan result {
	ch := make(chan result, 1)
	go func() {
		n, err := f()
		ch <- result{n, err}
	}()
	return ch
}

// await returns the result of an async operation, failing after a timeout.
func await(t testing.TB, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("operation did not return")
		return result{}
	}
}

// notDone fails the test if the async operation has already returned.
func notDone(t testing.TB, ch <-chan result) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("operation returned (%d, %v), want it blocked", r.n, r.err)
	default:
	}
}
