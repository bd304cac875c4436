package cluster

import (
	"net/http"

	"github.com/vproc/vproc/cluster/api"
)

func (s *serving) handlePeers(w http.ResponseWriter, r *http.Request) {
	peers, err := s.c.peers()
	if err != nil {
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, err.Error()})
		return
	}
	if peers == nil {
		peers = []api.Peer{}
	}
	writeJSON(w, http.StatusOK, api.PeerList{Peers: peers})
}
