// Package fsm is vproc's replicated process table: the deterministic state
// machine that Raft replicates. It holds the PID counter, the process
// records, pending signal requests, the nodes, the registry of FIFO,
// message-queue and shared-memory names, the scheduler configuration and
// the client sessions.
//
// The package does no I/O besides the snapshot stream it is handed, starts
// no goroutines and never reads a clock or a random source: time, ids and
// the leader's decisions arrive inside commands. It does not import raft;
// cluster/ adapts it in a few lines:
//
//	func (a *adapter) Apply(l *raft.Log) any { return a.f.Apply(l.Index, l.Data) }
//	func (a *adapter) Snapshot() (raft.FSMSnapshot, error) { return snap{a.f.Snapshot()}, nil }
//	func (a *adapter) Restore(rc io.ReadCloser) error { defer rc.Close(); return a.f.Restore(rc) }
//	func (s snap) Persist(sink raft.SnapshotSink) error {
//		if err := s.s.Persist(sink); err != nil {
//			sink.Cancel()
//			return err
//		}
//		return sink.Close()
//	}
//	func (s snap) Release() { s.s.Release() }
//
// A log entry is one type byte followed by a versioned, compact binary body
// (see Encode, Decode and the command types). Apply returns a *Result, or a
// []*Result for a Batch; a domain failure is the Result's Err, one of the
// Err* sentinels, with a stable Code for the HTTP layer. An entry that
// cannot be decoded is a corrupt log, and Apply panics.
//
// Readers use a View: an immutable, consistent picture of the table taken
// in O(1) from copy-on-write trees and an append-only change feed, valid
// while Apply goes on. The scheduler plans from one; Snapshot persists
// one; a node's runner follows the table through its change feeds
// (WalkModified, WalkReaped, WalkSignalsSince), looking only at what
// changed. AppliedIndex is the FSM's own applied index, for linearizable
// reads (Guarantee 6), and Hash is the state hash for convergence checks
// (Guarantee 8).
//
// README.md in this directory walks through the command pipeline, the state
// vocabulary, sessions, restart and kill semantics and the snapshot format.
//
// Guarantees are numbered as in docs/guarantees.md.
package fsm
