package fsm

import (
	"testing"
	"pgregory.net/rapid"
)

func TestPropStats(t *testing.T) {
	stats := map[string]int{}
	rapid.Check(t, func(rt *rapid.T) {
		pt := newPropTest(rt)
		pt.run(rt, rapid.IntRange(1, 300).Draw(rt, "steps"))
		stats["steps"] += len(pt.h.log)
		for _, p := range pt.m.procs {
			stats["restarts"] += p.restarts
			stats[string(p.state)]++
			if p.killed { stats["killed"]++ }
			if p.evicting { stats["evicting"]++ }
		}
		stats["answers"] += len(pt.answers)
		stats["restores"] += pt.restores
		stats["objects"] += len(pt.m.objects)
	})
	t.Log(stats)
}
