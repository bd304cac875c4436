package replica

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/fsm"
)

func TestFSMAdapterVisibleIndex(t *testing.T) {
	f, err := fsm.New(fsm.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ad := newFSMAdapter(f)
	ch := ad.waitCh()
	spawnEntry := fsm.Encode(&fsm.Spawn{Spec: fsm.Spec{Command: "true"}, Now: 1})
	out := ad.ApplyBatch([]*raft.Log{
		{Index: 5, Type: raft.LogCommand, Data: spawnEntry},
		{Index: 6, Type: raft.LogConfiguration},
	})
	if r, ok := out[0].(*fsm.Result); !ok || r.Err != nil || r.PID != 2 {
		t.Errorf("ApplyBatch result 0 = %#v, want the spawn of PID 2", out[0])
	}
	if out[1] != nil {
		t.Errorf("ApplyBatch result for a configuration entry = %#v, want nil", out[1])
	}
	select {
	case <-ch:
	default:
		t.Errorf("waiters not woken by an apply")
	}
	if got := ad.visible.Load(); got != 6 {
		t.Errorf("visible index %d, want 6 (the configuration entry counts)", got)
	}
	if got := f.AppliedIndex(); got != 5 {
		t.Errorf("table applied index %d, want 5", got)
	}

	// Snapshot and restore into a fresh adapter.
	snap, err := ad.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil || !sink.closed {
		t.Fatalf("Persist: %v, closed %v", err, sink.closed)
	}
	snap.Release()
	g, _ := fsm.New(fsm.DefaultConfig())
	ad2 := newFSMAdapter(g)
	if err := ad2.Restore(ioNopCloser{bytes.NewReader(sink.Bytes())}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if ad2.restores.Load() != 1 || ad2.visible.Load() != 5 || g.Hash() != f.Hash() {
		t.Errorf("after restore: %d restores, visible %d, hash equal %v; want 1, 5, true",
			ad2.restores.Load(), ad2.visible.Load(), g.Hash() == f.Hash())
	}
	// A failing sink is cancelled.
	snap, _ = ad.Snapshot()
	bad := &memSink{fail: true}
	if err := snap.Persist(bad); err == nil || !bad.cancelled {
		t.Errorf("Persist to a failing sink: %v, cancelled %v; want an error and Cancel", err, bad.cancelled)
	}
}

type memSink struct {
	bytes.Buffer
	fail, closed, cancelled bool
}

func (s *memSink) Write(p []byte) (int, error) {
	if s.fail {
		return 0, errors.New("disk full")
	}
	return s.Buffer.Write(p)
}

func (s *memSink) ID() string { return "mem" }

func (s *memSink) Cancel() error { s.cancelled = true; return nil }

func (s *memSink) Close() error { s.closed = true; return nil }

func (s *memSink) String() string { return "memSink" }

type ioNopCloser struct{ *bytes.Reader }

func (ioNopCloser) Close() error { return nil }

func TestReindexSnapshot(t *testing.T) {
	f, _ := fsm.New(fsm.DefaultConfig())
	f.Apply(300, fsm.Encode(&fsm.Spawn{Spec: fsm.Spec{Command: "x"}, Now: 1}))
	var buf bytes.Buffer
	if err := f.Snapshot().Persist(&buf); err != nil {
		t.Fatal(err)
	}
	out, err := reindexSnapshot(buf.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := fsm.New(fsm.DefaultConfig())
	if err := g.Restore(bytes.NewReader(out)); err != nil {
		t.Fatalf("Restore of a reindexed snapshot: %v", err)
	}
	if g.AppliedIndex() != 0 || g.Hash() != f.Hash() {
		t.Errorf("reindexed snapshot: index %d, same hash %v; want 0, true", g.AppliedIndex(), g.Hash() == f.Hash())
	}
	if _, err := reindexSnapshot([]byte("not a snapshot"), 0); !errors.Is(err, fsm.ErrBadSnapshot) {
		t.Errorf("reindexSnapshot(garbage) = %v, want ErrBadSnapshot", err)
	}
}
