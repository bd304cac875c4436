package httpapi

import (
	"net/http"

	"github.com/vproc/vproc/cluster/api"
)

func (s *Server) handlePeers(w http.ResponseWriter, r *http.Request) (any, error) {
	peers, err := s.core.Peers()
	if err != nil {
		return nil, &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, err.Error()}
	}
	if peers == nil {
		peers = []api.Peer{}
	}
	return api.PeerList{Peers: peers}, nil
}
