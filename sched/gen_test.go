package sched

import (
	"fmt"
	"math/rand/v2"
)

// clusterSpec describes a synthetic cluster for determinism tests and
// benchmarks.
type clusterSpec struct {
	nodes, running, pending int
	rich                    bool // constraints, affinities, parents, memory
	lowRunning              bool // running processes at priority 1..20, pending at 90
}

// genCluster builds a reproducible cluster from a seed.
func genCluster(seed uint64, s clusterSpec) *view {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	zones := []string{"us", "eu", "ap"}
	v := &view{objects: map[Use]string{}}
	for i := range s.nodes {
		n := Node{
			ID:     fmt.Sprintf("node-%03d", i),
			Name:   fmt.Sprintf("n%d", i),
			Labels: map[string]string{"zone": zones[i%len(zones)], "disk": []string{"ssd", "hdd"}[i%2]},
			Slots:  2 + rng.IntN(7),
			Alive:  rng.IntN(50) != 0,
			Load:   Load{BusySlots: rng.IntN(8), RunQueue: rng.IntN(16)},
		}
		if s.rich {
			n.Memory = int64(8+rng.IntN(56)) << 30
		}
		v.nodes = append(v.nodes, n)
	}
	pid := uint64(2)
	for range s.running {
		node := v.nodes[rng.IntN(len(v.nodes))].ID
		prio := 1 + rng.IntN(100)
		if s.lowRunning {
			prio = 1 + rng.IntN(20)
		}
		p := Proc{PID: pid, Incarnation: 1, State: "running", Priority: prio, Seq: pid, PlacedAt: pid, Node: node}
		if s.rich {
			p.Memory = int64(rng.IntN(64)) << 20
			if rng.IntN(10) == 0 {
				v.objects[Use{Kind: UseSHM, Name: fmt.Sprintf("/shm%d", pid)}] = node
			}
			if rng.IntN(5) == 0 {
				v.objects[Use{Kind: UseFIFO, Name: fmt.Sprintf("/fifo%d", pid)}] = node
			}
			if rng.IntN(5) == 0 {
				v.objects[Use{Kind: UseMQ, Name: fmt.Sprintf("/mq%d", pid)}] = node
			}
		}
		v.running = append(v.running, p)
		pid++
	}
	for range s.pending {
		p := Proc{PID: pid, Incarnation: 1, State: "pending", Priority: 1 + rng.IntN(100), Seq: pid}
		if s.lowRunning {
			p.Priority = 90
		}
		if s.rich {
			p.Memory = int64(rng.IntN(128)) << 20
			switch rng.IntN(8) {
			case 0:
				p.Constraints = []Constraint{{Label: "zone", Value: zones[rng.IntN(len(zones))]}}
			case 1:
				p.Constraints = []Constraint{{Label: "zone", Value: zones[rng.IntN(len(zones))]}, {Label: "disk", Value: "ssd"}}
			case 2:
				p.RequiredNode = fmt.Sprintf("n%d", rng.IntN(s.nodes))
			}
			if len(v.running) > 0 && rng.IntN(3) == 0 {
				parent := v.running[rng.IntN(len(v.running))]
				p.Parent, p.ParentNode = parent.PID, parent.Node
				p.InheritsPipes = rng.IntN(4) == 0
			}
			if len(v.running) > 0 && rng.IntN(4) == 0 {
				other := v.running[rng.IntN(len(v.running))].PID
				kind := []UseKind{UseSHM, UseFIFO, UseMQ}[rng.IntN(3)]
				p.Uses = append(p.Uses, Use{Kind: kind, Name: fmt.Sprintf("/%s%d", kind, other)})
			}
		}
		v.pending = append(v.pending, p)
		pid++
	}
	return v
}
