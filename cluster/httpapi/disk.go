package httpapi

import (
	"net/http"

	"github.com/vproc/vproc/cluster/api"
)

// DiskReporter is the optional ability of a Core to tell that its disk is
// full: DiskError returns "ENOSPC on <dir>: ..." while the raft stores
// cannot write, nil otherwise. Health and every failing request then say
// so instead of a bare no_leader.
type DiskReporter interface {
	DiskError() error
}

// diskError returns the core's disk-full error, if it can tell one.
func (s *Server) diskError() error {
	if d, ok := s.core.(DiskReporter); ok {
		return d.DiskError()
	}
	return nil
}

// noSpace is the 507 of a request that failed while this node's disk is
// full: the disk and the request's own error.
func noSpace(disk, err error) *httpError {
	return &httpError{http.StatusInsufficientStorage, api.CodeNoSpace, disk.Error() + " (" + err.Error() + ")"}
}
