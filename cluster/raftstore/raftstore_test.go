package raftstore

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestOpenPersists: what is stored survives closing and opening again, in
// DBFile under the directory, which Open creates.
func TestOpenPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Logs.StoreLogs([]*raft.Log{{Index: 1, Term: 1, Data: []byte("one")}, {Index: 2, Term: 1, Data: []byte("two")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Stable.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, DBFile)); err != nil {
		t.Fatalf("the log file: %v", err)
	}

	s, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var l raft.Log
	if err := s.Logs.GetLog(2, &l); err != nil || string(l.Data) != "two" {
		t.Errorf("entry 2 after reopening: %q, %v", l.Data, err)
	}
	if last, err := s.Logs.LastIndex(); err != nil || last != 2 {
		t.Errorf("last index %d, %v; want 2", last, err)
	}
	if term, err := s.Stable.GetUint64([]byte("CurrentTerm")); err != nil || term != 7 {
		t.Errorf("term %d, %v; want 7", term, err)
	}
	if snaps, err := s.Snaps.List(); err != nil || len(snaps) != 0 {
		t.Errorf("snapshots %v, %v; want none", snaps, err)
	}
}

// TestOpenHeldDirectory: a directory whose store is open elsewhere is an
// error once the lock wait ends, not a hang.
func TestOpenHeldDirectory(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, err := Open(dir, nil); err == nil {
		s2.Close()
		t.Fatal("opened a store that is already open")
	}
}

// TestOpenBadDirectory: a data dir that cannot be created is an error.
func TestOpenBadDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(filepath.Join(file, "sub"), nil); err == nil {
		s.Close()
		t.Fatal("opened a store under a regular file")
	}
}
