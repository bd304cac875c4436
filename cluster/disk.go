package cluster

// diskError is the raft stores' disk-full error, nil while they write
// (replica.DiskError).
func (a *Agent) diskError() error { return a.replica.DiskError() }

// DiskError reports the core's disk-full error to the HTTP API
// (httpapi.DiskReporter), when the core can tell.
func (a coreAPI) DiskError() error {
	if d, ok := a.c.(interface{ diskError() error }); ok {
		return d.diskError()
	}
	return nil
}
