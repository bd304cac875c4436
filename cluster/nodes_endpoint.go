package cluster

import (
	"net/http"

	"github.com/vproc/vproc/cluster/api"
)

func (s *serving) handleNodes(w http.ResponseWriter, r *http.Request) {
	stale := boolParam(r.URL.Query(), "stale")
	if !stale && !s.c.isLeader() {
		s.forwardToLeader(w, r, false)
		return
	}
	v, err := s.view(r.Context(), stale)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	nodes := s.c.nodes(v)
	if nodes == nil {
		nodes = []api.Node{}
	}
	s.readHeaders(w, v.Index(), stale)
	writeJSON(w, http.StatusOK, api.NodeList{Nodes: nodes, Index: v.Index()})
}

func (s *serving) handleHealth(w http.ResponseWriter, r *http.Request) {
	name, addr, ok := s.c.leader()
	h := api.Health{Node: s.name, Leader: name, OK: ok && name != ""}
	if addr != "" {
		w.Header().Set(api.HeaderLeader, addr)
	}
	status := http.StatusOK
	if !h.OK {
		h.Leader = ""
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
}

func (s *serving) handleState(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.c.stateInfo())
}
