// Package lease is the node side of node leases and fencing (Guarantee 3):
// a Keeper renews the node's lease with the leader and fences the local
// kernel with it, and a node whose lease had ended catches up with the
// table, kills what it no longer assigns here and settles its IPC names
// before anything runs again. lease.go states the protocol, the leader's
// side (package leader) and why it is safe. The fault suite's broken build
// without fencing is nofence.go (tag vproc_unsafe_nofence).
//
// It declares what it needs as Core, Client and Runner. It must not import
// package cluster, the replication half (replica, leader, membership), the
// runner or the HTTP API.
//
// Guarantees are numbered as in docs/guarantees.md.
package lease
