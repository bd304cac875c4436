// Package httpapi is a node's HTTP API (the routes package cluster/api
// documents) and its HTTP client of the leader and the other nodes.
//
// Every node serves every route. Writes and consistent reads go to the
// leader: a follower forwards them (forward.go), marking the request so
// that it is never forwarded twice. Logs and stdin go to the node that runs
// the process. A node's own reports reach the leader's node-to-leader
// routes (node_endpoint.go: commands, checked by nodeMayReport; lease
// renewals; read indexes) through Client.
//
// Routing, middleware, the error mapping and the parameters are in
// http.go; each resource has its <resource>_endpoint.go. A JSON route's
// handler is an endpoint returning (any, error), and one wrapper writes
// every answer and maps every error to its status and code; streaming
// routes (logs, stdin, snapshots, IPC streams) are plain handlers that
// answer their errors through the same mapping (Server.Fail).
//
// The server depends only on the interfaces it declares: Core (the
// replication half), Node (the local kernel and runner) and Logs (the
// process logs). It must not import package cluster or the packages of
// the replication half (replica, leader, membership).
//
// Guarantees are numbered as in docs/guarantees.md.
package httpapi
