package sched

import (
	"fmt"
	"math/bits"
)

// Ranking: which feasible node with room gets the process.
//
// A node fits when one more process share and the process's memory demand
// fit both now and after every eviction in flight has completed and every
// reservation made for a preempting process has been honoured:
//
//	cnt + 1 ≤ capCnt  and  cnt + 1 − freeCnt + resCnt ≤ capCnt
//	mem + d ≤ capMem  and  mem + d − freeMem + resMem ≤ capMem   (if capMem > 0)
//
// Among the nodes that fit, the highest score wins; ties go to the node with
// less gossiped CPU pressure, then to the lowest node ID. The score is, in
// integer parts per million so that ranking is exact and deterministic:
//
//	util    = max(cnt+1 / capCnt, mem+d / capMem)      utilisation after placement
//	spread  = 1e6 − util − GossipWeight% × pressure
//	binpack = util
//	score   = strategy score + affinity × 2^32
//
// affinity counts preferred localities: 2 for each FIFO or message queue in
// --uses hosted on the node, 1 for the parent's node. One affinity unit
// outweighs any difference in load, so a preferred node that fits always
// wins; a preferred node that is full, dead or infeasible is simply skipped.

// ppm is the fixed-point unit of utilisation and scores.
const ppm = 1_000_000

// Affinity weights, in units of affinityUnit.
const (
	objectAffinity = 2
	parentAffinity = 1
	affinityUnit   = 1 << 32
)

// maxSlots bounds a node's declared slots so capacities never overflow.
const maxSlots = 1 << 24

// pressure is a node's gossiped CPU pressure in ppm: busy slots plus the run
// queue, relative to twice the slot count, capped at 1e6.
func pressure(n *Node) int64 {
	if n.Slots <= 0 {
		return 0
	}
	slots := int64(min(n.Slots, maxSlots))
	q := int64(max(n.Load.BusySlots, 0)) + int64(max(n.Load.RunQueue, 0))
	return share(min(q, 2*slots), 2*slots)
}

// share returns used/capacity in ppm, for 0 ≤ used ≤ capacity.
func share(used, capacity int64) int64 {
	hi, lo := bits.Mul64(uint64(used), ppm)
	q, _ := bits.Div64(hi, lo, uint64(capacity))
	return int64(q)
}

// pref is a preferred node and its weight.
type pref struct {
	idx    int32
	weight int64
}

// preferences fills r.prefs with p's preferred nodes: those of the FIFOs and
// queues it uses, and its parent's.
func (r *round) preferences(p *Proc) {
	r.prefs = r.prefs[:0]
	for _, u := range p.Uses {
		if u.Kind != UseFIFO && u.Kind != UseMQ {
			continue
		}
		if loc := r.object(u); loc.known && loc.idx >= 0 {
			r.prefer(loc.idx, objectAffinity)
		}
	}
	if p.Parent != 0 && !p.InheritsPipes {
		idx := int32(-1)
		if p.ParentNode != "" {
			idx = r.lookup(p.ParentNode)
		} else if r.parentOf != nil {
			idx = r.parentOf[p.Parent]
		}
		if idx >= 0 {
			r.prefer(idx, parentAffinity)
		}
	}
}

func (r *round) prefer(idx int32, w int64) {
	for i := range r.prefs {
		if r.prefs[i].idx == idx {
			r.prefs[i].weight += w
			return
		}
	}
	r.prefs = append(r.prefs, pref{idx: idx, weight: w})
}

// scan counts what ranking found, to explain a process left pending.
type scan struct {
	candidates int   // feasible nodes
	slotless   int   // feasible nodes without CPU slots
	able       int   // feasible nodes big enough for the process when empty
	short      int   // able nodes with a free process share but too little memory
	reserved   int   // able nodes whose free room is reserved for preempting processes
	last       int32 // the last able node
}

// choice is the best node found so far.
type choice struct {
	idx      int32
	score    int64
	pressure int64
}

// rank returns the best feasible node that fits a process with memory
// demand d, or -1 and what the scan found.
func (r *round) rank(req requirement, d int64) (int32, scan) {
	var sc scan
	best := choice{idx: -1}
	if req.pin >= 0 {
		r.try(req.pin, d, &sc, &best)
		return best.idx, sc
	}
	for w, word := range req.set {
		for word != 0 {
			i := int32(w*64 + bits.TrailingZeros64(word))
			word &= word - 1
			r.try(i, d, &sc, &best)
		}
	}
	return best.idx, sc
}

// try ranks node i for a process with memory demand d.
func (r *round) try(i int32, d int64, sc *scan, best *choice) {
	n := &r.nodes[i]
	sc.candidates++
	if n.capCnt == 0 {
		sc.slotless++
		return
	}
	if n.capMem > 0 && d > n.capMem {
		return
	}
	sc.able++
	sc.last = i
	cnt := n.cnt + 1
	if cnt > n.capCnt {
		return
	}
	mem := n.mem + d
	if n.capMem > 0 && mem > n.capMem {
		sc.short++
		return
	}
	if cnt-n.freeCnt+n.resCnt > n.capCnt || (n.capMem > 0 && mem-n.freeMem+n.resMem > n.capMem) {
		sc.reserved++
		return
	}
	s := r.score(n, cnt, mem)
	for _, p := range r.prefs {
		if p.idx == i {
			s += p.weight * affinityUnit
		}
	}
	if best.idx < 0 || s > best.score || (s == best.score && n.pressure < best.pressure) {
		*best = choice{idx: i, score: s, pressure: n.pressure}
	}
}

// score is the strategy's score of node n holding cnt processes and mem
// bytes after the placement.
func (r *round) score(n *nodeState, cnt, mem int64) int64 {
	return strategyScore(r.strategy, n.capCnt, n.capMem, cnt, mem, n.penalty)
}

// strategyScore is the strategy's score of a node with capacities capCnt
// (> 0) and capMem (0: unlimited) holding cnt processes and mem bytes after
// the placement, with spread's gossip penalty.
func strategyScore(s Strategy, capCnt, capMem, cnt, mem, penalty int64) int64 {
	u := share(cnt, capCnt)
	if capMem > 0 {
		u = max(u, share(mem, capMem))
	}
	if s == StrategyBinpack {
		return u
	}
	return ppm - u - penalty
}

// unableReason explains why no feasible node could ever hold the process.
func (sc scan) unableReason(r *round, req requirement, d int64) string {
	if sc.slotless == sc.candidates {
		if req.pin >= 0 {
			return fmt.Sprintf("node %s has no CPU slots", r.nodes[req.pin].display())
		}
		return "no feasible node has CPU slots"
	}
	if req.pin >= 0 {
		return fmt.Sprintf("needs %s of memory, more than node %s has", formatBytes(d), r.nodes[req.pin].display())
	}
	return fmt.Sprintf("needs %s of memory, more than any feasible node has", formatBytes(d))
}

// fullReason explains why no feasible node has room now.
func (sc scan) fullReason(r *round) string {
	full := sc.able - sc.short - sc.reserved
	if sc.able == 1 {
		n := r.nodes[sc.last].display()
		switch {
		case sc.short > 0:
			return fmt.Sprintf("node %s does not have enough free memory", n)
		case sc.reserved > 0:
			return fmt.Sprintf("the free room on node %s is reserved for a higher-priority process", n)
		}
		return fmt.Sprintf("node %s is full", n)
	}
	if full == sc.able {
		return fmt.Sprintf("all %d feasible nodes are full", sc.able)
	}
	return fmt.Sprintf("no room on any of %d feasible nodes: %d full, %d short of memory, %d reserved for higher-priority processes",
		sc.able, full, sc.short, sc.reserved)
}

// formatBytes renders a byte count with a binary unit.
func formatBytes(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%dB", b)
	}
	div, exp := int64(unit), 0
	for n := b / unit; n >= unit && exp < 5; n /= unit {
		div *= unit
		exp++
	}
	v := float64(b) / float64(div)
	suffix := "KMGTPE"[exp : exp+1]
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d%siB", int64(v), suffix)
	}
	return fmt.Sprintf("%.1f%siB", v, suffix)
}
