// Package raftstore opens the durable stores raft runs on in vproc: the
// log and stable store in BoltDB (raft-boltdb) behind raft's log cache, and
// the file snapshot store, under one directory. The agent and its raw raft
// baseline (test/rawraft) both open their stores here, so that the
// baseline measures the store the product uses.
package raftstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

const (
	// DBFile is the BoltDB file of the log and the stable store.
	DBFile = "raft.db"
	// SnapshotsRetained is how many snapshots the snapshot store keeps.
	SnapshotsRetained = 2
	// LogCacheSize is how many recent log entries are kept in memory.
	LogCacheSize = 512
	// openTimeout bounds the wait for BoltDB's file lock, held by another
	// process using the same directory.
	openTimeout = time.Second
)

// Stores are the stores of one raft server.
type Stores struct {
	Logs   raft.LogStore      // the log cache over Bolt
	Stable raft.StableStore   // Bolt
	Snaps  raft.SnapshotStore // files under the directory's snapshots/
	Bolt   *raftboltdb.BoltStore
	// Applied is the index AppliedFile recorded when Open ran (0 for
	// none). The log and the snapshots reach at least as far.
	Applied uint64
	// Dir is the data directory and DBPath the bolt file in it.
	Dir, DBPath string

	// Disk tells whether the directory's disk is full (diskwatch.go).
	Disk *DiskWatch

	snaps *namedSnapshots
}

// Open opens (creating them if needed) the stores under dir. logger
// receives the snapshot store's messages; nil discards them.
//
// Open refuses damaged stores with an error wrapping ErrDamaged that names
// the file and the reason: a bolt file whose meta pages are garbled, that
// is shorter than its meta says, or whose pages cannot be read (a fault
// while reading is recovered, never a crash); an empty bolt file where
// the node has state; a snapshot whose metadata cannot be read; and a log
// and snapshots that end below the index AppliedFile recorded.
func Open(dir string, logger hclog.Logger) (*Stores, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, DBFile)
	applied, err := ReadApplied(dir)
	if err != nil {
		return nil, err
	}
	if err := checkSnapshotMetas(filepath.Join(dir, snapshotDir)); err != nil {
		return nil, err
	}
	empty, err := checkBoltFile(path)
	if err != nil {
		return nil, err
	}
	if empty && applied > 0 {
		return nil, fmt.Errorf("%w: raft log %s is empty but index %d was applied (%s): the log was lost or replaced",
			ErrDamaged, path, applied, filepath.Join(dir, AppliedFile))
	}
	if !empty {
		if _, err := os.Stat(path); err == nil {
			if err := checkBoltPages(path); err != nil {
				return nil, err
			}
		}
	}
	bolt, err := openBolt(path)
	if err != nil {
		return nil, err
	}
	// The disk watch sits under the log cache, which flattens the errors
	// it passes on.
	disk := NewDiskWatch(dir)
	cache, err := raft.NewLogCache(LogCacheSize, &watchedLogs{LogStore: bolt, w: disk})
	if err != nil {
		_ = bolt.Close()
		return nil, err
	}
	files, err := raft.NewFileSnapshotStoreWithLogger(dir, SnapshotsRetained, logger)
	if err != nil {
		_ = bolt.Close()
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	snaps := &namedSnapshots{SnapshotStore: files, dir: filepath.Join(dir, snapshotDir)}
	s := &Stores{
		Logs:    cache,
		Stable:  &watchedStable{StableStore: bolt, w: disk},
		Snaps:   &watchedSnaps{SnapshotStore: snaps, w: disk},
		Bolt:    bolt,
		Disk:    disk,
		Applied: applied,
		Dir:     dir,
		DBPath:  path,
		snaps:   snaps,
	}
	if err := s.checkReach(); err != nil {
		_ = bolt.Close()
		return nil, err
	}
	return s, nil
}

// openBolt opens the bolt file, recovering a fault or panic while bolt
// reads it into an error naming the file.
func openBolt(path string) (b *raftboltdb.BoltStore, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("%w: raft log %s: opening it failed: %v", ErrDamaged, path, r)
		}
	}()
	b, err = raftboltdb.New(raftboltdb.Options{
		Path:        path,
		BoltOptions: &bbolt.Options{Timeout: openTimeout},
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("raft log %s: %w", path, err)
		}
		return nil, fmt.Errorf("%w: raft log %s: %v", ErrDamaged, path, err)
	}
	return b, nil
}

// checkReach refuses a log and snapshots that end below the recorded
// applied index.
func (s *Stores) checkReach() error {
	if s.Applied == 0 {
		return nil
	}
	last, err := s.Bolt.LastIndex()
	if err != nil {
		return fmt.Errorf("%w: raft log %s: %v", ErrDamaged, s.DBPath, err)
	}
	if metas, err := s.snaps.SnapshotStore.List(); err == nil && len(metas) > 0 {
		last = max(last, metas[0].Index)
	}
	if last < s.Applied {
		return fmt.Errorf("%w: %s ends at index %d but index %d was applied (%s): the log was lost or replaced",
			ErrDamaged, s.DBPath, last, s.Applied, filepath.Join(s.Dir, AppliedFile))
	}
	return nil
}

// SnapshotFailures returns the errors, each naming its snapshot, of the
// snapshots that could not be opened or restored (RestoreFailed) so far.
func (s *Stores) SnapshotFailures() []error {
	s.snaps.mu.Lock()
	defer s.snaps.mu.Unlock()
	return append([]error(nil), s.snaps.failures...)
}

// RestoreFailed records that the snapshot opened last could not be
// restored into the table, and returns an error naming it.
func (s *Stores) RestoreFailed(why error) error { return s.snaps.fail(why) }

// Close closes the BoltDB file.
func (s *Stores) Close() error { return s.Bolt.Close() }
