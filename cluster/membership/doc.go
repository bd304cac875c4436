// Package membership is the agent's gossip layer: a hashicorp/memberlist
// member that finds the other servers and carries, besides liveness, each
// node's metadata (Meta: raft and HTTP addresses, capacity, labels,
// bootstrap-expect) and its load. Gossip keeps what it learns (Members,
// Load) and signals every change (BootstrapSig, ReconcileSig) without
// blocking; package cluster acts on them (bootstrap-expect, the leader's
// reconcile of gossip with raft and with the table's node records).
//
// Its memberlist callbacks copy their input, take one short lock and never
// block. It must not import raft, the fsm's apply path or any other
// cluster package but cluster/api (the load type) and cluster/internal.
package membership
