// Package api holds the JSON types of vproc's HTTP API and the routes that
// carry them. The agent (package cluster) serves them on every node and the
// Go client (package cluster/client) speaks them; neither defines its own.
//
// Routes (all JSON; request bodies are capped at MaxBodyBytes and unknown
// fields are rejected):
//
//	POST   /v1/session                      register a client session → Session
//	POST   /v1/spawn                        SpawnRequest → SpawnResponse
//	POST   /v1/kill                         KillRequest → KillResponse
//	GET    /v1/procs[?all][&stale][&index=N&wait=D]   → ProcessList (blocking query when index is given)
//	GET    /v1/procs/{pid}[?stale]          → Process
//	GET    /v1/procs/{pid}/wait[?timeout=D] → Process once it has exited (a blocking query; never reaps)
//	GET    /v1/procs/{pid}/logs[?follow][&offset=N]   → the process's output, a byte stream
//	POST   /v1/procs/{pid}/stdin            a byte stream fed to the process's standard input (run -i)
//	GET    /v1/nodes[?stale]                → NodeList
//	GET    /v1/health                       → Health (200 when the cluster has a leader, 503 otherwise)
//	GET    /v1/operator/raft/peers          → PeerList
//	GET    /v1/snapshot                     → a raft snapshot stream
//	PUT    /v1/snapshot                     restore the table from a snapshot stream
//	GET    /v1/state                        → StateInfo: applied index and state hash of the answering node (always local)
//
// Writes carry the session headers (HeaderSession, HeaderRequest,
// HeaderAcked): retrying a write with the same session and request id
// returns the first answer and never applies it twice (Guarantee 9).
//
// Reads are linearizable by default: they run on the leader after the read
// barrier. With ?stale a node answers from its own state and sets the
// HeaderStale response header. Every table response carries HeaderIndex, the
// raft index the answer reflects.
//
// Errors are an Error body with a stable Code and a non-2xx status.
package api
