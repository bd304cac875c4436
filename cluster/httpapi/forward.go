package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"strconv"

	"github.com/vproc/vproc/cluster/api"
)

// Forwarding. Every node serves every route, but only the leader can
// commit writes and answer linearizable reads: a follower forwards those
// to the leader, as a reverse proxy, with HeaderFwd set. A forwarded request
// is never forwarded again: if it reaches a node that is not (or no longer)
// the leader, the answer is 503 not_leader and the client retries. Logs and
// stdin go, the same way, to the node that runs the process, with
// HeaderTarget set: that node answers from what it has and forwards
// nothing.
//
// Outcomes of a forwarded write (Guarantee 9):
//   - no leader known, or the leader refused the connection: the request
//     never reached it, 503 no_leader, a plain retry;
//   - any failure after the request may have reached the leader (a timeout,
//     a reset connection, a broken answer): 503 unknown_outcome, retried
//     with the same session and request id.

// forwardToLeader proxies r to the leader. write says whether r is a write,
// whose failures after dispatch have an unknown outcome.
func (s *Server) forwardToLeader(w http.ResponseWriter, r *http.Request, write bool) {
	name, addr, ok := s.core.Leader()
	if ok && addr != "" {
		w.Header().Set(api.HeaderLeader, addr)
	}
	switch {
	case r.Header.Get(api.HeaderFwd) != "":
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeNotLeader, "forwarded to a node that is not the leader"})
		return
	case !ok || addr == "":
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeNoLeader, "no leader is known"})
		return
	case name == s.name:
		// The leader is this node by its own account, but it does not
		// hold leadership now: in transition.
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeNotLeader, "leadership is changing"})
		return
	}
	s.proxy(w, r, addr, "", 0, func(err error) *httpError {
		switch {
		case isDialError(err):
			return &httpError{http.StatusServiceUnavailable, api.CodeNoLeader, "the leader cannot be reached: " + err.Error()}
		case write:
			return &httpError{http.StatusServiceUnavailable, api.CodeUnknownOutcome, "forwarding to the leader failed: " + err.Error()}
		}
		return &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, "forwarding to the leader failed: " + err.Error()}
	})
}

// forwardToNode proxies r to the node with that name (logs, stdin). index
// is the log index of the record that names the node: the other node
// waits until it has applied it, so that its own view agrees.
func (s *Server) forwardToNode(w http.ResponseWriter, r *http.Request, nodeName string, index uint64) {
	addr, ok := s.core.NodeHTTPAddr(nodeName)
	if !ok || addr == "" {
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, fmt.Sprintf("node %q has no known address", nodeName)})
		return
	}
	s.proxy(w, r, addr, nodeName, index, func(err error) *httpError {
		return &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, fmt.Sprintf("node %q cannot be reached: %v", nodeName, err)}
	})
}

// proxy streams r to addr and the answer back, flushing as data arrives
// (log streams). target, if set, is the node r is meant for (HeaderTarget),
// and index travels with it in HeaderIndex. onErr turns a failure before
// the answer's header into the error answer.
func (s *Server) proxy(w http.ResponseWriter, r *http.Request, addr, target string, index uint64, onErr func(error) *httpError) {
	base, err := BaseURL(addr)
	if err != nil {
		s.fail(w, r, &httpError{http.StatusServiceUnavailable, api.CodeUnavailable, err.Error()})
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(base)
			pr.Out.Host = base.Host
			pr.Out.Header.Set(api.HeaderFwd, s.name)
			pr.Out.Header.Set(api.HeaderProxied, "1") // a user's request: never node traffic
			pr.Out.Header.Del(api.HeaderIndex)
			pr.Out.Header.Del(api.HeaderTarget)
			if target != "" {
				pr.Out.Header.Set(api.HeaderTarget, target)
				pr.Out.Header.Set(api.HeaderIndex, strconv.FormatUint(index, 10))
			}
		},
		Transport:     s.client.transport,
		FlushInterval: -1,
		ErrorLog:      discardLog,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the client went away
			}
			w.Header().Set(api.HeaderNode, s.name)
			s.fail(w, r, onErr(err))
		},
	}
	// The answer is the other node's, headers included.
	w.Header().Del(api.HeaderNode)
	w.Header().Del(api.HeaderLeader)
	rp.ServeHTTP(w, r)
}
