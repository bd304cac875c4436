// Package api holds the JSON types of vproc's HTTP API and the routes that
// carry them. The agent (package cluster) serves them on every node and the
// Go client (package cluster/client) speaks them; neither defines its own.
//
// Routes (all JSON; request bodies are capped at MaxBodyBytes and unknown
// fields are rejected):
//
//	POST   /v1/session                      register a client session → Session
//	POST   /v1/spawn                        SpawnRequest → SpawnResponse
//	POST   /v1/spawn/batch                  SpawnBatchRequest → SpawnBatchResponse (many spawns, one result each)
//	POST   /v1/kill                         KillRequest → KillResponse
//	GET    /v1/procs[?all][&stale][&local][&index=N&wait=D]   → ProcessList (blocking query when index is given)
//	GET    /v1/procs/{pid}[?stale][&local]  → Process
//	GET    /v1/procs/{pid}/wait[?timeout=D] → Process once it has exited (a blocking query; never reaps)
//	GET    /v1/procs/{pid}/logs[?follow][&offset=N][&stream=S][&format=chunks] → the process's output, a byte stream
//	POST   /v1/procs/{pid}/stdin            a byte stream fed to the process's standard input (run -i)
//	GET    /v1/nodes[?stale]                → NodeList
//	GET    /v1/health                       → Health (200 when the cluster has a leader, 503 otherwise)
//	GET    /v1/operator/raft/peers          → PeerList
//	GET    /v1/operator/scheduler[?stale]   → SchedulerConfig
//	PUT    /v1/operator/scheduler           SchedulerConfigRequest → SchedulerConfig, once committed
//	GET    /v1/operator/keyring             → KeyringResponse: every member's gossip keys
//	POST   /v1/operator/keyring             KeyringRequest → KeyringResponse: install the key on every member
//	PUT    /v1/operator/keyring             KeyringRequest → KeyringResponse: make it every member's primary key
//	DELETE /v1/operator/keyring             KeyringRequest → KeyringResponse: remove it from every member
//	GET    /v1/snapshot                     → a raft snapshot stream
//	PUT    /v1/snapshot                     restore the table from a snapshot stream
//	GET    /v1/state                        → StateInfo: applied index and state hash of the answering node (always local)
//	GET    /v1/events[?topic=T,..][&pid=N][&node=ID][&index=N] → the table's changes, one Event a line (events.go; any node, never forwarded)
//	POST   /v1/internal/command             node → leader: one encoded table command → CommandResult, or a batch → CommandResults (see below)
//	POST   /v1/internal/readindex           node → leader: a read index (the read recipe without the read) → ReadIndex; never forwarded
//	POST   /v1/internal/lease               node → leader: renew the node's lease (X-Vproc-Node names it) → LeaseGrant; never forwarded
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
// A follower forwards writes and linearizable reads to the leader as a
// reverse proxy, with HeaderFwd set; a forwarded request that reaches a node
// that is not the leader is answered 503 not_leader, never forwarded again.
// Every answer carries HeaderNode, and HeaderLeader when a leader is known.
// The keyring routes act on every alive member: the answering node fans
// the operation out with ?local=true, which acts on that node only (with
// TLS on, only under a node's certificate).
// Logs and stdin go to the node that runs the process, with HeaderTarget
// (that node's name) and HeaderIndex (the index of the record that named
// it) set: that node first applies the table up to that index, then
// answers from what it has, and forwards nothing further.
//
// # Processes
//
// GET /v1/procs lists the live processes, init included; ?all adds the
// exited and lost ones. Its blocking form (?index=N) answers once the
// table's index is above N, or when wait (a Go duration, at most and by
// default 5m) has passed, whichever comes first; either way the answer is
// the current list, and HeaderIndex tells the index to ask for next.
// MicroState and CPUMillis come from the node that runs each process: the
// answering node asks the others with GET /v1/procs?stale&local (at most
// half a second); a node that does not answer leaves them empty. ?local
// lists only the processes assigned to the answering node, from its own
// state, with its kernel's micro-states and CPU times; it never asks other
// nodes.
//
// GET /v1/procs/{pid}/wait blocks until the process has exited or is lost
// and answers it; it never reaps. With ?timeout=D it gives up after D with
// 408 timeout (the client asks again); without, it waits as long as the
// client does.
//
// GET /v1/procs/{pid}/logs streams the process's stored standard output
// and error (interleaved) from the node that ran it; other nodes proxy to
// that node. offset=N starts at logical byte N of the log; output older than
// the node's bound has been dropped, and HeaderOffset tells where the stream
// actually starts. With ?follow the stream goes on as output arrives, until
// the process has exited (or is lost, reaped, or moved to another node) and
// everything has been sent, or the client goes away. stream=stdout or
// stream=stderr keeps one stream's bytes (both, the default, keeps all);
// offsets count both streams. format=chunks answers LogChunk objects, one
// JSON value a line, each a run of one stream with its offset and the time
// it was written, so that a client can split the streams, stamp lines or
// skip older output, and resume after the last chunk it read.
//
// POST /v1/procs/{pid}/stdin streams its body into the process's standard
// input, on the node that runs it; the end of the body is EOF. The spawn
// must have asked for it (SpawnRequest.Stdin), or the answer is 400; a
// second stream for the same process is 409 conflict. It waits for the
// process to be placed. Only the first incarnation that starts reads it;
// later incarnations (restarts) read EOF. The body is not capped. The
// answer is 204 once the body has been consumed or the process stopped
// reading.
//
// # Writes
//
// POST /v1/spawn checks the request on the receiving node: the grammars
// (SpawnRequest.ParseSpec), the priority (0 or 1..100), the environment
// (KEY=VALUE) and the command, which must be a program the node knows
// (every node runs the same binary), or the answer is 400 unknown_program.
// Limits may not be 0 (leave a resource out for no limit). Stdin is
// recorded in the table's spec. The process's parent is init. The answer
// comes once the spawn entry has committed.
//
// POST /v1/spawn/batch carries up to MaxSpawnBatch spawns, each checked and
// committed as POST /v1/spawn would (they share raft entries through group
// commit), and answers 200 with one SpawnBatchResult per item: its PID, or
// the error code and status that spawn alone would have got. Each item
// has its own request id of the session (SpawnBatchItem.Request), so
// retries are safe per spawn: a retried batch, or an item retried in
// another batch, gets its first answer. The request as a whole is refused
// (400, 413) only when it cannot be read: bad JSON, no items, too many,
// HeaderRequest given, request ids missing, repeated or below HeaderAcked.
// The Go client merges concurrent Spawn calls into this request.
//
// POST /v1/kill commits one signal request per target, each with its own
// request id: derived from the session and request id when the headers are
// given, so that a retry never signals twice, random otherwise. Signal must
// be 0..31 and targets neither 0 nor -1 (400 bad_request).
//
// # Snapshots
//
// GET /v1/snapshot streams the leader's table; a failure midway cuts the
// stream (its trailing checksum then fails). PUT /v1/snapshot restores one,
// on the leader; its body is capped at MaxSnapshotBytes, and the answer is
// the leader's StateInfo after the restore.
//
// # Node to leader
//
// POST /v1/internal/command carries one command of package fsm, encoded
// with fsm.Encode (Content-Type application/octet-stream), from a node to
// the leader: the node's runner reports started, stopped, continued,
// exited and lost incarnations and delivered signals, and records the
// children its processes spawn (spawn and place on itself, in the node's
// own session; SIGKILL of a child whose spawn failed). The request names
// its node in HeaderNode, which must be a node of the table, and each
// command must be about that node (403 permission otherwise). With TLS on,
// the node is the one its client certificate names instead: every
// /v1/internal/ route takes only a node's certificate, HeaderNode must
// agree with it if set, and a follower answers these routes not_leader
// instead of forwarding them. It may carry
// the session headers. A domain failure is a 200 CommandResult with Code
// set.
//
// The body may instead be an fsm Batch of such commands (fsm.EncodeBatch),
// without session headers: a node's reports, sent together. Every command
// is checked before any is committed; they commit in order, and the answer
// is a 200 CommandResults with one CommandResult per command. A command
// that did not replicate has Failure set, and the node sends it again.
//
// # Errors
//
// Errors are an Error body with a stable Code and a non-2xx status:
//
//	400 bad_request, invalid, unknown_program   413 too_large
//	403 permission                              404 not_found, no_such_process, no_such_node, no_such_name
//	405 method_not_allowed                      408 timeout
//	409 conflict, stale, killed, not_exited, name_exists, request_too_old
//	410 session_expired                         500 internal
//	503 no_leader, not_leader, unknown_outcome, unavailable
//
// Guarantees are numbered as in docs/guarantees.md.
package api
