package sched

// Quick ranking of one process: the leader places most spawns in the spawn's
// own Raft entry, before any plan sees them, and ranks the nodes for them
// with Rank. Rank applies the strategy and capacity rules of a Plan to a
// node that has no evictions in flight; it knows nothing of constraints,
// affinity, priorities or preemption, which its caller checks or leaves to
// the next Plan.

// Usage is what the processes assigned to a node hold, as the table counts
// them: Running() processes and their memory.
type Usage struct {
	// Procs is the number of processes.
	Procs int
	// Memory is the sum of their memory demands, in bytes.
	Memory int64
}

// Rank scores node n for one more process with memory demand bytes, given
// what the node holds already. fits is false when the node is not alive or
// the process does not fit its process shares or memory; among the nodes
// that fit, the highest score is the one a Plan would choose, ties going to
// the node with less gossiped CPU pressure (Pressure), then to the lowest
// ID. strategy "" means DefaultStrategy; an unknown one ranks as spread.
func (pl *Planner) Rank(strategy Strategy, n *Node, held Usage, demand int64) (score int64, fits bool) {
	capCnt, capMem := pl.cfg.capacity(n)
	cnt, mem := int64(max(held.Procs, 0))+1, max(held.Memory, 0)+max(demand, 0)
	if !n.Alive || capCnt == 0 || cnt > capCnt || (capMem > 0 && mem > capMem) {
		return 0, false
	}
	var penalty int64
	if strategy != StrategyBinpack {
		_, penalty = pl.cfg.pressure(n)
	}
	return strategyScore(strategy, capCnt, capMem, cnt, mem, penalty), true
}

// Pressure returns n's gossiped CPU pressure in parts per million, the
// tie-breaker among nodes of equal score.
func Pressure(n *Node) int64 { return pressure(n) }

// capacity returns n's process capacity (Slots × ProcsPerSlot) and memory
// capacity (0: unlimited).
func (c Config) capacity(n *Node) (capCnt, capMem int64) {
	if n.Slots > 0 {
		capCnt = int64(min(n.Slots, maxSlots)) * int64(c.ProcsPerSlot)
	}
	return capCnt, max(n.Memory, 0)
}

// pressure returns n's gossiped CPU pressure and spread's ranking penalty
// derived from it, both in ppm.
func (c Config) pressure(n *Node) (p, penalty int64) {
	p = pressure(n)
	return p, p * int64(c.GossipWeight) / 100
}
