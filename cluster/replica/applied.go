package replica

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vproc/vproc/cluster/raftstore"
	"github.com/vproc/vproc/fsm"
)

// The applied index outside the raft log. raftstore.Open refuses a log and
// snapshots that end below the index recorded in raftstore.AppliedFile;
// the replica records it every appliedRecordInterval while it runs, and
// once more at Close, after raft has stopped applying.

// recordApplied writes the applied index whenever it has moved, every
// appliedRecordInterval, until Env.Stop is closed.
func (r *Replica) recordApplied() {
	t := time.NewTicker(appliedRecordInterval)
	defer t.Stop()
	for {
		select {
		case <-r.shutdownCh:
			return
		case <-t.C:
			if err := r.writeApplied(); err != nil {
				r.logger.Error("recording the applied index", "index", r.fsm.AppliedIndex(), "error", err)
			}
		}
	}
}

// writeApplied records the table's applied index if it is above the one
// recorded. It never records a lower one: after an operator restore the
// table's own index starts again from 0.
func (r *Replica) writeApplied() error {
	r.recordMu.Lock()
	defer r.recordMu.Unlock()
	idx := r.adapter.visible.Load()
	if idx <= r.recorded {
		return nil
	}
	if err := raftstore.WriteApplied(r.stores.durable.Dir, idx); err != nil {
		return err
	}
	r.recorded = idx
	return nil
}

// verifyLog reads every entry of the log before raft starts: an entry
// that cannot be read, or a checksummed command whose checksum does not
// match, is an error naming the file and the index. Entries are checked
// again when they are applied; this finds damage past the applied index
// and in entries the table will never apply again.
func verifyLog(d *raftstore.Stores) error {
	first, err := d.Bolt.FirstIndex()
	if err != nil {
		return fmt.Errorf("%w: %s: %v", raftstore.ErrDamaged, d.DBPath, err)
	}
	last, err := d.Bolt.LastIndex()
	if err != nil {
		return fmt.Errorf("%w: %s: %v", raftstore.ErrDamaged, d.DBPath, err)
	}
	if first == 0 {
		return nil
	}
	// An operator restore leaves a gap in the log at its snapshot's index;
	// raft starts from the snapshot and never reads below it.
	var snapIndex uint64
	if metas, err := d.Snaps.List(); err == nil && len(metas) > 0 {
		snapIndex = metas[0].Index
	}
	var l raft.Log
	for i := first; i <= last; i++ {
		err := d.Bolt.GetLog(i, &l)
		if errors.Is(err, raft.ErrLogNotFound) && i <= snapIndex {
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: %s: entry at index %d: %v", raftstore.ErrDamaged, d.DBPath, i, err)
		}
		if l.Index != i {
			return fmt.Errorf("%w: %s: entry at index %d says index %d", raftstore.ErrDamaged, d.DBPath, i, l.Index)
		}
		if l.Type == raft.LogCommand && fsm.Sealed(l.Data) {
			if _, err := fsm.Decode(l.Data); err != nil && errors.Is(err, fsm.ErrChecksum) {
				return fmt.Errorf("%w: %s: entry at index %d: %v", raftstore.ErrDamaged, d.DBPath, i, err)
			}
		}
	}
	return nil
}

// LogEntry reads the entry at index from the raft log, as stored: sealed
// or not. Tests and diagnostics use it.
func (r *Replica) LogEntry(index uint64, l *raft.Log) error {
	return r.stores.logs.GetLog(index, l)
}
