// Package membership is how servers find each other and form a cluster.
//
// Gossip (gossip.go) is a hashicorp/memberlist member that carries, besides
// liveness, each node's metadata (Meta: raft and HTTP addresses, capacity,
// labels, bootstrap-expect) and its load. It keeps what it learns (Members,
// Load) and signals every change (BootstrapSig, ReconcileSig) without
// blocking. Its memberlist callbacks copy their input, take one short lock
// and never block.
//
// Manager (servers.go) acts on gossip with raft: bootstrap-expect, joins,
// the leader's reconcile of gossip with raft voters and with the table's
// node records, dead-server removal and graceful leave. With
// ServersConfig.Prove, a member joins raft and the table only once it has
// proved its identity (proof.go).
//
// With keys, gossip is encrypted and members without a key of the ring
// are refused; the keyring changes at run time and is kept in a file
// (keyring.go).
//
// It declares what it needs from the replica as Table. It must not import
// package cluster, package replica, the leader's loops or the serving half;
// of the cluster packages it imports only api, commit and internal.
package membership
