package leader

import (
	"testing"
	"time"
)

func TestLeaseTableCountsFromTheLaterOfRenewalAndTerm(t *testing.T) {
	start := time.Unix(1000, 0)
	lt := newLeaseTable(start)
	fence := time.Second
	if got := lt.since("a"); !got.Equal(start) {
		t.Fatalf("never renewed: since %v, want the term's start %v", got, start)
	}
	if !lt.fresh("a", start.Add(999*time.Millisecond), fence) || lt.fresh("a", start.Add(fence), fence) {
		t.Fatal("a node the term has not heard from must be fresh for one fence timeout from the term's start")
	}
	lt.renew("a", start.Add(-time.Second)) // answered before the term: by an earlier leader
	if got := lt.since("a"); !got.Equal(start) {
		t.Fatalf("renewal before the term: since %v, want %v", got, start)
	}
	lt.renew("a", start.Add(3*time.Second))
	if got := lt.since("a"); !got.Equal(start.Add(3 * time.Second)) {
		t.Fatalf("since %v, want the renewal", got)
	}
	if lt.fresh("b", start.Add(3*time.Second), fence) || !lt.fresh("a", start.Add(3*time.Second), fence) {
		t.Fatal("freshness is per node")
	}
}

func TestLeaseHeldOnlyWhileLeading(t *testing.T) {
	l := &Leader{}
	if _, leading := l.LeaseHeld("a", time.Now()); leading {
		t.Fatal("LeaseHeld without a term says leading")
	}
	start := time.Unix(1000, 0)
	ls := &Term{leases: newLeaseTable(start), fence: time.Second}
	l.leading.Store(ls)
	ls.leases.renew("a", start.Add(5*time.Second))
	if held, leading := l.LeaseHeld("a", start.Add(5500*time.Millisecond)); !held || !leading {
		t.Errorf("renewed half a fence ago: held %v, leading %v; want both", held, leading)
	}
	if held, leading := l.LeaseHeld("a", start.Add(6*time.Second)); held || !leading {
		t.Errorf("renewed a fence ago: held %v, leading %v; want expired while leading", held, leading)
	}
	if held, _ := l.LeaseHeld("b", start.Add(2*time.Second)); held {
		t.Error("a node never renewed, past the term's first fence: held")
	}
}
