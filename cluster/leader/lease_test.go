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
