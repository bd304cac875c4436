package cluster

import (
	"net/http"

	"github.com/vproc/vproc/cluster/api"
)

func (s *serving) handlePeers(w http.ResponseWriter, r *http.Request) (any, error) {
	peers, err := s.c.peers()
	if err != nil {
		return nil, &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, err.Error()}
	}
	if peers == nil {
		peers = []api.Peer{}
	}
	return api.PeerList{Peers: peers}, nil
}
