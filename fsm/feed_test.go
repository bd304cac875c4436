package fsm

import (
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
	rv := restoredCopy(t, h).f.View()
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

// The modified feed remembers the latest changes, at least maxModFeed of
// them, says when it no longer knows, and a view keeps what it saw while
// the table goes on appending and dropping its oldest chunks.
func TestModifiedFeedForgetsAndViewsKeep(t *testing.T) {
	defer func(n int) { maxModFeed = n }(maxModFeed)
	maxModFeed = 3
	h := newHarness(t)
	h.node("n1")
	walk := func(v *View, since uint64) ([]uint64, bool) {
		var got []uint64
		ok := v.WalkModified(since, func(p *Process) bool {
			got = append(got, p.PID)
			return true
		})
		return got, ok
	}
	start := h.idx
	a := h.spawn(0, sleepSpec())
	b := h.spawn(0, sleepSpec())
	old := h.f.View()
	if got, ok := walk(old, start); !ok || len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("WalkModified(%d) = %v, %v; want [%d %d], true", start, got, ok, a, b)
	}
	var pids []uint64
	for range 2*feedChunkLen + 10 {
		pids = append(pids, h.spawn(0, sleepSpec()))
	}
	last := pids[len(pids)-2:]
	v := h.f.View()
	if got, ok := walk(v, start); ok || got != nil {
		t.Fatalf("WalkModified(%d) after the oldest changes were dropped = %v, %v; want nothing, false", start, got, ok)
	}
	mark := h.idx - 2
	if got, ok := walk(v, mark); !ok || len(got) != 2 || got[0] != last[0] || got[1] != last[1] {
		t.Fatalf("WalkModified(%d) = %v, %v; want %v, true", mark, got, ok, last)
	}
	if held := v.s.modified.n - v.s.modified.first; held < maxModFeed || held > maxModFeed+2*feedChunkLen {
		t.Fatalf("the feed holds %d pairs, want between %d and %d", held, maxModFeed, maxModFeed+2*feedChunkLen)
	}
	// The view taken before is unchanged by the appends and the drops.
	if got, ok := walk(old, start); !ok || len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("an older view's WalkModified(%d) = %v, %v; want [%d %d], true", start, got, ok, a, b)
	}
	// A record changed again is visited once, at its latest index.
	h.ok(&Signal{Target: int64(last[1]), Signal: SIGKILL, Now: h.now})
	if got, ok := walk(h.f.View(), mark); !ok || len(got) != 2 || got[0] != last[0] || got[1] != last[1] {
		t.Fatalf("WalkModified(%d) after a change = %v, %v; want %v, true", mark, got, ok, last)
	}

	// A restored table knows no change before its snapshot.
	r := restoredCopy(t, h)
	if _, ok := walk(r.f.View(), h.idx-1); ok {
		t.Fatal("a restored table claims to know the changes before its snapshot")
	}
	if got, ok := walk(r.f.View(), h.idx); !ok || got != nil {
		t.Fatalf("a restored table's WalkModified(%d) = %v, %v; want nothing, true", h.idx, got, ok)
	}
}
