// Package ipcnet is a node's side of IPC between nodes (docs/design.md,
// "Unix semantics, limits and capabilities": FIFOs and message queues can be used from any node). The
// local kernel resolves FIFO, queue and segment names through the
// replicated registry (Names, ipcnames.go: Register, Unregister, Lookup);
// a process that opens an object another node holds gets a stream to that
// node (ipcstream.go: the protocol and the client end), and the node that
// holds it serves the stream (ipcserve.go) over an upgraded HTTP
// connection. The same streams carry the descriptors a child on another
// node inherits from its parent (inherit.go: OpenInherited, and the
// holder's side of an exported open file), and withdraw a blocked
// receive, read or write while its process is stopped (callStoppable).
//
// It declares what it needs as Core (node addresses, the applied index),
// Committer (the node session's commits) and Client (linearizable reads,
// requests to other nodes). It must not import package cluster, the
// replication half (replica, leader, membership) or the runner; of package
// httpapi it uses only BaseURL, ErrnoFromResponse and BadRequest.
//
// Guarantees are numbered as in docs/guarantees.md.
package ipcnet
