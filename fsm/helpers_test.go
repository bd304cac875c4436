package fsm

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// t0 is the leader time of the first command in tests.
const t0 = int64(1_700_000_000) * int64(time.Second)

// harness applies commands at consecutive indexes with a leader clock that
// tests move explicitly.
type harness struct {
	t   tb
	f   *FSM
	idx uint64
	now int64
	log [][]byte
}

// tb is what the harness needs of *testing.T, *testing.B and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

func newHarness(t tb) *harness {
	t.Helper()
	f, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, f: f, now: t0}
}

func (h *harness) raw(data []byte) any {
	h.idx++
	h.log = append(h.log, data)
	return h.f.Apply(h.idx, data)
}

func (h *harness) apply(c Command) *Result {
	h.t.Helper()
	out := h.raw(Encode(c))
	r, ok := out.(*Result)
	if !ok {
		h.t.Fatalf("Apply(%v) returned %T, want *Result", c.Type(), out)
	}
	return r
}

// ok applies c and fails the test on a domain error.
func (h *harness) ok(c Command) *Result {
	h.t.Helper()
	r := h.apply(c)
	if r.Err != nil {
		h.t.Fatalf("%v: got error %v, want none", c.Type(), r.Err)
	}
	return r
}

func (h *harness) node(id string, labels ...Label) {
	h.t.Helper()
	h.ok(&NodeUpsert{ID: id, Capacity: Capacity{Slots: 4, Memory: 1 << 30}, Labels: labels, Now: h.now})
}

func (h *harness) spawn(parent uint64, spec Spec) uint64 {
	h.t.Helper()
	return h.ok(&Spawn{Parent: parent, Owner: "alice", Spec: spec, Now: h.now}).PID
}

// run spawns a process and brings it to running on node.
func (h *harness) run(parent uint64, spec Spec, node string) uint64 {
	h.t.Helper()
	pid := h.spawn(parent, spec)
	h.ok(&Place{PID: pid, Incarnation: 1, ExpectState: StatePending, Node: node, Now: h.now})
	h.ok(&Started{PID: pid, Incarnation: 1, Node: node, Now: h.now})
	return pid
}

func (h *harness) get(pid uint64) Process {
	h.t.Helper()
	p, ok := h.f.Get(pid)
	if !ok {
		h.t.Fatalf("Get(%d): not found", pid)
	}
	return p
}

func wantErr(t tb, r *Result, want error) {
	t.Helper()
	if want == nil {
		if r.Err != nil {
			t.Fatalf("got error %v, want none", r.Err)
		}
		return
	}
	if !errors.Is(r.Err, want) {
		t.Fatalf("got error %v, want %v", r.Err, want)
	}
}

func sleepSpec() Spec { return Spec{Command: "sleep", Args: []string{"10"}} }

// restoredCopy persists h's table and restores it into a new harness.
func restoredCopy(t *testing.T, h *harness) *harness {
	t.Helper()
	s := h.f.Snapshot()
	data := persist(t, s)
	s.Release()
	r := newHarness(t)
	if err := r.f.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return r
}
