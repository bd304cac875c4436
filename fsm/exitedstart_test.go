package fsm

import (
	"bytes"
	"errors"
	"testing"
)

// Exited with Started: a node reports a short process's start together
// with its exit.

func TestExitedStartedEncoding(t *testing.T) {
	base := Exited{PID: 7, Incarnation: 2, Node: "n1", Status: Status{Exited: true, Code: 3, Reason: "r"}, Now: t0}

	// Without Started: body version 1, byte for byte the event fields and
	// the status, as releases before Started wrote it.
	v1 := Encode(&base)
	e := encoder{b: []byte{byte(TypeExited)}}
	encodeEvent(&e, base.PID, base.Incarnation, base.Node, base.Now)
	e.status(&base.Status)
	if !bytes.Equal(v1, e.b) {
		t.Fatalf("version 1 encoding changed:\n got %x\nwant %x", v1, e.b)
	}

	// With Started: version 2 is version 1's fields then the flag.
	started := base
	started.Started = true
	v2 := Encode(&started)
	if v2[1] != exitedVersionStarted || !bytes.Equal(v2[2:len(v2)-1], v1[2:]) || v2[len(v2)-1] != 1 {
		t.Fatalf("version 2 is not version 1's fields then the flag:\nv1 %x\nv2 %x", v1, v2)
	}
	for _, data := range [][]byte{v1, v2} {
		c, err := Decode(data)
		if err != nil {
			t.Fatalf("Decode(%x): %v", data, err)
		}
		want := base
		want.Started = data[1] == exitedVersionStarted
		if got := *c.(*Exited); got != want {
			t.Fatalf("Decode(%x) = %+v, want %+v", data, got, want)
		}
	}

	// Strictness: version 2 must say started; version 3 is unknown.
	unset := append(append([]byte{}, v2[:len(v2)-1]...), 0)
	for name, data := range map[string][]byte{
		"version 2 not started": unset,
		"version 3":             append([]byte{byte(TypeExited), 3}, v2[2:]...),
		"version 2 truncated":   v2[:len(v2)-1],
	} {
		if _, err := Decode(data); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}

func TestExitedStartedRecordsTheStart(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	placed := func() uint64 {
		pid := h.spawn(0, sleepSpec())
		h.ok(&Place{PID: pid, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: h.now})
		return pid
	}

	// Start and exit reported together: exited, started and exited now.
	pid := placed()
	h.now += 5
	if r := h.ok(&Exited{PID: pid, Incarnation: 1, Node: "n1", Status: Status{Exited: true}, Now: h.now, Started: true}); r.State != StateExited {
		t.Fatalf("state %s, want exited", r.State)
	}
	if p := h.get(pid); p.StartedAt != h.now || p.ExitedAt != h.now {
		t.Fatalf("started at %d, exited at %d; want both %d", p.StartedAt, p.ExitedAt, h.now)
	}

	// An exit of a process the node could not start: never started.
	pid = placed()
	h.now += 5
	h.ok(&Exited{PID: pid, Incarnation: 1, Node: "n1", Status: Status{Exited: true, Code: 127}, Now: h.now})
	if p := h.get(pid); p.State != StateExited || p.StartedAt != 0 || p.ExitedAt != h.now {
		t.Fatalf("got %s started at %d exited at %d; want exited, never started, exited at %d", p.State, p.StartedAt, p.ExitedAt, h.now)
	}

	// Already running: the start that was reported stands.
	pid = h.run(0, sleepSpec(), "n1")
	began := h.now
	h.now += 5
	h.ok(&Exited{PID: pid, Incarnation: 1, Node: "n1", Status: Status{Exited: true}, Now: h.now, Started: true})
	if p := h.get(pid); p.StartedAt != began || p.ExitedAt != h.now {
		t.Fatalf("started at %d, exited at %d; want %d and %d", p.StartedAt, p.ExitedAt, began, h.now)
	}

	// A restart makes a new incarnation, pending and not started.
	pid = h.spawn(0, Spec{Command: "x", Restart: Restart{Policy: RestartAlways}})
	h.ok(&Place{PID: pid, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: h.now})
	h.ok(&Exited{PID: pid, Incarnation: 1, Node: "n1", Status: Status{Exited: true}, Now: h.now, Started: true})
	if p := h.get(pid); p.State != StatePending || p.Incarnation != 2 || p.StartedAt != 0 {
		t.Fatalf("restarted: %s incarnation %d started at %d; want pending incarnation 2, not started", p.State, p.Incarnation, p.StartedAt)
	}
}
