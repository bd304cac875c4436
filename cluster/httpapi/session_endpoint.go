package httpapi

import (
	"net/http"

	"github.com/vproc/vproc/cluster/api"
)

func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) (any, error) {
	var body struct{}
	if err := decodeBody(w, r, &body, true); err != nil {
		return nil, err
	}
	id, err := s.core.RegisterSession(r.Context())
	if err != nil {
		return nil, err
	}
	return api.Session{ID: id}, nil
}
