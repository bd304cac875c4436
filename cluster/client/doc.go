// Package client is the Go client of vproc's HTTP API (package cluster/api).
// The command line, the benchmarks and the fault suite all speak to the
// cluster through it.
//
// A Client is safe for concurrent use. Create one with New and share it:
//
//	c, err := client.New(client.DefaultConfig())
//	if err != nil { ... }
//	res, err := c.Spawn(ctx, api.SpawnRequest{Command: "sleep", Args: []string{"10"}})
//	p, err := c.Wait(ctx, res.PID)
//
// # Safe retries (Guarantee 9)
//
// Writes (Spawn, Kill) run inside a client session, registered lazily with
// POST /v1/session on the first write. Every write gets the next request id
// of the session and carries HeaderSession, HeaderRequest and HeaderAcked,
// where the acknowledged floor is the lowest request id still outstanding,
// so that the server can forget the answers below it.
//
// A write is retried, with backoff and within its context, as follows:
//
//   - A refusal before dispatch (no_leader, not_leader, a refused
//     connection) is a plain retry.
//   - A failure after the request may have reached the leader (a timeout, a
//     reset connection, unknown_outcome, a lost leadership) has an unknown
//     outcome. It is retried with the same session and request id, so the
//     retry returns the first answer (the same PID) and never applies twice.
//     When the retries run out the error matches ErrUnknownOutcome.
//   - session_expired after an attempt whose outcome was unknown is
//     returned as ErrSessionExpired: sending the request again in a new
//     session could apply it twice. The next write registers a fresh
//     session. When no earlier attempt of the request can have applied (the
//     session had expired before the request was ever sent), the request is
//     sent once more in a fresh session, since it cannot apply twice.
//
// # Merged spawns
//
// Concurrent Spawn calls on one Client are merged: while up to four
// requests of spawns are in flight, the calls that arrive meanwhile wait
// and then go together, up to Config.MaxSpawnBatch (256) of them, as one
// POST /v1/spawn/batch. A lone call goes as an ordinary POST /v1/spawn, so
// one caller at a time sees no added latency. Merging changes nothing a
// caller sees: each spawn has its own request id, so the retries above
// apply per spawn (a merged request is retried with the same ids, and the
// items the leader answered not_leader or unknown_outcome are retried while
// the others keep their answers), and each call gets its own PID or error.
// A call whose context ends before its spawn was sent returns the
// context's error; one whose spawn may have been sent returns an error
// that matches ErrUnknownOutcome, while the merged request goes on for the
// others. MaxSpawnBatch 1 turns merging off.
//
// Reads retry on no_leader, not_leader, unavailable and transport errors.
// A connection the agent refuses is retried twice only: an agent that is
// down does not come back within an election, and the caller had better
// try another agent.
// Wait repeats the blocking /wait query until the process has exited; it
// never reaps.
//
// # Errors
//
// An error answer of the API is a *StatusError, which unwraps to the
// *api.Error of its body (errors.As) and matches the sentinel its code means
// (errors.Is): ErrNotFound, ErrNoLeader, ErrUnknownOutcome,
// ErrSessionExpired, ErrUnknownProgram.
//
// Guarantees are numbered as in docs/guarantees.md.
package client
