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
package client
