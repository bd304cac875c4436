package fsm

import (
	"fmt"
	"strings"
	"testing"
)

// describe prints a change compactly, for comparing sequences.
func describe(c Change) string {
	switch c.Kind {
	case ChangeProcess:
		from, to := "-", "-"
		if c.OldProc != nil {
			from = fmt.Sprintf("%d/%s", c.OldProc.Incarnation, c.OldProc.State)
		}
		if c.NewProc != nil {
			to = fmt.Sprintf("%d/%s", c.NewProc.Incarnation, c.NewProc.State)
		}
		pid := c.OldProc
		if pid == nil {
			pid = c.NewProc
		}
		return fmt.Sprintf("proc %d %s>%s", pid.PID, from, to)
	case ChangeNode:
		from := "-"
		if c.OldNode != nil {
			from = string(c.OldNode.Status)
		}
		return fmt.Sprintf("node %s %s>%s", c.NewNode.ID, from, c.NewNode.Status)
	case ChangeNodeLost:
		return fmt.Sprintf("node-lost %s %s (%s)", c.NewNode.ID, c.NewNode.Status, c.Reason)
	case ChangeObject:
		if c.NewObject == nil {
			return fmt.Sprintf("object %s %s removed", c.OldObject.Kind, c.OldObject.Name)
		}
		if c.OldObject == nil {
			return fmt.Sprintf("object %s %s created", c.NewObject.Kind, c.NewObject.Name)
		}
		return fmt.Sprintf("object %s %s lost=%v", c.NewObject.Kind, c.NewObject.Name, c.NewObject.Lost)
	case ChangeSignal:
		return fmt.Sprintf("signal %d %d", c.Signal.PID, c.Signal.Signal)
	}
	return c.Kind.String()
}

// changesHarness applies through ApplyEntryChanges and returns what each
// command changed.
func (h *harness) changes(c Command) []string {
	h.t.Helper()
	h.idx++
	out, changes, err := h.f.ApplyEntryChanges(h.idx, Encode(c))
	if err != nil {
		h.t.Fatal(err)
	}
	if r, ok := out.(*Result); !ok || r.Err != nil {
		h.t.Fatalf("%v: %v", c.Type(), out)
	}
	var s []string
	for _, ch := range changes {
		if ch.Time != h.now {
			h.t.Fatalf("%s: time %d, want the leader time %d", describe(ch), ch.Time, h.now)
		}
		s = append(s, describe(ch))
	}
	return s
}

func TestApplyEntryChangesDescribesEachEntry(t *testing.T) {
	h := newHarness(t)
	steps := []struct {
		cmd  Command
		want string
	}{
		{&NodeUpsert{ID: "n1", Capacity: Capacity{Slots: 4}, Now: t0}, "node n1 ->alive"},
		{&NodeUpsert{ID: "n2", Capacity: Capacity{Slots: 4}, Now: t0}, "node n2 ->alive"},
		{&Spawn{Owner: "alice", Spec: sleepSpec(), Now: t0}, "proc 2 ->1/pending"},
		{&Spawn{Owner: "alice", Spec: sleepSpec(), Place: "n1", Now: t0}, "proc 3 ->1/placed"},
		{&Place{PID: 2, Incarnation: 1, ExpectState: StatePending, Node: "n2", Now: t0}, "proc 2 1/pending>1/placed"},
		{&Started{PID: 2, Incarnation: 1, Node: "n2", Now: t0}, "proc 2 1/placed>1/running"},
		{&Signal{Target: 2, Signal: 15, Now: t0}, "signal 2 15"},
		{&Exited{PID: 2, Incarnation: 1, Node: "n2", Status: Status{Signal: 15}, Now: t0}, "proc 2 1/running>1/exited"},
		{&Signal{Target: 3, Signal: SIGKILL, Now: t0}, "signal 3 9|proc 3 1/placed>1/exited"},
		{&Reap{PID: 2}, "proc 2 1/exited>-"},
		{&RegistryCreate{Kind: KindMQ, Name: "/q", Node: "n1", Owner: "alice", Mode: 0o600, Now: t0}, "object mq /q created"},
		{&RegistryCreate{Kind: KindFIFO, Name: "/run/f", Node: "n2", Owner: "alice", Mode: 0o600, Now: t0}, "object fifo /run/f created"},
		{&RegistryUnlink{Kind: KindMQ, Name: "/q"}, "object mq /q removed"},
		{&SetNodeStatus{ID: "n1", Status: NodeDown, Now: t0}, "node n1 alive>down"},
		{&NodeLost{Node: "n2", Reason: "lease expired", Now: t0}, "node-lost n2 down (lease expired)|object fifo /run/f lost=true"},
	}
	for _, st := range steps {
		got := strings.Join(h.changes(st.cmd), "|")
		if got != st.want {
			t.Errorf("%v: changes %q, want %q", st.cmd.Type(), got, st.want)
		}
	}
}

func TestApplyEntryChangesFailedCommandChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.idx++
	out, changes, err := h.f.ApplyEntryChanges(h.idx, Encode(&Place{PID: 99, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: t0}))
	if err != nil {
		t.Fatal(err)
	}
	if r := out.(*Result); r.Err == nil {
		t.Fatal("placing a missing PID succeeded")
	}
	if len(changes) != 0 {
		t.Fatalf("a failed command reported changes %v", changes)
	}
	if _, _, err := h.f.ApplyEntryChanges(h.idx+1, []byte{0x7f}); err == nil {
		t.Fatal("an unknown type applied")
	}
}

// TestApplyEntryChangesSameState checks that recording changes nothing in
// what the entries do: the same log gives the same hash either way.
func TestApplyEntryChangesSameState(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	pid := h.run(0, sleepSpec(), "n1")
	h.ok(&Signal{Target: int64(pid), Signal: SIGKILL, Now: h.now})
	h.ok(&Exited{PID: pid, Incarnation: 1, Node: "n1", Status: Status{Signal: SIGKILL}, Now: h.now})
	other, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, data := range h.log {
		_, ch, err := other.ApplyEntryChanges(uint64(i+1), data)
		if err != nil {
			t.Fatal(err)
		}
		n += len(ch)
	}
	if n == 0 {
		t.Fatal("no changes recorded")
	}
	if other.Hash() != h.f.Hash() {
		t.Fatal("recording changes gave another state")
	}
}
