package cluster

// A fatal error is one the agent cannot go on with, such as a committed log
// entry that cannot be applied (replica.ErrCorruptLog): the replica stops
// applying, and whoever runs the agent (cmd/vproc) shuts it down and exits
// with the error.

// fatal records err as the agent's failure and closes Failed. Only the
// first call counts. It does not block: it is called from raft's FSM
// goroutine.
func (a *Agent) fatal(err error) {
	a.failOnce.Do(func() {
		a.failErr = err
		a.logger.Error("agent cannot go on", "error", err)
		close(a.failed)
	})
}

// Failed returns a channel closed when the agent meets an error it cannot
// go on with; Err then says what it was. Shut the agent down then.
func (a *Agent) Failed() <-chan struct{} { return a.failed }

// Err returns the error that closed Failed, or nil while it is open.
func (a *Agent) Err() error {
	select {
	case <-a.failed:
		return a.failErr
	default:
		return nil
	}
}
