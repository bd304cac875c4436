// Package programs is the cluster's program store: user programs
// (WebAssembly modules) kept by content on the nodes' disks and recorded in
// the table by name.
//
// An upload (PUT /v1/programs/{name}) is stored content-addressed under the
// receiving node's data directory, pushed to other nodes until
// Config.Replicas hold it (all of them on a smaller cluster), and only then
// committed as an fsm.ProgramAdd naming the holders. The bytes never enter
// the raft log. A node that must run a program it does not hold fetches the
// bytes by hash from a holder (GET /v1/internal/programs/{sha256}), checks
// the hash, stores them, and records itself as a holder. Bytes whose hash
// does not match, on disk or from a peer, are refused and never run.
//
// A Service is the wasm.Source of the node's wasm.Engine.
package programs
