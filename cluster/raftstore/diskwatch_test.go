package raftstore

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/raft"
)

// fullLogs fails every write with ENOSPC while full is set.
type fullLogs struct {
	raft.LogStore
	full bool
}

func (l *fullLogs) StoreLogs(logs []*raft.Log) error {
	if l.full {
		return fmt.Errorf("write raft.db: %w", &os.PathError{Op: "write", Path: "raft.db", Err: syscall.ENOSPC})
	}
	return l.LogStore.StoreLogs(logs)
}

func TestDiskWatch(t *testing.T) {
	inner := &fullLogs{LogStore: raft.NewInmemStore(), full: true}
	w := NewDiskWatch("/var/lib/vproc")
	var changes []error
	w.OnChange(func(err error) { changes = append(changes, err) })
	logs := &watchedLogs{LogStore: inner, w: w}
	entry := []*raft.Log{{Index: 1, Term: 1}}

	err := logs.StoreLogs(entry)
	var df *DiskFullError
	if !errors.As(err, &df) || !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) ||
		!strings.HasPrefix(err.Error(), "ENOSPC on /var/lib/vproc: ") {
		t.Fatalf("a write to a full disk: got %v, want ENOSPC on /var/lib/vproc", err)
	}
	if w.Err() == nil {
		t.Fatal("the watch forgot the full disk")
	}
	_ = logs.StoreLogs(entry) // still full: no second change
	inner.full = false
	if err := logs.StoreLogs(entry); err != nil {
		t.Fatalf("a write once space is free: %v", err)
	}
	if w.Err() != nil {
		t.Fatalf("after a successful write the watch still says %v", w.Err())
	}
	if len(changes) != 2 || changes[0] == nil || changes[1] != nil {
		t.Fatalf("changes %v, want the full disk, then recovery", changes)
	}
	// Other errors pass through and leave the watch alone.
	other := errors.New("boom")
	if got := w.observe(other); got != other || w.Err() != nil {
		t.Fatalf("another error: got %v (watch %v), want it unchanged", got, w.Err())
	}
}
