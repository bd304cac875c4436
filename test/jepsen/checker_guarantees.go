//go:build linux

package jepsen

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/vproc/vproc/cluster/api"
)

// ---- list: per-PID inclusion ----

// CheckListInclusion checks every successful list against the spawns: a PID
// whose spawn was acknowledged before the list was called must appear (the
// suite's agents never reap during a run), and a PID whose spawn was called
// after the list returned must not.
func CheckListInclusion(ops []Op, reaped map[uint64]int64) Verdict {
	spawns := ackedSpawns(ops)
	var lists int
	var v violations
	for i := range ops {
		l := &ops[i]
		if l.Kind != OpList || l.Outcome != OutcomeOK {
			continue
		}
		lists++
		seen := make(map[uint64]bool, len(l.PIDs))
		for _, p := range l.PIDs {
			seen[p] = true
		}
		for _, s := range spawns {
			if r, ok := reaped[s.RetPID]; ok && r < l.Call {
				continue
			}
			switch {
			case s.Outcome == OutcomeOK && s.Return < l.Call && !seen[s.RetPID]:
				v.addf("list #%d (called %s) misses PID %d, whose spawn #%d was acknowledged at %s",
					l.ID, fmtTime(l.Call), s.RetPID, s.ID, fmtTime(s.Return))
			case s.Call > l.Return && seen[s.RetPID]:
				v.addf("list #%d (returned %s) shows PID %d, whose spawn #%d was only called at %s",
					l.ID, fmtTime(l.Return), s.RetPID, s.ID, fmtTime(s.Call))
			}
		}
	}
	if lists == 0 {
		return Verdict{Check: "list inclusion", Status: StatusSkipped, Summary: "no successful list"}
	}
	return v.verdict("list inclusion", fmt.Sprintf("%d lists against %d spawns", lists, len(spawns)))
}

// ---- unique PIDs (Guarantee 1) and safe retries (Guarantee 9) ----

// CheckUniquePIDs checks that no PID was handed out twice, that none is 0
// or init's, that a spawn called after another was acknowledged got a
// higher PID (the counter never goes back, even across failover or
// restore), and that the final read lists each PID once. dups are the
// owner tags found on more than one PID (ResolveSpawns): a retried spawn
// applied twice.
func CheckUniquePIDs(ops []Op, final []api.Process, dups map[string][]uint64) Verdict {
	spawns := ackedSpawns(ops)
	var v violations
	byPID := make(map[uint64][]int)
	for _, s := range spawns {
		if s.RetPID <= 1 {
			v.addf("spawn #%d got PID %d", s.ID, s.RetPID)
		}
		byPID[s.RetPID] = append(byPID[s.RetPID], s.ID)
	}
	for _, pid := range sortedKeys(byPID) {
		if ids := byPID[pid]; len(ids) > 1 {
			v.addf("PID %d handed out to spawns %v", pid, ids)
		}
	}
	// Real-time order: the highest PID acknowledged before a spawn's call
	// must be below its own.
	acked := make([]*Op, 0, len(spawns))
	for _, s := range spawns {
		if s.Outcome == OutcomeOK {
			acked = append(acked, s)
		}
	}
	byReturn := append([]*Op(nil), acked...)
	sort.Slice(byReturn, func(a, b int) bool { return byReturn[a].Return < byReturn[b].Return })
	byCall := append([]*Op(nil), acked...)
	sort.Slice(byCall, func(a, b int) bool { return byCall[a].Call < byCall[b].Call })
	var hi *Op
	j := 0
	for _, s := range byCall {
		for ; j < len(byReturn) && byReturn[j].Return < s.Call; j++ {
			if hi == nil || byReturn[j].RetPID > hi.RetPID {
				hi = byReturn[j]
			}
		}
		if hi != nil && hi.RetPID >= s.RetPID && hi.ID != s.ID {
			v.addf("spawn #%d got PID %d after spawn #%d had been acknowledged with PID %d", s.ID, s.RetPID, hi.ID, hi.RetPID)
		}
	}
	seen := make(map[uint64]int)
	for _, p := range final {
		seen[p.PID]++
	}
	for _, pid := range sortedKeys(seen) {
		if seen[pid] > 1 {
			v.addf("the final read lists PID %d %d times", pid, seen[pid])
		}
	}
	for _, tok := range sortedKeys(dups) {
		v.addf("spawn %s applied %d times: PIDs %v (Guarantee 9)", tok, len(dups[tok]), dups[tok])
	}
	return v.verdict("unique PIDs", fmt.Sprintf("%d PIDs, allocated in real-time order", len(byPID)))
}

// ---- no lost spawn (Guarantee 2) ----

// CheckNoLostSpawn checks that every spawn known to have applied is in the
// final consistent read, unless it was reaped (reaped maps a PID to the
// time of a recorded reap).
func CheckNoLostSpawn(ops []Op, final *FinalRead, reaped map[uint64]int64) Verdict {
	const name = "no lost spawn"
	if final == nil || !final.OK {
		why := "no final read"
		if final != nil {
			why = final.Err
		}
		return Verdict{Check: name, Status: StatusFail, Summary: "no consistent read after healing: " + why}
	}
	spawns := ackedSpawns(ops)
	var v violations
	for _, s := range spawns {
		if _, ok := reaped[s.RetPID]; ok {
			continue
		}
		if _, ok := final.Procs[s.RetPID]; !ok {
			what := "acknowledged"
			if s.Resolved {
				what = "resolved"
			}
			v.addf("PID %d (spawn #%d, %s at %s) is missing from the final read", s.RetPID, s.ID, what, fmtTime(s.Return))
		}
	}
	return v.verdict(name, fmt.Sprintf("%d acknowledged PIDs all present", len(spawns)))
}

// ---- one runner per PID (Guarantee 3) ----

// runKey is one incarnation of a PID on one node.
type runKey struct {
	Inc  uint64
	Node string
}

// interval is the span of the heartbeats of one run.
type interval struct {
	from, to int64
	n        int
}

// CheckOneRunner checks that no two runs of a PID, different incarnations
// or the same incarnation on different nodes, overlap in monotonic time.
func CheckOneRunner(beats []Beat) Verdict {
	const name = "one runner per PID"
	if len(beats) == 0 {
		return Verdict{Check: name, Status: StatusSkipped, Summary: "no heartbeats recorded"}
	}
	runs := make(map[uint64]map[runKey]*interval)
	for _, b := range beats {
		m := runs[b.PID]
		if m == nil {
			m = make(map[runKey]*interval)
			runs[b.PID] = m
		}
		k := runKey{b.Incarnation, b.Node}
		iv := m[k]
		if iv == nil {
			m[k] = &interval{from: b.At, to: b.At, n: 1}
			continue
		}
		iv.from, iv.to, iv.n = min(iv.from, b.At), max(iv.to, b.At), iv.n+1
	}
	var v violations
	var nruns int
	for _, pid := range sortedKeys(runs) {
		m := runs[pid]
		keys := make([]runKey, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(a, b int) bool { return m[keys[a]].from < m[keys[b]].from })
		nruns += len(keys)
		for a := 0; a < len(keys); a++ {
			for b := a + 1; b < len(keys); b++ {
				x, y := m[keys[a]], m[keys[b]]
				if x.from <= y.to && y.from <= x.to {
					v.addf("PID %d: incarnation %d on %s ran %s..%s, overlapping incarnation %d on %s at %s..%s",
						pid, keys[a].Inc, keys[a].Node, fmtTime(x.from), fmtTime(x.to),
						keys[b].Inc, keys[b].Node, fmtTime(y.from), fmtTime(y.to))
				}
			}
		}
	}
	return v.verdict(name, fmt.Sprintf("%d heartbeats of %d runs of %d PIDs, none overlapping", len(beats), nruns, len(runs)))
}

// isKill reports whether a fault kills its targets.
func isKill(k FaultKind) bool {
	switch k {
	case FaultKillOne, FaultKillMinority, FaultKillLeader, FaultKillAll:
		return true
	}
	return false
}

// CheckNoRerun checks that no run survives its node's kill: every process
// dies with its agent, so heartbeats of one incarnation on one node both
// before a kill of that node and after its restart mean that the node ran
// that incarnation again (crash recovery must report it lost, and only the
// restart policy may run it again, as a new incarnation).
func CheckNoRerun(beats []Beat, faults []Fault) Verdict {
	const name = "nothing runs twice after a crash"
	if len(beats) == 0 {
		return Verdict{Check: name, Status: StatusSkipped, Summary: "no heartbeats recorded"}
	}
	type killed struct{ start, end int64 }
	kills := map[string][]killed{}
	nkills := 0
	for _, f := range faults {
		if !isKill(f.Kind) || f.Error != "" {
			continue
		}
		for _, n := range f.Targets {
			kills[n] = append(kills[n], killed{f.Start, f.End})
			nkills++
		}
	}
	type runID struct {
		pid uint64
		runKey
	}
	runs := map[runID][]int64{}
	for _, b := range beats {
		k := runID{b.PID, runKey{b.Incarnation, b.Node}}
		runs[k] = append(runs[k], b.At)
	}
	var v violations
	for k, ats := range runs {
		for _, kl := range kills[k.Node] {
			var before, after int64 = -1, -1
			for _, at := range ats {
				if at < kl.start && at > before {
					before = at
				}
				if at > kl.end && (after < 0 || at < after) {
					after = at
				}
			}
			if before >= 0 && after >= 0 {
				v.addf("PID %d incarnation %d ran on %s at %s, before the kill of %s..%s, and again at %s",
					k.pid, k.Inc, k.Node, fmtTime(before), fmtTime(kl.start), fmtTime(kl.end), fmtTime(after))
				break
			}
		}
	}
	return v.verdict(name, fmt.Sprintf("%d runs, %d node kills, no run outlived its node", len(runs), nkills))
}

// ---- kill is final (Guarantee 4) ----

// CheckKillFinal checks every acknowledged SIGKILL: no incarnation above the
// one it reached runs after its call, the incarnation it reached completes
// no system call later than grace after it returned (the node applies the
// kill, or its lease ends, within the fence timeout), and the final read
// shows the process exited (or lost, without a restart policy). It also
// checks that every read of a final status agrees with the final read.
func CheckKillFinal(ops []Op, beats []Beat, final *FinalRead, grace time.Duration) Verdict {
	const name = "kill is final"
	// The first acknowledged SIGKILL of each PID.
	kills := make(map[uint64]*Op)
	for i := range ops {
		op := &ops[i]
		if op.Kind != OpKill || op.Signal != 9 || op.Outcome != OutcomeOK {
			continue
		}
		if k := kills[op.PID]; k == nil || op.Return < k.Return {
			kills[op.PID] = op
		}
	}
	byPID := make(map[uint64][]Beat)
	for _, b := range beats {
		if kills[b.PID] != nil {
			byPID[b.PID] = append(byPID[b.PID], b)
		}
	}
	var v violations
	for _, pid := range sortedKeys(kills) {
		k := kills[pid]
		for _, b := range byPID[pid] {
			switch {
			case k.Reached && b.Incarnation > k.Incarnation && b.At >= k.Call:
				v.addf("PID %d: incarnation %d ran on %s at %s, after kill #%d (called %s) reached incarnation %d",
					pid, b.Incarnation, b.Node, fmtTime(b.At), k.ID, fmtTime(k.Call), k.Incarnation)
			case b.At > k.Return+int64(grace):
				v.addf("PID %d: incarnation %d ran on %s at %s, more than %v after kill #%d returned at %s",
					pid, b.Incarnation, b.Node, fmtTime(b.At), grace, k.ID, fmtTime(k.Return))
			}
		}
		if final == nil || !final.OK {
			continue
		}
		p, ok := final.Procs[pid]
		if ok && !isFinal(p.State) {
			v.addf("PID %d is %s on node %q in the final read, after kill #%d returned at %s",
				pid, p.State, p.Node, k.ID, fmtTime(k.Return))
		}
	}
	// Every read of a final status agrees with the final read.
	if final != nil && final.OK {
		for i := range ops {
			op := &ops[i]
			if op.Kind != OpGet && op.Kind != OpWait || op.Outcome != OutcomeOK || !isFinal(op.State) {
				continue
			}
			p, ok := final.Procs[op.PID]
			if ok && isFinal(p.State) && StatusOf(&p) != op.Status {
				v.addf("PID %d: %s #%d saw status %q, the final read %q", op.PID, op.Kind, op.ID, op.Status, StatusOf(&p))
			}
		}
	}
	return v.verdict(name, fmt.Sprintf("%d acknowledged SIGKILLs final", len(kills)))
}

// ---- bounded programs finish (liveness after healing) ----

// bounded reports whether a spawn runs a program that ends by itself.
func bounded(op *Op) bool {
	return op.Command == "sleep" || op.Command == "true" || op.Command == ModuleProgram
}

// CheckBoundedFinish checks that every acknowledged process of a program
// that ends by itself (sleep, true, the module) is final in the final read, which is
// retried after healing until they are or the longest sleep and the lost
// timeout have passed: a process left running on a node that died or left
// was never declared lost.
func CheckBoundedFinish(ops []Op, final *FinalRead) Verdict {
	const name = "bounded programs finish"
	if final == nil || !final.OK {
		return Verdict{Check: name, Status: StatusSkipped, Summary: "no final read"}
	}
	var v violations
	n := 0
	for _, s := range ackedSpawns(ops) {
		if !bounded(s) || s.Outcome != OutcomeOK { // a resolved spawn may have applied just before the read
			continue
		}
		n++
		if p, ok := final.Procs[s.RetPID]; ok && !isFinal(p.State) {
			v.addf("PID %d (%s %s, spawn #%d acknowledged at %s) is still %s on node %q in the final read at %s",
				s.RetPID, s.Command, strings.Join(s.Args, " "), s.ID, fmtTime(s.Return), p.State, p.Node, fmtTime(final.At))
		}
	}
	return v.verdict(name, fmt.Sprintf("%d processes of sleep, true and the module all final", n))
}

// ---- signals at most once (Guarantee 5) ----

// CheckSignalsAtMostOnce checks that no heartbeat process caught a signal
// more often than kill requests of that signal to its PID may have been
// made (acknowledged or unknown). Standard signals merge while pending, so
// fewer deliveries are fine. Only the signals in counted are checked.
func CheckSignalsAtMostOnce(ops []Op, deliveries []Delivery, counted []int) Verdict {
	const name = "signals at most once"
	type key struct {
		pid uint64
		sig int
	}
	watch := make(map[int]bool)
	for _, s := range counted {
		watch[s] = true
	}
	sent := make(map[key]int)
	var requests int
	for i := range ops {
		op := &ops[i]
		if op.Kind == OpKill && watch[op.Signal] && (op.Outcome == OutcomeOK || op.Outcome == OutcomeUnknown) {
			sent[key{op.PID, op.Signal}]++
			requests++
		}
	}
	if requests == 0 {
		return Verdict{Check: name, Status: StatusSkipped, Summary: "no counted signal was sent"}
	}
	got := make(map[key]int)
	for _, d := range deliveries {
		if watch[d.Signal] {
			got[key{d.PID, d.Signal}]++
		}
	}
	var v violations
	keys := make([]key, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool {
		return keys[a].pid < keys[b].pid || keys[a].pid == keys[b].pid && keys[a].sig < keys[b].sig
	})
	var total int
	for _, k := range keys {
		total += got[k]
		if got[k] > sent[k] {
			v.addf("PID %d caught signal %d %d times, but at most %d requests were made", k.pid, k.sig, got[k], sent[k])
		}
	}
	if len(deliveries) == 0 {
		return Verdict{Check: name, Status: StatusSkipped, Summary: fmt.Sprintf("%d requests sent, no delivery reported", requests)}
	}
	return v.verdict(name, fmt.Sprintf("%d deliveries for %d requests", total, requests))
}

// ---- convergence (Guarantee 8) ----

// StateSample is one node's answer to GET /v1/state.
type StateSample struct {
	Node string        `json:"node"`          // the node asked
	Info api.StateInfo `json:"info"`          // its answer
	Err  string        `json:"err,omitempty"` // why it gave none
}

// agree reports whether every node of a round answered with the same
// applied index and state hash.
func agree(round []StateSample) bool {
	if len(round) == 0 {
		return false
	}
	for _, s := range round {
		if s.Err != "" || s.Info.AppliedIndex != round[0].Info.AppliedIndex || s.Info.Hash != round[0].Info.Hash {
			return false
		}
	}
	return true
}

// CheckConvergence checks the rounds of GET /v1/state taken after healing:
// some round must show every node at the same applied index with the same
// state hash, and no two nodes may ever report different hashes at the
// same index.
func CheckConvergence(rounds [][]StateSample) Verdict {
	const name = "convergence"
	if len(rounds) == 0 {
		return Verdict{Check: name, Status: StatusFail, Summary: "no state was read"}
	}
	var v violations
	hashAt := make(map[uint64]StateSample)
	conflicts := make(map[uint64]bool)
	converged := -1
	for r, round := range rounds {
		for _, s := range round {
			if s.Err != "" {
				continue
			}
			prev, ok := hashAt[s.Info.AppliedIndex]
			switch {
			case !ok:
				hashAt[s.Info.AppliedIndex] = s
			case prev.Info.Hash != s.Info.Hash && !conflicts[s.Info.AppliedIndex]:
				conflicts[s.Info.AppliedIndex] = true
				v.addf("at applied index %d %s has hash %s but %s has %s", s.Info.AppliedIndex, prev.Node, prev.Info.Hash, s.Node, s.Info.Hash)
			}
		}
		if converged < 0 && agree(round) {
			converged = r
		}
	}
	if converged < 0 {
		last := rounds[len(rounds)-1]
		var parts []string
		for _, s := range last {
			if s.Err != "" {
				parts = append(parts, fmt.Sprintf("%s: %s", s.Node, s.Err))
			} else {
				parts = append(parts, fmt.Sprintf("%s: index %d hash %s", s.Node, s.Info.AppliedIndex, s.Info.Hash))
			}
		}
		v.addf("the nodes never agreed in %d rounds; last: %s", len(rounds), strings.Join(parts, "; "))
	}
	pass := ""
	if converged >= 0 {
		s := rounds[converged][0].Info
		pass = fmt.Sprintf("%d nodes at applied index %d, hash %s (round %d)", len(rounds[converged]), s.AppliedIndex, s.Hash, converged+1)
	}
	return v.verdict(name, pass)
}
