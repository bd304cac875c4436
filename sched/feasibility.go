package sched

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Feasibility: which nodes may run a process at all, whatever their load.
//
// Hard requirements, all of which must hold:
//   - the node is alive;
//   - --node NAME: the node is that one;
//   - shm:NAME in --uses: the node hosts the segment (segments are node-local);
//   - inherited pipe fds: the node is the parent's (pipes are node-local);
//   - every --constraint label=value matches the node's labels.
//
// The first three pin the process to one node; label constraints select a
// set of nodes, computed once per distinct set of constraints and shared by
// every process that has it.

// requirement is the outcome of feasibility for one process.
type requirement struct {
	pin int32  // the only feasible node, or -1
	set bitset // the feasible nodes when pin is -1
}

// requirements returns the nodes p may run on, or the cause and reason why
// there are none.
func (r *round) requirements(p *Proc) (req requirement, cause Cause, reason string) {
	req.pin = -1
	var pinWhy string
	// pinTo narrows the requirement to node idx, because of why.
	pinTo := func(idx int32, why string) string {
		if req.pin >= 0 && req.pin != idx {
			return fmt.Sprintf("%s needs node %s but %s needs node %s",
				pinWhy, r.nodes[req.pin].display(), why, r.nodes[idx].display())
		}
		req.pin, pinWhy = idx, why
		return ""
	}

	if name := p.RequiredNode; name != "" {
		switch idx := r.lookup(name); idx {
		case -1:
			return req, CauseInfeasible, fmt.Sprintf("node %q does not exist", name)
		case refAmbiguous:
			return req, CauseInfeasible, fmt.Sprintf("node name %q is ambiguous; use the node's ID", name)
		default:
			pinTo(idx, "--node")
		}
	}
	for _, u := range p.Uses {
		if u.Kind != UseSHM {
			continue
		}
		loc := r.object(u)
		if !loc.known {
			continue // the process creates it, wherever it goes
		}
		if loc.idx < 0 {
			return req, CauseInfeasible, fmt.Sprintf("segment %s is on node %q, which is not in the table", u.Name, loc.node)
		}
		if msg := pinTo(loc.idx, "segment "+u.Name); msg != "" {
			return req, CauseInfeasible, msg
		}
	}
	if p.InheritsPipes && p.Parent != 0 {
		idx := int32(-1)
		if p.ParentNode != "" {
			idx = r.lookup(p.ParentNode)
			if idx < 0 {
				return req, CauseInfeasible, fmt.Sprintf("parent %d is on node %q, which is not in the table", p.Parent, p.ParentNode)
			}
		} else if r.parentOf != nil {
			idx = r.parentOf[p.Parent]
		}
		if idx < 0 {
			return req, CauseInfeasible, fmt.Sprintf("parent %d, whose pipes it inherits, is not placed", p.Parent)
		}
		if msg := pinTo(idx, "its parent's pipes"); msg != "" {
			return req, CauseInfeasible, msg
		}
	}

	if req.pin >= 0 {
		n := &r.nodes[req.pin]
		if !n.alive {
			return req, CauseInfeasible, fmt.Sprintf("node %s, required by %s, is not alive", n.display(), pinWhy)
		}
		for _, c := range p.Constraints {
			if n.satisfies(c) {
				continue
			}
			for _, c := range sortedConstraints(p.Constraints) { // name the same one whatever the order
				if !n.satisfies(c) {
					return req, CauseInfeasible, fmt.Sprintf("node %s, required by %s, does not satisfy constraint %s", n.display(), pinWhy, c)
				}
			}
		}
		return req, 0, ""
	}

	if len(p.Constraints) == 0 {
		req.set = r.alive
	} else {
		req.set = r.labelSet(p.Constraints)
	}
	if req.set.empty() {
		return req, CauseInfeasible, r.constraintReason(p.Constraints)
	}
	return req, 0, ""
}

// labelSet returns the alive nodes that satisfy every constraint in cs,
// memoised per distinct constraint set.
func (r *round) labelSet(cs []Constraint) bitset {
	if len(cs) == 1 {
		if s, ok := r.singleSet[cs[0]]; ok {
			return s
		}
		s := r.matching(cs)
		if r.singleSet == nil {
			r.singleSet = make(map[Constraint]bitset)
		}
		r.singleSet[cs[0]] = s
		return s
	}
	sorted := sortedConstraints(cs)
	var b strings.Builder
	for _, c := range sorted {
		b.WriteString(c.Label)
		b.WriteByte(0)
		b.WriteString(c.Value)
		b.WriteByte(0)
	}
	key := b.String()
	if s, ok := r.multiSet[key]; ok {
		return s
	}
	s := r.matching(sorted)
	if r.multiSet == nil {
		r.multiSet = make(map[string]bitset)
	}
	r.multiSet[key] = s
	return s
}

// matching computes the alive nodes that satisfy every constraint in cs.
func (r *round) matching(cs []Constraint) bitset {
	s := newBitset(len(r.nodes))
nodes:
	for i := range r.nodes {
		n := &r.nodes[i]
		if !n.alive {
			continue
		}
		for _, c := range cs {
			if !n.satisfies(c) {
				continue nodes
			}
		}
		s.set(i)
	}
	return s
}

// constraintReason explains why no alive node satisfies cs (or why there is
// no alive node at all), naming the first constraint, in sorted order, that
// no alive node satisfies.
func (r *round) constraintReason(cs []Constraint) string {
	if r.alive.empty() {
		if len(r.nodes) == 0 {
			return "no nodes in the cluster"
		}
		return "no alive nodes"
	}
	sorted := sortedConstraints(cs)
	for _, c := range sorted {
		alive, dead := false, false
		for i := range r.nodes {
			if n := &r.nodes[i]; n.satisfies(c) {
				if n.alive {
					alive = true
					break
				}
				dead = true
			}
		}
		switch {
		case alive:
			continue
		case dead:
			return fmt.Sprintf("no alive node satisfies constraint %s; the nodes that do are not alive", c)
		default:
			return fmt.Sprintf("no node satisfies constraint %s", c)
		}
	}
	names := make([]string, len(sorted))
	for i, c := range sorted {
		names[i] = c.String()
	}
	return "no alive node satisfies all of the constraints " + strings.Join(names, ", ")
}

func sortedConstraints(cs []Constraint) []Constraint {
	s := slices.Clone(cs)
	slices.SortFunc(s, func(a, b Constraint) int {
		return cmp.Or(cmp.Compare(a.Label, b.Label), cmp.Compare(a.Value, b.Value))
	})
	return slices.Compact(s)
}

// satisfies reports whether the node has label c.Label set to c.Value.
func (n *nodeState) satisfies(c Constraint) bool {
	v, ok := n.labels[c.Label]
	return ok && v == c.Value
}

// display names the node for reasons: its name, and its ID if different.
func (n *nodeState) display() string { return n.shown }

func displayName(id, name string) string {
	if name == "" || name == id {
		return id
	}
	return name + " (" + id + ")"
}

// object returns where an IPC object lives: registry answers are memoised,
// and objects first used by a placement of this plan are pinned to its node.
func (r *round) object(u Use) objectLoc {
	if loc, ok := r.objects[u]; ok {
		return loc
	}
	loc := objectLoc{idx: -1}
	if node, ok := r.st.ObjectNode(u.Kind, u.Name); ok {
		loc.known, loc.node = true, node
		if idx := r.lookup(node); idx >= 0 {
			loc.idx = idx
		}
	}
	if r.objects == nil {
		r.objects = make(map[Use]objectLoc)
	}
	r.objects[u] = loc
	return loc
}

// bitset is a set of node indexes.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i int) { b[i/64] |= 1 << (uint(i) % 64) }

func (b bitset) empty() bool {
	for _, w := range b {
		if w != 0 {
			return false
		}
	}
	return true
}
