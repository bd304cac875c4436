package fsm

import (
	"io"
	"testing"
)

func benchSpec() Spec {
	return Spec{Command: "true", Args: []string{"-x"}, Env: []string{"HOME=/", "PATH=/bin"}, Cwd: "/"}
}

// BenchmarkApplySpawn applies one spawn per log entry, decoding included.
func BenchmarkApplySpawn(b *testing.B) {
	f, _ := New(DefaultConfig())
	data := Encode(&Spawn{Owner: "bench", Spec: benchSpec(), Now: t0})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if r := f.Apply(uint64(i+1), data).(*Result); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}

// BenchmarkApplySpawnBatch100 applies entries of 100 spawns (group
// commit); ns/spawn is the cost of one spawn.
func BenchmarkApplySpawnBatch100(b *testing.B) {
	f, _ := New(DefaultConfig())
	one := Encode(&Spawn{Owner: "bench", Spec: benchSpec(), Now: t0})
	entries := make([][]byte, 100)
	for i := range entries {
		entries[i] = one
	}
	data, err := EncodeBatch(entries)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		rs := f.Apply(uint64(i+1), data).([]*Result)
		if rs[99].Err != nil {
			b.Fatal(rs[99].Err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/spawn")
}

// BenchmarkApplySessionSpawnBatch100 is the cluster's path: 100 spawns,
// each in its client's session, in one entry. Encoding is included.
func BenchmarkApplySessionSpawnBatch100(b *testing.B) {
	f, _ := New(DefaultConfig())
	sids := make([]uint64, 100)
	for i := range sids {
		sids[i] = f.Apply(uint64(i+1), Encode(&RegisterSession{Now: t0})).(*Result).SessionID
	}
	spawn := &Spawn{Owner: "bench", Spec: benchSpec(), Now: t0}
	entries := make([][]byte, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for j := range entries {
			rid := uint64(i + 1)
			entries[j] = Encode(&SessionRequest{SessionID: sids[j], RequestID: rid, AckedBelow: rid, Now: t0, Command: spawn})
		}
		data, _ := EncodeBatch(entries)
		rs := f.Apply(uint64(i+101), data).([]*Result)
		if rs[99].Err != nil {
			b.Fatal(rs[99].Err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/spawn")
}

// BenchmarkSnapshot measures taking a snapshot of a 100k-process table
// while entries keep being applied.
func BenchmarkSnapshot(b *testing.B) {
	f, _ := New(DefaultConfig())
	data := Encode(&Spawn{Owner: "bench", Spec: benchSpec(), Now: t0})
	idx := uint64(0)
	for range 100_000 {
		idx++
		f.Apply(idx, data)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s := f.Snapshot()
		idx++
		f.Apply(idx, data)
		s.Release()
	}
}

// BenchmarkPersist100k streams a 100k-process table.
func BenchmarkPersist100k(b *testing.B) {
	f, _ := New(DefaultConfig())
	data := Encode(&Spawn{Owner: "bench", Spec: benchSpec(), Now: t0})
	for i := range 100_000 {
		f.Apply(uint64(i+1), data)
	}
	s := f.Snapshot()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := s.Persist(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplySpawnBatch100WithView takes a View between entries, as a
// reader would, so every entry pays the copy-on-write of the paths it
// touches.
func BenchmarkApplySpawnBatch100WithView(b *testing.B) {
	f, _ := New(DefaultConfig())
	one := Encode(&Spawn{Owner: "bench", Spec: benchSpec(), Now: t0})
	entries := make([][]byte, 100)
	for i := range entries {
		entries[i] = one
	}
	data, _ := EncodeBatch(entries)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		f.Apply(uint64(i+1), data)
		f.View()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/spawn")
}

// BenchmarkApplyLifecycleBatch100 is what every replica applies for a
// `true` spawned through the cluster: an entry of 100 session spawns, each
// placed by the leader, then an entry of their nodes' reports (each an
// exit that reports the start too), with a View taken after each entry as
// the runner and readers do. ns/spawn is the cost of one whole lifecycle on one replica.
func BenchmarkApplyLifecycleBatch100(b *testing.B) {
	f, _ := New(DefaultConfig())
	idx := uint64(0)
	apply := func(data []byte) any {
		idx++
		out := f.Apply(idx, data)
		f.View()
		return out
	}
	apply(Encode(&NodeUpsert{ID: "n1", Name: "n1", Capacity: Capacity{Slots: 2, Memory: 1 << 30}, Now: t0}))
	sids := make([]uint64, 100)
	for i := range sids {
		sids[i] = apply(Encode(&RegisterSession{Now: t0})).(*Result).SessionID
	}
	spawn := &Spawn{Owner: "bench", Spec: benchSpec(), Now: t0, Place: "n1"}
	spawns := make([][]byte, 100)
	reports := make([][]byte, 0, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for j := range spawns {
			rid := uint64(i + 1)
			spawns[j] = Encode(&SessionRequest{SessionID: sids[j], RequestID: rid, AckedBelow: rid, Now: t0, Command: spawn})
		}
		data, _ := EncodeBatch(spawns)
		rs := apply(data).([]*Result)
		reports = reports[:0]
		for _, r := range rs {
			if r.Err != nil || r.State != StatePlaced {
				b.Fatalf("spawn: %+v", r)
			}
			reports = append(reports,
				Encode(&Exited{PID: r.PID, Incarnation: 1, Node: "n1", Status: Status{Exited: true}, Now: t0, Started: true}))
		}
		data, _ = EncodeBatch(reports)
		for _, r := range apply(data).([]*Result) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/spawn")
}

// BenchmarkEncodeSessionSpawn measures what the leader does for each spawn
// of a client's session: encode the spawn in its session request.
func BenchmarkEncodeSessionSpawn(b *testing.B) {
	sp := &Spawn{Owner: "bench", Spec: Spec{Command: "true", Priority: DefaultPriority}, Now: t0, Place: "n1"}
	b.ReportAllocs()
	for i := range b.N {
		Encode(&SessionRequest{SessionID: 1, RequestID: uint64(i + 1), AckedBelow: uint64(i + 1), Now: t0, Command: sp})
	}
}
