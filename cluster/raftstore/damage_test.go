package raftstore

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// filledStore returns a data dir whose raft.db holds n entries of about
// 1 KiB each, and whose applied index is recorded at n.
func filledStore(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := make([]*raft.Log, n)
	for i := range logs {
		logs[i] = &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: []byte(strings.Repeat("x", 1000))}
	}
	if err := s.Logs.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := WriteApplied(dir, uint64(n)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// wantDamaged opens dir and checks that it fails with ErrDamaged and an
// error naming the file and containing every phrase.
func wantDamaged(t *testing.T, dir, file string, phrases ...string) {
	t.Helper()
	s, err := Open(dir, nil)
	if err == nil {
		_ = s.Close()
		t.Fatalf("Open of a damaged %s: got no error, want ErrDamaged", file)
	}
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("Open of a damaged %s: got %v, want ErrDamaged", file, err)
	}
	for _, p := range append([]string{filepath.Join(dir, file)}, phrases...) {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("Open of a damaged %s: error %q does not contain %q", file, err, p)
		}
	}
}

func TestOpenRefusesDamage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, dir string)
		file    string
		phrases []string
	}{
		{"empty file", func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, DBFile), 0); err != nil {
				t.Fatal(err)
			}
		}, DBFile, []string{"empty", "index 200 was applied"}},
		{"cut file", func(t *testing.T, dir string) {
			p := filepath.Join(dir, DBFile)
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, st.Size()/2); err != nil {
				t.Fatal(err)
			}
		}, DBFile, []string{"cut short"}},
		{"garbled pages", func(t *testing.T, dir string) {
			garble(t, filepath.Join(dir, DBFile), 4096, 16, 1)
		}, DBFile, nil},
		{"garbled meta pages", func(t *testing.T, dir string) {
			garbleAt(t, filepath.Join(dir, DBFile), []int64{16, 4096 + 16})
		}, DBFile, []string{"no intact meta page"}},
		{"log replaced", func(t *testing.T, dir string) {
			if err := WriteApplied(dir, 500); err != nil {
				t.Fatal(err)
			}
		}, DBFile, []string{"ends at index 200 but index 500 was applied", "lost or replaced"}},
		{"garbled applied record", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, AppliedFile), []byte("200 00000000\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, AppliedFile, []string{"checksum"}},
		{"unreadable snapshot metadata", func(t *testing.T, dir string) {
			sd := filepath.Join(dir, snapshotDir, "2-100-1")
			if err := os.MkdirAll(sd, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(sd, "meta.json"), []byte("{garbled"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, filepath.Join(snapshotDir, "2-100-1", "meta.json"), []string{"unreadable metadata"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filledStore(t, 200)
			tc.damage(t, dir)
			wantDamaged(t, dir, tc.file, tc.phrases...)
		})
	}
}

// TestOpenGarbledPagesSeeds garbles every page of the file with several
// seeds: each open is refused or, where the garbling missed everything
// bolt reads, succeeds; it never crashes the process.
func TestOpenGarbledPagesSeeds(t *testing.T) {
	refused := 0
	for seed := uint64(1); seed <= 8; seed++ {
		dir := filledStore(t, 200)
		garble(t, filepath.Join(dir, DBFile), 4096, 16, seed)
		s, err := Open(dir, nil)
		if err != nil {
			if !errors.Is(err, ErrDamaged) {
				t.Fatalf("seed %d: got %v, want ErrDamaged", seed, err)
			}
			refused++
			continue
		}
		_ = s.Close()
	}
	if refused == 0 {
		t.Fatal("no garbled file was refused")
	}
}

func TestOpenAcceptsIntactStore(t *testing.T) {
	dir := filledStore(t, 200)
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Applied != 200 {
		t.Fatalf("Applied: got %d, want 200", s.Applied)
	}
}

// TestSnapshotOpenNamesSnapshot: a snapshot whose data is garbled fails
// to open with an error naming it and why, and is remembered.
func TestSnapshotOpenNamesSnapshot(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sink, err := s.Snaps.Create(raft.SnapshotVersionMax, 10, 1, raft.Configuration{}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write([]byte(strings.Repeat("table", 1000))); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	id := sink.ID()
	garble(t, filepath.Join(dir, snapshotDir, id, "state.bin"), 1024, 16, 3)
	_, _, err = s.Snaps.Open(id)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "CRC mismatch") {
		t.Fatalf("Open(garbled snapshot): got %v, want ErrDamaged naming %s and the CRC mismatch", err, id)
	}
	if f := s.SnapshotFailures(); len(f) != 1 {
		t.Fatalf("SnapshotFailures: got %v, want one", f)
	}
}

func TestAppliedRecordRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if n, err := ReadApplied(dir); err != nil || n != 0 {
		t.Fatalf("ReadApplied of a new dir: got %d, %v; want 0, nil", n, err)
	}
	for _, want := range []uint64{1, 7, 1 << 40} {
		if err := WriteApplied(dir, want); err != nil {
			t.Fatal(err)
		}
		if got, err := ReadApplied(dir); err != nil || got != want {
			t.Fatalf("ReadApplied after WriteApplied(%d): got %d, %v", want, got, err)
		}
	}
}

// garble writes n random bytes at a random offset of every page of size
// page in the file.
func garble(t *testing.T, path string, page, n int, seed uint64) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, seed))
	var offs []int64
	for p := int64(0); p < st.Size(); p += int64(page) {
		offs = append(offs, p+int64(rng.IntN(page-n)))
	}
	garbleAtRand(t, path, offs, n, rng)
}

func garbleAt(t *testing.T, path string, offs []int64) {
	garbleAtRand(t, path, offs, 16, rand.New(rand.NewPCG(9, 9)))
}

func garbleAtRand(t *testing.T, path string, offs []int64, n int, rng *rand.Rand) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, n)
	for _, off := range offs {
		for i := range buf {
			buf[i] = byte(rng.IntN(256))
		}
		if _, err := f.WriteAt(buf, off); err != nil {
			t.Fatal(err)
		}
	}
}
