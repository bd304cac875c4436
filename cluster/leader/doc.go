// Package leader runs the leader's loops for each term of a node's
// leadership:
//
//	Watch ── term gained ── establish: Barrier (first of the term) ── Tick ── ready ──┬── placement (placement.go)
//	                                                                                   ├── reaper (init's retention)
//	                                                                                   ├── ticker (session expiry)
//	                                                                                   ├── lease checks (lease.go)
//	                                                                                   └── the loops New is given (membership's reconcile)
//
// Placement commits package sched's plans and ranks the nodes for each
// spawn the leader receives (PlaceSpawn), so that one entry allocates the
// PID and places it. The lease table records the renewals this leader
// answered (RenewLease); nodes whose leases expired are declared lost
// (Guarantee 3). A term's readiness (Term) is what linearizable reads wait
// for (Guarantee 6).
//
// It declares what it needs as the Replica (submit, views, barriers) and
// Loads (gossiped load) interfaces. It must not import raft, package
// cluster, package replica, package membership or the serving half (the
// runner, the HTTP API).
//
// Guarantees are numbered as in docs/guarantees.md.
package leader
