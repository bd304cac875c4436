package raftstore

import (
	"errors"
	"io"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/raft"
)

// ErrNoSpace is wrapped by a DiskFullError.
var ErrNoSpace = errors.New("no space left on device")

// DiskFullError says that a write to the raft stores failed for want of
// space: "ENOSPC on <dir>", as etcd raises its NOSPACE alarm.
type DiskFullError struct {
	Dir string
	Err error // the write's own error
}

func (e *DiskFullError) Error() string { return "ENOSPC on " + e.Dir + ": " + e.Err.Error() }

// Unwrap returns ErrNoSpace and the write's error.
func (e *DiskFullError) Unwrap() []error { return []error{ErrNoSpace, e.Err} }

// DiskWatch remembers whether the last write to the stores of one
// directory failed for want of space. A write that succeeds clears it, so
// an agent recovers by itself once space is freed.
type DiskWatch struct {
	dir string

	mu       sync.Mutex      // guards err and onChange
	err      *DiskFullError  // nil while writes succeed
	onChange func(err error) // called on every change, err nil on recovery
}

// NewDiskWatch returns the watch of the stores under dir.
func NewDiskWatch(dir string) *DiskWatch { return &DiskWatch{dir: dir} }

// Err returns the *DiskFullError of the last failed write, or nil once a
// write has succeeded since.
func (w *DiskWatch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		return nil
	}
	return w.err
}

// OnChange sets the function told of each change: the error when the disk
// becomes full, nil when a write succeeds again. It must not block.
func (w *DiskWatch) OnChange(fn func(err error)) {
	w.mu.Lock()
	w.onChange = fn
	w.mu.Unlock()
}

// observe records the outcome of a write and returns err, as a
// *DiskFullError when it was for want of space.
func (w *DiskWatch) observe(err error) error {
	// Some layers pass errors on as text only.
	full := err != nil && (errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), syscall.ENOSPC.Error()))
	if err != nil && !full {
		return err
	}
	w.mu.Lock()
	changed := (w.err == nil) == full
	var out error
	if full {
		w.err = &DiskFullError{Dir: w.dir, Err: err}
		out = w.err
	} else {
		w.err = nil
	}
	fn := w.onChange
	w.mu.Unlock()
	if changed && fn != nil {
		fn(out)
	}
	return out
}

// watchedLogs is a raft.LogStore whose writes the watch observes.
type watchedLogs struct {
	raft.LogStore
	w *DiskWatch
}

func (l *watchedLogs) StoreLog(log *raft.Log) error { return l.w.observe(l.LogStore.StoreLog(log)) }
func (l *watchedLogs) StoreLogs(logs []*raft.Log) error {
	return l.w.observe(l.LogStore.StoreLogs(logs))
}
func (l *watchedLogs) DeleteRange(min, max uint64) error {
	return l.w.observe(l.LogStore.DeleteRange(min, max))
}

// watchedStable is a raft.StableStore whose writes the watch observes.
type watchedStable struct {
	raft.StableStore
	w *DiskWatch
}

func (s *watchedStable) Set(k, v []byte) error { return s.w.observe(s.StableStore.Set(k, v)) }
func (s *watchedStable) SetUint64(k []byte, v uint64) error {
	return s.w.observe(s.StableStore.SetUint64(k, v))
}

// watchedSnaps is a raft.SnapshotStore whose snapshot writes the watch
// observes.
type watchedSnaps struct {
	raft.SnapshotStore
	w *DiskWatch
}

func (s *watchedSnaps) Create(version raft.SnapshotVersion, index, term uint64, configuration raft.Configuration,
	configurationIndex uint64, trans raft.Transport) (raft.SnapshotSink, error) {
	sink, err := s.SnapshotStore.Create(version, index, term, configuration, configurationIndex, trans)
	if err != nil {
		return nil, s.w.observe(err)
	}
	return &watchedSink{SnapshotSink: sink, w: s.w}, nil
}

type watchedSink struct {
	raft.SnapshotSink
	w *DiskWatch
}

func (s *watchedSink) Write(p []byte) (int, error) {
	n, err := s.SnapshotSink.Write(p)
	if err != nil {
		return n, s.w.observe(err)
	}
	return n, nil
}

func (s *watchedSink) Close() error { return s.w.observe(s.SnapshotSink.Close()) }

var (
	_ raft.LogStore      = (*watchedLogs)(nil)
	_ raft.StableStore   = (*watchedStable)(nil)
	_ raft.SnapshotStore = (*watchedSnaps)(nil)
	_ io.Writer          = (*watchedSink)(nil)
)
