package cluster

import (
	"net/http"

	"github.com/vproc/vproc/cluster/api"
)

func (s *serving) handleSession(w http.ResponseWriter, r *http.Request) (any, error) {
	var body struct{}
	if err := decodeBody(w, r, &body, true); err != nil {
		return nil, err
	}
	id, err := s.c.registerSession(r.Context())
	if err != nil {
		return nil, err
	}
	return api.Session{ID: id}, nil
}
