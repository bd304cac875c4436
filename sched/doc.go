// Package sched decides where the cluster's pending processes run.
//
// It is a pure function from a read-only view of the process table to a
// Plan. It does no I/O, reads no clock, draws no random numbers, starts no
// goroutines and imports no vproc package but the leaf spec (whose Constraint
// and Use it shares with the table). The same view always gives
// the same plan, whatever the order of the slices in it.
//
// The view is the State interface, which the consumer implements from one
// FSM snapshot plus the gossiped load. It holds the nodes with their capacity
// and labels, the pending processes, the running ones that hold capacity, and
// the IPC registries. The output is a Plan: placements, proposed preemptions,
// and the reason each remaining process stays pending.
//
// The pipeline, in the spirit of Nomad's scheduler, runs for one pending
// process at a time. Processes go in priority order, highest first, and FIFO
// among equal priorities:
//
//	pending ─► feasibility ─► ranking ─► (no room) preemption ─► Plan
//
// The stages:
//
//   - Feasibility keeps the alive nodes that satisfy the hard requirements:
//     --node, label constraints, the node of a shared-memory segment, and
//     the parent's node for a child that inherits pipes.
//   - Ranking keeps the nodes with room, scores them with the cluster's
//     Strategy (spread or binpack), and adds preferred affinities: the
//     nodes of the FIFOs and message queues the process uses, and its
//     parent's node.
//   - Preemption, when no node has room, may evict processes at least
//     Config.PreemptGap priority points lower on one feasible node. It
//     reserves the freed room for the process, which a later plan places.
//
// A Planner is created with New and is safe for concurrent use:
//
//	pl, err := sched.New(sched.DefaultConfig())
//	...
//	plan, err := pl.Plan(strategy, view)
//
// The leader's plan applier commits plans through Raft. Every Placement and
// Preemption carries the (PID, Incarnation, state) it was computed from, and
// the FSM's Apply rejects an entry whose process has moved on. The package
// README describes the capacity model, the scoring rules, preemption and
// that re-check in detail.
package sched
