package fsm

import (
	"bytes"
	"testing"
)

// The change feeds: WalkModified, WalkSignalsSince and WalkReaped show
// what changed after an index, and WalkReaped says when it no longer knows.
func TestChangeFeeds(t *testing.T) {
	defer func(n int) { maxReapFeed = n }(maxReapFeed)
	maxReapFeed = 3
	h := newHarness(t)
	h.node("n1")
	a := h.run(0, sleepSpec(), "n1")
	b := h.spawn(0, sleepSpec())
	mark := h.idx
	h.ok(&Signal{Target: int64(a), Signal: 10, Now: h.now})
	h.ok(&Signal{Target: int64(b), Signal: SIGKILL, Now: h.now}) // pending: exits at once
	v := h.f.View()
	var changed []uint64
	v.WalkModified(mark, func(p *Process) bool {
		changed = append(changed, p.PID)
		return true
	})
	if len(changed) != 1 || changed[0] != b {
		t.Fatalf("WalkModified(%d) = %v, want [%d]", mark, changed, b)
	}
	var sigs []uint64
	v.WalkSignalsSince(mark, func(r *SignalRequest) bool {
		sigs = append(sigs, r.PID)
		return true
	})
	if len(sigs) != 1 || sigs[0] != a {
		t.Fatalf("WalkSignalsSince(%d) = %v, want [%d]", mark, sigs, a)
	}

	// Reaps: remembered up to maxReapFeed, then the feed says it is
	// incomplete for an index before what it forgot.
	reapedAt := map[uint64]uint64{}
	var order []uint64
	for i := 0; i < 5; i++ {
		pid := h.spawn(0, sleepSpec())
		h.ok(&Signal{Target: int64(pid), Signal: SIGKILL, Now: h.now})
		h.ok(&Reap{PID: pid})
		reapedAt[pid] = h.idx
		order = append(order, pid)
	}
	v = h.f.View()
	walk := func(since uint64) ([]uint64, bool) {
		var got []uint64
		ok := v.WalkReaped(since, func(pid uint64) bool {
			got = append(got, pid)
			return true
		})
		return got, ok
	}
	if got, ok := walk(reapedAt[order[1]]); !ok || len(got) != 3 || got[0] != order[2] || got[2] != order[4] {
		t.Fatalf("WalkReaped after the second reap = %v, %v; want %v, true", got, ok, order[2:])
	}
	if got, ok := walk(reapedAt[order[0]]); ok || got != nil {
		t.Fatalf("WalkReaped after the first reap = %v, %v; want nothing, false (the second is forgotten)", got, ok)
	}

	// A restored table knows no reap before its snapshot.
	var buf bytes.Buffer
	s := h.f.Snapshot()
	if err := s.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	s.Release()
	r := newHarness(t)
	if err := r.f.Restore(&buf); err != nil {
		t.Fatal(err)
	}
	rv := r.f.View()
	if ok := rv.WalkReaped(h.idx-1, func(uint64) bool { return true }); ok {
		t.Fatal("a restored table claims to know the reaps before its snapshot")
	}
	if ok := rv.WalkReaped(h.idx, func(uint64) bool { return true }); !ok {
		t.Fatal("a restored table does not know that nothing was reaped since its snapshot")
	}
}

// WalkModified gives each process's current record, also when one entry
// changed it twice, and the record the table holds.
func TestChangeFeedGivesTheCurrentRecord(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	pid := h.spawn(0, sleepSpec())
	h.ok(&Place{PID: pid, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: h.now})
	mark := h.idx
	// One entry: started, then stopped.
	out := h.raw(Encode(&Batch{Commands: []Command{
		&Started{PID: pid, Incarnation: 1, Node: "n1", Now: h.now},
		&Stopped{PID: pid, Incarnation: 1, Node: "n1", Signal: 19, Now: h.now},
	}}))
	for _, r := range out.([]*Result) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	v := h.f.View()
	var got []*Process
	v.WalkModified(mark, func(p *Process) bool {
		got = append(got, p)
		return true
	})
	cur, _ := v.Get(pid)
	if len(got) != 1 || got[0].State != StateStopped || *got[0] != cur {
		t.Fatalf("WalkModified(%d) = %v, want pid %d's current record %+v", mark, got, pid, cur)
	}
}
