package cluster

import (
	"net/http"

	"github.com/vproc/vproc/cluster/api"
)

func (s *serving) handleNodes(w http.ResponseWriter, r *http.Request) (any, error) {
	stale := boolParam(r.URL.Query(), "stale")
	if !stale && !s.c.isLeader() {
		s.forwardToLeader(w, r, false)
		return nil, nil
	}
	v, err := s.view(r.Context(), stale)
	if err != nil {
		return nil, err
	}
	nodes := s.c.nodes(v)
	if nodes == nil {
		nodes = []api.Node{}
	}
	s.readHeaders(w, v.Index(), stale)
	return api.NodeList{Nodes: nodes, Index: v.Index()}, nil
}

func (s *serving) handleHealth(w http.ResponseWriter, r *http.Request) (any, error) {
	name, addr, ok := s.c.leader()
	h := api.Health{Node: s.name, Leader: name, OK: ok && name != ""}
	if addr != "" {
		w.Header().Set(api.HeaderLeader, addr)
	}
	if !h.OK {
		h.Leader = ""
		return &reply{http.StatusServiceUnavailable, h}, nil
	}
	return h, nil
}

func (s *serving) handleState(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.c.stateInfo(), nil
}
