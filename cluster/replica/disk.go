package replica

// DiskError returns the error of the raft stores' last write when it
// failed for want of space ("ENOSPC on <dir>: ...", a
// *raftstore.DiskFullError), or nil while writes succeed and with Dev. It
// clears by itself once a write succeeds again.
func (r *Replica) DiskError() error {
	if r.stores == nil || r.stores.durable == nil || r.stores.durable.Disk == nil {
		return nil
	}
	return r.stores.durable.Disk.Err()
}

// watchDisk logs each change of the stores' disk: full, and space again.
func (r *Replica) watchDisk() {
	if r.stores.durable == nil || r.stores.durable.Disk == nil {
		return
	}
	r.stores.durable.Disk.OnChange(func(err error) {
		if err != nil {
			r.logger.Error("disk full: raft cannot write; the agent retries by itself once space is freed", "error", err)
			return
		}
		r.logger.Info("disk writable again", "dir", r.cfg.DataDir)
	})
}
