package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/commit"
	"github.com/vproc/vproc/fsm"
)

func (s *Server) handleSnapshotSave(w http.ResponseWriter, r *http.Request) {
	tw := &trackWriter{ResponseWriter: w}
	w.Header().Set("Content-Type", "application/octet-stream")
	if err := s.core.SnapshotSave(r.Context(), tw); err != nil {
		if tw.wrote {
			// Cut the stream: its checksum will not verify.
			panic(http.ErrAbortHandler)
		}
		w.Header().Del("Content-Type")
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, "snapshot: " + err.Error()})
	}
}

func (s *Server) handleSnapshotRestore(w http.ResponseWriter, r *http.Request) (any, error) {
	body := http.MaxBytesReader(w, r.Body, api.MaxSnapshotBytes)
	if err := s.core.SnapshotRestore(r.Context(), body); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, &httpError{http.StatusRequestEntityTooLarge, api.CodeTooLarge, fmt.Sprintf("snapshot is over %d bytes", int64(api.MaxSnapshotBytes))}
		case errors.Is(err, commit.ErrNotLeader), errors.Is(err, commit.ErrNoLeader), errors.Is(err, commit.ErrUnknownOutcome):
			return nil, err
		case errors.Is(err, fsm.ErrBadSnapshot):
			return nil, badRequest("snapshot: %v", err)
		}
		return nil, &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, "restore: " + err.Error()}
	}
	return s.core.StateInfo(), nil
}
