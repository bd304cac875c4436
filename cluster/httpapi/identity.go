package httpapi

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/cluster/mtls"
)

// Node identity. With TLS on (Config.TLS), every connection presents a
// certificate from the cluster's CA (the listener refuses any other), and
// a node's certificate names it (mtls.NodeOf). peerIdentity records that
// name on the request's context (mtls.PeerNode). The node routes,
// /v1/internal/..., then take only a node's certificate, and the node a
// report, lease renewal or read index comes from is the one its
// certificate names: HeaderNode, if a request sets it, must agree. Those
// routes are not forwarded with TLS on, since the leader would see the
// forwarding node's certificate: a follower answers not_leader and the
// node retries with the leader. With TLS off, HeaderNode names the node,
// as the API has always done.

// internalPrefix starts the paths of the node-to-node routes.
const internalPrefix = "/v1/internal/"

// peerIdentity records the verified node identity of the request's peer,
// and refuses a node route to a peer that is not a node.
func (s *Server) peerIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		node, ok := mtls.NodeOfState(r.TLS)
		if ok {
			r = r.WithContext(mtls.WithPeerNode(r.Context(), node))
		}
		if s.nodeAuth && strings.HasPrefix(r.URL.Path, internalPrefix) {
			if !ok {
				s.fail(w, r, &httpError{http.StatusForbidden, "permission", "a node route takes a node's certificate"})
				return
			}
			if h := r.Header.Get(api.HeaderNode); h != "" && h != node {
				s.fail(w, r, &httpError{http.StatusForbidden, "permission",
					fmt.Sprintf("%s %q is not the node %q the certificate names", api.HeaderNode, h, node)})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// requestNode returns the node a node route's request comes from: the
// certificate's with TLS on (peerIdentity has checked it), HeaderNode
// otherwise.
func (s *Server) requestNode(r *http.Request) string {
	if s.nodeAuth {
		n, _ := mtls.PeerNode(r.Context())
		return n
	}
	return r.Header.Get(api.HeaderNode)
}

// nodeLeaderOnly serves a node route on the leader. A follower forwards it
// with TLS off, and answers not_leader with TLS on.
func (s *Server) nodeLeaderOnly(h http.HandlerFunc) http.HandlerFunc {
	fwd := s.leaderOnly(h, true)
	return func(w http.ResponseWriter, r *http.Request) {
		if s.nodeAuth && !s.core.IsLeader() {
			if _, addr, ok := s.core.Leader(); ok && addr != "" {
				w.Header().Set(api.HeaderLeader, addr)
			}
			s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeNotLeader, "a node's report goes to the leader itself"})
			return
		}
		fwd(w, r)
	}
}

// NewClientTLS returns NewClient's client that reaches other nodes with
// mutual TLS as t says (nil: plaintext).
func NewClientTLS(core Core, t *tls.Config) *Client {
	c := NewClient(core)
	c.transport.TLSClientConfig = t
	return c
}
