// Package cluster is the vproc agent: the only package that does distributed
// I/O. An Agent is one node of a cluster. It has two halves that meet at the
// core interface (core.go):
//
// The replication half keeps the process table: hashicorp/raft over
// raft-boltdb (in memory with Dev) driving the fsm package's state machine
// (raft.go), group commit of commands into batched log entries with client
// sessions (applier.go), linearizable reads after the leader's read barrier
// (reads.go), memberlist gossip of node metadata and load (gossip.go),
// bootstrap-expect, joins, voter management, dead-server removal and
// graceful leave (membership.go), and the leader's loops: placement with
// package sched (placement.go), init's retention reaping and session ticks
// (leader.go). The leader also ranks the nodes for each spawn it receives,
// with the table's strategy, so that one entry allocates the PID and places
// it (fsm.Spawn.Place); the placement loop commits sched's plans for the
// rest: placements and preemptions.
//
// The serving half is what users and processes touch: the HTTP API of
// package cluster/api on every node, with writes and consistent reads
// forwarded to the leader (routing and middleware in http.go, one
// <resource>_endpoint.go per resource, forwarding in forward.go); the
// runner, which follows the table for the processes placed on this node,
// runs them in the local kernel (package node), delivers their signal
// requests exactly once and reports their lifecycle back, in batches
// (runner.go, reporter.go), and SIGKILLs a preempted process that outlives
// its grace period (evict.go); the bounded per-process output logs (package
// cluster/logstore); and the node's lease (lease.go): renewed with the
// leader, it fences the local kernel, and the leader declares lost the
// nodes whose leases expired (Guarantee 3).
//
// The Go client is package cluster/client; the CLI is cmd/vproc.
package cluster
