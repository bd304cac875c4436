package httpapi

import (
	"net/http"

	"github.com/vproc/vproc/cluster/api"
)

func (s *Server) handleNodes(w http.ResponseWriter, r *http.Request) (any, error) {
	stale := boolParam(r.URL.Query(), "stale")
	if !stale && !s.core.IsLeader() {
		s.forwardToLeader(w, r, false)
		return nil, nil
	}
	v, err := s.view(r.Context(), stale)
	if err != nil {
		return nil, err
	}
	nodes := s.core.Nodes(v)
	if nodes == nil {
		nodes = []api.Node{}
	}
	s.readHeaders(w, v.Index(), stale)
	return api.NodeList{Nodes: nodes, Index: v.Index()}, nil
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) (any, error) {
	name, addr, ok := s.core.Leader()
	h := api.Health{Node: s.name, Leader: name, OK: ok && name != ""}
	if addr != "" {
		w.Header().Set(api.HeaderLeader, addr)
	}
	if err := s.diskError(); err != nil {
		h.Disk, h.OK = err.Error(), false
		return &reply{http.StatusInsufficientStorage, h}, nil
	}
	if !h.OK {
		h.Leader = ""
		return &reply{http.StatusServiceUnavailable, h}, nil
	}
	return h, nil
}

func (s *Server) handleState(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.core.StateInfo(), nil
}
