package replica

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/cluster/raftstore"
	"github.com/vproc/vproc/fsm"
)

// Raft plumbing: the stores (package raftstore: raft-boltdb in
// DataDir/raft.db behind a log cache and the file snapshot store in
// DataDir/snapshots, or memory with Dev), raft's configuration, and the
// adapter that lets raft drive the fsm package's state machine.

// raftStores are the stores raft runs on.
type raftStores struct {
	logs    raft.LogStore
	stable  raft.StableStore
	snaps   raft.SnapshotStore
	durable *raftstore.Stores // nil with Dev
}

// openRaftStores opens the stores of cfg: BoltDB and files under DataDir
// (package raftstore), or memory with Dev.
func openRaftStores(cfg *Config, logger hclog.Logger) (*raftStores, error) {
	if cfg.Dev {
		mem := raft.NewInmemStore()
		return &raftStores{logs: mem, stable: mem, snaps: raft.NewInmemSnapshotStore()}, nil
	}
	d, err := raftstore.Open(cfg.DataDir, logger.Named("snapshots"))
	if err != nil {
		return nil, err
	}
	return &raftStores{logs: d.Logs, stable: d.Stable, snaps: d.Snaps, durable: d}, nil
}

func (s *raftStores) close() error {
	if s.durable != nil {
		return s.durable.Close()
	}
	return nil
}

// raftConfig turns cfg into raft's configuration.
func raftConfig(cfg *Config, logger hclog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.Name)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	// Group commit already packs many commands into one entry, and an
	// unbuffered apply channel guarantees that raft answers every future
	// it accepted, even when it shuts down.
	rc.BatchApplyCh = false
	rc.Logger = logger.Named("raft")
	return rc
}

// fsmAdapter is the raft.FSM (and raft.BatchingFSM) over fsm.FSM. Besides
// applying, it keeps the index up to which the table shows every entry raft
// handed it (commands and configuration changes; raft's no-op and barrier
// entries never reach an FSM), and wakes whoever waits for that index to
// move. Nothing in it blocks.
type fsmAdapter struct {
	f *fsm.FSM

	// visible is the index of the last entry whose effects readers see:
	// the last command or configuration entry applied, or the snapshot
	// restored. Written by raft's FSM goroutine only.
	visible atomic.Uint64
	// restores counts snapshot restores (at start, InstallSnapshot from
	// the leader, or an operator restore).
	restores atomic.Uint64

	mu   sync.Mutex    // guards wake
	wake chan struct{} // closed and replaced whenever visible moves

	// beforeApply, if set, runs before each batch is applied. Tests use
	// it to hold the state machine back behind raft's commit index.
	beforeApply atomic.Pointer[func()]

	// logFile names the raft log in errors; onFatal (Env.Fatal) hears of
	// the first entry that cannot be applied. Set before raft starts.
	logFile string
	onFatal func(error)
	// failed is that entry's error: once set, nothing more is applied.
	failed atomic.Pointer[error]
	// onRestoreErr, if set, turns the error of a snapshot that fails to
	// restore into one naming the snapshot (raftstore.Stores.RestoreFailed).
	onRestoreErr func(error) error
	// onApplied, if set, hears of each command entry applied (Env.Applied).
	onApplied func(size int, cmd fsm.Command, result any)
	// onChanges and onRestored are Env.Changes and Env.Restored; set
	// before raft starts.
	onChanges  func(index uint64, changes []fsm.Change)
	onRestored func(index uint64)
	// changes is the slice an entry's changes are recorded in, reused
	// from entry to entry (only raft's FSM goroutine applies).
	changes []fsm.Change
}

var (
	_ raft.FSM         = (*fsmAdapter)(nil)
	_ raft.BatchingFSM = (*fsmAdapter)(nil)
)

func newFSMAdapter(f *fsm.FSM) *fsmAdapter {
	a := &fsmAdapter{f: f, wake: make(chan struct{})}
	a.visible.Store(f.AppliedIndex())
	return a
}

// Apply applies one entry (raft calls it only without batching).
func (a *fsmAdapter) Apply(l *raft.Log) any {
	return a.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies committed entries in order: commands go to the table;
// configuration entries only move the visible index.
func (a *fsmAdapter) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	if len(logs) == 0 {
		return out
	}
	if hook := a.beforeApply.Load(); hook != nil {
		(*hook)()
	}
	if err := a.failed.Load(); err != nil {
		for i := range out {
			out[i] = *err
		}
		return out
	}
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		cmd, res, err := a.applyEntry(l)
		if err != nil {
			// A damaged or unreadable entry: apply nothing from here on,
			// and stop the agent (Env.Fatal). The table stays at the
			// entry before it.
			err = a.corrupt(err)
			for j := i; j < len(out); j++ {
				out[j] = err
			}
			if i > 0 {
				a.advance(logs[i-1].Index)
			}
			return out
		}
		out[i] = res
		if a.onApplied != nil {
			a.onApplied(len(l.Data), cmd, res)
		}
	}
	a.advance(logs[len(logs)-1].Index)
	return out
}

// applyEntry applies one command entry, and tells onChanges what it
// changed when it is set.
func (a *fsmAdapter) applyEntry(l *raft.Log) (fsm.Command, any, error) {
	if a.onChanges == nil {
		return a.f.ApplyDecoded(l.Index, l.Data, nil)
	}
	changes := a.changes[:0]
	cmd, res, err := a.f.ApplyDecoded(l.Index, l.Data, &changes)
	if err == nil {
		a.onChanges(l.Index, changes)
	}
	clear(changes) // keep no records alive until the next entry
	a.changes = changes[:0]
	return cmd, res, err
}

// corrupt latches err as the adapter's failure, names the log file in it,
// and tells the agent once. It does not block.
func (a *fsmAdapter) corrupt(err error) error {
	err = fmt.Errorf("%w: %s: %w", ErrCorruptLog, a.logFile, err)
	if a.failed.CompareAndSwap(nil, &err) && a.onFatal != nil {
		a.onFatal(err)
	}
	return *a.failed.Load()
}

// Snapshot captures the table in O(1); Persist streams it.
func (a *fsmAdapter) Snapshot() (raft.FSMSnapshot, error) {
	if err := a.failed.Load(); err != nil {
		// raft counts the entries it handed over as applied: a snapshot
		// now would cover the one that could not be, and hide it.
		return nil, *err
	}
	return &fsmSnapshot{s: a.f.Snapshot()}, nil
}

// Restore replaces the table with a snapshot.
func (a *fsmAdapter) Restore(rc io.ReadCloser) error {
	defer func() { _ = rc.Close() }()
	if err := a.f.Restore(rc); err != nil {
		if a.onRestoreErr != nil {
			return a.onRestoreErr(err)
		}
		return err
	}
	a.restores.Add(1)
	if a.onRestored != nil {
		a.onRestored(a.f.AppliedIndex())
	}
	a.advance(a.f.AppliedIndex())
	return nil
}

func (a *fsmAdapter) advance(index uint64) {
	a.visible.Store(index)
	a.mu.Lock()
	close(a.wake)
	a.wake = make(chan struct{})
	a.mu.Unlock()
}

// waitCh returns a channel closed at the next advance. Take it before
// checking an index, so that no advance is missed.
func (a *fsmAdapter) waitCh() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.wake
}

// fsmSnapshot is a raft.FSMSnapshot of the table.
type fsmSnapshot struct {
	s *fsm.Snapshot
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.s.Persist(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() { s.s.Release() }

// Snapshots for operators.
//
// SnapshotSave streams the table's snapshot format (the same stream raft's
// snapshots hold) after a linearizable read barrier, so the snapshot holds
// every write acknowledged before the call. snapshotRestore reads a whole
// stream, checks it by restoring it into a scratch table, and hands it to
// raft.Restore: raft writes it as a new local snapshot at an index past its
// log, restores the leader's table, and followers install it when they
// find the gap. The stream's applied index is rewritten to 0 first: it
// belongs to another history, and with 0 a linearizable read waits for the
// first entry after the restore. That entry is RaisePIDFloor with the
// leader's counter after the restore (the larger of the snapshot's and the
// live one), so that every replica agrees on the next PID and none is
// handed out twice (Guarantee 1).

func (r *Replica) SnapshotSave(ctx context.Context, w io.Writer) error {
	if err := r.ReadBarrier(ctx); err != nil {
		return err
	}
	s := r.fsm.Snapshot()
	defer s.Release()
	return s.Persist(w)
}

func (r *Replica) SnapshotRestore(ctx context.Context, src io.Reader) error {
	if !r.IsLeader() {
		return commit.ErrNotLeader
	}
	scratch, err := fsm.New(r.cfg.FSM)
	if err != nil {
		return err
	}
	// The upload is checked as it arrives: a body that is not a snapshot
	// is refused at its first bad byte, not after all of it was read.
	var buf bytes.Buffer
	if err := scratch.Restore(io.TeeReader(src, &buf)); err != nil {
		return err
	}
	if _, err := io.Copy(&buf, src); err != nil {
		return fmt.Errorf("reading snapshot: %w", err)
	}
	data, err := reindexSnapshot(buf.Bytes(), 0)
	if err != nil {
		return err
	}
	var timeout time.Duration
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	meta := &raft.SnapshotMeta{Version: raft.SnapshotVersionMax, Size: int64(len(data))}
	if err := r.raft.Restore(meta, bytes.NewReader(data), timeout); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
			return commit.ErrNotLeader
		case errors.Is(err, raft.ErrEnqueueTimeout):
			return ctx.Err()
		}
		return fmt.Errorf("%w: restore: %v", commit.ErrUnknownOutcome, err)
	}
	res, err := r.Submit(ctx, nil, &fsm.RaisePIDFloor{Floor: r.fsm.NextPID()})
	if err != nil {
		return err
	}
	if res.Err != nil {
		return res.Err
	}
	r.logger.Info("restored the table from a snapshot", "bytes", len(data), "next_pid", r.fsm.NextPID(), "index", res.Index)
	return nil
}

// tableSnapshotMagic is the start of the table's snapshot stream (fsm/README.md,
// "Snapshot format"): magic, a format byte, then the applied index as a
// uvarint. Only the body that follows is covered by the trailer's hash.
const tableSnapshotMagic = "vprocfsm"

// reindexSnapshot returns the stream with its applied index replaced.
func reindexSnapshot(data []byte, index uint64) ([]byte, error) {
	n := len(tableSnapshotMagic) + 1
	if len(data) < n || string(data[:len(tableSnapshotMagic)]) != tableSnapshotMagic {
		return nil, fmt.Errorf("%w: not a vproc table snapshot", fsm.ErrBadSnapshot)
	}
	_, k := binary.Uvarint(data[n:])
	if k <= 0 {
		return nil, fmt.Errorf("%w: bad index", fsm.ErrBadSnapshot)
	}
	out := make([]byte, 0, len(data))
	out = append(out, data[:n]...)
	out = binary.AppendUvarint(out, index)
	return append(out, data[n+k:]...), nil
}
