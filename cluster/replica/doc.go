// Package replica is a node's copy of the replicated process table: the
// raft side of the agent.
//
//   - hashicorp/raft over the stores of package raftstore (raft-boltdb and
//     file snapshots, or memory with Dev), driving the fsm package's state
//     machine through an adapter that also tracks the index the table shows
//     (raft.go);
//   - group commit: many concurrent submissions become few batched log
//     entries, with client sessions (commit.SessionRef) so that a retry
//     returns the first answer (applier.go, Guarantee 9);
//   - raft futures that raft may never answer, unblocked on shutdown
//     (applyfuture.go);
//   - linearizable reads after the term's first barrier, with a read index
//     confirmed by VerifyLeader (reads.go, Guarantee 6), and the fault
//     suite's deliberately broken build without them (reads_unsafe.go, tag
//     vproc_unsafe_reads);
//   - snapshots for operators: save after a read barrier, restore with
//     the PID floor raised (raft.go, Guarantee 1).
//
// It speaks the vocabulary of package commit. What it needs from the
// leader's side, the current term and the placement of spawns, it declares
// as the Leadership and SpawnPlacer interfaces; package cluster implements
// them. It must not import package cluster or the packages of the serving
// half (the runner, the HTTP API) or the leader's loops.
//
// Guarantees are numbered as in docs/guarantees.md.
package replica
