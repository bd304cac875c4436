package fsm

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// populated returns a harness whose table has something of every kind.
func populated(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	h.node("n1", Label{"zone", "a"})
	h.node("n2")
	par := h.run(0, Spec{Command: "sh", Limits: Limits{NoFile: Limit{Soft: 8, Hard: 16}}, Promises: "stdio proc"}, "n1")
	kid := h.run(par, sleepSpec(), "n1")
	h.spawn(par, Spec{Command: "wait", Priority: 90, Restart: Restart{Policy: RestartAlways}})
	h.ok(&Exited{PID: kid, Incarnation: 1, Node: "n1", Status: Status{Exited: true, Code: 2}, Now: h.now})
	h.ok(&Signal{ID: 5, Target: int64(par), Signal: 15, Now: h.now})
	h.ok(&RegistryCreate{Kind: KindMQ, Name: "/q", Node: "n1", Attrs: Attrs{MaxMsg: 8}, Now: h.now})
	h.ok(&SetSchedulerConfig{Strategy: StrategyBinpack})
	sid := h.ok(&RegisterSession{Now: h.now}).SessionID
	h.ok(&SessionRequest{SessionID: sid, RequestID: 1, Now: h.now, Command: &Spawn{Spec: sleepSpec(), Now: h.now}})
	h.apply(&SessionRequest{SessionID: sid, RequestID: 2, Now: h.now, Command: &Reap{PID: 99}})
	return h
}

func persist(t *testing.T, s *Snapshot) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := s.Persist(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSnapshotRestore(t *testing.T) {
	h := populated(t)
	want := h.f.Hash()
	snap := h.f.Snapshot()
	if snap.Index() != h.idx {
		t.Fatalf("snapshot index %d, want %d", snap.Index(), h.idx)
	}
	// Changes after the snapshot do not show in it.
	h.spawn(0, sleepSpec())
	h.ok(&RegistryUnlink{Kind: KindMQ, Name: "/q"})
	data := persist(t, snap)
	snap.Release()
	if err := snap.Persist(io.Discard); err == nil {
		t.Fatal("Persist after Release succeeded")
	}

	f, _ := New(DefaultConfig())
	if err := f.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if f.Hash() != want {
		t.Fatal("restored hash differs from the hash at snapshot time")
	}
	if f.AppliedIndex() != snap.Index() || snap.Index() != h.idx-2 {
		t.Fatalf("restored index %d, snapshot index %d, want %d", f.AppliedIndex(), snap.Index(), h.idx-2)
	}
	// Everything is back, indexes included.
	if _, ok := f.Object(KindMQ, "/q"); !ok {
		t.Fatal("registry entry missing after restore")
	}
	if got := pids(f.List(Filter{Parent: 2})); len(got) != 2 {
		t.Fatalf("children of 2 after restore: %v", got)
	}
	if got := f.Pending(); len(got) != 2 || got[0].Spec.Priority != 90 {
		t.Fatalf("pending after restore: %v", pids(got))
	}
	if got := f.PendingSignals("n1"); len(got) != 2 {
		t.Fatalf("pending signals after restore: %+v", got)
	}
	if f.SchedulerConfig().Strategy != StrategyBinpack || f.Sessions() != 1 {
		t.Fatal("scheduler config or sessions lost")
	}
	// The restored session still answers retries.
	g := &harness{t: t, f: f, idx: f.AppliedIndex(), now: h.now}
	var id uint64
	f.View().s.sessions.Ascend(func(it sessItem) bool { id = it.id; return false })
	r := g.apply(&SessionRequest{SessionID: id, RequestID: 1, Now: h.now, Command: &Spawn{Spec: sleepSpec(), Now: h.now}})
	if r.PID != 5 {
		t.Fatalf("retry after restore got pid %d, want 5", r.PID)
	}
	r = g.apply(&SessionRequest{SessionID: id, RequestID: 2, Now: h.now, Command: &Reap{PID: 99}})
	if !errors.Is(r.Err, ErrNoSuchProcess) {
		t.Fatalf("retry of a failed request after restore got %v", r.Err)
	}
	// The signal id is remembered.
	if r := g.apply(&Signal{ID: 5, Target: 2, Signal: 15, Now: h.now}); len(r.Targets) != 1 || len(f.PendingSignals("n1")) != 2 {
		t.Fatal("signal id forgotten after restore")
	}
	// A second persist of the restored table is byte-identical.
	if again := persist(t, f.Snapshot()); !bytes.Equal(again[len(again)-32:], data[len(data)-32:]) {
		t.Fatal("restored table persists to a different body")
	}
}

func TestRestoreKeepsPIDCounter(t *testing.T) {
	h := populated(t)
	data := persist(t, h.f.Snapshot())
	next := h.f.NextPID()

	ahead := newHarness(t)
	for range 20 {
		ahead.spawn(0, sleepSpec())
	}
	if err := ahead.f.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if got := ahead.f.NextPID(); got != 22 {
		t.Fatalf("NextPID after restore %d, want 22 (the live counter)", got)
	}
	if _, ok := ahead.f.Get(10); ok {
		t.Fatal("a process from before the restore survived")
	}
	behind := newHarness(t)
	if err := behind.f.Restore(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	if got := behind.f.NextPID(); got != next {
		t.Fatalf("NextPID after restore %d, want %d (the snapshot's)", got, next)
	}
}

func TestRestoreRejectsCorruption(t *testing.T) {
	h := populated(t)
	data := persist(t, h.f.Snapshot())
	f := newHarness(t).f
	want := f.Hash()
	cases := map[string][]byte{
		"empty":      nil,
		"magic":      append([]byte("xxxxxxxx"), data[8:]...),
		"format":     append(append([]byte(nil), data[:8]...), append([]byte{9}, data[9:]...)...),
		"truncated":  data[:len(data)/2],
		"no trailer": data[:len(data)-32],
	}
	for i := 12; i < len(data); i += len(data) / 17 {
		bad := append([]byte(nil), data...)
		bad[i] ^= 0x5a
		cases["flip"+string(rune('a'+i%26))] = bad
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			err := f.Restore(bytes.NewReader(bad))
			if !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("Restore = %v, want ErrBadSnapshot", err)
			}
			if f.Hash() != want {
				t.Fatal("a failed restore changed the table")
			}
		})
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestPersistError(t *testing.T) {
	h := populated(t)
	// Enough records to pass the write buffer.
	for range 2000 {
		h.spawn(0, sleepSpec())
	}
	s := h.f.Snapshot()
	for _, n := range []int{0, 100, 70 << 10} {
		if err := s.Persist(&failWriter{n: n}); err == nil {
			t.Fatalf("Persist to a writer failing after %d bytes succeeded", n)
		}
	}
}

func TestHashIgnoresInsertionOrder(t *testing.T) {
	build := func(order []string) [32]byte {
		h := newHarness(t)
		var cmds []Command
		for _, n := range order {
			cmds = append(cmds, &NodeUpsert{ID: n, Now: h.now})
			cmds = append(cmds, &RegistryCreate{Kind: KindFIFO, Name: "/f/" + n, Node: n, Now: h.now})
		}
		h.raw(Encode(&Batch{Commands: cmds}))
		return h.f.Hash()
	}
	a, b := build([]string{"a", "b", "c"}), build([]string{"c", "a", "b"})
	if a != b {
		t.Fatal("the same records inserted in another order hash differently")
	}
	if c := build([]string{"a", "b"}); c == a {
		t.Fatal("different tables hash the same")
	}
	// The applied index is not part of the hash.
	h := newHarness(t)
	before := h.f.Hash()
	h.raw([]byte{0xff})
	if h.f.Hash() != before {
		t.Fatal("an ignored entry changed the hash")
	}
}

// TestViewIsImmutable checks that a view stays as it was while Apply goes
// on, also under the race detector.
func TestViewIsImmutable(t *testing.T) {
	h := newHarness(t)
	h.node("n1")
	h.spawn(0, sleepSpec())
	v := h.f.View()
	hash := v.Hash()
	modified := func(v *View) (n int) {
		v.WalkModified(0, func(*Process) bool { n++; return true })
		return n
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			if v.Hash() != hash || v.Len() != 2 || modified(v) != 1 {
				t.Error("view changed under Apply")
				return
			}
			h.f.List(Filter{LiveOnly: true})
			h.f.Pending()
			modified(h.f.View()) // a newer view, read while Apply appends to the feed
		}
	}()
	for range 500 {
		pid := h.spawn(0, sleepSpec())
		h.ok(&Place{PID: pid, Incarnation: 1, ExpectState: StatePending, Node: "n1", Now: h.now})
	}
	<-done
	if v.Hash() != hash {
		t.Fatal("view changed")
	}
}

// A process spawned with Stdin keeps it through a snapshot (its record's
// spec is written at version 2), and one spawned without it stays without.
func TestSnapshotKeepsStdin(t *testing.T) {
	h := newHarness(t)
	with := h.spawn(0, Spec{Command: "cat", Stdin: true})
	without := h.spawn(0, Spec{Command: "cat"})
	f, _ := New(DefaultConfig())
	if err := f.Restore(bytes.NewReader(persist(t, h.f.Snapshot()))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pid  uint64
		want bool
	}{{with, true}, {without, false}} {
		p, ok := f.Get(tc.pid)
		if !ok || p.Spec.Stdin != tc.want {
			t.Errorf("got Stdin %v (found %v), want %v for pid %d after restore", p.Spec.Stdin, ok, tc.want, tc.pid)
		}
	}
	if f.Hash() != h.f.Hash() {
		t.Fatal("restored hash differs")
	}
}
