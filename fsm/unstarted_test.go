package fsm

import "testing"

// TestSignalToUnstartedWork: a signal to a process that has not run yet
// acts as on a process with no handlers. Without Unstarted (entries of
// older leaders) only SIGKILL ends it, as before.
func TestSignalToUnstartedWork(t *testing.T) {
	const (
		sigHUP, sigINT, sigUSR1, sigTERM, sigCONT, sigSTOP, sigTSTP, sigWINCH = 1, 2, 10, 15, 18, 19, 20, 28
	)
	for _, sig := range []int{sigHUP, sigINT, sigUSR1, sigTERM} {
		t.Run("fatal "+itoa(sig)+" ends a pending process", func(t *testing.T) {
			h := newHarness(t)
			pid := h.spawn(InitPID, Spec{Command: "sleep", Restart: Restart{Policy: RestartAlways}})
			r := h.ok(&Signal{Target: int64(pid), Signal: sig, Now: h.now, Unstarted: true})
			if len(r.Targets) != 1 {
				t.Fatalf("targets %+v, want the pid", r.Targets)
			}
			p := h.get(pid)
			if p.State != StateExited || p.Status.Signal != sig || p.StartedAt != 0 || !p.Killed {
				t.Fatalf("after signal %d: state %s status %+v started %d killed %v; want exited by the signal, never run, no restart",
					sig, p.State, p.Status, p.StartedAt, p.Killed)
			}
			if h.f.View().PendingLen() != 0 {
				t.Fatalf("pending queue still holds it")
			}
		})
	}
	t.Run("fatal ends a placed process", func(t *testing.T) {
		h := newHarness(t)
		h.node("n1")
		pid := h.spawn(InitPID, Spec{Command: "sleep"})
		h.ok(&Place{PID: pid, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: h.now})
		h.ok(&Signal{Target: int64(pid), Signal: sigTERM, Now: h.now, Unstarted: true})
		if p := h.get(pid); p.State != StateExited || p.Status.Signal != sigTERM {
			t.Fatalf("placed, then TERM: %s %+v, want exited by SIGTERM", p.State, p.Status)
		}
		// Its node's late report of a start is refused.
		if r := h.apply(&Started{PID: pid, Incarnation: 1, Node: "n1", Now: h.now}); r.Err == nil {
			t.Fatalf("started after the TERM was accepted")
		}
	})
	t.Run("without Unstarted TERM waits for the process to run", func(t *testing.T) {
		h := newHarness(t)
		pid := h.spawn(InitPID, Spec{Command: "sleep"})
		h.ok(&Signal{Target: int64(pid), Signal: sigTERM, Now: h.now})
		if p := h.get(pid); p.State != StatePending {
			t.Fatalf("state %s, want pending", p.State)
		}
	})
	t.Run("stop holds, continue releases", func(t *testing.T) {
		for _, stop := range []int{sigSTOP, sigTSTP} {
			h := newHarness(t)
			h.node("n1")
			pid := h.spawn(InitPID, Spec{Command: "sleep"})
			h.ok(&Signal{Target: int64(pid), Signal: stop, Now: h.now, Unstarted: true})
			p := h.get(pid)
			if p.State != StatePending || !p.Held() {
				t.Fatalf("after signal %d: %s held %v, want pending and held", stop, p.State, p.Held())
			}
			h.now += 3600e9
			if r := h.apply(&Place{PID: pid, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: h.now}); r.Err == nil {
				t.Fatalf("a held process was placed")
			}
			h.ok(&Signal{Target: int64(pid), Signal: sigCONT, Now: h.now, Unstarted: true})
			if p := h.get(pid); p.Held() || p.State != StatePending {
				t.Fatalf("after SIGCONT: %s held %v, want pending, not held", p.State, p.Held())
			}
			h.ok(&Place{PID: pid, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: h.now})
		}
	})
	t.Run("ignored by default is dropped", func(t *testing.T) {
		h := newHarness(t)
		pid := h.spawn(InitPID, Spec{Command: "sleep"})
		h.ok(&Signal{Target: int64(pid), Signal: sigWINCH, Now: h.now, Unstarted: true})
		if p := h.get(pid); p.State != StatePending || p.Held() {
			t.Fatalf("after SIGWINCH: %s held %v, want pending", p.State, p.Held())
		}
		if n := len(h.f.View().SignalsFor(pid)); n != 0 {
			t.Fatalf("%d signal requests kept, want none", n)
		}
	})
}

func TestSignalBodyVersions(t *testing.T) {
	for _, c := range []*Signal{
		{ID: 3, Target: 9, Signal: 15, Now: t0},
		{ID: 3, Target: 9, Signal: 15, Now: t0, Unstarted: true},
	} {
		b := Encode(c)
		got, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if g := got.(*Signal); *g != *c {
			t.Fatalf("round trip: got %+v, want %+v", g, c)
		}
		// The first body byte after the type is the version: 1 unless
		// Unstarted needs 2, so older replicas still read the others.
		want := byte(1)
		if c.Unstarted {
			want = 2
		}
		if b[1] != want {
			t.Fatalf("%+v encoded as version %d, want %d", c, b[1], want)
		}
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
