// Package logbridge routes the logs of the agent's dependencies into its
// slog.Logger: raft logs through hclog (HCLog) and memberlist through the
// standard log package (StdlogWriter). Both are routed at debug level:
// their chatter (elections, probes, retries) is useful when debugging and
// noise otherwise, and what matters to an operator the agent logs itself.
//
// It is a leaf: it must not import any vproc package.
package logbridge
