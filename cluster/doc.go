// Package cluster is the vproc agent: the only part of vproc that does
// distributed I/O. An Agent is one node of a cluster; package cluster
// wires its parts together (New, Shutdown) and keeps what needs several of
// them at once. Its parts, by concern:
//
//	cluster/replica     the raft side: raft over package raftstore driving the
//	                    fsm package's table, group commit with client
//	                    sessions, linearizable reads, operator snapshots
//	cluster/leader      the leader's loops for each term: placement with
//	                    package sched, init's reaping, session ticks, the
//	                    lease table and the declaring of lost nodes
//	cluster/membership  gossip (memberlist, node metadata and load) and the
//	                    servers' side: bootstrap-expect, joins, the leader's
//	                    reconcile with raft voters and the table's node
//	                    records, dead-server removal, graceful leave
//	cluster/httpapi     the HTTP API behind the Core, Node and Logs interfaces
//	                    it declares, one file per resource, forwarding to the
//	                    leader, and the node's client of the leader
//	cluster/runner      the node runner: the local kernel follows the table
//	                    for this node's processes, reports their lifecycle,
//	                    children across nodes, evictions
//	cluster/ipcnet      IPC between nodes: the registry of names, the
//	                    streams to objects other nodes hold
//	cluster/lease       the node side of leases: renewal and fencing, with
//	                    the protocol and its safety argument (lease.go)
//	cluster/logstore    the bounded per-process output logs
//	cluster/commit      the vocabulary they share: sessions, outcomes,
//	                    replication errors
//	cluster/api         the HTTP API's wire types; cluster/client its Go client
//	cluster/raftnet     raft's TCP stream layer, plain or mutual TLS
//	cluster/mtls        transport security: the CA and certificates of
//	                    `vproc tls`, TLS configurations, and the node a
//	                    peer's certificate names (PeerNode)
//	cluster/internal/logbridge  raft's and memberlist's logs into slog
//
// Imports point downwards only: package cluster imports its parts; none of
// them imports package cluster, and replica, leader, membership, httpapi,
// runner, ipcnet and lease do not import each other, but for the runner's
// use of httpapi's conversions of table records to the kernel's
// (httpapi/convert.go) and ipcnet's of its address and errno helpers.
// Each declares what it needs from the others as small interfaces (replica.Leadership and replica.SpawnPlacer,
// leader.Replica and leader.Loads, membership.Table, httpapi.Core,
// httpapi.Node and httpapi.Logs, runner.Table, runner.Logs and
// runner.Sender, ipcnet.Core, ipcnet.Committer and ipcnet.Client,
// lease.Core, lease.Client and lease.Runner), which package cluster
// satisfies.
//
// Package cluster itself holds:
//
//   - the Agent: its Config, the listeners and raft's transport, and how it
//     implements core (core.go, core_agent.go): what the serving half
//     needs from the replication half;
//   - the serving half, which users and processes touch (serving.go): the
//     local kernel with its runner (package runner), IPC between nodes
//     (package ipcnet) and the node's lease (package lease), and the HTTP
//     API of package httpapi over them (serving_api.go).
//
// The CLI is cmd/vproc.
//
// Guarantees are numbered as in docs/guarantees.md.
package cluster
