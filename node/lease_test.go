package node

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/vproc/vproc/ipc"
)

// manualClock is a Clock that moves only when the test moves it.
type manualClock struct{ n atomic.Int64 }

func (c *manualClock) Now() int64              { return c.n.Load() }
func (c *manualClock) advance(d time.Duration) { c.n.Add(int64(d)) }

// leaseKernel returns a kernel on a manual clock running "count", which
// makes system calls in a loop and counts them in calls, and "read-one",
// which counts a completed receive from queue /lease in reads.
func leaseKernel(t *testing.T, calls, reads *atomic.Int64) (*ProcessManager, *manualClock) {
	clk := &manualClock{}
	clk.n.Store(1)
	k := newKernel(t, func(c *Config) { c.Clock = clk; c.Slots = 2 }, withPrograms(map[string]Program{
		"count": func(s *Sys) int {
			for {
				s.Getpid()
				calls.Add(1)
			}
		},
		"read-one": func(s *Sys) int {
			fd, err := s.MqOpen("/lease", O_RDONLY, 0, nil)
			if err != nil {
				return 1
			}
			buf := make([]byte, ipc.DefaultMsgSize)
			if _, _, err := s.MqReceive(fd, buf); err != nil {
				return 2
			}
			reads.Add(1)
			return 0
		},
	}))
	return k, clk
}

func TestLeaseEndFreezesRunningAndBlockedProcesses(t *testing.T) {
	var calls, reads atomic.Int64
	k, clk := leaseKernel(t, &calls, &reads)
	if k.Frozen() {
		t.Fatal("a kernel without a lease is frozen")
	}
	if !k.RenewLease(100 * time.Millisecond) {
		t.Fatal("RenewLease on a kernel without a lease: got false")
	}
	counter := mustSpawn(t, k, Spec{Command: "count"})
	q, err := k.mqs.Open("/lease", ipc.O_CREAT|ipc.O_WRONLY, 0o600, "root", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	reader := mustSpawn(t, k, Spec{Command: "read-one"})
	waitFor(t, "the counter to run", 10*time.Second, func() bool { return calls.Load() > 100 })
	waitState(t, k, reader, StateWaiting)

	clk.advance(100 * time.Millisecond) // the lease ends
	if !k.Frozen() {
		t.Fatal("the lease ended but the kernel is not frozen")
	}
	if k.RenewLease(time.Second) {
		t.Fatal("RenewLease after the lease ended: got true, want false")
	}
	waitState(t, k, counter, StateReady) // parked at its next call, holding no slot
	frozenCalls := calls.Load()
	if err := q.Send(ipc.NewWaiter(), []byte("x"), 0, time.Time{}); err != nil { // the reader's call may not complete
		t.Fatal(err)
	}
	waitState(t, k, reader, StateReady)
	// Wake both (SIGCONT to a running process is a no-op besides the wake):
	// they must park again, not complete a call.
	if err := k.Kill(counter, ipc.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := k.Kill(reader, ipc.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitState(t, k, counter, StateReady)
	waitState(t, k, reader, StateReady)
	if got := calls.Load(); got != frozenCalls+1 && got != frozenCalls {
		// A call that was already past its check when the lease ended may
		// finish; none may start.
		t.Fatalf("calls went from %d to %d while frozen", frozenCalls, got)
	}
	if reads.Load() != 0 {
		t.Fatal("a blocked read completed while the lease had ended")
	}
	if _, busy, _ := k.Scheduler().Stats(); busy != 0 {
		t.Fatalf("frozen processes hold %d slots", busy)
	}

	k.ResumeLease(time.Second)
	waitFor(t, "the counter to run again", 10*time.Second, func() bool { return calls.Load() > frozenCalls+100 })
	if p := mustWait(t, k, reader); p.Status.ExitStatus() != 0 || reads.Load() != 1 {
		t.Fatalf("reader after resume: %v, %d reads", p.Status, reads.Load())
	}
	if err := k.Kill(counter, ipc.SIGKILL); err != nil {
		t.Fatal(err)
	}
	mustWait(t, k, counter)
}

func TestLeaseRenewedBeforeItEndsNeverFreezes(t *testing.T) {
	var calls, reads atomic.Int64
	k, clk := leaseKernel(t, &calls, &reads)
	k.RenewLease(100 * time.Millisecond)
	pid := mustSpawn(t, k, Spec{Command: "count"})
	waitFor(t, "the counter to run", 10*time.Second, func() bool { return calls.Load() > 100 })
	for range 5 {
		clk.advance(60 * time.Millisecond)
		if !k.RenewLease(100 * time.Millisecond) {
			t.Fatal("renewal within the lease refused")
		}
		n := calls.Load()
		waitFor(t, "the counter to go on", 10*time.Second, func() bool { return calls.Load() > n+100 })
	}
	if err := k.Kill(pid, ipc.SIGKILL); err != nil {
		t.Fatal(err)
	}
	mustWait(t, k, pid)
}

func TestKillWhileFrozen(t *testing.T) {
	var calls, reads atomic.Int64
	k, _ := leaseKernel(t, &calls, &reads)
	pid := mustSpawn(t, k, Spec{Command: "count"})
	waitFor(t, "the counter to run", 10*time.Second, func() bool { return calls.Load() > 10 })
	k.Freeze()
	waitState(t, k, pid, StateReady)
	n := calls.Load()
	if err := k.Kill(pid, ipc.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p := mustWait(t, k, pid)
	if p.Status.Signal() != ipc.SIGKILL {
		t.Fatalf("got %v, want death by SIGKILL", p.Status)
	}
	if got := calls.Load(); got > n+1 {
		t.Fatalf("%d calls completed between the freeze and the kill", got-n)
	}
	// A process spawned while frozen does not run until the lease is back.
	pid = mustSpawn(t, k, Spec{Command: "count"})
	waitState(t, k, pid, StateReady)
	n = calls.Load()
	k.ResumeLease(time.Hour)
	waitFor(t, "the new process to run", 10*time.Second, func() bool { return calls.Load() > n })
	if err := k.Kill(pid, ipc.SIGKILL); err != nil {
		t.Fatal(err)
	}
	mustWait(t, k, pid)
}
