// Package runner makes a node's local kernel (package node) follow the
// replicated table for the processes placed on the node: it starts and
// kills incarnations, delivers their signal requests exactly once,
// reports their lifecycle back in batches (reporter.go), allocates the
// table's PIDs for children, on this node or others (children.go), and
// SIGKILLs a preempted process that outlives its grace period (evict.go).
// runner.go describes the loop.
//
// It declares what it needs as Table (the local view of the table and its
// applied index), Logs (the process output logs) and Sender (the way to the
// leader, httpapi.Client). It must not import package cluster or the
// replication half (replica, leader, membership); of package httpapi it
// uses only the conversions of a table record to the kernel's spec
// (KernelSpec, FSMStatus) and the errors the API maps (ErrStopping,
// ErrStdinAttached, ErrBatchRefused).
//
// Guarantees are numbered as in docs/guarantees.md.
package runner
