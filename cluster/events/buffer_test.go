package events

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

// objChanges returns the change of creating an mq named name on node.
func objChanges(name, node string) []fsm.Change {
	return []fsm.Change{{Kind: fsm.ChangeObject, Time: 1, NewObject: &fsm.Object{Kind: fsm.KindMQ, Name: name, Node: node}}}
}

func newBuffer(t *testing.T, size int, floor uint64) *Buffer {
	t.Helper()
	b, err := New(Config{Size: size}, floor)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readAll(t *testing.T, s *Subscription) []api.Event {
	t.Helper()
	var out []api.Event
	for {
		evs, wait, dropped := s.Read(100)
		if dropped != "" {
			t.Fatalf("dropped: %s", dropped)
		}
		out = append(out, evs...)
		if wait != nil {
			return out
		}
	}
}

func indexes(evs []api.Event) []uint64 {
	var out []uint64
	for _, e := range evs {
		out = append(out, e.Index)
	}
	return out
}

func TestConfigValidate(t *testing.T) {
	for _, size := range []int{0, -1, MaxSize + 1} {
		c := Config{Size: size}
		if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("size %d: %v, want ErrBadConfig", size, err)
		}
	}
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestResumeAndGone(t *testing.T) {
	b := newBuffer(t, 4, 10)
	live, err := b.Subscribe(Filter{}, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(11); i <= 14; i++ {
		b.Publish(i, objChanges("/q", "n1"))
	}
	b.Publish(15, nil) // no event: only the applied index moves
	if b.Applied() != 15 {
		t.Fatalf("applied %d, want 15", b.Applied())
	}
	if got := indexes(readAll(t, live)); len(got) != 4 || got[0] != 11 || got[3] != 14 {
		t.Fatalf("live reader got %v, want 11..14", got)
	}
	if live.UpTo() != 15 {
		t.Fatalf("a reader caught up has read up to %d, want the applied 15", live.UpTo())
	}
	s, err := b.Subscribe(Filter{}, 12, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := indexes(readAll(t, s)); len(got) != 2 || got[0] != 13 || got[1] != 14 {
		t.Fatalf("resume after 12 got %v, want [13 14]", got)
	}
	// Two more events evict 11 and 12: resuming from 11 would miss 12.
	b.Publish(16, objChanges("/a", "n1"))
	b.Publish(17, objChanges("/b", "n1"))
	var gone *GoneError
	if _, err := b.Subscribe(Filter{}, 11, true); !errors.As(err, &gone) || gone.Oldest != 12 {
		t.Fatalf("resume after 11: %v, want gone with oldest 12", err)
	}
	s, err = b.Subscribe(Filter{}, 12, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := indexes(readAll(t, s)); len(got) != 4 || got[0] != 13 || got[3] != 17 {
		t.Fatalf("resume after the oldest got %v, want 13..17", got)
	}
	if b.Oldest() != 12 {
		t.Fatalf("oldest %d, want 12", b.Oldest())
	}
}

func TestFilter(t *testing.T) {
	b := newBuffer(t, 16, 0)
	s, _ := b.Subscribe(Filter{Topics: []string{api.EventTopicProc}, PID: 7}, 0, true)
	n, _ := b.Subscribe(Filter{Node: "n2"}, 0, true)
	b.Publish(1, objChanges("/q", "n2"))
	b.Publish(2, []fsm.Change{{Kind: fsm.ChangeSignal, Signal: &fsm.SignalSent{PID: 7, Incarnation: 1, Node: "n1", Signal: 15}}})
	b.Publish(3, []fsm.Change{{Kind: fsm.ChangeSignal, Signal: &fsm.SignalSent{PID: 8, Incarnation: 1, Node: "n2", Signal: 15}}})
	if got := readAll(t, s); len(got) != 1 || got[0].PID != 7 || got[0].Type != api.EventSignalled {
		t.Fatalf("proc+pid filter got %+v", got)
	}
	if got := indexes(readAll(t, n)); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("node filter got %v, want [1 3]", got)
	}
}

// TestSlowReaderDropped checks that a reader that does not keep up never
// holds Publish back and, at its next read, learns it was dropped.
func TestSlowReaderDropped(t *testing.T) {
	b := newBuffer(t, 8, 0)
	slow, _ := b.Subscribe(Filter{}, 0, false)
	if _, wait, _ := slow.Read(1); wait == nil {
		t.Fatal("an empty buffer gave no channel to wait on")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := uint64(1); i <= 10000; i++ {
			b.Publish(i, objChanges("/q", "n1"))
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Publish blocked behind a reader that does not read")
	}
	evs, wait, dropped := slow.Read(10)
	if len(evs) != 0 || wait != nil || !strings.Contains(dropped, "fell more than 8 events behind") {
		t.Fatalf("slow reader: %d events, dropped %q", len(evs), dropped)
	}
}

func TestResetDropsReaders(t *testing.T) {
	b := newBuffer(t, 8, 0)
	s, _ := b.Subscribe(Filter{}, 0, true)
	_, wait, _ := s.Read(1)
	b.Publish(1, objChanges("/q", "n1"))
	select {
	case <-wait:
	default:
		t.Fatal("publish did not wake the reader")
	}
	b.Reset(50)
	if _, _, dropped := s.Read(1); !strings.Contains(dropped, "snapshot at index 50") {
		t.Fatalf("after a reset: dropped %q", dropped)
	}
	var gone *GoneError
	if _, err := b.Subscribe(Filter{}, 10, true); !errors.As(err, &gone) || gone.Oldest != 50 {
		t.Fatalf("resume from before the snapshot: %v", err)
	}
	if b.Applied() != 50 {
		t.Fatalf("applied %d after reset, want 50", b.Applied())
	}
	// An operator's restore reports index 0: the floor stays at what
	// was applied.
	b.Reset(0)
	if _, err := b.Subscribe(Filter{}, 49, true); !errors.As(err, &gone) || gone.Oldest != 50 {
		t.Fatalf("resume from before an operator's restore: %v", err)
	}
}

// TestReadScansBounded checks that a filter passing over many events
// returns to its caller (no channel) rather than scanning them all.
func TestReadScansBounded(t *testing.T) {
	b := newBuffer(t, 4*maxScan, 0)
	s, _ := b.Subscribe(Filter{PID: 99}, 0, true)
	for i := uint64(1); i <= 3*maxScan; i++ {
		b.Publish(i, objChanges("/q", "n1"))
	}
	calls := 0
	for {
		evs, wait, dropped := s.Read(10)
		calls++
		if len(evs) != 0 || dropped != "" {
			t.Fatalf("got %d events, dropped %q", len(evs), dropped)
		}
		if wait != nil {
			break
		}
	}
	if calls != 3 {
		t.Fatalf("%d reads, want 3 bounded scans, the last giving the channel", calls)
	}
}
