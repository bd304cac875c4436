package sched

import (
	"cmp"
	"fmt"
	"math/bits"
	"slices"
)

// Preemption: making room for a process that no feasible node has room for.
//
// A pending process of priority p may evict running processes of priority
// ≤ p − PreemptGap on one of its feasible nodes. For each such node the
// planner computes how much room is missing once the evictions in flight
// have completed and the reservations already made are honoured:
//
//	needCnt = cnt − freeCnt + resCnt + 1 − capCnt
//	needMem = mem − freeMem + resMem + d − capMem     (if capMem > 0)
//
// If nothing is missing, evictions in flight already make the room and no
// new victim is needed. Otherwise victims are taken greedily in preemption
// order — lowest priority first, then most recently placed, then highest
// PID — until the room suffices, and the set is then pruned from its most
// important member down, dropping every victim the room does not need. The
// result is irreducible: no proper subset frees enough.
//
// Among the nodes where room can be made, the planner picks the one whose
// victims are least important, comparing, in order (as Kubernetes does):
// the highest victim priority, the sum of victim priorities, the number of
// victims, and the node ID. It then proposes the evictions and reserves the
// room for the process, which stays pending: the FSM requeues the victims,
// and a later plan places the process once they have left. A process that
// is already being evicted is never chosen again, and the capacity it holds
// counts as room about to be freed.

// cost ranks a set of victims; lower is better.
type cost struct {
	maxPrio int
	sumPrio int
	count   int
}

func (c cost) compare(o cost) int {
	return cmp.Or(cmp.Compare(c.maxPrio, o.maxPrio), cmp.Compare(c.sumPrio, o.sumPrio), cmp.Compare(c.count, o.count))
}

// preempt tries to make room for pe on one of its feasible nodes. It reports
// whether it did; if so, it has recorded the evictions, the reservation and
// pe's Unplaced entry.
func (r *round) preempt(pe pendingProc, req requirement, d int64) bool {
	limit := pe.prio - r.cfg.PreemptGap
	best, bestCost := int32(-1), cost{}
	var bestVictims []int32 // n.memo.victims of the best node; no search changes it during the scan
	consider := func(i int32) {
		n := &r.nodes[i]
		if n.capCnt == 0 || (n.capMem > 0 && d > n.capMem) {
			return
		}
		needCnt := n.cnt - n.freeCnt + n.resCnt + 1 - n.capCnt
		needMem := int64(0)
		if n.capMem > 0 {
			needMem = n.mem - n.freeMem + n.resMem + d - n.capMem
		}
		var c cost
		var victims []int32
		if needCnt > 0 || needMem > 0 {
			var ok bool
			if c, ok = n.search(limit, needCnt, needMem); !ok {
				return
			}
			victims = n.memo.victims
		}
		if best < 0 || c.compare(bestCost) < 0 {
			best, bestCost, bestVictims = i, c, victims
		}
	}
	if req.pin >= 0 {
		consider(req.pin)
	} else {
		for w, word := range req.set {
			for word != 0 {
				i := int32(w*64 + bits.TrailingZeros64(word))
				word &= word - 1
				consider(i)
			}
		}
	}
	if best < 0 {
		return false
	}

	n := &r.nodes[best]
	n.version++
	for _, vi := range bestVictims {
		v := &n.victims[vi]
		proc := &r.running[v.ref]
		v.chosen = true
		n.spareCnt--
		n.spareMem -= v.mem
		n.freeCnt++
		n.freeMem += v.mem
		r.plan.Preemptions = append(r.plan.Preemptions, Preemption{
			PID: v.pid, Incarnation: proc.Incarnation, ExpectState: proc.State, Node: n.id, For: pe.p.PID,
		})
	}
	n.resCnt++
	n.resMem += d
	var reason string
	switch k := len(bestVictims); k {
	case 0:
		reason = "waiting for evictions in flight on node " + n.display()
	case 1:
		reason = "evicting 1 lower-priority process on node " + n.display()
	default:
		reason = fmt.Sprintf("evicting %d lower-priority processes on node %s", k, n.display())
	}
	r.unplaced(pe.p, CausePreempting, reason)
	return true
}

// pickMemo remembers a node's last victim search. Plans consider pending
// processes in priority order, so the limit never grows from one search to
// the next, and a search at limit L answers every search at L' ≤ L on the
// same node state: the greedy scan takes victims in ascending priority and
// stops as soon as the room suffices, so with L' it takes the same prefix and
// succeeds exactly when the highest victim it took is ≤ L'.
type pickMemo struct {
	valid            bool
	version          uint64
	limit            int
	needCnt, needMem int64
	ok               bool
	cost             cost
	victims          []int32
}

// search finds the victims whose eviction frees needCnt process shares and
// needMem bytes on n among those of priority ≤ limit, leaves them in
// n.memo.victims and returns their cost. It is pick, memoised in n.memo.
func (n *nodeState) search(limit int, needCnt, needMem int64) (cost, bool) {
	m := &n.memo
	if m.valid && m.version == n.version && m.needCnt == needCnt && m.needMem == needMem && limit <= m.limit {
		return m.cost, m.ok && m.cost.maxPrio <= limit
	}
	victims, ok := n.pick(limit, needCnt, needMem, m.victims[:0])
	*m = pickMemo{valid: true, version: n.version, limit: limit, needCnt: needCnt, needMem: needMem, ok: ok, victims: victims}
	if ok {
		m.cost = n.cost(victims)
	}
	return m.cost, ok
}

// pick appends to buf the victims, as indexes into n.victims, whose eviction
// frees needCnt process shares and needMem bytes on n, choosing among those
// of priority ≤ limit. It reports false if they cannot free enough.
func (n *nodeState) pick(limit int, needCnt, needMem int64, buf []int32) ([]int32, bool) {
	if n.spareCnt < needCnt || n.spareMem < needMem || n.spareCnt == 0 || n.victimMin > limit {
		return buf, false
	}
	if !n.sorted {
		slices.SortFunc(n.victims, func(a, b victim) int {
			return cmp.Or(cmp.Compare(a.prio, b.prio), cmp.Compare(b.placedAt, a.placedAt), cmp.Compare(b.pid, a.pid))
		})
		n.sorted = true
	}
	for n.cursor < len(n.victims) && n.victims[n.cursor].chosen {
		n.cursor++
	}
	for i := n.cursor; i < len(n.victims) && (needCnt > 0 || needMem > 0); i++ {
		v := &n.victims[i]
		if v.chosen {
			continue
		}
		if int(v.prio) > limit {
			break
		}
		buf = append(buf, int32(i))
		needCnt--
		needMem -= v.mem
	}
	if needCnt > 0 || needMem > 0 {
		return buf, false
	}
	// Prune from the most important victim down: drop each one whose share
	// and memory the room does not need.
	spareCnt, spareMem := -needCnt, -needMem
	for j := len(buf) - 1; j >= 0; j-- {
		if v := &n.victims[buf[j]]; spareCnt >= 1 && spareMem >= v.mem {
			spareCnt--
			spareMem -= v.mem
			buf = slices.Delete(buf, j, j+1)
		}
	}
	return buf, true
}

// cost returns the cost of evicting the given victims of n.
func (n *nodeState) cost(vs []int32) cost {
	var c cost
	for _, vi := range vs {
		p := int(n.victims[vi].prio)
		c.maxPrio = max(c.maxPrio, p)
		c.sumPrio += p
		c.count++
	}
	return c
}
