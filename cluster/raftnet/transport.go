package raftnet

import "github.com/hashicorp/raft"

// Transport is raft's NetworkTransport without its heartbeat fast path.
//
// With a heartbeat handler set, raft answers a heartbeat on the
// transport's goroutine, outside its main loop. A heartbeat from a newer
// leader then raises the term while the old leader's loop may be writing
// an entry it took before it noticed: the entry reaches the old leader's
// log under the new term. A follower that already holds an entry of the
// same index and term keeps it, so that two replicas hold different
// entries at one index and term and their tables diverge (raft's Log
// Matching property broken; the fault suite's convergence check saw it
// after a paused leader resumed). Refusing the handler sends heartbeats
// through raft's main loop, which orders a step-down before or after the
// leader's writes, never in the middle of one. The cost: a follower busy
// writing its log answers a heartbeat once the write is done.
type Transport struct {
	*raft.NetworkTransport
}

var _ raft.Transport = (*Transport)(nil)

// NewTransport returns a Transport over raft's NetworkTransport made with
// cfg.
func NewTransport(cfg *raft.NetworkTransportConfig) *Transport {
	return &Transport{NetworkTransport: raft.NewNetworkTransportWithConfig(cfg)}
}

// SetHeartbeatHandler ignores cb, so that heartbeats reach raft's main
// loop like every other RPC: see Transport.
func (*Transport) SetHeartbeatHandler(cb func(rpc raft.RPC)) {}
