package raftstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/hashicorp/raft"
)

// snapshotDir is the directory of the file snapshot store under a data dir.
const snapshotDir = "snapshots"

// namedSnapshots is the file snapshot store with errors that name the
// snapshot: raft logs a snapshot it cannot open and moves on to an older
// one, and says only "failed to load any existing snapshots" when none
// loads. It remembers each failure so that the agent can refuse to start
// and say which snapshot failed and why.
type namedSnapshots struct {
	raft.SnapshotStore
	dir string // the snapshots directory

	mu       sync.Mutex // guards failures and opened
	failures []error
	opened   string // the ID of the snapshot opened last
}

var _ raft.SnapshotStore = (*namedSnapshots)(nil)

// Open opens a snapshot; an error names it and its directory.
func (s *namedSnapshots) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	meta, rc, err := s.SnapshotStore.Open(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opened = id
	if err != nil {
		err = fmt.Errorf("%w: snapshot %s (%s): %w", ErrDamaged, id, filepath.Join(s.dir, id), err)
		s.failures = append(s.failures, err)
		return nil, nil, err
	}
	return meta, rc, nil
}

// fail records that the snapshot opened last could not be restored.
func (s *namedSnapshots) fail(why error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := fmt.Errorf("%w: snapshot %s (%s): %w", ErrDamaged, s.opened, filepath.Join(s.dir, s.opened), why)
	s.failures = append(s.failures, err)
	return err
}

// checkSnapshotMetas returns an error naming every snapshot directory
// whose meta.json cannot be read: raft's file store skips those with only
// a warning, and would start from an older snapshot or none.
func checkSnapshotMetas(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("snapshot store %s: %w", dir, err)
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		path := filepath.Join(dir, e.Name(), "meta.json")
		b, err := os.ReadFile(path)
		if err == nil {
			var m raft.SnapshotMeta
			if err = json.Unmarshal(b, &m); err == nil && m.ID != e.Name() {
				err = fmt.Errorf("names snapshot %q", m.ID)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: snapshot %s (%s): unreadable metadata: %v", ErrDamaged, e.Name(), path, err))
		}
	}
	return errors.Join(errs...)
}
