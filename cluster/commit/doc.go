// Package commit is the vocabulary shared by the packages that commit
// commands to the replicated table and those that ask them to: a request's
// place in a client session (SessionRef), a batched command's Outcome, and
// the replication errors, kept apart from the table's own results as raft's
// Future.Error is kept apart from ApplyFuture.Response.
//
// It is a leaf of the cluster packages: it must not import any of them,
// only package fsm.
//
// Guarantees are numbered as in docs/guarantees.md.
package commit
