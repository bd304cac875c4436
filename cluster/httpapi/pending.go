package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vproc/vproc/cluster/api"
	"github.com/vproc/vproc/fsm"
)

// What a spawn asks of its node, checked against the nodes the table
// knows, as Nomad reports placement failures: a spawn no live or known
// node could ever take is refused before it is recorded; one that waits
// for capacity or for a node that is down says why in ps
// (api.Process.PendingReason).

// checkPlaceable refuses a spawn whose required node is not known, or
// whose constraints no known node (alive, suspect or down) meets. A node
// is known from the table, or from gossip while the leader has yet to
// record it.
func (s *Server) checkPlaceable(sp *fsm.Spec) error {
	if sp.Node == "" && len(sp.Constraints) == 0 {
		return nil
	}
	found := false
	for _, n := range knownNodes(s.core.LocalView()) {
		if sp.Node != "" && sp.Node != n.ID && sp.Node != n.Name {
			continue
		}
		found = true
		if meets(&n, sp.Constraints) {
			return nil
		}
	}
	if sp.Node != "" {
		if !found {
			if _, ok := s.core.NodeHTTPAddr(sp.Node); ok {
				return nil // in gossip, not yet in the table
			}
			return unplaceable("no node %q in the cluster", sp.Node)
		}
		return unplaceable("node %q does not have %s", sp.Node, constraintsString(sp.Constraints))
	}
	return unplaceable("no node of the cluster has %s", constraintsString(sp.Constraints))
}

// pendingReason says why a pending process is not placed yet.
// nodes are the table's known nodes (knownNodes).
func pendingReason(nodes []fsm.Node, p *fsm.Process, now time.Time) string {
	if p.State != fsm.StatePending {
		return ""
	}
	if p.Held() {
		return "stopped by a signal: held until SIGCONT"
	}
	if p.NotBefore > now.UnixNano() {
		return "restart backoff until " + time.Unix(0, p.NotBefore).UTC().Format(time.RFC3339)
	}
	s := p.Spec
	var candidates, down []string
	for _, n := range nodes {
		if s.Node != "" && s.Node != n.ID && s.Node != n.Name {
			continue
		}
		if !meets(&n, s.Constraints) {
			continue
		}
		if n.Status == fsm.NodeAlive {
			candidates = append(candidates, n.ID)
		} else {
			down = append(down, fmt.Sprintf("%s is %s", n.ID, n.Status))
		}
	}
	switch {
	case len(candidates) > 0:
		return "waiting for capacity on " + strings.Join(candidates, ", ")
	case len(down) > 0:
		return "waiting for a node: " + strings.Join(down, ", ")
	case s.Node != "":
		return fmt.Sprintf("no node %q in the cluster", s.Node)
	case len(s.Constraints) > 0:
		return "no node of the cluster has " + constraintsString(s.Constraints)
	}
	return "no alive node"
}

// knownNodes are the nodes of the table that have not left.
func knownNodes(v *fsm.View) []fsm.Node {
	all := v.Nodes()
	out := all[:0]
	for _, n := range all {
		if n.Status != fsm.NodeLeft {
			out = append(out, n)
		}
	}
	return out
}

func meets(n *fsm.Node, cs []fsm.Constraint) bool {
	for _, c := range cs {
		if v, ok := n.Label(c.Label); !ok || v != c.Value {
			return false
		}
	}
	return true
}

func constraintsString(cs []fsm.Constraint) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Label + "=" + c.Value
	}
	return strings.Join(parts, ",")
}

// unplaceable is the 400 of a spawn no node can take.
func unplaceable(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, api.CodeUnplaceable, fmt.Sprintf(format, args...)}
}
