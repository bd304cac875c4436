package events

import (
	"testing"

	"github.com/vproc/vproc/fsm"
)

// BenchmarkPublishSpawnBatch measures what the apply path pays for the
// event stream per entry of 100 placed spawns (200 events): deriving the
// events and adding them to the ring, with a reader subscribed.
func BenchmarkPublishSpawnBatch(b *testing.B) {
	buf, err := New(Config{Size: 4096}, 0)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := buf.Subscribe(Filter{}, 0, false); err != nil {
		b.Fatal(err)
	}
	spec := &fsm.Spec{Command: "true"}
	changes := make([]fsm.Change, 100)
	for i := range changes {
		changes[i] = fsm.Change{Kind: fsm.ChangeProcess, Time: 1_700_000_000_000_000_000,
			NewProc: &fsm.Process{PID: uint64(i + 2), Incarnation: 1, Parent: 1, Owner: "alice", Spec: spec, State: fsm.StatePlaced, Node: "n1"}}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf.Publish(uint64(i+1), changes)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/200, "ns/event")
}
