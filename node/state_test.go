package node

import (
	"errors"
	"strconv"
	"testing"
	"unsafe"
)

func TestTransitionTableEveryPair(t *testing.T) {
	allowed := map[[2]ProcessState]bool{
		{StateReady, StateRunning}:   true,
		{StateReady, StateStopped}:   true,
		{StateReady, StateZombie}:    true,
		{StateRunning, StateReady}:   true,
		{StateRunning, StateWaiting}: true,
		{StateRunning, StateStopped}: true,
		{StateRunning, StateZombie}:  true,
		{StateWaiting, StateReady}:   true,
		{StateWaiting, StateStopped}: true,
		{StateWaiting, StateZombie}:  true,
		{StateStopped, StateReady}:   true,
		{StateStopped, StateWaiting}: true,
		{StateStopped, StateZombie}:  true,
	}
	for _, from := range AllStates {
		for _, to := range AllStates {
			t.Run(string(from)+"->"+string(to), func(t *testing.T) {
				want := allowed[[2]ProcessState{from, to}]
				err := CheckTransition(from, to)
				if got := err == nil; got != want {
					t.Fatalf("CheckTransition(%s, %s) = %v, want allowed=%v", from, to, err, want)
				}
				if err != nil && !errors.Is(err, ErrIllegalTransition) {
					t.Fatalf("error %v does not wrap ErrIllegalTransition", err)
				}
			})
		}
	}
	if err := CheckTransition("bogus", StateReady); err == nil {
		t.Fatal("unknown state accepted")
	}
}

func TestTableStateMapping(t *testing.T) {
	cases := []struct {
		s           ProcessState
		table, mics string
	}{
		{StateReady, "running", "ready"},
		{StateRunning, "running", "running"},
		{StateWaiting, "running", "waiting"},
		{StateStopped, "stopped", ""},
		{StateZombie, "exited", ""},
	}
	for _, c := range cases {
		if got := c.s.TableState(); got != c.table {
			t.Errorf("TableState(%s) = %q, want %q", c.s, got, c.table)
		}
		if got := c.s.MicroState(); got != c.mics {
			t.Errorf("MicroState(%s) = %q, want %q", c.s, got, c.mics)
		}
	}
}

func TestSetStatePanicsOnIllegalMove(t *testing.T) {
	p := &Process{}
	p.stateCode.Store(uint32(codeZombie))
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("zombie -> running did not panic")
		}
	}()
	p.setState(codeRunning)
}

func TestPriorityWeights(t *testing.T) {
	cases := []struct{ prio, nice int }{
		{1, 19}, {2, 19}, {25, 10}, {49, 0}, {50, 0}, {51, 0}, {52, -1}, {75, -10}, {100, -20},
	}
	for _, c := range cases {
		if got := Nice(c.prio); got != c.nice {
			t.Errorf("Nice(%d) = %d, want %d", c.prio, got, c.nice)
		}
	}
	if Weight(50) != 1024 || Weight(100) != 88761 || Weight(1) != 15 {
		t.Fatalf("weights: 50→%d 100→%d 1→%d", Weight(50), Weight(100), Weight(1))
	}
}

// TestProcessSize keeps Process in the 576-byte allocation size class (568
// bytes and the runtime's 8-byte header): a sleeping process costs its size,
// and one more word costs 64 bytes per process (BenchmarkMemoryPerSleepingProcess).
func TestProcessSize(t *testing.T) {
	if strconv.IntSize != 64 {
		t.Skip("sizes are for 64-bit platforms")
	}
	if got := unsafe.Sizeof(Process{}); got > 568 {
		t.Fatalf("Process is %d bytes, want at most 568", got)
	}
}
