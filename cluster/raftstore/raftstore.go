// Package raftstore opens the durable stores raft runs on in vproc: the
// log and stable store in BoltDB (raft-boltdb) behind raft's log cache, and
// the file snapshot store, under one directory. The agent and its raw raft
// baseline (test/rawraft) both open their stores here, so that the
// baseline measures the store the product uses.
package raftstore

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
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
	// Disk tells whether the directory's disk is full (diskwatch.go).
	Disk *DiskWatch
}

// Open opens (creating them if needed) the stores under dir. logger
// receives the snapshot store's messages; nil discards them.
func Open(dir string, logger hclog.Logger) (*Stores, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, DBFile)
	bolt, err := raftboltdb.New(raftboltdb.Options{
		Path:        path,
		BoltOptions: &bbolt.Options{Timeout: openTimeout},
	})
	if err != nil {
		return nil, fmt.Errorf("raft log %s: %w", path, err)
	}
	// The disk watch sits under the log cache, which flattens the errors
	// it passes on.
	disk := NewDiskWatch(dir)
	cache, err := raft.NewLogCache(LogCacheSize, &watchedLogs{LogStore: bolt, w: disk})
	if err != nil {
		_ = bolt.Close()
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, SnapshotsRetained, logger)
	if err != nil {
		_ = bolt.Close()
		return nil, fmt.Errorf("snapshot store: %w", err)
	}
	return &Stores{
		Logs:   cache,
		Stable: &watchedStable{StableStore: bolt, w: disk},
		Snaps:  &watchedSnaps{SnapshotStore: snaps, w: disk},
		Bolt:   bolt,
		Disk:   disk,
	}, nil
}

// Close closes the BoltDB file.
func (s *Stores) Close() error { return s.Bolt.Close() }
