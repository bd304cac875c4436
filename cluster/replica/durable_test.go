package replica

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"hash/crc64"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/cluster/raftstore"
	"github.com/vproc/vproc/fsm"
	"github.com/vproc/vproc/internal/testwait"
)

// diskReplica is a single-node replica on disk, bootstrapped alone.
type diskReplica struct {
	*Replica
	stop     chan struct{}
	trans    *raft.InmemTransport
	once     sync.Once
	mu       sync.Mutex
	fatalErr error
}

func openDiskReplica(t *testing.T, dir string, writable func() fsm.Versions) (*diskReplica, error) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Name, cfg.DataDir = "r1", dir
	addr, trans := raft.NewInmemTransport("")
	cfg.Addr = string(addr)
	d := &diskReplica{stop: make(chan struct{}), trans: trans}
	r, err := New(cfg, trans, Env{
		Logger: slog.New(slog.DiscardHandler), Stop: d.stop, Leadership: noTerm{}, Writable: writable,
		Fatal: func(err error) { d.mu.Lock(); d.fatalErr = err; d.mu.Unlock() },
	})
	if err != nil {
		_ = trans.Close()
		return nil, err
	}
	d.Replica = r
	if !r.HasState() {
		err := r.Raft().BootstrapCluster(raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter, ID: raft.ServerID(cfg.Name), Address: addr,
		}}}).Error()
		if err != nil {
			t.Fatal(err)
		}
	}
	r.Start()
	t.Cleanup(d.close)
	testwait.For(t, "leadership", 10*time.Second, r.IsLeader)
	return d, nil
}

func (d *diskReplica) close() {
	d.once.Do(func() {
		close(d.stop)
		_ = d.ShutdownRaft()
		_ = d.trans.Close()
		_ = d.Close()
	})
}

func (d *diskReplica) fatal() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fatalErr
}

func spawnSome(t *testing.T, r *Replica, n int) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var last uint64
	for range n {
		res, err := r.Submit(ctx, nil, &fsm.Spawn{Parent: fsm.InitPID, Spec: fsm.Spec{Command: "true"}, Now: time.Now().UnixNano()})
		if err != nil || res.Err != nil {
			t.Fatalf("spawn: %+v, %v", res, err)
		}
		last = res.Index
	}
	return last
}

// TestAppliedRecordRefusesReplacedLog: the applied index is recorded at a
// clean stop, and a data dir whose raft.db was replaced by an empty one is
// refused with both indexes named.
func TestAppliedRecordRefusesReplacedLog(t *testing.T) {
	dir := t.TempDir()
	d, err := openDiskReplica(t, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	idx := spawnSome(t, d.Replica, 5)
	d.close()
	got, err := raftstore.ReadApplied(dir)
	if err != nil || got < idx {
		t.Fatalf("applied record after a clean stop: got %d, %v; want at least %d", got, err, idx)
	}
	if err := os.Remove(filepath.Join(dir, raftstore.DBFile)); err != nil {
		t.Fatal(err)
	}
	_, err = openDiskReplica(t, dir, nil)
	if !errors.Is(err, raftstore.ErrDamaged) || !strings.Contains(err.Error(), "lost or replaced") {
		t.Fatalf("start with a replaced raft.db: got %v, want ErrDamaged saying the log was lost or replaced", err)
	}
}

// TestAppliedRecordedWhileRunning: the record follows the table within
// about a second, without a clean stop.
func TestAppliedRecordedWhileRunning(t *testing.T) {
	dir := t.TempDir()
	d, err := openDiskReplica(t, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	idx := spawnSome(t, d.Replica, 3)
	testwait.For(t, "the applied index recorded", 10*time.Second, func() bool {
		n, err := raftstore.ReadApplied(dir)
		return err == nil && n >= idx
	})
}

// TestEntriesSealedAndCorruptionStops: the leader seals what it writes,
// and an entry whose checksum does not match stops the replica with the
// file and the index named; nothing after it is applied.
func TestEntriesSealedAndCorruptionStops(t *testing.T) {
	dir := t.TempDir()
	d, err := openDiskReplica(t, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	idx := spawnSome(t, d.Replica, 1)
	var l raft.Log
	if err := d.stores.logs.GetLog(idx, &l); err != nil {
		t.Fatal(err)
	}
	if !fsm.Sealed(l.Data) {
		t.Fatalf("entry %d is not sealed: %x", idx, l.Data[:min(8, len(l.Data))])
	}
	bad := fsm.Seal(fsm.Encode(&fsm.Tick{Now: time.Now().UnixNano()}))
	bad[len(bad)-1] ^= 1
	f := d.Raft().Apply(bad, 10*time.Second)
	if err := f.Error(); err != nil {
		t.Fatal(err)
	}
	if r, ok := f.Response().(error); !ok || !errors.Is(r, ErrCorruptLog) {
		t.Fatalf("response to a damaged entry: got %v, want ErrCorruptLog", f.Response())
	}
	err = d.fatal()
	if !errors.Is(err, ErrCorruptLog) || !errors.Is(err, fsm.ErrChecksum) ||
		!strings.Contains(err.Error(), filepath.Join(dir, raftstore.DBFile)) || !strings.Contains(err.Error(), "index "+itoa(f.Index())) {
		t.Fatalf("Fatal: got %v, want ErrCorruptLog naming raft.db and index %d", err, f.Index())
	}
	applied := d.FSM().AppliedIndex()
	g := d.Raft().Apply(fsm.Seal(fsm.Encode(&fsm.Tick{Now: time.Now().UnixNano()})), 10*time.Second)
	if err := g.Error(); err != nil {
		t.Fatal(err)
	}
	if d.FSM().AppliedIndex() != applied {
		t.Fatalf("the table applied past a corrupt entry: %d, want %d", d.FSM().AppliedIndex(), applied)
	}
	if err := d.Raft().Snapshot().Error(); err == nil {
		t.Fatal("a snapshot was taken past a corrupt entry")
	}
	d.close()
	// The damaged entry is in the log: the next start refuses it.
	if _, err := openDiskReplica(t, dir, nil); !errors.Is(err, raftstore.ErrDamaged) || !strings.Contains(err.Error(), "index "+itoa(f.Index())) {
		t.Fatalf("restart over a damaged entry: got %v, want ErrDamaged naming index %d", err, f.Index())
	}
}

// TestVersionGate: while a voter knows only the baseline, entries are not
// sealed and a spawn with stdin is refused before anything is written.
func TestVersionGate(t *testing.T) {
	d, err := openDiskReplica(t, t.TempDir(), fsm.Baseline)
	if err != nil {
		t.Fatal(err)
	}
	idx := spawnSome(t, d.Replica, 1)
	var l raft.Log
	if err := d.stores.logs.GetLog(idx, &l); err != nil {
		t.Fatal(err)
	}
	if fsm.Sealed(l.Data) {
		t.Fatal("entry sealed while a voter does not know the envelope")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	last := d.LastIndex()
	_, err = d.Submit(ctx, nil, &fsm.Spawn{Parent: fsm.InitPID, Spec: fsm.Spec{Command: "cat", Stdin: true}, Now: time.Now().UnixNano()})
	if !errors.Is(err, fsm.ErrVersion) {
		t.Fatalf("stdin spawn with a baseline voter: got %v, want ErrVersion", err)
	}
	outs := d.SubmitBatch(ctx, nil, []fsm.Command{&fsm.Spawn{Parent: fsm.InitPID, Spec: fsm.Spec{Command: "cat", Stdin: true}}})
	if !errors.Is(outs[0].Err, fsm.ErrVersion) {
		t.Fatalf("stdin spawn in a batch with a baseline voter: got %v, want ErrVersion", outs[0].Err)
	}
	if d.LastIndex() != last {
		t.Fatalf("a refused command was written: last index %d, want %d", d.LastIndex(), last)
	}
}

// TestDamagedSnapshotRefused: a snapshot whose file is garbled, or whose
// table does not restore, stops the start with the snapshot named.
func TestDamagedSnapshotRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fixCRC bool
		want   string
	}{
		{"garbled file", false, "CRC mismatch"},
		{"table does not restore", true, "bad snapshot"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d, err := openDiskReplica(t, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			spawnSome(t, d.Replica, 5)
			if err := d.Raft().Snapshot().Error(); err != nil {
				t.Fatal(err)
			}
			d.close()
			ents, err := os.ReadDir(filepath.Join(dir, "snapshots"))
			if err != nil || len(ents) != 1 {
				t.Fatalf("snapshots: %v, %v; want one", ents, err)
			}
			id := ents[0].Name()
			state := filepath.Join(dir, "snapshots", id, "state.bin")
			b, err := os.ReadFile(state)
			if err != nil {
				t.Fatal(err)
			}
			for i := len(b) / 2; i < len(b)/2+8 && i < len(b); i++ {
				b[i] ^= 0x5a
			}
			if err := os.WriteFile(state, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.fixCRC {
				rewriteSnapshotCRC(t, filepath.Join(dir, "snapshots", id), b)
			}
			_, err = openDiskReplica(t, dir, nil)
			if !errors.Is(err, raftstore.ErrDamaged) || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start with a damaged snapshot: got %v, want ErrDamaged naming %s and %q", err, id, tc.want)
			}
		})
	}
}

// rewriteSnapshotCRC makes meta.json's CRC match state, as raft's file
// snapshot store computes it (CRC-64 ECMA).
func rewriteSnapshotCRC(t *testing.T, dir string, state []byte) {
	t.Helper()
	p := filepath.Join(dir, "meta.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	h := crc64.New(crc64.MakeTable(crc64.ECMA))
	_, _ = h.Write(state)
	m["CRC"] = h.Sum(nil)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestRestartAfterOperatorRestore: an operator restore leaves a gap in the
// log at its snapshot's index; the start's check of the log must not take
// it for damage.
func TestRestartAfterOperatorRestore(t *testing.T) {
	dir := t.TempDir()
	d, err := openDiskReplica(t, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	spawnSome(t, d.Replica, 3)
	var buf bytes.Buffer
	s := d.FSM().Snapshot()
	err = s.Persist(&buf)
	s.Release()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.SnapshotRestore(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	spawnSome(t, d.Replica, 2)
	d.close()
	if _, err := openDiskReplica(t, dir, nil); err != nil {
		t.Fatalf("restart after an operator restore: %v", err)
	}
}
